// Package sagametrics counts payment-service's saga steps for Prometheus
// (saga_payment_...) and the outbox events it appends
// (saga_outbox_events_appended_total): a payment.Store that wraps the real
// one and observes what each committed write changed, so the core knows
// nothing of metrics.
//
// A write inside a consumer's transaction (inbox.ConsumeOnce) is counted
// when the store returns, just before that transaction commits.
package sagametrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

// Decisions (the decision label of saga_payment_authorizations_total).
const (
	DecisionAuthorized    = "authorized"
	DecisionNotAuthorized = "not_authorized"
)

// Store is a payment.Store that counts the decisions and reverts.
type Store struct {
	next      payment.Store
	m         *metrics.Metrics
	decisions *prometheus.CounterVec
	reverted  prometheus.Counter
}

// New wraps next and registers its metrics on m (nil: next is returned as
// it is).
func New(next payment.Store, m *metrics.Metrics) (payment.Store, error) {
	if m == nil {
		return next, nil
	}
	s := &Store{
		next: next,
		m:    m,
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_payment_authorizations_total",
			Help: "Registration fees decided, by decision (authorized, not_authorized) and reason (empty when authorized).",
		}, []string{"decision", "reason"}),
		reverted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "saga_payment_authorizations_reverted_total",
			Help: "Authorizations reverted for registrations that dead-locked.",
		}),
	}
	for _, c := range []prometheus.Collector{s.decisions, s.reverted} {
		if err := m.Register(c); err != nil {
			return nil, err
		}
	}
	// Both decisions exist from the start, so rate() sees the first one.
	s.decisions.WithLabelValues(DecisionAuthorized, "")
	s.decisions.WithLabelValues(DecisionNotAuthorized, paymentevents.ReasonNoBalanceLeft)
	return s, nil
}

// Create saves the payment and counts its decision.
func (s *Store) Create(ctx context.Context, p payment.Payment, events ...payment.Event) error {
	if err := s.next.Create(ctx, p, events...); err != nil {
		return err
	}
	s.observe(p, events)
	return nil
}

// UpdateForCustomer updates the payment and counts a revert.
func (s *Store) UpdateForCustomer(ctx context.Context, customerID string, fn func(p *payment.Payment) ([]payment.Event, error)) error {
	var (
		last   payment.Payment
		events []payment.Event
	)
	err := s.next.UpdateForCustomer(ctx, customerID, func(p *payment.Payment) ([]payment.Event, error) {
		evts, err := fn(p)
		last, events = *p, evts // fn may run again on a conflict: keep the last
		return evts, err
	})
	if err != nil {
		return err
	}
	s.observe(last, events)
	return nil
}

// ForCustomer lists the customer's payments.
func (s *Store) ForCustomer(ctx context.Context, customerID string) ([]payment.Payment, error) {
	return s.next.ForCustomer(ctx, customerID)
}

func (s *Store) observe(p payment.Payment, events []payment.Event) {
	for _, e := range events {
		s.m.OutboxAppended(e.Type)
		switch e.Type {
		case paymentevents.PaymentAuthorized:
			s.decisions.WithLabelValues(DecisionAuthorized, "").Inc()
		case paymentevents.PaymentNotAuthorized:
			s.decisions.WithLabelValues(DecisionNotAuthorized, p.Reason).Inc()
		case paymentevents.PaymentAuthorizationReverted:
			s.reverted.Inc()
		}
	}
}
