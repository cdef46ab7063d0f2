// Package inbox records consumed events so a consumer handles each event once.
//
// A record is inserted in the same transaction as the handler's writes, keyed
// by the event id (the _id, hence unique on both backends): a redelivered
// event fails that insert, the transaction is abandoned and the consumer moves
// on. ConsumeOnce is that policy as router middleware, the one place it is
// written. Records are removed after a retention that must exceed how long an
// event can still be redelivered (Kafka's retention, a relay's re-snapshot).
//
// It does not consume from Kafka (package router does) and does not decide
// what a handler's other errors mean.
package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
)

// Collection is the blueprint's name for consumed-event records.
const Collection = "consumed-events"

// ErrDuplicate is returned by Record for an event already recorded;
// ConsumeOnce turns it into an acknowledgement.
var ErrDuplicate = errors.New("inbox: event already consumed")

// ErrNoTransaction is returned by Record outside a transaction.
var ErrNoTransaction = errors.New("inbox: record outside a transaction")

// Consumed is a consumed-event record: the event and where it was read.
// Subject, what the event is about for the consuming service (the customer
// of a registration), lets an operator find what a service consumed for it
// (Inbox.ForSubject); Duplicates counts the redeliveries skipped since.
type Consumed struct {
	EventID         string     `bson:"_id"`
	EventType       string     `bson:"eventType"`
	ConsumedAt      time.Time  `bson:"timestamp"`
	Subject         string     `bson:"subject,omitempty"`
	Key             string     `bson:"key,omitempty"`
	Topic           string     `bson:"topic,omitempty"`
	Partition       int32      `bson:"partition"`
	Offset          int64      `bson:"offset"`
	Duplicates      int        `bson:"duplicates,omitempty"`
	LastDuplicateAt *time.Time `bson:"lastDuplicateAt,omitempty"`
}

// Inbox is the consumed-events collection of one database.
type Inbox struct {
	coll lungo.ICollection
}

// Open returns the inbox of db.
func Open(db lungo.IDatabase) *Inbox {
	return &Inbox{coll: db.Collection(Collection)}
}

// EnsureIndexes creates the indexes of the cleanup and of ForSubject.
func (i *Inbox) EnsureIndexes(ctx context.Context) error {
	_, err := i.coll.Indexes().CreateMany(ctx, []mongo.IndexModel{
		{Keys: bson.D{{Key: "timestamp", Value: 1}}},
		{Keys: bson.D{{Key: "subject", Value: 1}}},
	})
	if err != nil {
		return fmt.Errorf("inbox: create index: %w", err)
	}
	return nil
}

// Record marks c.EventID as consumed at the current time. ctx must belong
// to a transaction, so the record commits with the handler's writes. It
// returns ErrDuplicate when the event was consumed before.
func (i *Inbox) Record(ctx context.Context, c Consumed) error {
	if !mongotx.InTransaction(ctx) {
		return ErrNoTransaction
	}
	c.ConsumedAt, c.Duplicates, c.LastDuplicateAt = mongotx.Now(), 0, nil
	_, err := i.coll.InsertOne(ctx, c)
	if mongotx.IsDuplicateKey(err) {
		return ErrDuplicate
	}
	if err != nil {
		return fmt.Errorf("inbox: record %s: %w", c.EventID, err)
	}
	return nil
}

// NoteDuplicate counts a skipped redelivery of eventID on its record, for
// operators (ForSubject); it is not part of deduplication.
func (i *Inbox) NoteDuplicate(ctx context.Context, eventID string) error {
	_, err := i.coll.UpdateOne(ctx, bson.M{"_id": eventID},
		bson.M{"$inc": bson.M{"duplicates": 1}, "$set": bson.M{"lastDuplicateAt": mongotx.Now()}})
	if err != nil {
		return fmt.Errorf("inbox: note duplicate of %s: %w", eventID, err)
	}
	return nil
}

// ForSubject returns the records of events consumed about subject, oldest
// first. Records older than the retention are gone.
func (i *Inbox) ForSubject(ctx context.Context, subject string) ([]Consumed, error) {
	cur, err := i.coll.Find(ctx, bson.M{"subject": subject}, options.Find().SetSort(bson.D{{Key: "timestamp", Value: 1}}).SetLimit(1000))
	if err != nil {
		return nil, fmt.Errorf("inbox: find records of %s: %w", subject, err)
	}
	var out []Consumed
	if err := cur.All(ctx, &out); err != nil {
		return nil, fmt.Errorf("inbox: read records of %s: %w", subject, err)
	}
	for j := range out {
		out[j].ConsumedAt = out[j].ConsumedAt.UTC()
	}
	return out, nil
}

// Seen reports whether eventID was consumed.
func (i *Inbox) Seen(ctx context.Context, eventID string) (bool, error) {
	n, err := i.coll.CountDocuments(ctx, bson.M{"_id": eventID})
	if err != nil {
		return false, fmt.Errorf("inbox: look up %s: %w", eventID, err)
	}
	return n > 0, nil
}

// Cleanup deletes records consumed before t and returns how many it deleted.
func (i *Inbox) Cleanup(ctx context.Context, t time.Time) (int64, error) {
	res, err := i.coll.DeleteMany(ctx, bson.M{"timestamp": bson.M{"$lt": t}})
	if err != nil {
		return 0, fmt.Errorf("inbox: cleanup: %w", err)
	}
	return res.DeletedCount, nil
}
