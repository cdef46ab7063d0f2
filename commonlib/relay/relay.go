package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
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

// New returns a relay for opts.Database of client. It checks the settings,
// with a *ConfigError for a Config that ParseConnector would have refused,
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

func patternString(re *regexp.Regexp) string {
	if re == nil {
		return ""
	}
	return re.String()
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
