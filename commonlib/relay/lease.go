package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/retry"
)

// LeaseCollection holds the relay leases of the database it is in: one
// document per connector name and database, {_id: "<name>/<database>",
// holder, expiresAt, acquiredAt}. Like PositionCollection it is never routed.
const LeaseCollection = "outbox-relay-lease"

// DefaultLeaseTTL is Options.LeaseTTL's default.
const DefaultLeaseTTL = 10 * time.Second

// minLeaseTTL keeps the renewal interval (TTL/3) well above a store round
// trip.
const minLeaseTTL = 300 * time.Millisecond

// releaseTimeout bounds the lease release done after Run's context ended.
const releaseTimeout = 5 * time.Second

// errLeaseExpired stops a send that would start after the lease ran out
// locally, before the renewal loop noticed.
var errLeaseExpired = errors.New("relay: lease expired before the batch was sent")

// defaultHolder names this process among the replicas: host, pid and a
// random part, so two processes never share a holder id even on one host
// or after a restart with the same pid.
func defaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b))
}

// leaseDocument is the stored lease.
type leaseDocument struct {
	ID         string    `bson:"_id"`
	Holder     string    `bson:"holder"`
	ExpiresAt  time.Time `bson:"expiresAt"`
	AcquiredAt time.Time `bson:"acquiredAt"`

	// preempted is the holder whose unexpired lease an acquisition on an
	// exclusive store took over; not stored.
	preempted string
}

// lease is one relay's handle on its lease document. Its clock is the
// process's: replicas' clocks must agree to well within the TTL (NTP).
type lease struct {
	coll   lungo.ICollection
	id     string
	holder string
	ttl    time.Duration
	// exclusive: no other process can open the store, so another holder
	// of the lease is dead (see Relay.AssumeExclusiveStore).
	exclusive atomic.Bool
}

func newLease(db lungo.IDatabase, name, database, holder string, ttl time.Duration) *lease {
	return &lease{
		coll:   db.Collection(LeaseCollection),
		id:     name + "/" + database,
		holder: holder,
		ttl:    ttl,
	}
}

// current reads the lease; a missing lease is the zero document.
func (l *lease) current(ctx context.Context) (leaseDocument, error) {
	var doc leaseDocument
	err := l.coll.FindOne(ctx, bson.D{{Key: "_id", Value: l.id}}).Decode(&doc)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return leaseDocument{}, nil
	}
	if err != nil {
		return leaseDocument{}, fmt.Errorf("relay: read lease %s: %w", l.id, err)
	}
	return doc, nil
}

// acquire takes the lease if it is free, expired or already ours, or, on
// an exclusive store, whoever holds it. It returns the lease as it stands:
// holder is l.holder when acquired. The write is one conditional upsert,
// atomic on both lungo and MongoDB: when another holder's unexpired lease
// exists, the filter matches nothing, the upsert tries to insert a second
// document with the same _id and fails with a duplicate key, which means
// "held by someone else". Expiry is judged with this process's clock. On an
// exclusive store the filter also matches the holder just read, so the
// takeover is a compare-and-swap: it fails like any lost race if that
// holder renewed or handed over in between.
func (l *lease) acquire(ctx context.Context) (bool, leaseDocument, error) {
	now := time.Now()
	cur, err := l.current(ctx)
	if err != nil {
		return false, leaseDocument{}, err
	}
	held := cur.Holder != "" && cur.Holder != l.holder && !cur.ExpiresAt.Before(now)
	if held && !l.exclusive.Load() {
		// Held: a standby only reads, so waiting replicas add no writes
		// (and no change events) to the database.
		return false, cur, nil
	}
	takeable := bson.D{{Key: "expiresAt", Value: bson.D{{Key: "$lt", Value: now}}}}
	if held {
		takeable = bson.D{{Key: "holder", Value: cur.Holder}}
	}
	filter := bson.D{
		{Key: "_id", Value: l.id},
		{Key: "$or", Value: bson.A{
			bson.D{{Key: "holder", Value: l.holder}},
			takeable,
		}},
	}
	doc := leaseDocument{ID: l.id, Holder: l.holder, ExpiresAt: now.Add(l.ttl), AcquiredAt: now}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "holder", Value: doc.Holder},
		{Key: "expiresAt", Value: doc.ExpiresAt},
		{Key: "acquiredAt", Value: doc.AcquiredAt},
	}}}
	res, err := l.coll.UpdateOne(ctx, filter, update, options.Update().SetUpsert(true))
	if mongotx.IsDuplicateKey(err) {
		// Another replica took it between the read and the write.
		cur, rerr := l.current(ctx)
		if rerr != nil {
			return false, leaseDocument{}, rerr
		}
		return false, cur, nil
	}
	if err != nil {
		return false, leaseDocument{}, fmt.Errorf("relay: acquire lease %s: %w", l.id, err)
	}
	if res.MatchedCount == 0 && res.UpsertedCount == 0 {
		return false, cur, nil
	}
	if held {
		doc.preempted = cur.Holder
	}
	return true, doc, nil
}

// renew extends the lease by a TTL from now if it is still ours; it
// reports false when another holder has it.
func (l *lease) renew(ctx context.Context) (bool, time.Time, error) {
	now := time.Now()
	expires := now.Add(l.ttl)
	res, err := l.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: l.id}, {Key: "holder", Value: l.holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: expires}}}})
	if err != nil {
		return false, time.Time{}, fmt.Errorf("relay: renew lease %s: %w", l.id, err)
	}
	return res.MatchedCount == 1, expires, nil
}

// release lets a successor take the lease at once: it expires now, if it
// is still ours.
func (l *lease) release(ctx context.Context) error {
	_, err := l.coll.UpdateOne(ctx,
		bson.D{{Key: "_id", Value: l.id}, {Key: "holder", Value: l.holder}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: time.Now()}}}})
	if err != nil {
		return fmt.Errorf("relay: release lease %s: %w", l.id, err)
	}
	return nil
}

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
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.keepLease(lctx, cancel)
	}()
	r.relayLoop(lctx)
	cancel()
	<-renewed
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
