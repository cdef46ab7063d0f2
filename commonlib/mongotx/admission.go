package mongotx

import (
	"context"
	"errors"
	"sync"
	"time"
)

// ErrSaturated says a transaction of new work was refused at once because
// the store's write queue is full: retry later. Saga steps are never
// refused; they wait.
var ErrSaturated = errors.New("the store is saturated: retry later")

type newWorkKey struct{}

// NewWork marks ctx as carrying new work (a registration that starts a
// saga): when the write queue is full, its transactions fail at once with
// ErrSaturated instead of waiting, and queued steps of sagas already
// running go first.
func NewWork(ctx context.Context) context.Context {
	return context.WithValue(ctx, newWorkKey{}, true)
}

func isNewWork(ctx context.Context) bool {
	v, _ := ctx.Value(newWorkKey{}).(bool)
	return v
}

// maxQueueWait bounds how long new work may expect to wait in the queue:
// beyond it (queued transactions × their average duration), new work is
// refused even below the count bound, so that a POST under overload gets
// its answer in well under a second whatever one transaction costs.
const maxQueueWait = 200 * time.Millisecond

// gate admits transactions: at most limit at once, the rest queued, steps
// before new work; new work is refused while queued reaches bound or its
// expected wait passes maxQueueWait. The
// embedded engine runs one write transaction at a time (limit 1), so the
// queue forms here, where it can be ordered and bounded, instead of on
// lungo's write token, which writes outside Transact (the relay's lease
// and position) then wait for one transaction at most.
type gate struct {
	mu      sync.Mutex
	limit   int
	bound   int
	running int
	steps   []chan struct{}
	fresh   []chan struct{}
	avgHold time.Duration // moving average of a transaction's duration
}

func newGate(limit, bound int) *gate { return &gate{limit: limit, bound: bound} }

func (g *gate) queued() int { return len(g.steps) + len(g.fresh) }

// acquire waits for a slot; release must follow a nil return.
func (g *gate) acquire(ctx context.Context, newWork bool) error {
	g.mu.Lock()
	if g.running < g.limit && g.queued() == 0 {
		g.running++
		g.mu.Unlock()
		return nil
	}
	if newWork && g.full() {
		g.mu.Unlock()
		return ErrSaturated
	}
	ch := make(chan struct{})
	if newWork {
		g.fresh = append(g.fresh, ch)
	} else {
		g.steps = append(g.steps, ch)
	}
	g.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		defer g.mu.Unlock()
		if removeWaiter(&g.steps, ch) || removeWaiter(&g.fresh, ch) {
			return ctx.Err()
		}
		// Granted while giving up: pass the slot on.
		g.releaseLocked()
		return ctx.Err()
	}
}

// full reports whether new work would be refused. Called with g.mu held.
func (g *gate) full() bool {
	expected := time.Duration(g.queued()+1) * g.avgHold / time.Duration(g.limit)
	return g.queued() >= g.bound || expected > maxQueueWait
}

// release frees the slot taken at start, learning how long it was held.
func (g *gate) release(start time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	held := time.Since(start)
	g.avgHold += (held - g.avgHold) / 8
	g.releaseLocked()
}

// releaseLocked hands the slot to the first queued step, else the first
// queued new work, else frees it.
func (g *gate) releaseLocked() {
	for _, q := range []*[]chan struct{}{&g.steps, &g.fresh} {
		if len(*q) > 0 {
			ch := (*q)[0]
			*q = (*q)[1:]
			close(ch)
			return
		}
	}
	g.running--
}

func removeWaiter(q *[]chan struct{}, ch chan struct{}) bool {
	for i, c := range *q {
		if c == ch {
			*q = append((*q)[:i], (*q)[i+1:]...)
			return true
		}
	}
	return false
}

// Saturated reports whether new work would be refused now.
func (c *Client) Saturated() bool {
	c.gate.mu.Lock()
	defer c.gate.mu.Unlock()
	return c.gate.full()
}
