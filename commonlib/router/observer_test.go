package router_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/router"
)

// countingObserver records what the router reports.
type countingObserver struct {
	mu       sync.Mutex
	outcomes map[string]int // "eventType outcome" → records
	calls    map[string]int // eventType → handler calls timed
	lag      map[int32]int64
}

func (o *countingObserver) Consumed(_, eventType, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.outcomes[eventType+" "+outcome]++
}

func (o *countingObserver) HandlerDuration(_, eventType string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d >= 0 {
		o.calls[eventType]++
	}
}

func (o *countingObserver) Lag(_ string, partition int32, lag int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.lag[partition] = lag
}

func (o *countingObserver) snapshot() (map[string]int, map[string]int, map[int32]int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.outcomes), maps.Clone(o.calls), maps.Clone(o.lag)
}

// TestRouterObserver: each record's outcome is reported once, each failed
// attempt that is retried as "retried", and a handler's SetOutcome
// replaces "handled".
func TestRouterObserver(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)
	obs := &countingObserver{outcomes: map[string]int{}, calls: map[string]int{}, lag: map[int32]int64{}}
	var failedOnce sync.Map
	cfg := testConfig(brokers, "observed", map[string]router.Handler{
		"A": nop,
		"Dup": func(ctx context.Context, _ router.Message) error {
			router.SetOutcome(ctx, router.OutcomeDuplicate)
			return nil
		},
		"Flaky": func(_ context.Context, m router.Message) error {
			if _, seen := failedOnce.LoadOrStore(m.EventID, true); !seen {
				return errors.New("first attempt fails")
			}
			return nil
		},
		"Bad": func(context.Context, router.Message) error { return router.Permanent(errors.New("bad")) },
	})
	cfg.Observer = obs
	r, err := router.New(cfg, p, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	key := keyOn(t, 0, "k")
	for i, typ := range []string{"A", "A", "Dup", "Flaky", "Bad", "Unknown"} {
		produce(t, p, key, "v", event(typ, fmt.Sprintf("e-%d", i)))
	}
	want := map[string]int{
		"A handled": 2, "Dup duplicate": 1, "Flaky retried": 1, "Flaky handled": 1,
		"Bad dead_lettered": 1, "Unknown ignored": 1,
	}
	proctest.Eventually(t, 20*time.Second, "outcomes reported", func() error {
		got, _, _ := obs.snapshot()
		if !maps.Equal(got, want) {
			return fmt.Errorf("outcomes = %v, want %v", got, want)
		}
		return nil
	})
	_, calls, lag := obs.snapshot()
	if wantCalls := map[string]int{"A": 2, "Dup": 1, "Flaky": 2, "Bad": 1}; !maps.Equal(calls, wantCalls) {
		t.Errorf("handler calls timed = %v, want %v (none for the ignored type)", calls, wantCalls)
	}
	if l, ok := lag[0]; !ok || l != 0 {
		t.Errorf("lag of partition 0 = %d (reported %t), want 0 once all is consumed", l, ok)
	}
}

// SetOutcome outside a router's handler call does nothing.
func TestSetOutcomeOutsideRouter(t *testing.T) {
	router.SetOutcome(context.Background(), router.OutcomeDuplicate)
}
