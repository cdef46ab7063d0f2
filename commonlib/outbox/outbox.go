// Package outbox writes domain events to an outbox collection in the same
// transaction as the change they report.
//
// The documents have the shape Debezium's MongoEventRouter reads (_id,
// aggregateType, aggregateId, type, payload as an embedded document), so
// either Debezium or the project's relay can publish them. Publishing is not
// done here: see package relay.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

// ErrNoTransaction is returned by Append outside a transaction: an event
// written on its own could be published for a change that never committed.
var ErrNoTransaction = errors.New("outbox: append outside a transaction")

// Event is one outbox document.
type Event struct {
	ID            string    `bson:"_id"`
	AggregateType string    `bson:"aggregateType"`
	AggregateID   string    `bson:"aggregateId"`
	Type          string    `bson:"type"`
	Payload       any       `bson:"payload"`
	CreatedAt     time.Time `bson:"createdAt"`
	// Traceparent is the W3C trace context of the span that wrote the
	// event (set by Append from its context), null when there was none.
	// The field is always present: both relays copy it to the traceparent
	// header, and Debezium fails on a document without a placed field.
	Traceparent *string `bson:"traceparent"`
}

// New returns an event with a fresh id and the current time.
func New(aggregateType, aggregateID, eventType string, payload any) Event {
	return Event{
		ID:            uuid.NewString(),
		AggregateType: aggregateType,
		AggregateID:   aggregateID,
		Type:          eventType,
		Payload:       payload,
		CreatedAt:     mongotx.Now(),
	}
}

// Outbox is one outbox collection.
type Outbox struct {
	coll lungo.ICollection
}

// Open returns the outbox stored in collection name of db.
func Open(db lungo.IDatabase, name string) *Outbox {
	return &Outbox{coll: db.Collection(name)}
}

// EnsureIndexes creates the indexes of the retention purge and of
// ForAggregate.
func (o *Outbox) EnsureIndexes(ctx context.Context) error {
	_, err := o.coll.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "createdAt", Value: 1}}},
		{Keys: bson.D{{Key: "aggregateId", Value: 1}}},
	})
	if err != nil {
		return fmt.Errorf("outbox %s: create index: %w", o.coll.Name(), err)
	}
	return nil
}

// Append inserts events. ctx must belong to a transaction (mongotx.Transact).
// Events without a Traceparent get ctx's span context, so the trace goes on
// with whoever consumes them.
func (o *Outbox) Append(ctx context.Context, events ...Event) error {
	if !mongotx.InTransaction(ctx) {
		return ErrNoTransaction
	}
	tp := tracing.Traceparent(ctx)
	for _, e := range events {
		if e.Traceparent == nil && tp != "" {
			e.Traceparent = &tp
		}
		if e.Payload == nil {
			return fmt.Errorf("outbox: event %s of type %s has no payload", e.ID, e.Type)
		}
		if _, err := o.coll.InsertOne(ctx, e); err != nil {
			return fmt.Errorf("outbox %s: insert %s: %w", o.coll.Name(), e.Type, err)
		}
	}
	return nil
}

// Written is an event as ForAggregate lists it, without its payload.
type Written struct {
	ID            string    `bson:"_id"`
	AggregateType string    `bson:"aggregateType"`
	AggregateID   string    `bson:"aggregateId"`
	Type          string    `bson:"type"`
	CreatedAt     time.Time `bson:"createdAt"`
}

// ForAggregate lists the events of one aggregate still in the outbox, oldest
// first: what this service announced about it. Events older than the
// retention are purged.
func (o *Outbox) ForAggregate(ctx context.Context, aggregateID string) ([]Written, error) {
	cur, err := o.coll.Find(ctx, bson.M{"aggregateId": aggregateID}, options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: 1}}).
		SetProjection(bson.M{"payload": 0, "traceparent": 0}).
		SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("outbox %s: find events of %s: %w", o.coll.Name(), aggregateID, err)
	}
	var out []Written
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("outbox %s: read events of %s: %w", o.coll.Name(), aggregateID, err)
	}
	for i := range out {
		out[i].CreatedAt = out[i].CreatedAt.UTC()
	}
	return out, nil
}

// Purge deletes events created before t and returns how many it deleted.
// The relays read the change history, not the collection, so deleting
// published events is safe; the caller must not pass a t later than what
// its relay has published (see relay.Relay.PublishedThrough).
func (o *Outbox) Purge(ctx context.Context, t time.Time) (int64, error) {
	res, err := o.coll.DeleteMany(ctx, bson.M{"createdAt": bson.M{"$lt": t}})
	if err != nil {
		return 0, fmt.Errorf("outbox %s: purge: %w", o.coll.Name(), err)
	}
	return res.DeletedCount, nil
}

// Count returns how many events the outbox holds.
func (o *Outbox) Count(ctx context.Context) (int64, error) {
	return o.coll.CountDocuments(ctx, bson.M{}, options.Count())
}

// Backlog counts the events created after t (those a relay that has
// published through t has yet to publish) and returns the oldest one's
// creation time, zero when there is none. It uses the createdAt index.
func (o *Outbox) Backlog(ctx context.Context, t time.Time) (int64, time.Time, error) {
	filter := bson.M{"createdAt": bson.M{"$gt": t}}
	n, err := o.coll.CountDocuments(ctx, filter, options.Count())
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox %s: backlog: %w", o.coll.Name(), err)
	}
	if n == 0 {
		return 0, time.Time{}, nil
	}
	var oldest struct {
		CreatedAt time.Time `bson:"createdAt"`
	}
	err = o.coll.FindOne(ctx, filter, options.FindOne().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetProjection(bson.M{"createdAt": 1})).Decode(&oldest)
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox %s: oldest unpublished: %w", o.coll.Name(), err)
	}
	return n, oldest.CreatedAt, nil
}
