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
