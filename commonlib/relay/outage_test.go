package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
)

// outageListener is a broker's listener that a test can take down: while
// down it closes every connection it had handed out and accepts new ones
// only to close them at once (counting them), as a broker that is not
// there would refuse them, so clients fail fast and the test sees how often
// they try.
type outageListener struct {
	net.Listener
	refused atomic.Int64

	mu    sync.Mutex
	down  bool
	conns []net.Conn
}

func (l *outageListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if !l.down {
			l.conns = append(l.conns, c)
			l.mu.Unlock()
			return c, nil
		}
		l.mu.Unlock()
		l.refused.Add(1)
		_ = c.Close()
	}
}

func (l *outageListener) setDown(down bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.down = down
	if down {
		for _, c := range l.conns {
			_ = c.Close()
		}
		l.conns = nil
	}
}

// startOutageCluster starts a one-broker cluster behind an outageListener.
func startOutageCluster(t *testing.T) ([]string, *outageListener) {
	t.Helper()
	var ln *outageListener
	c := kafkatest.Start(t,
		kfake.SeedTopics(partitions, testTopic),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			l, err := net.Listen(network, addr)
			if err != nil {
				return nil, err
			}
			ln = &outageListener{Listener: l}
			return ln, nil
		}),
	)
	return c.ListenAddrs(), ln
}

// TestRelayResumesWhenBrokerReturns: a backlog that built up during an
// outage is published within about a second of the broker answering again,
// however long the outage: the relay probes the broker instead of sleeping
// out a backoff (here it would have reached 4 s). While the broker stays
// down the relay does not send the batch again, and probing costs about
// one connection per ProbeInterval.
func TestRelayResumesWhenBrokerReturns(t *testing.T) {
	const backlog = 1000
	client := openStore(t)
	addrs, ln := startOutageCluster(t)
	// Fail a send at once, so the relay's backoff (not sarama's own
	// retries) is what waits.
	producer := kafkatest.Producer(t, addrs, func(c *sarama.Config) {
		c.Producer.Retry.Max = 1
		c.Producer.Retry.BackoffFunc = func(int, int) time.Duration { return time.Millisecond }
		c.Metadata.Retry.Max = 1
		c.Metadata.Retry.Backoff = time.Millisecond
	})

	r := startRelay(t, client, producer, func(o *Options) {
		o.RetryBackoff = time.Second
		o.MaxBackoff = 30 * time.Second
		o.Probe = func(ctx context.Context) error { return kafkaclient.Ping(ctx, addrs) }
	})
	waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)

	ln.setDown(true)
	events := make([]outbox.Event, backlog)
	for i := range events {
		events[i] = newEvent(fmt.Sprintf("c-%d", i%50), i/50)
	}
	commit(t, client, events[0])
	waitFor(t, "a failed send", func() bool { return r.Stats().KafkaRetries >= 1 }, r)
	failedAt := time.Now()
	refusedBefore := ln.refused.Load()
	commit(t, client, events[1:]...)
	// Without probing the relay would retry 1 s, 3 s and 7 s after the
	// first failure: return in the middle of the 4 s wait.
	time.Sleep(3500 * time.Millisecond)
	sends := r.Stats().KafkaRetries
	down := time.Since(failedAt)
	probes := ln.refused.Load() - refusedBefore

	ln.setDown(false)
	backAt := time.Now()
	waitFor(t, "the first record after the broker returned", published(r, 1), r)
	resumed := time.Since(backAt)
	waitFor(t, "the backlog", published(r, backlog), r)
	drained := time.Since(backAt)
	perSecond := float64(probes) / down.Seconds()
	t.Logf("down %v after the first failure: %d failed sends, %d connections (%.1f/s); back: first record after %v, backlog of %d after %v",
		down.Round(time.Millisecond), sends, probes, perSecond, resumed.Round(time.Millisecond), backlog, drained.Round(time.Millisecond))

	if drained > 1500*time.Millisecond {
		t.Errorf("backlog published %v after the broker returned (first record after %v), want within 1.5s", drained, resumed)
	}
	if sends != 1 {
		t.Errorf("failed sends while down = %d, want 1 (the batch waits for the probe)", sends)
	}
	// ProbeInterval 250ms: 4 probes a second.
	if perSecond > 6 {
		t.Errorf("connections while down = %.1f/s, want at most 6/s", perSecond)
	}

	r.stop()
	if dups := checkRecords(t, kafkatest.ReadTopic(t, addrs, testTopic), events); dups != 0 {
		t.Errorf("duplicates = %d, want 0", dups)
	}
}

// TestRelayProbeAnswersButSendsFail: a broker that answers the probe but
// does not take the batch gets it after an exponential backoff, not every
// ProbeInterval.
func TestRelayProbeAnswersButSendsFail(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	producer := &flakyProducer{SyncProducer: kafkatest.Producer(t, addrs)}
	r := startRelay(t, client, producer, func(o *Options) {
		o.RetryBackoff = 100 * time.Millisecond
		o.MaxBackoff = 30 * time.Second
		o.ProbeInterval = 10 * time.Millisecond
		o.Probe = func(context.Context) error { return nil }
	})
	waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
	producer.down.Store(true)
	commit(t, client, newEvent("c-1", 1))
	waitFor(t, "a failed send", func() bool { return producer.failures.Load() >= 1 }, r)

	// Retries 100ms, 200ms, 400ms and 800ms (plus a ProbeInterval) after
	// the send before: four sends within the first second. Retrying every
	// ProbeInterval would make it about a hundred.
	time.Sleep(time.Second)
	failures := producer.failures.Load()
	t.Logf("failed sends within 1s: %d", failures)
	if failures > 6 {
		t.Errorf("failed sends within 1s = %d, want at most 6", failures)
	}

	producer.down.Store(false)
	waitFor(t, "the event after recovery", published(r, 1), r)
}

// TestRelayProbeWrong: a probe that never answers while Kafka does delays
// the retry to MaxBackoff; it does not stop the relay.
func TestRelayProbeWrong(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	producer := &flakyProducer{SyncProducer: kafkatest.Producer(t, addrs)}
	r := startRelay(t, client, producer, func(o *Options) {
		o.RetryBackoff = 10 * time.Millisecond
		o.MaxBackoff = 300 * time.Millisecond
		o.ProbeInterval = 10 * time.Millisecond
		o.Probe = func(context.Context) error { return errors.New("unreachable") }
	})
	waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
	producer.down.Store(true)
	commit(t, client, newEvent("c-1", 1))
	waitFor(t, "a failed send", func() bool { return producer.failures.Load() >= 1 }, r)
	producer.down.Store(false)
	waitFor(t, "the event", published(r, 1), r)
	if n := r.logs.count(slog.LevelWarn, "retrying the batch anyway"); n != 1 {
		t.Errorf("WARN lines about retrying without an answer = %d, want 1", n)
	}
	if n := producer.failures.Load(); n != 1 {
		t.Errorf("failed sends = %d, want 1", n)
	}
}

// breakerProducer fails every record with sarama's circuit breaker error
// while open is set, and notes when each send returned.
type breakerProducer struct {
	sarama.SyncProducer
	open atomic.Bool

	mu    sync.Mutex
	sends []time.Time // when each SendMessages returned
}

func (p *breakerProducer) SendMessages(msgs []*sarama.ProducerMessage) error {
	var err error
	if p.open.Load() {
		errs := make(sarama.ProducerErrors, 0, len(msgs))
		for _, m := range msgs {
			errs = append(errs, &sarama.ProducerError{Msg: m, Err: breaker.ErrBreakerOpen})
		}
		err = errs
	} else {
		err = p.SyncProducer.SendMessages(msgs)
	}
	p.mu.Lock()
	p.sends = append(p.sends, time.Now())
	p.mu.Unlock()
	return err
}

// TestRelayWaitsForProducerBreaker: after sarama failed records because a
// circuit breaker was open, the relay does not send the batch again before
// the breaker can have closed, even though the broker answers.
func TestRelayWaitsForProducerBreaker(t *testing.T) {
	const hold = 500 * time.Millisecond
	tests := []struct {
		name  string
		probe func(context.Context) error
	}{
		{"with a probe", func(context.Context) error { return nil }},
		{"without a probe", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := openStore(t)
			addrs := startCluster(t)
			producer := &breakerProducer{SyncProducer: kafkatest.Producer(t, addrs)}
			r := startRelay(t, client, producer, func(o *Options) {
				o.RetryBackoff = 10 * time.Millisecond
				o.MaxBackoff = 5 * time.Second
				o.ProbeInterval = 10 * time.Millisecond
				o.Probe = tt.probe
				o.breakerHold = hold
			})
			waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
			producer.open.Store(true)
			commit(t, client, newEvent("c-1", 1))
			waitFor(t, "a refused send", func() bool { return r.Stats().KafkaRetries >= 1 }, r)
			producer.open.Store(false)
			waitFor(t, "the event", published(r, 1), r)

			producer.mu.Lock()
			defer producer.mu.Unlock()
			if n := len(producer.sends); n != 2 {
				t.Fatalf("sends = %d, want 2 (refused, then acknowledged)", n)
			}
			if gap := producer.sends[1].Sub(producer.sends[0]); gap < hold {
				t.Errorf("retried %v after the refused send, want at least %v", gap, hold)
			}
		})
	}
}

func TestBreakerOpen(t *testing.T) {
	failed := func(errs ...error) sarama.ProducerErrors {
		out := make(sarama.ProducerErrors, 0, len(errs))
		for _, err := range errs {
			out = append(out, &sarama.ProducerError{Msg: &sarama.ProducerMessage{Topic: testTopic}, Err: err})
		}
		return out
	}
	tests := []struct {
		name string
		err  error
		n    int
		want bool
	}{
		{"every record refused by the breaker", failed(breaker.ErrBreakerOpen, breaker.ErrBreakerOpen), 2, true},
		{"every record failed, some by the breaker", failed(sarama.ErrOutOfBrokers, breaker.ErrBreakerOpen), 2, true},
		{"some records delivered", failed(breaker.ErrBreakerOpen), 2, false},
		{"other errors only", failed(sarama.ErrOutOfBrokers, sarama.ErrNotLeaderForPartition), 2, false},
		{"the breaker's error alone", fmt.Errorf("send: %w", breaker.ErrBreakerOpen), 1, true},
		{"another error alone", sarama.ErrOutOfBrokers, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := breakerOpen(tt.err, tt.n); got != tt.want {
				t.Errorf("breakerOpen(%v, %d) = %v, want %v", tt.err, tt.n, got, tt.want)
			}
		})
	}
}
