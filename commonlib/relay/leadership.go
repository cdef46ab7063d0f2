package relay

import (
	"context"
	"errors"
	"time"

	"github.com/sagaoutbox/platform/commonlib/retry"
)

// releaseTimeout bounds the lease release done after Run's context ended.
const releaseTimeout = 5 * time.Second

// errLeaseExpired stops a send that would start after the lease ran out
// locally, before the renewal loop noticed.
var errLeaseExpired = errors.New("relay: lease expired before the batch was sent")

// AssumeExclusiveStore tells r that no other process can open its store,
// as with the embedded engine, whose data directory is locked by the
// process that opened it (package journal). Another holder of the lease is
// then a previous run of this process that died without releasing it (a
// kill -9, a crash), and Run takes the lease from it at once instead of
// waiting up to LeaseTTL + LeaseTTL/3 for it to expire.
//
// Call it before Run, and only for such a store with one Relay per
// database: where replicas share the store (MongoDB), or where several
// relays of one process follow the same database, a live holder would lose
// the lease to every replica that starts.
func (r *Relay) AssumeExclusiveStore() {
	r.lease.exclusive.Store(true)
}

// awaitLease polls for the lease every TTL/3 until it is acquired (true)
// or ctx ends (false). It logs who holds it once per holder, and store
// errors as they change.
func (r *Relay) awaitLease(ctx context.Context) bool {
	interval := r.opts.LeaseTTL / 3
	waitingFor, lastErr := "", ""
	for {
		ok, cur, err := r.lease.acquire(ctx)
		if ctx.Err() != nil {
			return false
		}
		switch {
		case err != nil:
			r.noteError(err)
			if err.Error() != lastErr {
				r.log.Warn("cannot acquire the lease, retrying", "err", err, "every", interval)
				lastErr = err.Error()
			}
		case ok:
			r.validUntil.Store(cur.ExpiresAt.UnixNano())
			r.count(func(s *Stats) {
				s.Leader, s.Holder = true, r.opts.Holder
				s.Leaderships++
			})
			r.noteHealthy()
			if cur.preempted != "" {
				// Exclusive store: that holder was a previous run of
				// this process.
				r.log.Info("took over the unexpired lease of "+cur.preempted, "previous_holder", cur.preempted)
			}
			r.log.Info("lease acquired; relaying", "holder", r.opts.Holder, "ttl", r.opts.LeaseTTL)
			return true
		default:
			r.count(func(s *Stats) { s.Holder = cur.Holder })
			r.noteHealthy()
			lastErr = ""
			if cur.Holder != waitingFor {
				r.log.Info("waiting for lease held by "+cur.Holder, "holder", cur.Holder, "expires_at", cur.ExpiresAt)
				waitingFor = cur.Holder
			}
		}
		if !retry.Sleep(ctx, interval) {
			return false
		}
	}
}

// lead relays while the lease is held: a renewal every TTL/3; when one
// fails or finds another holder, the follow loop is cancelled at once. It
// returns when ctx ends or the lease is lost.
func (r *Relay) lead(ctx context.Context) {
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewalsStopped := make(chan struct{})
	go func() {
		defer close(renewalsStopped)
		r.keepLease(lctx, cancel)
	}()
	r.relayLoop(lctx)
	cancel()
	<-renewalsStopped
	r.count(func(s *Stats) {
		s.Leader = false
		if s.Holder == r.opts.Holder && ctx.Err() == nil {
			s.Holder = "" // lost: the next poll says who has it
		}
	})
}

// keepLease renews the lease every TTL/3, each attempt bounded by TTL/3 so
// that a hanging store is noticed before the lease runs out, and calls
// lost when it is gone.
func (r *Relay) keepLease(ctx context.Context, lost context.CancelFunc) {
	interval := r.opts.LeaseTTL / 3
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rctx, cancel := context.WithTimeout(ctx, interval)
		ok, expires, err := r.lease.renew(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		if err == nil && ok {
			r.validUntil.Store(expires.UnixNano())
			continue
		}
		if err == nil {
			err = errors.New("relay: lease taken by another holder")
		}
		r.noteError(err)
		r.count(func(s *Stats) { s.LeaseLost++ })
		r.log.Warn("lost the lease; stopped relaying, waiting to acquire it again", "err", err)
		lost()
		return
	}
}

// leaseValid reports whether the lease, as last renewed, has not run out.
func (r *Relay) leaseValid() bool {
	return time.Now().UnixNano() < r.validUntil.Load()
}

// stepDown releases the lease after Run's context ended, unless the test
// hook simulating a crash is set.
func (r *Relay) stepDown(ctx context.Context) {
	if r.abandon.Load() {
		return
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err := r.lease.release(rctx); err != nil {
		r.log.Warn("lease not released; a successor waits for it to expire", "err", err, "ttl", r.opts.LeaseTTL)
		return
	}
	r.count(func(s *Stats) { s.Holder = "" })
	r.log.Info("lease released")
}
