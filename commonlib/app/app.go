// Package app runs one saga participant service: its store, HTTP API, outbox
// relay, Kafka consumers and background jobs, started in order and stopped in
// the reverse order on shutdown.
//
// A service's main parses its configuration (LoadConfig), describes itself in
// a Spec and calls Run; everything that differs between services (routes,
// event handlers, jobs, indexes) comes from Spec.Build. The HTTP API answers
// as soon as the store is open: Kafka is waited for in the background, so a
// service starts, and takes registrations, while the broker is down.
//
// It holds no business rules.
package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/IBM/sarama"
	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/jobs"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/commonlib/retry"
	"github.com/sagaoutbox/platform/commonlib/router"
)

// Relay modes (OUTBOX_RELAY).
const (
	RelayEmbedded = "embedded"
	RelayOff      = "off"
)

// DeadLetterTopic is where messages that can never succeed go (the blueprint's).
const DeadLetterTopic = "DLT"

// Config is the configuration every service shares, from the environment.
type Config struct {
	Name                      string
	DataDir                   string
	MongoURI                  string
	Brokers                   []string
	HTTPAddr                  string
	HTTPTimeouts              httpapi.Timeouts
	Relay                     string
	ConsumedEventsCleanupCron string
	ConsumedEventsRetention   time.Duration
	OutboxRetention           time.Duration
	OutboxCleanupCron         string
	Interesting               []string
	LogLevel                  slog.Level
	ShutdownTimeout           time.Duration
	StoreHistory              int
	StoreWriteQueue           int
	// FailingAfter is how long the relay or the consumers may fail
	// without recovering before /health reports them DOWN.
	FailingAfter time.Duration
	// SoftMemoryLimit is set as the Go runtime's memory limit when
	// GOMEMLIMIT is unset (0: none).
	SoftMemoryLimit int64
}

// DefaultSoftMemoryLimit is the runtime memory limit a service sets when
// GOMEMLIMIT is unset: the embedded store holds its data in memory, and
// with the runtime's default (the heap may grow to twice the live data
// before a collection) a service at 100,000 registrations passed 1 GiB.
const DefaultSoftMemoryLimit = 900 << 20

// LoadConfig reads the shared variables; name is the binary's name and
// httpAddr the default HTTP_ADDR (a loopback address: listening on every
// interface is a deployment's explicit choice).
func LoadConfig(env *envconfig.Env, name, httpAddr string, interesting []string) Config {
	return Config{
		Name:                      name,
		DataDir:                   env.String("DATA_DIR", "./.data"),
		MongoURI:                  envconfig.Value(env, "MONGODB_URI", "", mongotx.ParseURI),
		Brokers:                   envconfig.Value(env, "KAFKA_BROKERS", "localhost:9093", kafkaclient.ParseBrokers),
		HTTPAddr:                  env.Addr("HTTP_ADDR", httpAddr),
		HTTPTimeouts:              httpapi.LoadTimeouts(env),
		Relay:                     env.OneOf("OUTBOX_RELAY", RelayEmbedded, RelayEmbedded, RelayOff),
		ConsumedEventsCleanupCron: envconfig.Value(env, "CONSUMED_EVENTS_CLEANUP_CRON", "0 1 0 * * ?", jobs.ParseSpec),
		ConsumedEventsRetention:   env.Duration("CONSUMED_EVENTS_RETENTION", 168*time.Hour),
		OutboxRetention:           env.Duration("OUTBOX_RETENTION", 24*time.Hour),
		OutboxCleanupCron:         envconfig.Value(env, "OUTBOX_CLEANUP_CRON", "0 */10 * * * *", jobs.ParseSpec),
		Interesting:               env.List("INTERESTING_EVENTS", strings.Join(interesting, ";"), ";"),
		LogLevel:                  env.Level("LOG_LEVEL", "info"),
		ShutdownTimeout:           env.Duration("SHUTDOWN_TIMEOUT", 20*time.Second),
		StoreHistory:              env.Int("STORE_HISTORY_SIZE", mongotx.DefaultHistorySize, 100),
		StoreWriteQueue:           env.Int("STORE_WRITE_QUEUE", mongotx.DefaultWriteQueue, 1),
		FailingAfter:              env.Duration("HEALTH_FAILING_AFTER", 30*time.Second),
		SoftMemoryLimit:           softMemoryLimit(env.String("GOMEMLIMIT", "")),
	}
}

// softMemoryLimit is DefaultSoftMemoryLimit unless GOMEMLIMIT is set, in
// which case the runtime has applied it already.
func softMemoryLimit(gomemlimit string) int64 {
	if gomemlimit != "" {
		return 0
	}
	return DefaultSoftMemoryLimit
}

// LogValue renders the effective configuration for the start-up log; the
// MongoDB URI's password is masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("DATA_DIR", c.DataDir),
		slog.String("MONGODB_URI", storeName(c.MongoURI)),
		slog.String("KAFKA_BROKERS", strings.Join(c.Brokers, ",")),
		slog.String("HTTP_ADDR", c.HTTPAddr),
		slog.Duration("HTTP_READ_TIMEOUT", c.HTTPTimeouts.Read),
		slog.Duration("HTTP_WRITE_TIMEOUT", c.HTTPTimeouts.Write),
		slog.Duration("HTTP_IDLE_TIMEOUT", c.HTTPTimeouts.Idle),
		slog.String("OUTBOX_RELAY", c.Relay),
		slog.String("CONSUMED_EVENTS_CLEANUP_CRON", c.ConsumedEventsCleanupCron),
		slog.Duration("CONSUMED_EVENTS_RETENTION", c.ConsumedEventsRetention),
		slog.Duration("OUTBOX_RETENTION", c.OutboxRetention),
		slog.String("INTERESTING_EVENTS", strings.Join(c.Interesting, ";")),
		slog.Int("STORE_HISTORY_SIZE", c.StoreHistory),
		slog.Int("STORE_WRITE_QUEUE", c.StoreWriteQueue),
		slog.Duration("HEALTH_FAILING_AFTER", c.FailingAfter),
	)
}

func storeName(uri string) string {
	if uri == "" {
		return "(embedded store)"
	}
	return mongotx.RedactURI(uri)
}

// Spec describes one service to Run.
type Spec struct {
	Config           Config
	Database         string
	OutboxCollection string
	BasePath         string
	Group            string   // consumer group
	Consume          []string // topics consumed (the consumers create them and DLT)
	Produce          []string // topics the relay publishes to (created at start)
	Connector        []byte   // Debezium connector registration the embedded relay follows
	MapError         httpapi.Mapper
	Build            func(d Deps) (Parts, error)
}

// Deps is what Run opens for the service.
type Deps struct {
	Store *mongotx.Client
	DB    lungo.IDatabase
	Inbox *inbox.Inbox
	Log   *slog.Logger
}

// Parts is what differs between services.
type Parts struct {
	EnsureIndexes func(ctx context.Context) error
	Routes        func(g *echo.Group)
	Handlers      map[string]router.Handler
	Jobs          func(s *jobs.Scheduler) error
}

// Run runs the service until ctx ends, then shuts it down in order: HTTP,
// consumers, jobs, relay, producer, store. A component that fails (the HTTP
// server, the relay or the consumers stopping on an error) shuts the service
// down the same way and Run returns its error, so that a supervisor restarts
// the process instead of leaving it answering without relaying or consuming.
func Run(ctx context.Context, spec Spec, log *slog.Logger) error {
	cfg := spec.Config
	log.Info("starting", "config", cfg)
	if cfg.SoftMemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.SoftMemoryLimit)
	}

	store, err := mongotx.Open(ctx, mongotx.Options{
		URI:         cfg.MongoURI,
		Dir:         filepath.Join(cfg.DataDir, cfg.Name),
		HistorySize: cfg.StoreHistory,
		WriteQueue:  cfg.StoreWriteQueue,
		Log:         log.With("component", "store"),
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(context.Background()); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	db := store.Database(spec.Database)
	in := inbox.Open(db)
	out := outbox.Open(db, spec.OutboxCollection)
	if err := in.EnsureIndexes(ctx); err != nil {
		return err
	}
	parts, err := spec.Build(Deps{Store: store, DB: db, Inbox: in, Log: log})
	if err != nil {
		return err
	}
	if err := parts.EnsureIndexes(ctx); err != nil {
		return err
	}
	handlers, err := selectHandlers(parts.Handlers, cfg.Interesting)
	if err != nil {
		return err
	}
	var relayConfig relay.Config
	if cfg.Relay == RelayEmbedded {
		if relayConfig, err = relay.ParseConnector(spec.Connector); err != nil {
			return fmt.Errorf("outbox relay: %w", err)
		}
	}
	// The relay and the consumers need a producer, so they exist only once
	// Kafka answered.
	var rel atomic.Pointer[relay.Relay]
	var consumer atomic.Pointer[router.Router]

	// HTTP first: the service answers while Kafka is still being waited for.
	e := httpapi.New(log, withStoreErrors(spec.MapError), "64KB")
	// Middleware on the echo itself, not the group: group middleware makes
	// echo add a catch-all route to the group, which answers 404 where a
	// known path asked with another method is a 405.
	e.Use(newWorkOnPost)
	g := e.Group(spec.BasePath)
	parts.Routes(g)
	g.GET("/health", httpapi.Health(
		httpapi.Check{Name: "store", Probe: store.Ping},
		httpapi.Check{Name: "writes", Probe: func(context.Context) error {
			if store.Saturated() {
				return &httpapi.StateError{State: "SATURATED", Reason: "the store's write queue is full; new registrations are refused"}
			}
			return nil
		}},
		httpapi.Check{Name: "broker", Probe: func(ctx context.Context) error { return kafkaclient.Ping(ctx, cfg.Brokers) }},
		httpapi.Check{Name: "relay", Probe: func(context.Context) error {
			if r := rel.Load(); r != nil {
				return failing(r.Stats().FailingSince, cfg.FailingAfter)
			}
			return nil
		}},
		httpapi.Check{Name: "consumers", Probe: func(context.Context) error {
			if r := consumer.Load(); r != nil {
				return failing(r.FailingSince(), cfg.FailingAfter)
			}
			return nil
		}},
	))
	g.GET("/outbox", func(c echo.Context) error {
		return c.JSON(http.StatusOK, outboxStatus(c.Request().Context(), cfg, out, &rel))
	})
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w", cfg.HTTPAddr, err)
	}
	srv := httpapi.NewServer(e, cfg.HTTPTimeouts)
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	log.Info("http listening", "addr", ln.Addr().String(), "base", spec.BasePath)

	sched := jobs.New(log.With("component", "jobs"))
	if err := scheduleCleanups(sched, cfg, in, out, &rel, log); err != nil {
		return err
	}
	if parts.Jobs != nil {
		if err := parts.Jobs(sched); err != nil {
			return err
		}
	}
	sched.Start()

	// Kafka: producer, topics, relay and consumers, once the broker answers.
	consumeCtx, stopConsumers := context.WithCancel(context.Background())
	relayCtx, stopRelay := context.WithCancel(context.Background())
	defer stopConsumers()
	defer stopRelay()
	var consumers, relays sync.WaitGroup
	producerCh := make(chan sarama.SyncProducer, 1)
	failed := make(chan error, 2) // the relay and the consumers
	consumers.Add(1)
	go func() {
		defer consumers.Done()
		producer, err := kafkaclient.WaitSyncProducer(consumeCtx, cfg.Brokers, cfg.Name, log.With("component", "kafka"))
		if err != nil {
			return // shutting down before the broker ever answered
		}
		producerCh <- producer
		ensured := retry.Until(consumeCtx, 2*time.Second, 2*time.Second, func() error {
			return kafkaclient.EnsureTopics(consumeCtx, cfg.Brokers, spec.Produce)
		}, func(_ int, _ time.Duration, err error) {
			log.Warn("ensure topics, retrying", "topics", spec.Produce, "err", err)
		})
		if !ensured {
			return
		}
		if cfg.Relay == RelayEmbedded {
			r, err := relay.New(store, relay.Options{
				Config: relayConfig, Database: spec.Database, Producer: producer, Log: log.With("component", "relay"),
				Probe: func(ctx context.Context) error { return kafkaclient.Ping(ctx, cfg.Brokers) },
			})
			if err != nil {
				failed <- fmt.Errorf("outbox relay: %w", err)
				return
			}
			if store.Embedded() {
				// The embedded store's directory admits one process
				// (package journal locks it): another holder of the
				// lease is this service's previous run, killed before
				// it could release it, not a replica.
				r.AssumeExclusiveStore()
			}
			rel.Store(r)
			relays.Add(1)
			go func() {
				defer relays.Done()
				if err := r.Run(relayCtx); err != nil {
					failed <- fmt.Errorf("outbox relay stopped: %w", err)
				}
			}()
		}
		consumerConfig := router.Config{
			Brokers:         cfg.Brokers,
			Group:           spec.Group,
			ClientID:        cfg.Name,
			Topics:          spec.Consume,
			Interesting:     cfg.Interesting,
			DeadLetterTopic: DeadLetterTopic,
			IsTransient:     mongotx.IsUnavailable,
		}
		if store.Embedded() {
			// One process per data directory also lets the consumer be
			// a static member named after its store: a run restarted
			// after a kill -9 takes over its predecessor's partitions at
			// once. The session timeout is then only how long the
			// partitions of a member that does not come back wait: the
			// broker's minimum.
			consumerConfig.InstanceID = staticMemberID(cfg.Name, filepath.Join(cfg.DataDir, cfg.Name))
			consumerConfig.SessionTimeout = kafkaclient.MinSessionTimeout
		}
		r, err := router.New(consumerConfig, producer, log.With("component", "consumer"))
		if err != nil {
			failed <- fmt.Errorf("consumers: %w", err)
			return
		}
		for eventType, h := range handlers {
			r.Handle(eventType, h)
		}
		consumer.Store(r)
		if err := r.Run(consumeCtx); err != nil {
			failed <- fmt.Errorf("consumers stopped: %w", err)
		}
	}()

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpDone:
		runErr = fmt.Errorf("http server stopped: %w", err)
	case runErr = <-failed:
	}
	if runErr != nil {
		log.Error("a component failed; shutting down", "err", runErr)
	}
	log.Info("shutting down")
	deadline, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(deadline); err != nil {
		log.Error("http shutdown", "err", err)
	}
	stopConsumers()
	wait(deadline, &consumers, "consumers", log)
	if err := sched.Stop(deadline); err != nil {
		log.Error("jobs shutdown", "err", err)
	}
	stopRelay()
	wait(deadline, &relays, "relay", log)
	select {
	case producer := <-producerCh:
		if err := producer.Close(); err != nil {
			log.Error("close producer", "err", err)
		}
	default:
	}
	log.Info("stopped")
	return runErr
}

// newWorkOnPost marks a POST's transactions as new work (mongotx.NewWork):
// under overload they are refused at once, while the consumers' saga steps
// already queued go first.
func newWorkOnPost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodPost {
			c.SetRequest(c.Request().WithContext(mongotx.NewWork(c.Request().Context())))
		}
		return next(c)
	}
}

// withStoreErrors answers 503 with Retry-After for a saturated or
// unavailable store, before the service's own mapping.
func withStoreErrors(mapErr httpapi.Mapper) httpapi.Mapper {
	return func(err error) (int, httpapi.Problem, bool) {
		switch {
		case errors.Is(err, mongotx.ErrSaturated):
			return http.StatusServiceUnavailable, httpapi.Problem{Code: "SATURATED", Message: "too many registrations in progress; retry later", RetryAfter: 1}, true
		case mongotx.IsUnavailable(err):
			return http.StatusServiceUnavailable, httpapi.Problem{Code: "STORE_UNAVAILABLE", Message: "the store is unavailable; retry later", RetryAfter: 5}, true
		}
		if mapErr == nil {
			return 0, httpapi.Problem{}, false
		}
		return mapErr(err)
	}
}

// outboxState is what GET <base>/outbox reports: the outbox's size and, with
// the embedded relay, the relay's counters. LastError is a short cause
// (relayCause), not the error's text, which may hold file paths, addresses
// and driver detail: the relay logs that.
type outboxState struct {
	Relay            string     `json:"relay"`
	Events           int64      `json:"events"`
	Leader           *bool      `json:"leader,omitempty"`
	Holder           string     `json:"holder,omitempty"`
	Published        int64      `json:"published"`
	PublishedThrough *time.Time `json:"publishedThrough,omitempty"`
	Parked           int64      `json:"parked"`
	Dropped          int64      `json:"dropped"`
	Sweeps           int64      `json:"sweeps"`
	HistoryLost      int64      `json:"historyLost"`
	KafkaRetries     int64      `json:"kafkaRetries"`
	LastError        string     `json:"lastError,omitempty"`
	LastErrorAt      *time.Time `json:"lastErrorAt,omitempty"`
	FailingSince     *time.Time `json:"failingSince,omitempty"`
}

func outboxStatus(ctx context.Context, cfg Config, out *outbox.Outbox, rel *atomic.Pointer[relay.Relay]) outboxState {
	st := outboxState{Relay: cfg.Relay, Events: -1}
	if n, err := out.Count(ctx); err == nil {
		st.Events = n
	}
	r := rel.Load()
	if r == nil {
		return st
	}
	stats := r.Stats()
	timeOrNil := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	st.Leader, st.Holder = &stats.Leader, stats.Holder
	st.Published, st.Parked, st.Dropped = stats.Published, stats.Parked, stats.Dropped
	st.Sweeps, st.HistoryLost, st.KafkaRetries = stats.Sweeps, stats.HistoryLost, stats.KafkaRetries
	st.LastError, st.LastErrorAt, st.FailingSince = relayCause(stats.LastError), timeOrNil(stats.LastErrorAt), timeOrNil(stats.FailingSince)
	if t, err := r.PublishedThrough(ctx); err == nil {
		st.PublishedThrough = timeOrNil(t)
	}
	return st
}

// relayCauses maps what a relay error says to the short cause shown by
// GET <base>/outbox, first match wins. The relay's Stats keep only the
// error's text, so its wording is matched: commonlib/relay prefixes its own
// errors ("relay: lease …", "relay: change stream …"), the store's write
// failures read "store cannot write", sarama's errors start with "kafka".
var relayCauses = []struct{ contains, cause string }{
	{"store cannot write", "the store cannot write"},
	{"lease expired before the batch was sent", "the lease expired before kafka acknowledged the batch"},
	{"lease taken by another holder", "another replica took the lease"},
	{"lease", "the lease could not be read or renewed"},
	{"kafka", "kafka did not acknowledge the batch"},
	{"circuit breaker", "kafka did not acknowledge the batch"},
	{"change stream", "the change stream failed"},
	{"position", "the relay position could not be read or stored"},
	{"sweep", "the outbox could not be read"},
	{"list collections", "the outbox could not be read"},
	{"park", "an unroutable document could not be parked"},
}

// relayCause is the short cause of a relay error for GET <base>/outbox: a
// fixed phrase, never the error's own text, which may name files (the
// embedded store's journal), addresses or driver internals. The detail is
// in the service log, where the relay logs every error it recovers from.
func relayCause(lastError string) string {
	if lastError == "" {
		return ""
	}
	lower := strings.ToLower(lastError)
	for _, c := range relayCauses {
		if strings.Contains(lower, c.contains) {
			return c.cause + " (details in the service log)"
		}
	}
	return "the relay failed (details in the service log)"
}

// selectHandlers keeps the handlers of the interesting event types and fails
// for an interesting type the service cannot handle.
func selectHandlers(all map[string]router.Handler, interesting []string) (map[string]router.Handler, error) {
	out := make(map[string]router.Handler, len(interesting))
	for _, t := range interesting {
		h, ok := all[t]
		if !ok {
			known := make([]string, 0, len(all))
			for k := range all {
				known = append(known, k)
			}
			return nil, fmt.Errorf("INTERESTING_EVENTS names %s, which this service cannot handle (it handles %s)", t, strings.Join(known, ", "))
		}
		out[t] = h
	}
	return out, nil
}

// failing reports a component failing without recovering since since for
// longer than bound.
func failing(since time.Time, bound time.Duration) error {
	if since.IsZero() || time.Since(since) <= bound {
		return nil
	}
	return fmt.Errorf("failing since %s", since.UTC().Format(time.RFC3339))
}

// scheduleCleanups adds the retention jobs: consumed-event records and
// published outbox events. With the embedded relay the outbox purge never
// passes what the relay has published (nothing before the relay runs); with
// Debezium it goes by age alone.
func scheduleCleanups(s *jobs.Scheduler, cfg Config, in *inbox.Inbox, out *outbox.Outbox, rel *atomic.Pointer[relay.Relay], log *slog.Logger) error {
	err := s.Cron("consumed-events-cleanup", cfg.ConsumedEventsCleanupCron, func(ctx context.Context) error {
		n, err := in.Cleanup(ctx, time.Now().Add(-cfg.ConsumedEventsRetention))
		if err == nil {
			log.Info("consumed events cleaned up", "deleted", n, "retention", cfg.ConsumedEventsRetention)
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.Cron("outbox-cleanup", cfg.OutboxCleanupCron, func(ctx context.Context) error {
		var published *time.Time
		if cfg.Relay == RelayEmbedded {
			r := rel.Load()
			if r == nil {
				return nil // nothing published yet
			}
			t, err := r.PublishedThrough(ctx)
			if err != nil {
				return err
			}
			published = &t
		}
		before := purgeBefore(time.Now(), cfg.OutboxRetention, published)
		n, err := out.Purge(ctx, before)
		if err == nil && n > 0 {
			log.Info("published outbox events purged", "deleted", n, "before", before)
		}
		return err
	})
}

// purgeBefore is the creation time before which outbox events may be
// deleted: older than the retention and, when the relay's progress is known,
// older than what it has published by relay.CommitMargin, because an event
// created before a published one may commit (and be published) after it.
func purgeBefore(now time.Time, retention time.Duration, published *time.Time) time.Time {
	before := now.Add(-retention)
	if published != nil {
		if limit := published.Add(-relay.CommitMargin); limit.Before(before) {
			before = limit
		}
	}
	return before
}

// staticMemberID is the consumer group instance id of service name on the
// embedded store in dir: one per host and directory, as stable across
// restarts as the store, and never shared by two running processes, since
// the store's directory lock admits one.
func staticMemberID(name, dir string) string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	sum := sha256.Sum256([]byte(host + "\x00" + filepath.Clean(dir)))
	return name + "-" + hex.EncodeToString(sum[:8])
}

func wait(ctx context.Context, wg *sync.WaitGroup, what string, log *slog.Logger) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		log.Error("shutdown deadline passed", "waiting_for", what)
	}
}
