// Package mongostore keeps customers in MongoDB (or the embedded engine):
// the customers collection and the customer-events outbox of customers-db,
// written together in one transaction.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/aggregate"
	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/tracing"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
)

// Names of the database and collections (the blueprint's).
const (
	Database         = "customers-db"
	Customers        = "customers"
	OutboxCollection = "customer-events"
)

// Store implements customer.Store.
type Store struct {
	client    *mongotx.Client
	customers lungo.ICollection
	outbox    *outbox.Outbox
	docs      aggregate.Collection[customerDoc]
}

// New returns a Store on db.
func New(client *mongotx.Client, db lungo.IDatabase) *Store {
	s := &Store{client: client, customers: db.Collection(Customers), outbox: outbox.Open(db, OutboxCollection)}
	s.docs = aggregate.Collection[customerDoc]{
		Client: client, Docs: s.customers, Outbox: s.outbox,
		Version: func(d *customerDoc) *int64 { return &d.Version },
	}
	return s
}

// EnsureIndexes creates the indexes the queries need.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	_, err := s.customers.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "status", Value: 1}, {Key: "createdAt", Value: 1}}},
		{Keys: bson.D{{Key: "createdAt", Value: 1}}}, // GET /registrations of every status
	})
	if err != nil {
		return fmt.Errorf("customers: create index: %w", err)
	}
	return s.outbox.EnsureIndexes(ctx)
}

type customerDoc struct {
	ID            string    `bson:"_id"`
	FirstName     string    `bson:"firstName"`
	LastName      string    `bson:"lastName"`
	Card          cardDoc   `bson:"card"`
	Status        string    `bson:"status"`
	FailureReason string    `bson:"failureReason,omitempty"`
	CreatedAt     time.Time `bson:"createdAt"`
	UpdatedAt     time.Time `bson:"updatedAt"`
	Version       int64     `bson:"version"`
	// Traceparent is the trace context that created the registration:
	// events written later outside any span (the dead-lock detection)
	// carry it, so that path stays in the registration's trace.
	Traceparent string `bson:"traceparent,omitempty"`
}

type cardDoc struct {
	Last4      string      `bson:"last4"`
	HolderName string      `bson:"holderName"`
	ValidThru  string      `bson:"validThru"`
	Balance    money.Cents `bson:"balance"`
}

func toDoc(c customer.Customer) customerDoc {
	return customerDoc{
		ID:        c.ID,
		FirstName: c.FirstName,
		LastName:  c.LastName,
		Card: cardDoc{
			Last4:      c.Card.Last4,
			HolderName: c.Card.HolderName,
			ValidThru:  c.Card.ValidThru,
			Balance:    c.Card.Balance,
		},
		Status:        string(c.Status),
		FailureReason: c.FailureReason,
		CreatedAt:     c.CreatedAt,
		UpdatedAt:     c.UpdatedAt,
	}
}

func fromDoc(d customerDoc) customer.Customer {
	return customer.Customer{
		ID:        d.ID,
		FirstName: d.FirstName,
		LastName:  d.LastName,
		Card: customer.Card{
			Last4:      d.Card.Last4,
			HolderName: d.Card.HolderName,
			ValidThru:  d.Card.ValidThru,
			Balance:    d.Card.Balance,
		},
		Status:        customer.Status(d.Status),
		FailureReason: d.FailureReason,
		CreatedAt:     d.CreatedAt.UTC(),
		UpdatedAt:     d.UpdatedAt.UTC(),
	}
}

func toOutbox(customerID string, evts []customer.Event) []outbox.Event {
	out := make([]outbox.Event, len(evts))
	for i, e := range evts {
		out[i] = outbox.New(customerevents.AggregateType, customerID, e.Type, e.Payload)
	}
	return out
}

// Create inserts a customer and its events in one transaction.
func (s *Store) Create(ctx context.Context, c customer.Customer, evts ...customer.Event) error {
	return s.client.Transact(ctx, func(ctx context.Context) error {
		d := toDoc(c)
		d.Traceparent = tracing.Traceparent(ctx)
		if _, err := s.customers.InsertOne(ctx, d); err != nil {
			return fmt.Errorf("insert customer: %w", err)
		}
		return s.outbox.Append(ctx, toOutbox(c.ID, evts)...)
	})
}

// Update changes a customer and appends its events in one transaction, by
// aggregate.Update's rule: written only when fn returns events. The version
// check makes a concurrent update fail instead of being lost.
func (s *Store) Update(ctx context.Context, id string, fn func(*customer.Customer) ([]customer.Event, error)) error {
	inSpan := tracing.Traceparent(ctx) != ""
	err := s.docs.Update(ctx, "customer "+id, bson.M{"_id": id}, func(d *customerDoc) ([]outbox.Event, error) {
		c := fromDoc(*d)
		evts, err := fn(&c)
		if err != nil {
			return nil, err
		}
		tp := d.Traceparent
		*d = toDoc(c)
		d.Traceparent = tp
		out := toOutbox(id, evts)
		if !inSpan && tp != "" {
			for i := range out {
				out[i].Traceparent = &tp
			}
		}
		return out, nil
	})
	if errors.Is(err, aggregate.ErrNotFound) {
		return fmt.Errorf("%w: %s", customer.ErrNotFound, id)
	}
	return err
}

// Get loads a customer.
func (s *Store) Get(ctx context.Context, id string) (customer.Customer, error) {
	var d customerDoc
	err := s.customers.FindOne(ctx, bson.M{"_id": id}).Decode(&d)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return customer.Customer{}, fmt.Errorf("%w: %s", customer.ErrNotFound, id)
	}
	if err != nil {
		return customer.Customer{}, fmt.Errorf("load customer %s: %w", id, err)
	}
	return fromDoc(d), nil
}

// PendingSince lists pending registrations created before t, oldest first.
func (s *Store) PendingSince(ctx context.Context, t time.Time) ([]string, error) {
	cur, err := s.customers.Find(ctx,
		bson.M{"status": string(customer.StatusPending), "createdAt": bson.M{"$lt": t}},
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: 1}}).SetProjection(bson.M{"_id": 1}).SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("find pending customers: %w", err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read pending customers: %w", err)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids, nil
}

// CountPending counts the registrations pending now (the status index
// answers it).
func (s *Store) CountPending(ctx context.Context) (int64, error) {
	n, err := s.customers.CountDocuments(ctx, bson.M{"status": string(customer.StatusPending)})
	if err != nil {
		return 0, fmt.Errorf("count pending customers: %w", err)
	}
	return n, nil
}

// List returns the registrations q selects, newest first (createdAt, then
// _id, both descending).
func (s *Store) List(ctx context.Context, q customer.Query) ([]customer.Customer, error) {
	filter := bson.D{}
	if q.Status != "" {
		filter = append(filter, bson.E{Key: "status", Value: string(q.Status)})
	}
	if !q.CreatedBefore.IsZero() {
		filter = append(filter, bson.E{Key: "createdAt", Value: bson.M{"$lt": q.CreatedBefore}})
	}
	if q.After != nil {
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.M{"createdAt": bson.M{"$lt": q.After.CreatedAt}},
			bson.M{"createdAt": q.After.CreatedAt, "_id": bson.M{"$lt": q.After.ID}},
		}})
	}
	cur, err := s.customers.Find(ctx, filter, options.Find().
		SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).
		SetLimit(int64(q.Limit)))
	if err != nil {
		return nil, fmt.Errorf("list customers: %w", err)
	}
	var docs []customerDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("read customers: %w", err)
	}
	out := make([]customer.Customer, len(docs))
	for i, d := range docs {
		out[i] = fromDoc(d)
	}
	return out, nil
}
