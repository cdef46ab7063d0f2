package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/retry"
)

// Collections the relay keeps in the database it follows. They (and
// LeaseCollection) are never routed, whatever the predicate pattern says.
const (
	// PositionCollection holds one document per connector name: the resume
	// token and the published-through mark.
	PositionCollection = "outbox-relay"
	// ParkedCollection holds the outbox documents that could not be routed.
	ParkedCollection = "outbox-parked"
)

// createdAtField is the outbox documents' creation time (outbox.Event): the
// sweep order and the published-through mark.
const createdAtField = "createdAt"

// CommitMargin bounds how much earlier than its commit an outbox event can
// be created: MongoDB aborts transactions running longer than 60 s
// (transactionLifetimeLimitSeconds), and lungo's are shorter still. An event
// created more than CommitMargin before the published-through mark
// committed before the event that set the mark, so the relay has handled it:
// a retention job may purge it, and a sweep need not send it again.
const CommitMargin = time.Minute

// Defaults of Options.
const (
	DefaultBatchSize     = 256
	DefaultRetryBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff    = 30 * time.Second
	DefaultProbeInterval = 250 * time.Millisecond
)

// positionInterval bounds how stale the stored resume token gets while the
// database changes but its outbox does not.
const positionInterval = 5 * time.Second

// checkpointInterval bounds how often the position is stored while outbox
// events flow. Each store is a write to the followed database (a
// transaction with its own fsync on the embedded engine), so storing after
// every batch would double the write load under traffic; a crash costs at most
// this interval of duplicates, never a loss. Run stores the last
// acknowledged position when it stops.
const checkpointInterval = time.Second

// storeTimeout bounds the position write that follows an acknowledged batch,
// which is done even when Run's context is cancelled.
const storeTimeout = 10 * time.Second

// Options configures a Relay.
type Options struct {
	// Config is the connector's settings (ParseConnector).
	Config Config
	// Database is the database this relay follows: one of Config.Databases.
	Database string
	// Producer publishes the records. It must be idempotent, with
	// Net.MaxOpenRequests=1, RequiredAcks=WaitForAll, Return.Successes and
	// sarama.NewMurmur2Partitioner, so every aggregate keeps Debezium's
	// partition and its order.
	Producer sarama.SyncProducer
	// Log receives the relay's logs; nil means slog.Default().
	Log *slog.Logger
	// BatchSize caps the records sent with one SendMessages (default 256).
	BatchSize int
	// RetryBackoff is the first wait after a failure (default 100ms); it
	// doubles up to MaxBackoff (default 30s).
	RetryBackoff, MaxBackoff time.Duration
	// Probe, when set, checks cheaply whether Kafka answers (for example
	// kafkaclient.Ping of the producer's brokers). After a batch Kafka did
	// not acknowledge and RetryBackoff, the relay calls it every
	// ProbeInterval and sends the batch again as soon as it succeeds,
	// instead of sleeping out a backoff that a long outage has grown to
	// MaxBackoff; while it fails the batch is sent only every MaxBackoff,
	// in case the probe is wrong. Sends that fail although Probe answered
	// back off exponentially. Nil: every failed send is retried after the
	// backoff.
	Probe func(context.Context) error
	// ProbeInterval is how often Probe is called, each call bounded by it
	// (default 250ms).
	ProbeInterval time.Duration
	// Holder names this replica in the lease (default: host name, pid and
	// a random part). Replicas must not share one.
	Holder string
	// LeaseTTL is how long the lease lasts without renewal (default 10s,
	// at least 300ms). The holder renews it every LeaseTTL/3; standbys poll
	// for it as often. A crashed holder is replaced within LeaseTTL +
	// LeaseTTL/3; a stopped one hands over within LeaseTTL/3.
	LeaseTTL time.Duration

	breakerHold time.Duration // test hook: producerBreakerTimeout when zero
}

// Stats counts what a Relay did since it was created.
type Stats struct {
	// Published counts records Kafka acknowledged, re-sent ones included.
	Published int64
	// Parked counts unroutable documents parked (again on every sweep).
	Parked int64
	// Dropped counts updates and replacements of outbox documents dropped.
	Dropped int64
	// Sweeps counts completed sweeps of the outbox collections.
	Sweeps int64
	// HistoryLost counts the times the stored position had left the change
	// history (or the stream was invalidated).
	HistoryLost int64
	// KafkaRetries counts batches Kafka did not acknowledge, retried.
	KafkaRetries int64
	// StreamRestarts counts change stream restarts after store errors.
	StreamRestarts int64
	// LastError is the last error the relay recovered from, and when.
	LastError   string
	LastErrorAt time.Time
	// FailingSince is when the relay started failing without recovering
	// in between (store or Kafka errors); zero while it works. A recovery
	// is a lease read or acquisition, an opened change stream or a batch
	// Kafka acknowledged.
	FailingSince time.Time
	// Leader reports whether this relay holds the lease and relays.
	Leader bool
	// Holder is the lease holder as last seen: Options.Holder while Leader,
	// another replica's while waiting, empty when unknown or free.
	Holder string
	// Leaderships counts the times this relay acquired the lease.
	Leaderships int64
	// LeaseLost counts the times a renewal failed or found another holder.
	LeaseLost int64
}

// Relay publishes one database's outbox collections to Kafka. Create it
// with New and start it with Run.
type Relay struct {
	db                            lungo.IDatabase
	cfg                           Config
	opts                          Options
	log                           *slog.Logger
	databases, includes, excludes []*regexp.Regexp
	running                       atomic.Bool
	lease                         *lease
	validUntil                    atomic.Int64  // lease expiry as last renewed, unix nanoseconds
	abandon                       atomic.Bool   // test hook: stop without releasing the lease, like a crash
	breakerHold                   time.Duration // producerBreakerTimeout, or Options.breakerHold

	mu    sync.Mutex
	stats Stats

	// Owned by the goroutine running Run.
	pos       position
	fresh     bool // the next stream must start now and sweep
	lastStore time.Time
	// unstored is the token of the newest acknowledged batch whose position
	// has not been stored yet (see checkpointInterval).
	unstored bson.Raw
}

// New returns a relay for opts.Database of client. It checks the settings
// but touches neither the store nor Kafka.
func New(client *mongotx.Client, opts Options) (*Relay, error) {
	if client == nil || client.IClient == nil {
		return nil, errors.New("relay: no store client")
	}
	if opts.Producer == nil {
		return nil, errors.New("relay: no producer")
	}
	if err := opts.Config.validate(); err != nil {
		return nil, err
	}
	cfg := opts.Config.withDefaults()
	if opts.Database == "" {
		return nil, errors.New("relay: no database to follow")
	}
	databases, err := compileList(cfg.Databases)
	if err != nil {
		return nil, err
	}
	if len(databases) > 0 && !matchesAny(databases, opts.Database) {
		return nil, fmt.Errorf("relay: database %q is not in database.include.list %v", opts.Database, cfg.Databases)
	}
	includes, err := compileList(cfg.IncludedCollections)
	if err != nil {
		return nil, err
	}
	excludes, err := compileList(cfg.ExcludedCollections)
	if err != nil {
		return nil, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}
	if opts.RetryBackoff <= 0 {
		opts.RetryBackoff = DefaultRetryBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.RetryBackoff)
	if opts.ProbeInterval <= 0 {
		opts.ProbeInterval = DefaultProbeInterval
	}
	if opts.Holder == "" {
		opts.Holder = defaultHolder()
	}
	if opts.LeaseTTL == 0 {
		opts.LeaseTTL = DefaultLeaseTTL
	}
	if opts.LeaseTTL < minLeaseTTL {
		return nil, fmt.Errorf("relay: lease TTL %v is shorter than %v", opts.LeaseTTL, minLeaseTTL)
	}
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	db := client.Database(opts.Database)
	return &Relay{
		db:          db,
		cfg:         cfg,
		opts:        opts,
		log:         log.With("relay", cfg.Name, "database", opts.Database),
		databases:   databases,
		includes:    includes,
		excludes:    excludes,
		lease:       newLease(db, cfg.Name, opts.Database, opts.Holder, opts.LeaseTTL),
		breakerHold: cmp.Or(opts.breakerHold, producerBreakerTimeout),
	}, nil
}

// Stats returns a snapshot of the relay's counters. It is safe to call
// while Run runs.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Relay) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

func (r *Relay) noteError(err error) {
	r.count(func(s *Stats) {
		s.LastError = err.Error()
		s.LastErrorAt = time.Now()
		if s.FailingSince.IsZero() {
			s.FailingSince = s.LastErrorAt
		}
	})
}

// noteHealthy marks a recovery: the store or Kafka answered.
func (r *Relay) noteHealthy() {
	r.count(func(s *Stats) { s.FailingSince = time.Time{} })
}

// PublishedThrough returns the newest createdAt among the events Kafka
// acknowledged, as stored with the relay's position; zero if none. A
// retention job may purge outbox events created CommitMargin before it
// (events commit roughly, not strictly, in createdAt order). It reads the
// store, so it also answers while Run is not running.
func (r *Relay) PublishedThrough(ctx context.Context) (time.Time, error) {
	pos, err := r.loadPosition(ctx)
	if err != nil {
		return time.Time{}, err
	}
	return pos.PublishedThrough, nil
}

// Run publishes until ctx is cancelled, then returns nil once the batch in
// flight is acknowledged (and its position stored) or abandoned, and the
// lease released. Store and Kafka failures are logged and retried with
// backoff; Run does not return them. Only one Run may be active per Relay.
//
// Run relays only while it holds the lease of (connector name, database):
// of several replicas following one database, one relays and the others
// wait, polling for the lease every LeaseTTL/3. The holder renews it as
// often and stops relaying as soon as a renewal fails or finds another
// holder, then waits again. All replicas share the stored position, so a
// successor resumes where the last acknowledged batch ended: a takeover
// costs at most the duplicates of one batch that was acknowledged but not
// yet checkpointed. A batch already handed to the producer when the lease
// is lost is still sent; consumers dedupe on eventId.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("relay: already running")
	}
	defer r.running.Store(false)
	r.log.Info("starting",
		"holder", r.opts.Holder,
		"lease_ttl", r.opts.LeaseTTL,
		"topic_prefix", r.cfg.TopicPrefix,
		"collection_pattern", patternString(r.cfg.CollectionPattern),
		"excluded", r.cfg.ExcludedCollections,
		"route_by", r.cfg.RouteByField,
		"topic", r.cfg.TopicReplacement,
		"key", r.cfg.KeyField,
		"payload", r.cfg.PayloadField,
		"placements", r.cfg.Placements,
		"batch_size", r.opts.BatchSize)
	for {
		if !r.awaitLease(ctx) {
			r.log.Info("stopped")
			return nil
		}
		r.lead(ctx)
		if ctx.Err() != nil {
			r.stepDown(ctx)
			r.log.Info("stopped")
			return nil
		}
	}
}

// relayLoop follows the change stream, restarting it with backoff, until
// ctx ends.
func (r *Relay) relayLoop(ctx context.Context) {
	failures := 0
	for {
		progressed, err := r.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("relay: change stream ended")
		}
		if progressed {
			failures = 0
		}
		failures++
		backoff := retry.Backoff(failures, r.opts.RetryBackoff, r.opts.MaxBackoff)
		r.noteError(err)
		r.count(func(s *Stats) { s.StreamRestarts++ })
		r.log.Warn("change stream failed, restarting from the stored position", "err", err, "backoff", backoff)
		if !retry.Sleep(ctx, backoff) {
			return
		}
	}
}

func patternString(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	return re.String()
}

// changeEvent is the part of a change stream event the relay reads (the
// fields lungo produces too).
type changeEvent struct {
	OperationType string `bson:"operationType"`
	NS            struct {
		DB   string `bson:"db"`
		Coll string `bson:"coll"`
	} `bson:"ns"`
	DocumentKey  bson.Raw `bson:"documentKey"`
	FullDocument bson.Raw `bson:"fullDocument"`
}

// pipeline filters server-side on MongoDB; lungo ignores it, so every event
// is filtered again in Go.
func pipeline() bson.A {
	return bson.A{bson.D{{Key: "$match", Value: bson.D{
		{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert", "update", "replace", "delete", "invalidate"}}}},
	}}}}
}

// follow runs one change stream until it fails. It reports whether any
// batch was handled, so Run can reset its backoff.
func (r *Relay) follow(ctx context.Context) (bool, error) {
	defer r.storeUnstored(ctx)
	pos, err := r.loadPosition(ctx)
	if err != nil {
		return false, err
	}
	r.pos = pos

	var stream lungo.IChangeStream
	if pos.ResumeToken != nil && !r.fresh {
		stream, err = r.db.Watch(ctx, pipeline(), options.ChangeStream().SetResumeAfter(pos.ResumeToken))
		if err != nil {
			if !mongotx.IsHistoryLost(err) {
				return false, fmt.Errorf("relay: resume change stream: %w", err)
			}
			r.historyLost(err)
			stream = nil
		}
	}
	if stream == nil {
		// Open the stream before sweeping: whatever commits during the
		// sweep is in one or the other (or both).
		stream, err = r.db.Watch(ctx, pipeline())
		if err != nil {
			return false, fmt.Errorf("relay: open change stream: %w", err)
		}
		defer closeStream(stream)
		if err := r.sweep(ctx); err != nil {
			return false, err
		}
		r.fresh = false
		// On lungo the token is nil until the first event; the position
		// write below is such an event and the next batch stores its token.
		if err := r.storePosition(ctx, stream.ResumeToken()); err != nil {
			return true, err
		}
	} else {
		defer closeStream(stream)
	}
	r.noteHealthy()

	progressed := false
	for {
		if !stream.Next(ctx) {
			err := stream.Err()
			if ctx.Err() != nil {
				return progressed, nil
			}
			if mongotx.IsHistoryLost(err) {
				r.historyLost(err)
				return progressed, fmt.Errorf("relay: change stream fell behind: %w", err)
			}
			if err == nil {
				err = errors.New("closed by the store")
			}
			return progressed, fmt.Errorf("relay: change stream: %w", err)
		}
		events := make([]changeEvent, 0, r.opts.BatchSize)
		for {
			var ev changeEvent
			if err := stream.Decode(&ev); err != nil {
				return progressed, fmt.Errorf("relay: decode change event: %w", err)
			}
			events = append(events, ev)
			if len(events) >= r.opts.BatchSize || !stream.TryNext(ctx) {
				break
			}
		}
		invalidated, err := r.handleBatch(ctx, events, stream.ResumeToken())
		if err != nil {
			return progressed, err
		}
		progressed = true
		if invalidated {
			r.historyLost(errors.New("change stream invalidated"))
			return progressed, errors.New("relay: change stream invalidated")
		}
	}
}

func closeStream(s lungo.IChangeStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

func (r *Relay) historyLost(err error) {
	r.fresh = true
	r.count(func(s *Stats) { s.HistoryLost++ })
	r.log.Warn("the stored position has left the change history; sweeping the outbox collections (duplicates follow)", "err", err)
}

// routed reports whether the outbox transform applies to coll of the
// followed database.
func (r *Relay) routed(coll string) bool {
	if coll == PositionCollection || coll == ParkedCollection || coll == LeaseCollection || strings.HasPrefix(coll, "system.") {
		return false
	}
	full := r.opts.Database + "." + coll
	if len(r.includes) > 0 && !matchesAny(r.includes, full) {
		return false
	}
	if matchesAny(r.excludes, full) {
		return false
	}
	if r.cfg.CollectionPattern != nil && !r.cfg.CollectionPattern.MatchString(r.cfg.TopicPrefix+"."+full) {
		return false
	}
	return true
}

// batch is what one publish step sends, parks and records.
type batch struct {
	msgs   []*sarama.ProducerMessage
	parks  []parkedDocument
	newest time.Time
}

type parkedDocument struct {
	id         bson.RawValue
	collection string
	reason     string
	doc        bson.Raw
}

// add converts one outbox document into the batch.
func (r *Relay) add(b *batch, coll string, doc bson.Raw, now time.Time) {
	msg, err := Record(r.cfg, doc, now)
	if err != nil {
		reason := err.Error()
		var ue *UnroutableError
		if errors.As(err, &ue) {
			reason = ue.Reason
		}
		b.parks = append(b.parks, parkedDocument{id: doc.Lookup("_id"), collection: coll, reason: reason, doc: doc})
		return
	}
	b.msgs = append(b.msgs, msg)
	if v, ok := doc.Lookup(createdAtField).DateTimeOK(); ok {
		if t := time.UnixMilli(v).UTC(); t.After(b.newest) {
			b.newest = t
		}
	}
}

// handleBatch publishes the outbox inserts among events and stores token
// after Kafka acknowledged them. It reports an invalidate event.
func (r *Relay) handleBatch(ctx context.Context, events []changeEvent, token bson.Raw) (bool, error) {
	var b batch
	now := time.Now()
	routedSeen, foreign, invalidated := false, false, false
	for _, ev := range events {
		if ev.OperationType == "invalidate" {
			invalidated = true
			break
		}
		if ev.NS.DB != r.opts.Database || ev.NS.Coll == PositionCollection || ev.NS.Coll == ParkedCollection || ev.NS.Coll == LeaseCollection {
			continue
		}
		foreign = true
		if !r.routed(ev.NS.Coll) {
			continue
		}
		switch ev.OperationType {
		case "insert":
			routedSeen = true
			r.add(&b, ev.NS.Coll, ev.FullDocument, now)
		case "update", "replace":
			routedSeen = true
			r.count(func(s *Stats) { s.Dropped++ })
			level := slog.LevelWarn
			if r.cfg.InvalidOperationBehavior == "error" {
				level = slog.LevelError
			}
			r.log.Log(ctx, level, "unexpected "+ev.OperationType+" of an outbox document dropped",
				"collection", ev.NS.Coll, "document_key", ev.DocumentKey.String())
		}
		// Deletes (retention) are dropped silently.
	}
	since := time.Since(r.lastStore)
	store := !invalidated && token != nil && (r.pos.ResumeToken == nil ||
		routedSeen && since >= checkpointInterval || foreign && since >= positionInterval)
	if !store && len(b.msgs) == 0 && len(b.parks) == 0 {
		return invalidated, nil
	}
	if err := r.publish(ctx, b); err != nil {
		return invalidated, err
	}
	if !store {
		if routedSeen && !invalidated && token != nil {
			r.unstored = token
		}
		return invalidated, nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	return invalidated, r.storePosition(sctx, token)
}

// publish sends b's records until Kafka acknowledges them, then parks b's
// unroutable documents and raises the published-through mark in memory.
// It returns an error only when ctx ends before the acknowledgement or when
// parking fails.
func (r *Relay) publish(ctx context.Context, b batch) error {
	if len(b.msgs) > 0 {
		if err := r.send(ctx, b.msgs); err != nil {
			return err
		}
		r.count(func(s *Stats) { s.Published += int64(len(b.msgs)) })
		r.noteHealthy()
	}
	// Acknowledged: finish the step even if ctx is cancelled now.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	for _, p := range b.parks {
		if err := r.park(sctx, p); err != nil {
			return err
		}
	}
	if b.newest.After(r.pos.PublishedThrough) {
		r.pos.PublishedThrough = b.newest
	}
	return nil
}

// send retries the same records until Kafka acknowledges all of them or
// ctx ends. Each attempt sends fresh copies: sarama keeps retry and
// sequence state in the messages it was given.
//
// Without Options.Probe a failed send is retried after the exponential
// backoff. With it, the backoff counts only the sends that failed although
// the probe had answered, and after it the relay waits for the probe: it
// sends again as soon as the broker answers or, whatever the probe says,
// MaxBackoff after the failure. An outage, however long, then costs one
// failed send and a probe per ProbeInterval, and publishing resumes about
// a ProbeInterval after the broker's return, unless sarama's circuit
// breaker holds it back (see breakerOpen).
func (r *Relay) send(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	refused := 0 // failed sends that followed a successful probe
	probed := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !r.leaseValid() {
			return errLeaseExpired
		}
		err := r.opts.Producer.SendMessages(copyMessages(msgs))
		if err == nil {
			return nil
		}
		r.noteError(err)
		r.count(func(s *Stats) { s.KafkaRetries++ })
		var notBefore time.Time
		if breakerOpen(err, len(msgs)) {
			notBefore = time.Now().Add(r.breakerHold)
		}
		if probed {
			refused++
		}
		var ok bool
		if probed, ok = r.awaitRetry(ctx, attempt, refused, len(msgs), err); !ok {
			return ctx.Err()
		}
		if wait := time.Until(notBefore); wait > 0 {
			r.log.Info("the producer's circuit breaker is open; retrying the batch once it can close",
				"records", len(msgs), "in", wait.Round(time.Millisecond))
			if !retry.Sleep(ctx, wait) {
				return ctx.Err()
			}
		}
	}
}

// awaitRetry waits before retry number attempt of a batch of n records
// that failed with err (see send), refused of the failed sends having
// followed a successful probe. It reports whether the probe ended the wait,
// and false for ok when ctx ended first.
func (r *Relay) awaitRetry(ctx context.Context, attempt, refused, n int, err error) (probed, ok bool) {
	if r.opts.Probe == nil {
		backoff := retry.Backoff(attempt, r.opts.RetryBackoff, r.opts.MaxBackoff)
		r.log.Warn("kafka did not acknowledge the batch; retrying the same batch",
			"records", n, "attempt", attempt, "backoff", backoff, "err", err)
		return false, retry.Sleep(ctx, backoff)
	}
	backoff := retry.Backoff(refused+1, r.opts.RetryBackoff, r.opts.MaxBackoff)
	r.log.Warn("kafka did not acknowledge the batch; retrying the same batch once the broker answers",
		"records", n, "attempt", attempt, "backoff", backoff, "err", err)
	if !retry.Sleep(ctx, backoff) {
		return false, false
	}
	probed, ok = retry.SleepUntil(ctx, r.opts.MaxBackoff-backoff, r.opts.ProbeInterval, r.opts.Probe)
	switch {
	case !ok:
	case probed:
		r.log.Info("kafka answers the probe; retrying the batch", "records", n)
	case r.opts.MaxBackoff-backoff > r.opts.ProbeInterval: // it was probed
		r.log.Warn("kafka does not answer the probe; retrying the batch anyway", "records", n, "waited", r.opts.MaxBackoff)
	}
	return probed, ok
}

// producerBreakerTimeout is how long sarama's producer keeps a circuit
// breaker open once three leader lookups for a partition failed within it,
// as they do in an outage: breaker.New(3, 1, 10*time.Second) in its
// async_producer.go, not configurable. While it is open the producer fails
// that partition's records without sending them.
const producerBreakerTimeout = 10 * time.Second

// breakerOpen reports whether the producer delivered none of n records and
// failed some because a circuit breaker was open. The breaker opened before
// the send returned, so it may close within producerBreakerTimeout of that;
// a send before then fails those records again and, should the breaker
// close meanwhile, publishes later records of the partition before earlier
// ones (which the retry of the whole batch cannot put back in order). A
// send that delivered records saw the breaker close already.
func breakerOpen(err error, n int) bool {
	var errs sarama.ProducerErrors
	if !errors.As(err, &errs) {
		return errors.Is(err, breaker.ErrBreakerOpen)
	}
	if len(errs) < n {
		return false
	}
	for _, e := range errs {
		if errors.Is(e.Err, breaker.ErrBreakerOpen) {
			return true
		}
	}
	return false
}

func copyMessages(msgs []*sarama.ProducerMessage) []*sarama.ProducerMessage {
	out := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		out[i] = &sarama.ProducerMessage{
			Topic:     m.Topic,
			Key:       m.Key,
			Value:     m.Value,
			Headers:   m.Headers,
			Timestamp: m.Timestamp,
			Metadata:  m.Metadata,
		}
	}
	return out
}

// park records an unroutable document where an operator finds it.
// Debezium would fail its task instead; the relay must not stall every
// later event behind one bad document.
func (r *Relay) park(ctx context.Context, p parkedDocument) error {
	id := p.id
	if id.Type == 0 {
		oid := primitive.NewObjectID()
		id = bson.RawValue{Type: bson.TypeObjectID, Value: oid[:]}
	}
	doc := bson.D{
		{Key: "_id", Value: id},
		{Key: "collection", Value: p.collection},
		{Key: "reason", Value: p.reason},
		{Key: "document", Value: p.doc},
		{Key: "parkedAt", Value: mongotx.Now()},
	}
	_, err := r.db.Collection(ParkedCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("relay: park unroutable document %s: %w", id, err)
	}
	r.count(func(s *Stats) { s.Parked++ })
	r.log.Error("unroutable outbox document parked", "collection", p.collection, "id", id.String(), "reason", p.reason)
	return nil
}

// sweep publishes the documents of every routed collection, oldest first,
// storing the published-through mark (and no resume token) after each
// batch, so a crash during the sweep leads to another sweep. With a
// published-through mark it starts CommitMargin before it (everything
// older was handled); without one, it sends every document.
func (r *Relay) sweep(ctx context.Context) error {
	names, err := r.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("relay: list collections: %w", err)
	}
	sort.Strings(names)
	filter := bson.D{}
	if !r.pos.PublishedThrough.IsZero() {
		filter = bson.D{{Key: createdAtField, Value: bson.D{{Key: "$gte", Value: r.pos.PublishedThrough.Add(-CommitMargin)}}}}
	}
	total := 0
	for _, name := range names {
		if !r.routed(name) {
			continue
		}
		n, err := r.sweepCollection(ctx, name, filter)
		total += n
		if err != nil {
			return err
		}
	}
	r.count(func(s *Stats) { s.Sweeps++ })
	r.log.Info("sweep done", "documents", total)
	return nil
}

// sweepCollection publishes one collection's documents matching filter in
// createdAt order. It reads
// the collection in natural (insertion) order and sorts it stably, so
// events created in the same millisecond keep the order they were written
// in; breaking ties on _id would reorder them at random for UUID ids, and a
// database-side sort does not promise any order for ties. The collection is
// held in memory for that: the published-through bound and outbox retention
// keep it small.
func (r *Relay) sweepCollection(ctx context.Context, name string, filter bson.D) (int, error) {
	cur, err := r.db.Collection(name).Find(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("relay: sweep %s: %w", name, err)
	}
	var docs []bson.Raw
	for cur.Next(ctx) {
		var doc bson.Raw
		if err := cur.Decode(&doc); err != nil {
			_ = cur.Close(context.WithoutCancel(ctx))
			return 0, fmt.Errorf("relay: sweep %s: decode: %w", name, err)
		}
		docs = append(docs, doc)
	}
	err = cur.Err()
	_ = cur.Close(context.WithoutCancel(ctx))
	if err != nil {
		return 0, fmt.Errorf("relay: sweep %s: %w", name, err)
	}
	sort.SliceStable(docs, func(i, j int) bool { return createdAt(docs[i]) < createdAt(docs[j]) })

	var b batch
	flush := func() error {
		if len(b.msgs) == 0 && len(b.parks) == 0 {
			return nil
		}
		if err := r.publish(ctx, b); err != nil {
			return err
		}
		b = batch{}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		return r.storePosition(sctx, nil)
	}
	for i, doc := range docs {
		r.add(&b, name, doc, time.Now())
		if len(b.msgs)+len(b.parks) >= r.opts.BatchSize {
			if err := flush(); err != nil {
				return i + 1, err
			}
		}
	}
	return len(docs), flush()
}

// createdAt returns a document's creation time in epoch milliseconds;
// documents without one sort first, as MongoDB sorts missing values.
func createdAt(doc bson.Raw) int64 {
	if v, ok := doc.Lookup(createdAtField).DateTimeOK(); ok {
		return v
	}
	return -1 << 63
}

// position is the relay's stored progress.
type position struct {
	ResumeToken      bson.Raw
	PublishedThrough time.Time
}

type storedPosition struct {
	ID               string    `bson:"_id"`
	ResumeToken      bson.Raw  `bson:"resumeToken,omitempty"`
	PublishedThrough time.Time `bson:"publishedThrough,omitempty"`
	UpdatedAt        time.Time `bson:"updatedAt"`
}

func (r *Relay) loadPosition(ctx context.Context) (position, error) {
	var sp storedPosition
	err := r.db.Collection(PositionCollection).FindOne(ctx, bson.D{{Key: "_id", Value: r.cfg.Name}}).Decode(&sp)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return position{}, nil
	}
	if err != nil {
		return position{}, fmt.Errorf("relay: load position: %w", err)
	}
	pos := position{ResumeToken: sp.ResumeToken}
	if !sp.PublishedThrough.IsZero() {
		pos.PublishedThrough = sp.PublishedThrough.UTC()
	}
	return pos, nil
}

// storePosition writes token (nil while sweeping: no resumable position)
// and the in-memory published-through mark.
func (r *Relay) storePosition(ctx context.Context, token bson.Raw) error {
	doc := bson.D{{Key: "_id", Value: r.cfg.Name}}
	if token != nil {
		doc = append(doc, bson.E{Key: "resumeToken", Value: token})
	}
	if !r.pos.PublishedThrough.IsZero() {
		doc = append(doc, bson.E{Key: "publishedThrough", Value: r.pos.PublishedThrough})
	}
	doc = append(doc, bson.E{Key: "updatedAt", Value: mongotx.Now()})
	_, err := r.db.Collection(PositionCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: r.cfg.Name}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("relay: store position: %w", err)
	}
	r.pos.ResumeToken = token
	r.lastStore = time.Now()
	r.unstored = nil
	return nil
}

// storeUnstored stores the position of acknowledged batches that
// checkpointInterval held back; called when following stops.
func (r *Relay) storeUnstored(ctx context.Context) {
	if r.unstored == nil {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if err := r.storePosition(sctx, r.unstored); err != nil {
		r.log.Warn("could not store the last position; the next start republishes since the previous one", "err", err)
	}
}
