// Package configstore keeps outbox-relay's accepted connector
// registrations in MongoDB, one document per connector in the collection
// "outbox-relay-connectors", so that a restarted process resumes them and
// every process sharing the database runs the same connectors (the role
// of Kafka Connect's config topic).
//
// Settings are stored as an array of {key, value} pairs rather than as a
// sub-document: Connect keys are dotted ("connector.class"), which MongoDB
// tooling treats as paths.
//
// It does not validate configurations: package worker does before storing.
package configstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// Collection holds the registrations.
const Collection = "outbox-relay-connectors"

// Store is a worker.Store on a MongoDB (or embedded) database.
type Store struct {
	coll lungo.ICollection
}

// New returns the store in db.
func New(db lungo.IDatabase) *Store {
	return &Store{coll: db.Collection(Collection)}
}

type setting struct {
	Key   string `bson:"key"`
	Value string `bson:"value"`
}

type document struct {
	ID        string    `bson:"_id"`
	Config    []setting `bson:"config"`
	CreatedAt time.Time `bson:"createdAt"`
	UpdatedAt time.Time `bson:"updatedAt"`
}

func toSettings(config map[string]string) []setting {
	out := make([]setting, 0, len(config))
	for k, v := range config {
		out = append(out, setting{Key: k, Value: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func toConnector(d document) worker.Connector {
	c := worker.Connector{Name: d.ID, Config: make(map[string]string, len(d.Config))}
	for _, s := range d.Config {
		c.Config[s.Key] = s.Value
	}
	return c
}

// List returns every registration, sorted by name.
func (s *Store) List(ctx context.Context) ([]worker.Connector, error) {
	cur, err := s.coll.Find(ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, fmt.Errorf("configstore: list connectors: %w", err)
	}
	var docs []document
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("configstore: list connectors: %w", err)
	}
	out := make([]worker.Connector, 0, len(docs))
	for _, d := range docs {
		out = append(out, toConnector(d))
	}
	return out, nil
}

// Get returns one registration or a *worker.NotFoundError.
func (s *Store) Get(ctx context.Context, name string) (worker.Connector, error) {
	var d document
	err := s.coll.FindOne(ctx, bson.D{{Key: "_id", Value: name}}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return worker.Connector{}, &worker.NotFoundError{Name: name}
	}
	if err != nil {
		return worker.Connector{}, fmt.Errorf("configstore: get connector %s: %w", name, err)
	}
	return toConnector(d), nil
}

// Put creates or replaces a registration and reports whether it was
// created.
func (s *Store) Put(ctx context.Context, c worker.Connector) (bool, error) {
	now := mongotx.Now()
	update := bson.D{
		{Key: "$set", Value: bson.D{{Key: "config", Value: toSettings(c.Config)}, {Key: "updatedAt", Value: now}}},
		{Key: "$setOnInsert", Value: bson.D{{Key: "createdAt", Value: now}}},
	}
	filter := bson.D{{Key: "_id", Value: c.Name}}
	res, err := s.coll.UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	if mongotx.IsDuplicateKey(err) {
		// Two workers created it at once; the other one won the insert.
		res, err = s.coll.UpdateOne(ctx, filter, update)
	}
	if err != nil {
		return false, fmt.Errorf("configstore: put connector %s: %w", c.Name, err)
	}
	return res.UpsertedCount == 1, nil
}

// Delete removes a registration or returns a *worker.NotFoundError.
func (s *Store) Delete(ctx context.Context, name string) error {
	res, err := s.coll.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}})
	if err != nil {
		return fmt.Errorf("configstore: delete connector %s: %w", name, err)
	}
	if res.DeletedCount == 0 {
		return &worker.NotFoundError{Name: name}
	}
	return nil
}
