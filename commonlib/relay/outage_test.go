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
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
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
	c, err := kfake.NewCluster(
		kfake.NumBrokers(1),
		kfake.SeedTopics(partitions, testTopic),
		kfake.DefaultNumPartitions(partitions),
		kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			l, err := net.Listen(network, addr)
			if err != nil {
				return nil, err
			}
			ln = &outageListener{Listener: l}
			return ln, nil
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs(), ln
}

// TestRelayResumesWhenBrokerReturns: after an outage long enough for the
// backoff to reach seconds, the relay publishes its backlog within about a
// second of the broker answering again, because it probes the broker while
// it backs off. While the broker stays down the probes do not send the
// batch, and they cost about one connection per ProbeInterval.
func TestRelayResumesWhenBrokerReturns(t *testing.T) {
	const backlog = 1000
	client := openStore(t)
	addrs, ln := startOutageCluster(t)
	cfg := producerConfig()
	// Fail a send fast, so the relay's backoff (not sarama's) is what
	// waits.
	cfg.Producer.Retry.Max = 2
	cfg.Metadata.Retry.Max = 1
	cfg.Metadata.Retry.Backoff = 20 * time.Millisecond
	producer, err := sarama.NewSyncProducer(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = producer.Close() })

	r := startRelay(t, client, producer, func(o *Options) {
		o.RetryBackoff = time.Second
		o.MaxBackoff = 30 * time.Second
		o.Probe = func(ctx context.Context) error { return kafkaclient.Ping(ctx, addrs) }
	})
	waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)

	ln.setDown(true)
	downAt := time.Now()
	events := make([]outbox.Event, backlog)
	for i := range events {
		events[i] = newEvent(fmt.Sprintf("c-%d", i%50), i/50)
	}
	commit(t, client, events...)
	t.Logf("commit took %v", time.Since(downAt))
	// Failed sends back off 1 s, 2 s, then 4 s: come back early in that.
	waitFor(t, "three failed sends", func() bool { return r.Stats().KafkaRetries >= 3 }, r)
	time.Sleep(500 * time.Millisecond)
	sends := r.Stats().KafkaRetries
	down := time.Since(downAt)
	refused := ln.refused.Load()

	ln.setDown(false)
	backAt := time.Now()
	waitFor(t, "the first record after the broker returned", published(r, 1), r)
	resumed := time.Since(backAt)
	waitFor(t, "the backlog", published(r, backlog), r)
	drained := time.Since(backAt)
	perSecond := float64(refused) / down.Seconds()
	t.Logf("down %v: %d failed sends, %d connections (%.1f/s); back: first record after %v, backlog of %d after %v",
		down.Round(time.Millisecond), sends, refused, perSecond, resumed.Round(time.Millisecond), backlog, drained.Round(time.Millisecond))

	if resumed > 1500*time.Millisecond {
		t.Errorf("publishing resumed %v after the broker returned, want within 1.5s", resumed)
	}
	if sends != 3 {
		t.Errorf("failed sends while down = %d, want 3 (probes must not send the batch)", sends)
	}
	// ProbeInterval 250ms allows 4 probes a second; the rest are the
	// producer's own reconnects during the three sends.
	if perSecond > 8 {
		t.Errorf("connections while down = %.1f/s, want at most 8/s", perSecond)
	}

	r.stop()
	if dups := checkRecords(t, readBack(t, addrs), events); dups != 0 {
		t.Errorf("duplicates = %d, want 0", dups)
	}
}

// TestRelayProbeAnswersButSendsFail: a broker that answers the probe but
// does not take the batch gets the full exponential backoff after one
// early retry, not a batch every ProbeInterval.
func TestRelayProbeAnswersButSendsFail(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	producer := &flakyProducer{SyncProducer: newProducer(t, addrs)}
	var probes atomic.Int64
	r := startRelay(t, client, producer, func(o *Options) {
		o.RetryBackoff = 100 * time.Millisecond
		o.MaxBackoff = 30 * time.Second
		o.ProbeInterval = 10 * time.Millisecond
		o.Probe = func(context.Context) error { probes.Add(1); return nil }
	})
	waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
	producer.down.Store(true)
	commit(t, client, newEvent("c-1", 1))
	waitFor(t, "a failed send", func() bool { return producer.failures.Load() >= 1 }, r)

	// Sends fail at 0, ~10ms (the probe's early retry), then after the full
	// 200ms, 400ms and 800ms: four within the next second. Retrying every
	// ProbeInterval would make it about a hundred.
	time.Sleep(time.Second)
	failures := producer.failures.Load()
	t.Logf("failed sends in 1s: %d, probes %d", failures, probes.Load())
	if failures > 5 {
		t.Errorf("failed sends within 1s = %d, want at most 5", failures)
	}
	if n := r.logs.count(slog.LevelInfo, "kafka answers again"); n != 1 {
		t.Errorf("early retries logged = %d, want 1", n)
	}

	producer.down.Store(false)
	waitFor(t, "the event after recovery", published(r, 1), r)
}

// TestRelayProbeSeesRecoveryAgain: once the probe has seen the broker down,
// its next success ends the backoff again, however often that happens.
func TestRelayProbeSeesRecoveryAgain(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	producer := &flakyProducer{SyncProducer: newProducer(t, addrs)}
	var probes atomic.Int64
	r := startRelay(t, client, producer, func(o *Options) {
		o.RetryBackoff = time.Minute
		o.MaxBackoff = time.Minute
		o.ProbeInterval = 10 * time.Millisecond
		// Down on every other call: each wait sees the broker leave and
		// come back.
		o.Probe = func(context.Context) error {
			if probes.Add(1)%2 == 1 {
				return errors.New("down")
			}
			return nil
		}
	})
	waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
	producer.down.Store(true)
	commit(t, client, newEvent("c-1", 1))
	waitFor(t, "five failed sends", func() bool { return producer.failures.Load() >= 5 }, r)
	producer.down.Store(false)
	waitFor(t, "the event after recovery", published(r, 1), r)
}
