package outbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

const collection = "test-events"

// stored returns the outbox documents in insertion order (natural order:
// events created in the same millisecond tie on createdAt).
func stored(t *testing.T, s *mongotest.Store) []bson.M {
	t.Helper()
	ctx := context.Background()
	cur, err := s.DB.Collection(collection).Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func count(t *testing.T, o *outbox.Outbox) int64 {
	t.Helper()
	n, err := o.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestIntegrationOutbox runs the outbox contract on every backend: the
// embedded engine always, a real replica set when MONGODB_TEST_URI is set.
func TestIntegrationOutbox(t *testing.T) {
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		ctx := context.Background()
		open := func(t *testing.T) (*mongotest.Store, *outbox.Outbox) {
			s := b.Open(t)
			o := outbox.Open(s.DB, collection)
			if err := o.EnsureIndexes(ctx); err != nil {
				t.Fatal(err)
			}
			if err := o.EnsureIndexes(ctx); err != nil {
				t.Fatalf("EnsureIndexes again: %v", err)
			}
			return s, o
		}

		t.Run("Append writes the trace context, null without one", func(t *testing.T) {
			const tp = "00-4bf92f3577b34da6a1a2b3c4d5e6f708-00f067aa0ba902b7-01"
			tests := []struct {
				name string
				ctx  context.Context
				want any
			}{
				{"in a span", tracing.WithTraceparent(ctx, tp), tp},
				{"no span", ctx, nil},
			}
			for _, tc := range tests {
				t.Run(tc.name, func(t *testing.T) {
					s, o := open(t)
					e := outbox.New("customer", "c1", "CustomerPendingRegistrationEvent", map[string]any{"id": "c1"})
					if err := s.Transact(tc.ctx, func(ctx context.Context) error { return o.Append(ctx, e) }); err != nil {
						t.Fatal(err)
					}
					docs := stored(t, s)
					got, present := docs[0]["traceparent"]
					if !present || got != tc.want {
						t.Errorf("traceparent = %v (present %v), want %v (present)", got, present, tc.want)
					}
				})
			}
		})

		t.Run("Append in a transaction stores the events in Debezium's shape", func(t *testing.T) {
			s, o := open(t)
			e1 := outbox.New("customer", "c1", "CustomerPendingRegistrationEvent", map[string]any{"customer": map[string]any{"id": "c1"}})
			e2 := outbox.New("customer", "c1", "CustomerRegisteredEvent", struct {
				ID string `bson:"id" json:"id"`
			}{"c1"})
			if err := s.Transact(ctx, func(ctx context.Context) error { return o.Append(ctx, e1, e2) }); err != nil {
				t.Fatal(err)
			}
			if n := count(t, o); n != 2 {
				t.Fatalf("Count = %d, want 2", n)
			}
			docs := stored(t, s)
			if len(docs) != 2 {
				t.Fatalf("stored %d documents, want 2", len(docs))
			}
			for i, e := range []outbox.Event{e1, e2} {
				d := docs[i]
				got := fmt.Sprint(d["_id"], d["aggregateType"], d["aggregateId"], d["type"])
				if want := fmt.Sprint(e.ID, e.AggregateType, e.AggregateID, e.Type); got != want {
					t.Errorf("event %d = %s, want %s", i, got, want)
				}
				// payload must be an embedded document, not a string:
				// Debezium's MongoEventRouter and the relay read it so.
				if _, ok := d["payload"].(bson.M); !ok {
					t.Errorf("event %d: payload is a %T, want an embedded document", i, d["payload"])
				}
				if ts, ok := d["createdAt"].(interface{ Time() time.Time }); !ok || !ts.Time().Equal(e.CreatedAt) {
					t.Errorf("event %d: createdAt = %v, want %v", i, d["createdAt"], e.CreatedAt)
				}
			}
		})

		t.Run("Append outside a transaction writes nothing", func(t *testing.T) {
			_, o := open(t)
			if err := o.Append(ctx, outbox.New("x", "1", "X", map[string]int{})); !errors.Is(err, outbox.ErrNoTransaction) {
				t.Errorf("got %v, want ErrNoTransaction", err)
			}
			if n := count(t, o); n != 0 {
				t.Errorf("Count = %d, want 0", n)
			}
		})

		t.Run("a rolled-back transaction leaves no event", func(t *testing.T) {
			s, o := open(t)
			boom := errors.New("domain write failed")
			err := s.Transact(ctx, func(ctx context.Context) error {
				if err := o.Append(ctx, outbox.New("x", "1", "X", map[string]int{"n": 1})); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Transact = %v, want the domain error", err)
			}
			if n := count(t, o); n != 0 {
				t.Errorf("Count = %d after a rollback, want 0", n)
			}
		})

		t.Run("an event without payload fails the whole Append", func(t *testing.T) {
			s, o := open(t)
			err := s.Transact(ctx, func(ctx context.Context) error {
				return o.Append(ctx, outbox.New("x", "1", "X", map[string]int{}), outbox.New("x", "1", "Y", nil))
			})
			if err == nil {
				t.Fatal("Append accepted an event without payload")
			}
			if n := count(t, o); n != 0 {
				t.Errorf("Count = %d, want 0: the first event of a failed Append was kept", n)
			}
		})

		t.Run("ForAggregate lists one aggregate's events oldest first", func(t *testing.T) {
			s, o := open(t)
			now := mongotx.Now()
			var evts []outbox.Event
			for i, agg := range []string{"a", "b", "a", "a"} {
				e := outbox.New("x", agg, fmt.Sprintf("E%d", i), map[string]int{"i": i})
				e.CreatedAt = now.Add(-time.Duration(i) * time.Minute) // newest first on purpose
				evts = append(evts, e)
			}
			if err := s.Transact(ctx, func(ctx context.Context) error { return o.Append(ctx, evts...) }); err != nil {
				t.Fatal(err)
			}
			got, err := o.ForAggregate(ctx, "a")
			if err != nil {
				t.Fatal(err)
			}
			var types []string
			for _, w := range got {
				if w.AggregateID != "a" || w.AggregateType != "x" || w.ID == "" || w.CreatedAt.IsZero() {
					t.Errorf("ForAggregate returned %+v", w)
				}
				types = append(types, w.Type)
			}
			if fmt.Sprint(types) != "[E3 E2 E0]" {
				t.Errorf("ForAggregate(a) = %v, want [E3 E2 E0] (oldest first)", types)
			}
			if none, err := o.ForAggregate(ctx, "c"); err != nil || len(none) != 0 {
				t.Errorf("ForAggregate(c) = %v, %v; want none", none, err)
			}
		})

		t.Run("Purge deletes events created before t", func(t *testing.T) {
			s, o := open(t)
			now := mongotx.Now()
			var evts []outbox.Event
			for i, age := range []time.Duration{3 * time.Hour, 2 * time.Hour, time.Hour, 0} {
				e := outbox.New("x", "1", fmt.Sprintf("E%d", i), map[string]int{"i": i})
				e.CreatedAt = now.Add(-age)
				evts = append(evts, e)
			}
			if err := s.Transact(ctx, func(ctx context.Context) error { return o.Append(ctx, evts...) }); err != nil {
				t.Fatal(err)
			}
			// Strictly before: the event created at the cut-off stays.
			n, err := o.Purge(ctx, now.Add(-2*time.Hour))
			if err != nil || n != 1 {
				t.Fatalf("Purge = %d, %v; want 1", n, err)
			}
			var types []any
			for _, d := range stored(t, s) {
				types = append(types, d["type"])
			}
			if got := fmt.Sprint(types); got != "[E1 E2 E3]" {
				t.Errorf("left %s, want [E1 E2 E3]", got)
			}
			if n, err := o.Purge(ctx, now.Add(time.Second)); err != nil || n != 3 {
				t.Errorf("Purge of the rest = %d, %v; want 3", n, err)
			}
			if n := count(t, o); n != 0 {
				t.Errorf("Count = %d, want 0", n)
			}
			if n, err := o.Purge(ctx, now.Add(time.Second)); err != nil || n != 0 {
				t.Errorf("Purge of an empty outbox = %d, %v; want 0", n, err)
			}
		})
	})
}

func TestNewEvent(t *testing.T) {
	a := outbox.New("customer", "c1", "T", map[string]int{})
	b := outbox.New("customer", "c1", "T", map[string]int{})
	if a.ID == "" || a.ID == b.ID {
		t.Errorf("ids %q and %q, want distinct non-empty ids", a.ID, b.ID)
	}
	if !a.CreatedAt.Equal(a.CreatedAt.Truncate(time.Millisecond)) || a.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want UTC milliseconds", a.CreatedAt)
	}
}
