package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/commonlib/retry"
	"github.com/sagaoutbox/platform/commonlib/router"
)

// Producer is the service's Kafka producer. It exists only once a broker
// answered: Run waits for one, and the relay and the consumers wait for the
// producer with Wait.
type Producer struct {
	brokers  []string
	clientID string
	topics   []string
	log      *slog.Logger

	ready    chan struct{} // closed once producer is set and the topics exist
	producer sarama.SyncProducer
}

// NewProducer returns the producer of spec's service, not yet connected.
func NewProducer(spec Spec, log *slog.Logger) *Producer {
	return &Producer{
		brokers:  spec.Config.Brokers,
		clientID: spec.Config.Name,
		topics:   spec.Produce,
		log:      log,
		ready:    make(chan struct{}),
	}
}

// Run connects the producer once a broker answers, makes sure the topics
// the relay publishes to exist (retrying until they do), and closes the
// producer when ctx ends.
func (p *Producer) Run(ctx context.Context) error {
	producer, err := kafkaclient.WaitSyncProducer(ctx, p.brokers, p.clientID, p.log.With("component", "kafka"))
	if err != nil {
		if ctx.Err() != nil {
			return nil // stopped before the broker ever answered
		}
		return err
	}
	ensured := retry.Until(ctx, 2*time.Second, 2*time.Second, func() error {
		return kafkaclient.EnsureTopics(ctx, p.brokers, p.topics)
	}, func(_ int, _ time.Duration, err error) {
		p.log.Warn("ensure topics, retrying", "topics", p.topics, "err", err)
	})
	if ensured {
		p.producer = producer
		close(p.ready)
	}
	<-ctx.Done()
	if err := producer.Close(); err != nil {
		return fmt.Errorf("close producer: %w", err)
	}
	return nil
}

// Wait returns the producer once Run has connected it, or false when ctx
// ends first.
func (p *Producer) Wait(ctx context.Context) (sarama.SyncProducer, bool) {
	select {
	case <-p.ready:
		return p.producer, true
	case <-ctx.Done():
		return nil, false
	}
}

// Relay is the embedded outbox relay (OUTBOX_RELAY=embedded): it follows
// the service's database as Spec.Connector says and publishes through the
// producer once that exists. A nil *Relay is no relay: Debezium's relays the
// outbox.
type Relay struct {
	config   relay.Config
	database string
	brokers  []string
	store    *mongotx.Client
	producer *Producer
	log      *slog.Logger

	current atomic.Pointer[relay.Relay] // nil until Run has one
}

// NewRelay checks spec's connector registration and returns the relay, not
// yet running.
func NewRelay(spec Spec, store *mongotx.Client, producer *Producer, log *slog.Logger) (*Relay, error) {
	config, err := relay.ParseConnector(spec.Connector)
	if err != nil {
		return nil, fmt.Errorf("outbox relay: %w", err)
	}
	return &Relay{
		config:   config,
		database: spec.Database,
		brokers:  spec.Config.Brokers,
		store:    store,
		producer: producer,
		log:      log.With("component", "relay"),
	}, nil
}

// Run waits for the producer, then relays until ctx ends.
func (r *Relay) Run(ctx context.Context) error {
	producer, ok := r.producer.Wait(ctx)
	if !ok {
		return nil
	}
	rel, err := relay.New(r.store, relay.Options{
		Config: r.config, Database: r.database, Producer: producer, Log: r.log,
		Probe: func(ctx context.Context) error { return kafkaclient.Ping(ctx, r.brokers) },
	})
	if err != nil {
		return fmt.Errorf("outbox relay: %w", err)
	}
	if r.store.Embedded() {
		// The embedded store's directory admits one process (package
		// journal locks it): another holder of the lease is this
		// service's previous run, killed before it could release it, not
		// a replica.
		rel.AssumeExclusiveStore()
	}
	r.current.Store(rel)
	if err := rel.Run(ctx); err != nil {
		return fmt.Errorf("outbox relay stopped: %w", err)
	}
	return nil
}

// running is the relay once Run has started it, nil before and without one.
func (r *Relay) running() *relay.Relay {
	if r == nil {
		return nil
	}
	return r.current.Load()
}

// Consumers are the service's Kafka consumers: a router over Spec.Consume
// that dispatches the interesting event types (INTERESTING_EVENTS) to the
// service's handlers, once the producer exists (it dead-letters through it).
type Consumers struct {
	config   router.Config
	producer *Producer
	log      *slog.Logger

	current atomic.Pointer[router.Router] // nil until Run has one
}

// NewConsumers keeps the handlers of the interesting event types
// (INTERESTING_EVENTS filters the service's handlers, failing for a type it
// has no handler for) and returns the consumers, not yet running. On the
// embedded store they are a static group member.
func NewConsumers(spec Spec, store *mongotx.Client, producer *Producer, handlers map[string]router.Handler, log *slog.Logger) (*Consumers, error) {
	cfg := spec.Config
	selected, err := selectHandlers(handlers, cfg.Interesting)
	if err != nil {
		return nil, err
	}
	config := router.Config{
		Brokers:         cfg.Brokers,
		Group:           spec.Group,
		ClientID:        cfg.Name,
		Topics:          spec.Consume,
		Handlers:        selected,
		DeadLetterTopic: DeadLetterTopic,
		IsTransient:     mongotx.IsUnavailable,
	}
	if spec.Metrics != nil {
		config.Observer = spec.Metrics
	}
	if store.Embedded() {
		// One process per data directory also lets the consumer be a
		// static member named after its store: a run restarted after a
		// kill -9 takes over its predecessor's partitions at once. The
		// session timeout is then only how long the partitions of a
		// member that does not come back wait: the broker's minimum.
		config.InstanceID = staticMemberID(cfg.Name, filepath.Join(cfg.DataDir, cfg.Name))
		config.SessionTimeout = kafkaclient.MinSessionTimeout
	}
	return &Consumers{config: config, producer: producer, log: log.With("component", "consumer")}, nil
}

// Run waits for the producer, then consumes until ctx ends.
func (c *Consumers) Run(ctx context.Context) error {
	producer, ok := c.producer.Wait(ctx)
	if !ok {
		return nil
	}
	r, err := router.New(c.config, producer, c.log)
	if err != nil {
		return fmt.Errorf("consumers: %w", err)
	}
	c.current.Store(r)
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("consumers stopped: %w", err)
	}
	return nil
}

// running is the router once Run has started it, nil before.
func (c *Consumers) running() *router.Router {
	return c.current.Load()
}

// selectHandlers keeps the handlers of the interesting event types and fails
// for an interesting type the service cannot handle.
func selectHandlers(all map[string]router.Handler, interesting []string) (map[string]router.Handler, error) {
	out := make(map[string]router.Handler, len(interesting))
	for _, t := range interesting {
		h, ok := all[t]
		if !ok {
			known := slices.Sorted(maps.Keys(all))
			return nil, fmt.Errorf("INTERESTING_EVENTS names %s, which this service cannot handle (it handles %s)", t, strings.Join(known, ", "))
		}
		out[t] = h
	}
	return out, nil
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
