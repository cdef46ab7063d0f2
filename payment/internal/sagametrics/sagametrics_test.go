package sagametrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/payment/internal/payment"
	"github.com/sagaoutbox/platform/payment/internal/sagametrics"
)

// fakeStore keeps one payment per customer.
type fakeStore struct{ payments map[string]payment.Payment }

func (f *fakeStore) Create(_ context.Context, p payment.Payment, _ ...payment.Event) error {
	if _, ok := f.payments[p.CustomerID]; ok {
		return payment.ErrAlreadyDecided
	}
	f.payments[p.CustomerID] = p
	return nil
}

func (f *fakeStore) UpdateForCustomer(_ context.Context, id string, fn func(*payment.Payment) ([]payment.Event, error)) error {
	p, ok := f.payments[id]
	if !ok {
		return payment.ErrNotFound
	}
	evts, err := fn(&p)
	if err != nil {
		return err
	}
	if len(evts) > 0 {
		f.payments[id] = p
	}
	return nil
}

func (f *fakeStore) ForCustomer(_ context.Context, id string) ([]payment.Payment, error) {
	return []payment.Payment{f.payments[id]}, nil
}

func TestDecisionsAndReverts(t *testing.T) {
	fake := &fakeStore{payments: map[string]payment.Payment{}}
	m := metrics.New()
	store, err := sagametrics.New(fake, m)
	if err != nil {
		t.Fatal(err)
	}
	svc := payment.NewService(store, 200, payment.Payee{Name: "P"}, time.Now, func() string { return "id" })
	ctx := context.Background()
	for _, r := range []payment.Registration{
		{CustomerID: "a", Balance: 10000}, {CustomerID: "b", Balance: 10000}, {CustomerID: "c", Balance: 1},
		{CustomerID: "a", Balance: 10000}, // already decided: not counted
	} {
		_, _ = svc.Authorize(ctx, r)
	}
	for _, id := range []string{"a", "c"} { // c was not authorized: nothing to revert
		if _, err := svc.Revert(ctx, id, "REGISTRATION_DEAD_LOCK_DETECTED"); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP saga_payment_authorizations_reverted_total Authorizations reverted for registrations that dead-locked.
# TYPE saga_payment_authorizations_reverted_total counter
saga_payment_authorizations_reverted_total 1
# HELP saga_payment_authorizations_total Registration fees decided, by decision (authorized, not_authorized) and reason (empty when authorized).
# TYPE saga_payment_authorizations_total counter
saga_payment_authorizations_total{decision="authorized",reason=""} 2
saga_payment_authorizations_total{decision="not_authorized",reason="NO_BALANCE_LEFT"} 1
# HELP saga_outbox_events_appended_total Events appended to the outbox with their business change, by event type.
# TYPE saga_outbox_events_appended_total counter
saga_outbox_events_appended_total{event_type="PaymentAuthorizationRevertedEvent"} 1
saga_outbox_events_appended_total{event_type="PaymentAuthorizedEvent"} 2
saga_outbox_events_appended_total{event_type="PaymentNotAuthorizedEvent"} 1
`
	if err := testutil.GatherAndCompare(m.Registry, strings.NewReader(want),
		"saga_payment_authorizations_total", "saga_payment_authorizations_reverted_total", "saga_outbox_events_appended_total"); err != nil {
		t.Error(err)
	}
}
