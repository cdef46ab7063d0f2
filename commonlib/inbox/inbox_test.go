package inbox_test

import (
	"context"
	"errors"
	"testing"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
)

func open(t *testing.T) *mongotx.Client {
	t.Helper()
	ctx := context.Background()
	cl, err := mongotx.Open(ctx, mongotx.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cl.Close(ctx) })
	return cl
}

func TestRecordDedupsAndRollsBackTheHandlersWrites(t *testing.T) {
	ctx := context.Background()
	cl := open(t)
	db := cl.Database("test-db")
	in, out := inbox.Open(db), outbox.Open(db, "test-events")

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
	if n, _ := out.Count(ctx); n != 1 {
		t.Fatalf("outbox holds %d events after a redelivery, want 1", n)
	}

	failing := errors.New("handler failed")
	err := in.Consume(ctx, cl, "e2", "SomethingHappened", func(context.Context) error { return failing })
	if !errors.Is(err, failing) {
		t.Fatalf("got %v, want the handler's error", err)
	}
	if seen, _ := in.Seen(ctx, "e2"); seen {
		t.Fatal("a failed handler left its consumed-event record behind")
	}
}

func TestRecordAndAppendRefuseToRunOutsideATransaction(t *testing.T) {
	ctx := context.Background()
	db := open(t).Database("test-db")
	if err := inbox.Open(db).Record(ctx, "e1", "X"); !errors.Is(err, inbox.ErrNoTransaction) {
		t.Errorf("inbox: got %v, want ErrNoTransaction", err)
	}
	if err := outbox.Open(db, "x-events").Append(ctx, outbox.New("x", "1", "X", map[string]int{})); !errors.Is(err, outbox.ErrNoTransaction) {
		t.Errorf("outbox: got %v, want ErrNoTransaction", err)
	}
}
