package mongotx

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

func TestGateOrdersStepsFirstAndShedsNewWork(t *testing.T) {
	g := newGate(1, 2)
	ctx := context.Background()
	if err := g.acquire(ctx, true); err != nil {
		t.Fatal(err)
	}
	order := make(chan string, 3)
	wait := func(name string, newWork bool) {
		go func() {
			if err := g.acquire(ctx, newWork); err != nil {
				order <- name + ":" + err.Error()
				return
			}
			order <- name
			g.release(time.Now())
		}()
	}
	wait("new", true)
	waitQueued(t, g, 1)
	wait("step", false)
	waitQueued(t, g, 2)
	// Queue full: new work is refused at once, a step still queues.
	if err := g.acquire(ctx, true); !errors.Is(err, ErrSaturated) {
		t.Fatalf("new work on a full queue: %v, want ErrSaturated", err)
	}
	g.release(time.Now())
	if got := []string{<-order, <-order}; got[0] != "step" || got[1] != "new" {
		t.Fatalf("order %v, want [step new]", got)
	}
}

func TestGateWaiterGivesUp(t *testing.T) {
	g := newGate(1, 5)
	if err := g.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := g.acquire(ctx, false); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want deadline exceeded", err)
	}
	if g.queued() != 0 {
		t.Fatalf("queued %d after giving up, want 0", g.queued())
	}
	g.release(time.Now())
	if err := g.acquire(context.Background(), true); err != nil {
		t.Fatalf("slot not free after release: %v", err)
	}
}

func waitQueued(t *testing.T, g *gate, n int) {
	t.Helper()
	proctest.EventuallyEvery(t, 2*time.Second, time.Millisecond, fmt.Sprintf("%d queued", n), func() error {
		g.mu.Lock()
		q := g.queued()
		g.mu.Unlock()
		if q != n {
			return fmt.Errorf("%d queued", q)
		}
		return nil
	})
}

func TestGateShedsNewWorkOnExpectedWait(t *testing.T) {
	g := newGate(1, 100)
	g.avgHold = 150 * time.Millisecond
	if err := g.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	go func() { _ = g.acquire(context.Background(), false) }()
	waitQueued(t, g, 1)
	// One queued at 150 ms each: new work would wait about 300 ms.
	if err := g.acquire(context.Background(), true); !errors.Is(err, ErrSaturated) {
		t.Fatalf("got %v, want ErrSaturated on an expected wait over %v", err, maxQueueWait)
	}
}
