package inbox_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/router"
)

// message is a delivery of event eventID.
func message(eventID string) router.Message {
	return router.Message{EventID: eventID, EventType: "SomethingHappened", Key: []byte("agg-1"), Topic: "outbox.event.test", Partition: 2, Offset: 41}
}

// TestIntegrationInbox runs the inbox contract on every backend: the
// embedded engine always, a real replica set when MONGODB_TEST_URI is set.
func TestIntegrationInbox(t *testing.T) {
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		ctx := context.Background()
		open := func(t *testing.T) (*mongotest.Store, *inbox.Inbox) {
			s := b.Open(t)
			in := inbox.Open(s.DB)
			if err := in.EnsureIndexes(ctx); err != nil {
				t.Fatal(err)
			}
			return s, in
		}
		seen := func(t *testing.T, in *inbox.Inbox, eventID string) bool {
			t.Helper()
			ok, err := in.Seen(ctx, eventID)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}

		t.Run("ConsumeOnce dedups and rolls back the handler's writes", func(t *testing.T) {
			cl, in := open(t)
			out := outbox.Open(cl.DB, "test-events")

			runs := 0
			consume := inbox.ConsumeOnce(in, cl, nil, nil)(func(ctx context.Context, m router.Message) error {
				runs++
				// A store method opening its own transaction joins this one.
				return cl.Transact(ctx, func(ctx context.Context) error {
					return out.Append(ctx, outbox.New("test", "agg-1", "Reacted", map[string]string{"to": m.EventID}))
				})
			})
			if err := consume(ctx, message("e1")); err != nil {
				t.Fatalf("first delivery: %v", err)
			}
			if err := consume(ctx, message("e1")); err != nil {
				t.Fatalf("second delivery: got %v, want nil (acknowledged)", err)
			}
			if runs != 1 {
				t.Fatalf("the handler ran %d times for one event delivered twice, want 1", runs)
			}
			recs, err := in.ForSubject(ctx, "agg-1")
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 1 {
				t.Fatalf("ForSubject: %d records, want 1: %+v", len(recs), recs)
			}
			if r := recs[0]; r.EventID != "e1" || r.EventType != "SomethingHappened" || r.Topic != "outbox.event.test" ||
				r.Partition != 2 || r.Offset != 41 || r.Duplicates != 1 || r.LastDuplicateAt == nil || r.ConsumedAt.IsZero() {
				t.Fatalf("ForSubject: got %+v, want e1 read from outbox.event.test/2@41 with one duplicate counted", r)
			}
			if other, err := in.ForSubject(ctx, "agg-2"); err != nil || len(other) != 0 {
				t.Fatalf("ForSubject of another key: %+v, %v; want none", other, err)
			}
			if n, err := out.Count(ctx); err != nil || n != 1 {
				t.Fatalf("outbox holds %d events after a redelivery (%v), want 1", n, err)
			}

			failing := errors.New("handler failed")
			err = inbox.ConsumeOnce(in, cl, nil, nil)(func(context.Context, router.Message) error { return failing })(ctx, message("e2"))
			if !errors.Is(err, failing) {
				t.Fatalf("got %v, want the handler's error", err)
			}
			if seen(t, in, "e2") {
				t.Fatal("a failed handler left its consumed-event record behind")
			}
			if n, err := out.Count(ctx); err != nil || n != 1 {
				t.Fatalf("outbox holds %d events after a failed handler (%v), want 1", n, err)
			}
			// The failed event is handled when it comes again.
			if err := consume(ctx, message("e2")); err != nil {
				t.Fatalf("redelivery of the failed event: %v", err)
			}
			if !seen(t, in, "e1") || !seen(t, in, "e2") {
				t.Error("consumed events are not Seen")
			}
		})

		// Two consumers get the same event at once (a rebalance, a relay
		// re-snapshot): the handler's writes commit once. On MongoDB the
		// second insert of the same _id conflicts with the first, uncommitted
		// one; the driver retries it and it then fails as a duplicate.
		t.Run("concurrent deliveries of one event commit once", func(t *testing.T) {
			cl, in := open(t)
			out := outbox.Open(cl.DB, "test-events")
			const deliveries = 3
			consume := inbox.ConsumeOnce(in, cl, nil, nil)(func(ctx context.Context, m router.Message) error {
				return out.Append(ctx, outbox.New("test", "agg-1", "Reacted", map[string]string{"to": m.EventID}))
			})
			errs := make(chan error, deliveries)
			for range deliveries {
				go func() { errs <- consume(ctx, message("e1")) }()
			}
			for range deliveries {
				if err := <-errs; err != nil {
					t.Errorf("delivery: %v, want nil (handled or acknowledged as a duplicate)", err)
				}
			}
			if n, err := out.Count(ctx); err != nil || n != 1 {
				t.Errorf("outbox holds %d events (%v), want 1", n, err)
			}
		})

		t.Run("Record refuses to run outside a transaction", func(t *testing.T) {
			_, in := open(t)
			if err := in.Record(ctx, inbox.Consumed{EventID: "e1", EventType: "X"}); !errors.Is(err, inbox.ErrNoTransaction) {
				t.Errorf("got %v, want ErrNoTransaction", err)
			}
			if seen(t, in, "e1") {
				t.Error("a refused Record was stored")
			}
		})

		t.Run("Record in a transaction rolled back leaves no record", func(t *testing.T) {
			cl, in := open(t)
			boom := errors.New("boom")
			err := cl.Transact(ctx, func(ctx context.Context) error {
				if err := in.Record(ctx, inbox.Consumed{EventID: "e1", EventType: "X"}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatalf("Transact = %v, want boom", err)
			}
			if seen(t, in, "e1") {
				t.Error("the record outlived its transaction")
			}
		})

		t.Run("Cleanup deletes records consumed before t", func(t *testing.T) {
			cl, in := open(t)
			now := mongotx.Now()
			// Records as Record writes them, consumed 3 h, 2 h and 1 h ago.
			for i, age := range []time.Duration{3 * time.Hour, 2 * time.Hour, time.Hour} {
				_, err := cl.DB.Collection(inbox.Collection).InsertOne(ctx, bson.M{
					"_id": fmt.Sprintf("old%d", i), "eventType": "X", "timestamp": now.Add(-age),
				})
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := cl.Transact(ctx, func(ctx context.Context) error {
				return in.Record(ctx, inbox.Consumed{EventID: "fresh", EventType: "X"})
			}); err != nil {
				t.Fatal(err)
			}
			// Strictly before: the record consumed at the cut-off stays.
			n, err := in.Cleanup(ctx, now.Add(-2*time.Hour))
			if err != nil || n != 1 {
				t.Fatalf("Cleanup = %d, %v; want 1", n, err)
			}
			for id, want := range map[string]bool{"old0": false, "old1": true, "old2": true, "fresh": true} {
				if got := seen(t, in, id); got != want {
					t.Errorf("Seen(%s) = %v after Cleanup, want %v", id, got, want)
				}
			}
			if n, err := in.Cleanup(ctx, now.Add(-time.Minute)); err != nil || n != 2 {
				t.Errorf("second Cleanup = %d, %v; want 2", n, err)
			}
			// Past its retention an event counts as new again.
			ran := false
			err = inbox.ConsumeOnce(in, cl, nil, nil)(func(context.Context, router.Message) error { ran = true; return nil })(ctx, message("old0"))
			if err != nil || !ran {
				t.Errorf("ConsumeOnce of a cleaned-up event: %v (handler ran: %v), want it handled", err, ran)
			}
			if !seen(t, in, "fresh") {
				t.Error("Cleanup deleted a record newer than t")
			}
		})
	})
}
