// Package app holds the parts every saga participant service is made of,
// for its main to build in order and hand to a lifecycle.Group: the shared
// configuration (LoadConfig), the store (OpenStore), the Kafka producer that
// waits for the broker (Producer), the embedded outbox relay (Relay), the
// consumers (Consumers), the retention jobs (Jobs) and the HTTP API with
// /health and /outbox (API), and GET /metrics when Spec.Metrics is set. A Spec says what differs between services.
//
// The parts that need Kafka wait for the producer inside their Run, so a
// service starts, answers HTTP and takes registrations while the broker is
// down. Added to the group in the order producer, relay, jobs, consumers,
// HTTP, they stop in the reverse order.
//
// It holds no business rules, and it does not sequence anything: the
// service's main does.
package app

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/jobs"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/tracing"
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
	// Tracing says whether spans are exported; the exporter reads the
	// standard OTEL_* variables itself.
	Tracing tracing.Config
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
		Tracing: tracing.Config{ServiceName: name, Export: tracing.Enabled(func(k string) (string, bool) {
			v := env.String(k, "")
			return v, v != ""
		})},
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
		slog.Any("tracing", c.Tracing),
	)
}

// NewLogger is the services' text logger on w at cfg.LogLevel; records
// logged with a context holding a span carry its trace_id and span_id.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	return slog.New(tracing.NewLogHandler(slog.NewTextHandler(w, &slog.HandlerOptions{Level: cfg.LogLevel})))
}

// StartTracing installs the tracer provider cfg.Tracing describes and
// returns the function that flushes it at shutdown, waiting at most five
// seconds for an unreachable collector.
func StartTracing(ctx context.Context, cfg Config, log *slog.Logger) (func(), error) {
	shutdown, err := tracing.Setup(ctx, cfg.Tracing, log)
	if err != nil {
		return nil, err
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("spans not flushed at shutdown", "err", err)
		}
	}, nil
}

func storeName(uri string) string {
	if uri == "" {
		return "(embedded store)"
	}
	return mongotx.RedactURI(uri)
}

// Spec is what distinguishes one service from another to the parts of this
// package.
type Spec struct {
	Config    Config
	Database  string           // the store database: the service's collections, outbox and inbox
	BasePath  string           // the HTTP API's path prefix
	Group     string           // consumer group
	Consume   []string         // topics consumed (the consumers create them and DLT)
	Produce   []string         // topics the relay publishes to (created once Kafka answers)
	Connector []byte           // Debezium connector registration the embedded relay follows
	MapError  httpapi.Mapper   // the service's own errors as HTTP answers; nil: none
	Metrics   *metrics.Metrics // the process's metrics, served at GET /metrics; nil: none
}

// OpenStore opens the service's store: the embedded one in
// DATA_DIR/<name>, or MongoDB at MONGODB_URI. It first sets the runtime's
// soft memory limit (Config.SoftMemoryLimit), since the embedded store holds
// its data in memory.
func OpenStore(ctx context.Context, cfg Config, log *slog.Logger) (*mongotx.Client, error) {
	if cfg.SoftMemoryLimit > 0 {
		debug.SetMemoryLimit(cfg.SoftMemoryLimit)
	}
	return mongotx.Open(ctx, mongotx.Options{
		URI:         cfg.MongoURI,
		Dir:         filepath.Join(cfg.DataDir, cfg.Name),
		HistorySize: cfg.StoreHistory,
		WriteQueue:  cfg.StoreWriteQueue,
		Log:         log.With("component", "store"),
	})
}

// CloseStore closes the store and logs a failure. A main defers it, so it
// runs once every other part has stopped, when there is no caller left to
// return the error to.
func CloseStore(store *mongotx.Client, log *slog.Logger) {
	if err := store.Close(context.Background()); err != nil {
		log.Error("close store", "err", err)
	}
}
