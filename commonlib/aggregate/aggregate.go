// Package aggregate changes one stored aggregate, a document with an int64
// version field, together with the outbox events the change publishes, in
// one transaction: load, apply the change, check the version, replace,
// append the events. The services' stores (customers, payments) share it,
// and with it one rule for when a change is written.
//
// It does not create documents, convert them to domain types or decide what
// a change means: the store and its core do.
package aggregate

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"

	"github.com/sagaoutbox/platform/commonlib/outbox"
)

// VersionField is the document field Update checks and increments.
const VersionField = "version"

var (
	// ErrNotFound is returned by Update when no document matches.
	ErrNotFound = errors.New("not found")
	// ErrConflict is returned by Update when the document changed between
	// its read and its write.
	ErrConflict = errors.New("changed concurrently")
)

// Transactor runs fn in a transaction (mongotx.Client does), joining the
// transaction of ctx if there is one.
type Transactor interface {
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
}

// Collection is where the documents of one aggregate type live, decoded as
// D, and where their changes' events go.
type Collection[D any] struct {
	Client Transactor
	Docs   lungo.ICollection
	Outbox *outbox.Outbox
	// Version points at D's version field (bson VersionField).
	Version func(d *D) *int64
}

// Update loads the document matching filter (its _id, or a field with a
// unique index) and lets change modify it and return the events that
// announce the modification. It then writes, in the same transaction (the
// caller's, when ctx has one):
//
//   - change failed: nothing; Update returns change's error as it is.
//   - change returned no events: nothing either, and Update returns nil.
//   - change returned events: the document, with its version incremented,
//     if its version is still the one read (ErrConflict otherwise), and the
//     events, appended to the outbox.
//
// The rule, events decide whether anything is written, is deliberate (the
// customer store used to write a change without events, the payment store
// did not). A change without events is a no-op by contract: an answer for a
// registration that already ended, a revert of a payment never authorized,
// the same fact delivered again under a new event id, which the inbox does
// not recognise. Writing it anyway would bump the version for nothing, and a
// version bump is what makes a concurrent writer fail and run again; it
// would cost a write and a journal record; and each repetition would leave
// the document different (its version), where a no-op applied any number of
// times must leave the store exactly as it was. A change is worth writing
// only with the events that announce it: the outbox is how the other
// services learn of it, so a change written without events would be one
// they never hear of. A change that modifies the document but returns no
// events is therefore discarded, not written. With events the document is
// always written, changed or not, so that the version check proves the
// events were decided on the state that commits.
//
// what names the document in errors ("customer c-1").
func (c Collection[D]) Update(ctx context.Context, what string, filter bson.M, change func(d *D) ([]outbox.Event, error)) error {
	return c.Client.Transact(ctx, func(ctx context.Context) error {
		var d D
		err := c.Docs.FindOne(ctx, filter).Decode(&d)
		if errors.Is(err, mongo.ErrNoDocuments) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", what, err)
		}
		read := *c.Version(&d)
		events, err := change(&d)
		if err != nil || len(events) == 0 {
			return err
		}
		*c.Version(&d) = read + 1
		current := maps.Clone(filter)
		current[VersionField] = read
		res, err := c.Docs.ReplaceOne(ctx, current, d)
		if err != nil {
			return fmt.Errorf("save %s: %w", what, err)
		}
		if res.MatchedCount != 1 {
			return fmt.Errorf("save %s: %w", what, ErrConflict)
		}
		return c.Outbox.Append(ctx, events...)
	})
}
