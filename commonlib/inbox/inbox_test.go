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
)

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

		t.Run("Consume dedups and rolls back the handler's writes", func(t *testing.T) {
			cl, in := open(t)
			out := outbox.Open(cl.DB, "test-events")

			consume := func(eventID string) error {
				return in.Consume(ctx, cl, eventID, "SomethingHappened", func(ctx context.Context) error {
					// A store method opening its own transaction joins this one.
					return cl.Transact(ctx, func(ctx context.Context) error {
						return out.Append(ctx, outbox.New("test", "agg-1", "Reacted", map[string]string{"to": eventID}))
					})
				})
			}
			if err := consume("e1"); err != nil {
				t.Fatalf("first delivery: %v", err)
			}
			if err := consume("e1"); !errors.Is(err, inbox.ErrDuplicate) {
				t.Fatalf("second delivery: got %v, want ErrDuplicate", err)
			}
			if n, err := out.Count(ctx); err != nil || n != 1 {
				t.Fatalf("outbox holds %d events after a redelivery (%v), want 1", n, err)
			}

			failing := errors.New("handler failed")
			err := in.Consume(ctx, cl, "e2", "SomethingHappened", func(context.Context) error { return failing })
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
			if err := consume("e2"); err != nil {
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
			errs := make(chan error, deliveries)
			for range deliveries {
				go func() {
					errs <- in.Consume(ctx, cl, "e1", "SomethingHappened", func(ctx context.Context) error {
						return out.Append(ctx, outbox.New("test", "agg-1", "Reacted", map[string]string{"to": "e1"}))
					})
				}()
			}
			handled := 0
			for range deliveries {
				switch err := <-errs; {
				case err == nil:
					handled++
				case !errors.Is(err, inbox.ErrDuplicate):
					t.Errorf("Consume: %v, want nil or ErrDuplicate", err)
				}
			}
			if handled != 1 {
				t.Errorf("%d deliveries were handled, want 1", handled)
			}
			if n, err := out.Count(ctx); err != nil || n != 1 {
				t.Errorf("outbox holds %d events (%v), want 1", n, err)
			}
		})

		t.Run("Record refuses to run outside a transaction", func(t *testing.T) {
			_, in := open(t)
			if err := in.Record(ctx, "e1", "X"); !errors.Is(err, inbox.ErrNoTransaction) {
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
				if err := in.Record(ctx, "e1", "X"); err != nil {
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
			if err := cl.Transact(ctx, func(ctx context.Context) error { return in.Record(ctx, "fresh", "X") }); err != nil {
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
			err = in.Consume(ctx, cl, "old0", "X", func(context.Context) error { return nil })
			if err != nil {
				t.Errorf("Consume of a cleaned-up event: %v, want nil", err)
			}
			if !seen(t, in, "fresh") {
				t.Error("Cleanup deleted a record newer than t")
			}
		})
	})
}
