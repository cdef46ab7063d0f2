package payment_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/payment/internal/mongostore"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

type fixture struct {
	svc *payment.Service
	db  lungo.IDatabase
}

// newFixture returns a service on a new store of backend b.
func newFixture(t *testing.T, b mongotest.Backend) *fixture {
	t.Helper()
	ctx := context.Background()
	s := b.Open(t)
	store := mongostore.New(s.Client, s.DB)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	payee := payment.Payee{Name: "SOME-COMPANY", BankAccount: "1234", BankName: "SOME-BANK"}
	now := func() time.Time { return time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) }
	svc := payment.NewService(store, 200, payee, now, func() string { n++; return fmt.Sprintf("p%d", n) })
	return &fixture{svc: svc, db: s.DB}
}

func (f *fixture) outboxTypes(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	cur, err := f.db.Collection(mongostore.OutboxCollection).Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		Type          string `bson:"type"`
		AggregateType string `bson:"aggregateType"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		if d.AggregateType != paymentevents.AggregateType {
			t.Errorf("aggregateType = %s, want %s", d.AggregateType, paymentevents.AggregateType)
		}
		out[i] = d.Type
	}
	return out
}

func registration(balance money.Cents) payment.Registration {
	return payment.Registration{CustomerID: "c1", Name: "John Doe", CardNumber: "******7890", Balance: balance}
}

// TestIntegrationAuthorize runs on every backend: the embedded engine
// always, a real replica set when MONGODB_TEST_URI is set.
func TestIntegrationAuthorize(t *testing.T) {
	mongotest.Run(t, testAuthorize)
}

func testAuthorize(t *testing.T, b mongotest.Backend) {
	tests := []struct {
		name       string
		balance    money.Cents
		wantStatus payment.Status
		wantReason string
		wantEvent  string
	}{
		{"balance covers the fee", 10000, payment.StatusAuthorized, "", paymentevents.PaymentAuthorized},
		{"balance equals the fee", 200, payment.StatusAuthorized, "", paymentevents.PaymentAuthorized},
		{"balance below the fee", 100, payment.StatusNotAuthorized, paymentevents.ReasonNoBalanceLeft, paymentevents.PaymentNotAuthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			f := newFixture(t, b)
			p, err := f.svc.Authorize(ctx, registration(tt.balance))
			if err != nil {
				t.Fatal(err)
			}
			if p.Status != tt.wantStatus || p.Reason != tt.wantReason || p.Amount != 200 {
				t.Errorf("payment = %s %q %v, want %s %q 2.00", p.Status, p.Reason, p.Amount, tt.wantStatus, tt.wantReason)
			}
			if got := f.outboxTypes(t); fmt.Sprint(got) != fmt.Sprint([]string{tt.wantEvent}) {
				t.Errorf("outbox = %v, want [%s]", got, tt.wantEvent)
			}
			// A second request for the same registration changes nothing.
			if _, err := f.svc.Authorize(ctx, registration(tt.balance)); !errors.Is(err, payment.ErrAlreadyDecided) {
				t.Errorf("second Authorize: error = %v, want ErrAlreadyDecided", err)
			}
			if got := f.outboxTypes(t); len(got) != 1 {
				t.Errorf("outbox after a repeated request = %v, want one event", got)
			}
		})
	}
}

// TestIntegrationRevert runs on every backend.
func TestIntegrationRevert(t *testing.T) {
	mongotest.Run(t, testRevert)
}

func testRevert(t *testing.T, b mongotest.Backend) {
	ctx := context.Background()
	tests := []struct {
		name         string
		balance      money.Cents // 0: no payment at all
		wantReverted bool
		wantStatus   payment.Status
		wantEvents   []string
	}{
		{"authorized payment is reverted", 10000, true, payment.StatusReverted, []string{paymentevents.PaymentAuthorized, paymentevents.PaymentAuthorizationReverted}},
		{"refused payment stays as it is", 100, false, payment.StatusNotAuthorized, []string{paymentevents.PaymentNotAuthorized}},
		{"no payment yet", 0, false, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, b)
			if tt.balance > 0 {
				if _, err := f.svc.Authorize(ctx, registration(tt.balance)); err != nil {
					t.Fatal(err)
				}
			}
			reverted, err := f.svc.Revert(ctx, "c1", "REGISTRATION_DEAD_LOCK_DETECTED")
			if err != nil || reverted != tt.wantReverted {
				t.Fatalf("Revert = %v, %v; want %v", reverted, err, tt.wantReverted)
			}
			ps, err := f.svc.ForCustomer(ctx, "c1")
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.Status != tt.wantStatus || p.Authorized() {
					t.Errorf("payment %s: status %s authorized %v, want %s and not authorized", p.ID, p.Status, p.Authorized(), tt.wantStatus)
				}
			}
			if got := f.outboxTypes(t); fmt.Sprint(got) != fmt.Sprint(tt.wantEvents) && !(len(got) == 0 && tt.wantEvents == nil) {
				t.Errorf("outbox = %v, want %v", got, tt.wantEvents)
			}
			// Reverting twice is harmless.
			if again, err := f.svc.Revert(ctx, "c1", "REGISTRATION_DEAD_LOCK_DETECTED"); err != nil || again {
				t.Errorf("second Revert = %v, %v; want false, nil", again, err)
			}
		})
	}
}
