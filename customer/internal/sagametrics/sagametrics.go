// Package sagametrics counts the registration saga's customer side for
// Prometheus (saga_registration_...) and the outbox events it appends
// (saga_outbox_events_appended_total): a customer.Store that wraps the real
// one and observes what each committed write changed, so the core knows
// nothing of metrics.
//
// A write inside a consumer's transaction (inbox.ConsumeOnce) is counted
// when the store returns, just before that transaction commits.
package sagametrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
)

// Outcomes (the outcome label of saga_registration_ended_total).
const (
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"
)

// scrapeTimeout bounds the pending count of one scrape.
const scrapeTimeout = 2 * time.Second

// Store is a customer.Store that counts the saga's steps.
type Store struct {
	next      customer.Store
	m         *metrics.Metrics
	started   prometheus.Counter
	ended     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	deadLocks prometheus.Counter
}

// New wraps next and registers the saga's metrics on m (nil: next is
// returned as it is). pending counts the registrations pending now, read at
// scrape.
func New(next customer.Store, m *metrics.Metrics, pending func(context.Context) (int64, error)) (customer.Store, error) {
	if m == nil {
		return next, nil
	}
	s := &Store{
		next: next,
		m:    m,
		started: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saga_registration_started_total",
			Help: "Registrations started (POST /customers accepted).",
		}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_registration_ended_total",
			Help: "Registrations ended, by outcome (success, failed) and failure reason (empty on success).",
		}, []string{"outcome", "reason"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "saga_registration_duration_seconds",
			Help:    "Time from the registration's creation (the POST) to its end, by outcome.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600},
		}, []string{"outcome"}),
		deadLocks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saga_registration_dead_locks_total",
			Help: "Registrations failed by the dead-lock detection.",
		}),
	}
	pendingGauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "saga_registration_pending",
		Help: "Registrations pending now (read from the store at scrape; -1 when it does not answer).",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		n, err := pending(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	for _, c := range []prometheus.Collector{s.started, s.ended, s.duration, s.deadLocks, pendingGauge} {
		if err := m.Register(c); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Create creates the customer and counts a started registration.
func (s *Store) Create(ctx context.Context, c customer.Customer, events ...customer.Event) error {
	if err := s.next.Create(ctx, c, events...); err != nil {
		return err
	}
	s.observe(c, events)
	return nil
}

// Update updates the customer and counts the saga step its events announce.
func (s *Store) Update(ctx context.Context, id string, fn func(c *customer.Customer) ([]customer.Event, error)) error {
	var (
		last   customer.Customer
		events []customer.Event
	)
	err := s.next.Update(ctx, id, func(c *customer.Customer) ([]customer.Event, error) {
		evts, err := fn(c)
		last, events = *c, evts // fn may run again on a conflict: keep the last
		return evts, err
	})
	if err != nil {
		return err
	}
	s.observe(last, events)
	return nil
}

// Get returns the customer.
func (s *Store) Get(ctx context.Context, id string) (customer.Customer, error) {
	return s.next.Get(ctx, id)
}

// PendingSince lists pending registrations.
func (s *Store) PendingSince(ctx context.Context, t time.Time) ([]string, error) {
	return s.next.PendingSince(ctx, t)
}

// List lists registrations.
func (s *Store) List(ctx context.Context, q customer.Query) ([]customer.Customer, error) {
	return s.next.List(ctx, q)
}

// observe counts the events written with c.
func (s *Store) observe(c customer.Customer, events []customer.Event) {
	for _, e := range events {
		s.m.OutboxAppended(e.Type)
		switch e.Type {
		case customerevents.CustomerPendingRegistration:
			s.started.Inc()
		case customerevents.CustomerRegistered:
			s.end(c, OutcomeSuccess, "")
		case customerevents.CustomerNotRegistered:
			s.end(c, OutcomeFailed, c.FailureReason)
		case customerevents.CustomerRegistrationDeadLock:
			if c.FailureReason == customerevents.ReasonRegistrationDeadLock { // not an operator's
				s.deadLocks.Inc()
			}
		}
	}
}

func (s *Store) end(c customer.Customer, outcome, reason string) {
	s.ended.WithLabelValues(outcome, reason).Inc()
	s.duration.WithLabelValues(outcome).Observe(max(c.UpdatedAt.Sub(c.CreatedAt).Seconds(), 0))
}
