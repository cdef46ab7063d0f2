package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sagaoutbox/platform/commonlib/relay"
)

// RelaySource is one relay as RelayCollector reads it at scrape time.
type RelaySource struct {
	// Connector and Database label the relay's series.
	Connector, Database string
	// Relay is the running relay.
	Relay *relay.Relay
	// Backlog, when set, counts the outbox events created after through
	// (the relay's published-through mark) and returns the oldest one's
	// creation time (zero when there is none). Nil: no backlog series.
	Backlog func(ctx context.Context, through time.Time) (n int64, oldest time.Time, err error)
}

// scrapeTimeout bounds the store reads of one scrape.
const scrapeTimeout = 2 * time.Second

// RelayCollector exports the relays' Stats at scrape time, as
// saga_relay_..., plus the backlog and lag of those with a Backlog. The
// counters restart from zero with a relay (Prometheus's rate() takes that as
// a counter reset).
func RelayCollector(sources func() []RelaySource) prometheus.Collector {
	return &relayCollector{sources: sources}
}

type relayCollector struct {
	sources func() []RelaySource
}

var relayLabels = []string{"connector", "database"}

func relayDesc(name, help string) *prometheus.Desc {
	return prometheus.NewDesc(name, help, relayLabels, nil)
}

var (
	descPublished   = relayDesc("saga_relay_records_published_total", "Records Kafka acknowledged, re-sent ones included.")
	descParked      = relayDesc("saga_relay_documents_parked_total", "Unroutable outbox documents parked.")
	descDropped     = relayDesc("saga_relay_changes_dropped_total", "Updates and replacements of outbox documents dropped.")
	descSweeps      = relayDesc("saga_relay_sweeps_total", "Completed sweeps of the outbox collections.")
	descHistoryLost = relayDesc("saga_relay_history_lost_total", "Times the stored position had left the change history (or the stream was invalidated).")
	descRetries     = relayDesc("saga_relay_kafka_retries_total", "Batches Kafka did not acknowledge, retried.")
	descRestarts    = relayDesc("saga_relay_stream_restarts_total", "Change stream restarts after store errors.")
	descLeaseHeld   = relayDesc("saga_relay_lease_held", "1 while this relay holds the lease and relays, else 0.")
	descAcquired    = relayDesc("saga_relay_lease_acquired_total", "Times this relay acquired the lease.")
	descLost        = relayDesc("saga_relay_lease_lost_total", "Times a lease renewal failed or found another holder.")
	descFailing     = relayDesc("saga_relay_failing", "1 while the relay fails without recovering, else 0.")
	descBacklog     = relayDesc("saga_relay_backlog_events", "Outbox events created after the relay's published-through mark: written, not yet published.")
	descLag         = relayDesc("saga_relay_lag_seconds", "Age of the oldest outbox event not yet published (0 when none).")
)

func (c *relayCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descPublished, descParked, descDropped, descSweeps, descHistoryLost, descRetries,
		descRestarts, descLeaseHeld, descAcquired, descLost, descFailing, descBacklog, descLag} {
		ch <- d
	}
}

func (c *relayCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	for _, src := range c.sources() {
		if src.Relay == nil {
			continue
		}
		s := src.Relay.Stats()
		l := []string{src.Connector, src.Database}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
		}
		gauge := func(d *prometheus.Desc, v float64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
		}
		counter(descPublished, s.Published)
		counter(descParked, s.Parked)
		counter(descDropped, s.Dropped)
		counter(descSweeps, s.Sweeps)
		counter(descHistoryLost, s.HistoryLost)
		counter(descRetries, s.KafkaRetries)
		counter(descRestarts, s.StreamRestarts)
		counter(descAcquired, s.Leaderships)
		counter(descLost, s.LeaseLost)
		gauge(descLeaseHeld, boolFloat(s.Leader))
		gauge(descFailing, boolFloat(!s.FailingSince.IsZero()))
		if src.Backlog == nil {
			continue
		}
		// The in-memory mark is ahead of the stored one, which is all
		// there is before this relay published anything.
		through := s.PublishedThrough
		if through.IsZero() {
			stored, err := src.Relay.PublishedThrough(ctx)
			if err != nil {
				continue // the store does not answer: no backlog this scrape
			}
			through = stored
		}
		n, oldest, err := src.Backlog(ctx, through)
		if err != nil {
			continue
		}
		gauge(descBacklog, float64(n))
		lag := 0.0
		if !oldest.IsZero() {
			lag = max(time.Since(oldest).Seconds(), 0)
		}
		gauge(descLag, lag)
	}
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
