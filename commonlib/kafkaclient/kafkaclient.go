// Package kafkaclient holds the platform's sarama settings in one place and
// the few broker chores every binary needs at start: a producer that waits for
// the broker, topic creation and a reachability check.
//
// Producers made here partition like Kafka's Java client (murmur2 of the key),
// so the Go relay and Debezium put an aggregate's events on the same partition.
// Topics are created explicitly with the broker's default partition count and
// replication factor; nothing relies on the broker auto-creating topics.
//
// It does not consume: see package router. It does not read the environment:
// callers pass broker lists and client ids (ParseBrokers helps with the
// former).
package kafkaclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/retry"
)

// version is the Kafka protocol version the platform speaks. Sarama still
// negotiates each request's version with the broker it talks to.
var version = sarama.V3_6_0_0

// Producer retry policy: Retry.Max retries, backing off exponentially from
// producerBackoff to producerMaxBackoff, bound how long one send keeps
// retrying (about half a minute) before it reports the failure.
const (
	producerRetries    = 20
	producerBackoff    = 100 * time.Millisecond
	producerMaxBackoff = 2 * time.Second
)

// MinSessionTimeout is the shortest consumer group session timeout a broker
// accepts by default (group.min.session.timeout.ms: 6 s on Kafka, and on
// kfake, so devkafka). A member killed without leaving its group (kill -9)
// keeps its partitions until its session times out, unless a static member
// with its instance id takes its place (router.Config.InstanceID).
const MinSessionTimeout = 6 * time.Second

// Config returns the base sarama configuration of every platform client,
// identified to the broker as clientID (sarama's default when empty). Callers
// add producer or consumer settings on top.
func Config(clientID string) *sarama.Config {
	c := sarama.NewConfig()
	c.Version = version
	if clientID != "" {
		c.ClientID = clientID
	}
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 30 * time.Second
	c.Net.WriteTimeout = 10 * time.Second
	c.Net.KeepAlive = 30 * time.Second
	// Topics are created by EnsureTopics; a typo in a topic name must not
	// silently create a topic.
	c.Metadata.AllowAutoTopicCreation = false
	c.Metadata.Retry.Max = 3
	c.Metadata.Retry.Backoff = 250 * time.Millisecond
	c.Metadata.RefreshFrequency = 5 * time.Minute
	c.Admin.Timeout = 10 * time.Second
	c.Admin.Retry.Max = 3
	c.Admin.Retry.Backoff = 250 * time.Millisecond
	return c
}

// ProducerConfig returns Config plus the settings of a safe synchronous
// producer: idempotent, acknowledged by all in-sync replicas, one request in
// flight (so retries keep order), Java-compatible murmur2 partitioning, and
// bounded retries with exponential backoff.
func ProducerConfig(clientID string) *sarama.Config {
	c := Config(clientID)
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	// Must match Kafka's Java DefaultPartitioner (so Debezium): sarama's
	// default is FNV-1a, which would move aggregates between partitions.
	c.Producer.Partitioner = sarama.NewMurmur2Partitioner
	c.Producer.Return.Successes = true
	c.Producer.Return.Errors = true
	c.Producer.Timeout = 10 * time.Second
	c.Producer.Retry.Max = producerRetries
	c.Producer.Retry.BackoffFunc = func(retries, _ int) time.Duration {
		return retry.Backoff(retries+1, producerBackoff, producerMaxBackoff)
	}
	return c
}

// NewSyncProducer connects a synchronous producer configured by
// ProducerConfig. It fails when no broker answers.
func NewSyncProducer(brokers []string, clientID string) (sarama.SyncProducer, error) {
	if len(brokers) == 0 {
		return nil, errors.New("kafkaclient: no brokers")
	}
	p, err := sarama.NewSyncProducer(brokers, ProducerConfig(clientID))
	if err != nil {
		return nil, fmt.Errorf("kafkaclient: new producer: %w", err)
	}
	return p, nil
}

// WaitSyncProducer calls NewSyncProducer until it succeeds, backing off
// between attempts and logging each failure at WARN, so a service can start
// while the broker is still down. It gives up only when ctx ends, returning
// ctx's error joined with the last connection error. A nil log discards.
func WaitSyncProducer(ctx context.Context, brokers []string, clientID string, log *slog.Logger) (sarama.SyncProducer, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for attempt := 1; ; attempt++ {
		p, err := NewSyncProducer(brokers, clientID)
		if err == nil {
			if attempt > 1 {
				log.Info("kafka producer connected", "brokers", brokers, "attempts", attempt)
			}
			return p, nil
		}
		if len(brokers) == 0 {
			return nil, err
		}
		d := retry.Backoff(attempt, 250*time.Millisecond, 5*time.Second)
		log.Warn("kafka producer cannot connect, retrying", "brokers", brokers, "attempt", attempt, "retry_in", d, "err", err)
		if !retry.Sleep(ctx, d) {
			return nil, fmt.Errorf("kafkaclient: wait for producer: %w", errors.Join(ctx.Err(), err))
		}
	}
}

// EnsureTopics creates each of topics that does not exist yet, with the
// broker's default partition count and replication factor (num.partitions,
// default.replication.factor). Existing topics are left as they are. It needs
// a broker that accepts -1 for both (CreateTopics v4+, Kafka 2.4 or later) and
// says so otherwise. ctx bounds the whole operation.
func EnsureTopics(ctx context.Context, brokers []string, topics []string) error {
	if len(brokers) == 0 {
		return errors.New("kafkaclient: no brokers")
	}
	want := make([]string, 0, len(topics))
	seen := make(map[string]bool, len(topics))
	for _, t := range topics {
		if t == "" {
			return errors.New("kafkaclient: empty topic name")
		}
		if !seen[t] {
			seen[t] = true
			want = append(want, t)
		}
	}
	if len(want) == 0 {
		return nil
	}
	conf := Config("kafkaclient-admin")
	boundTimeouts(ctx, conf)
	err := withContext(ctx, func() error { return ensureTopics(brokers, want, conf) })
	if err != nil {
		return fmt.Errorf("kafkaclient: ensure topics %v: %w", want, err)
	}
	return nil
}

// apiKeyCreateTopics is the CreateTopics request's key in ApiVersions.
const apiKeyCreateTopics = 19

func ensureTopics(brokers, topics []string, conf *sarama.Config) error {
	client, err := sarama.NewClient(brokers, conf)
	if err != nil {
		return err
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		_ = client.Close()
		return err
	}
	defer admin.Close() // closes client too
	if err := client.RefreshMetadata(); err != nil {
		return err
	}
	existing, err := client.Topics()
	if err != nil {
		return err
	}
	have := make(map[string]bool, len(existing))
	for _, t := range existing {
		have[t] = true
	}
	var missing []string
	for _, t := range topics {
		if !have[t] {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if err := checkBrokerDefaults(client); err != nil {
		return err
	}
	for _, t := range missing {
		err := admin.CreateTopic(t, &sarama.TopicDetail{NumPartitions: -1, ReplicationFactor: -1}, false)
		if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
			return fmt.Errorf("create %s: %w", t, err)
		}
	}
	return nil
}

// checkBrokerDefaults fails unless the controller accepts CreateTopics with
// partitions and replication factor left to the broker (KIP-464).
func checkBrokerDefaults(client sarama.Client) error {
	controller, err := client.Controller()
	if err != nil {
		return err
	}
	resp, err := controller.ApiVersions(&sarama.ApiVersionsRequest{})
	if err != nil {
		return fmt.Errorf("api versions: %w", err)
	}
	for _, k := range resp.ApiKeys {
		if k.ApiKey == apiKeyCreateTopics {
			if k.MaxVersion < 4 {
				return fmt.Errorf("broker supports CreateTopics up to v%d: creating topics with the broker's defaults needs v4 (Kafka 2.4 or later)", k.MaxVersion)
			}
			return nil
		}
	}
	return errors.New("broker does not support CreateTopics")
}

// Ping reports whether any of brokers answers an ApiVersions request before
// ctx ends (within 5 s when ctx has no deadline). It opens a fresh connection
// per broker and closes it, so it suits a health check.
func Ping(ctx context.Context, brokers []string) error {
	if len(brokers) == 0 {
		return errors.New("kafkaclient: ping: no brokers")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
	}
	conf := Config("kafkaclient-ping")
	conf.ApiVersionsRequest = false // Ping sends its own
	boundTimeouts(ctx, conf)

	errs := make(chan error, len(brokers))
	for _, addr := range brokers {
		go func() { errs <- pingOne(addr, conf) }()
	}
	var all []error
	for range brokers {
		select {
		case err := <-errs:
			if err == nil {
				return nil
			}
			all = append(all, err)
		case <-ctx.Done():
			return fmt.Errorf("kafkaclient: ping: %w", errors.Join(append(all, ctx.Err())...))
		}
	}
	return fmt.Errorf("kafkaclient: ping: %w", errors.Join(all...))
}

func pingOne(addr string, conf *sarama.Config) error {
	b := sarama.NewBroker(addr)
	if err := b.Open(conf); err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	defer b.Close()
	resp, err := b.ApiVersions(&sarama.ApiVersionsRequest{})
	if err != nil {
		return fmt.Errorf("%s: %w", addr, err)
	}
	if kerr := sarama.KError(resp.ErrorCode); kerr != sarama.ErrNoError {
		return fmt.Errorf("%s: %w", addr, kerr)
	}
	return nil
}

// ParseBrokers splits a comma-separated broker list such as
// "kafka-1:9093,kafka-2:9093". Spaces around entries are ignored; an empty
// entry, a missing host or a missing or invalid port is an error.
func ParseBrokers(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("kafkaclient: empty broker list")
	}
	parts := strings.Split(s, ",")
	brokers := make([]string, 0, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			return nil, fmt.Errorf("kafkaclient: broker list %q: entry %d is empty", s, i+1)
		}
		host, port, err := net.SplitHostPort(p)
		if err != nil {
			return nil, fmt.Errorf("kafkaclient: broker %q: want host:port: %w", p, err)
		}
		if host == "" {
			return nil, fmt.Errorf("kafkaclient: broker %q: missing host", p)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("kafkaclient: broker %q: invalid port %q", p, port)
		}
		brokers = append(brokers, p)
	}
	return brokers, nil
}

// boundTimeouts shortens conf's network timeouts to ctx's deadline, so a
// blocking sarama call started under ctx does not outlive it by much.
func boundTimeouts(ctx context.Context, conf *sarama.Config) {
	dl, ok := ctx.Deadline()
	if !ok {
		return
	}
	left := max(time.Until(dl), time.Millisecond)
	conf.Net.DialTimeout = min(conf.Net.DialTimeout, left)
	conf.Net.ReadTimeout = min(conf.Net.ReadTimeout, left)
	conf.Net.WriteTimeout = min(conf.Net.WriteTimeout, left)
	conf.Admin.Timeout = min(conf.Admin.Timeout, left)
}

// withContext runs fn, which cannot be interrupted, and returns its error or
// ctx's, whichever comes first. A fn abandoned this way finishes in the
// background; its timeouts are bounded by boundTimeouts.
func withContext(ctx context.Context, fn func() error) error {
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
