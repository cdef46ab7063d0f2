package messaging_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/router"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/customerevents/eventstest"
	"github.com/sagaoutbox/platform/payment/internal/messaging"
	"github.com/sagaoutbox/platform/payment/internal/mongostore"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

func setup(t *testing.T) (map[string]router.Handler, *payment.Service, *inbox.Inbox) {
	t.Helper()
	ctx := context.Background()
	client := mongotest.Open(t).Client
	db := client.Database(mongostore.Database)
	store := mongostore.New(client, db)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	svc := payment.NewService(store, 200, payment.Payee{Name: "SOME-COMPANY"}, mongotx.Now, uuid.NewString)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := inbox.Open(db)
	return messaging.New(svc, in, client, log).Routes(), svc, in
}

func message(eventType, eventID string) router.Message {
	return router.Message{EventType: eventType, EventID: eventID, Value: eventstest.Golden(eventType), Timestamp: time.Now()}
}

// TestCustomerEventsFromTheGoldenFiles feeds customer-service's golden Kafka
// values to payment-service's handlers.
func TestCustomerEventsFromTheGoldenFiles(t *testing.T) {
	ctx := context.Background()
	handlers, svc, in := setup(t)
	pending := handlers[customerevents.CustomerPendingRegistration]
	if err := pending(ctx, message(customerevents.CustomerPendingRegistration, "e1")); err != nil {
		t.Fatalf("pending registration: %v", err)
	}
	ps, err := svc.ForCustomer(ctx, eventstest.CustomerID)
	if err != nil || len(ps) != 1 {
		t.Fatalf("payments = %v, %v; want one", ps, err)
	}
	p := ps[0]
	if !p.Authorized() || p.Payer.Name != "John Doe" || p.Payer.CardNumber != "******7890" || p.Amount != 200 {
		t.Errorf("payment = %+v, want authorized 2.00 for John Doe ******7890 (balance 100.00 decoded from the Decimal128 string)", p)
	}

	// The same event again, and another delivery of the same registration
	// under a new event id: neither charges twice nor fails.
	for _, id := range []string{"e1", "e2"} {
		if err := pending(ctx, message(customerevents.CustomerPendingRegistration, id)); err != nil {
			t.Fatalf("redelivery %s: %v", id, err)
		}
	}
	if ps, _ := svc.ForCustomer(ctx, eventstest.CustomerID); len(ps) != 1 {
		t.Fatalf("%d payments after redeliveries, want 1", len(ps))
	}
	// e2, already decided, is acknowledged outside its transaction, which
	// rolled back: it left no consumed-event record.
	for id, want := range map[string]bool{"e1": true, "e2": false} {
		if got, err := in.Seen(ctx, id); err != nil || got != want {
			t.Errorf("Seen(%s) = %v, %v; want %v", id, got, err, want)
		}
	}

	deadLock := handlers[customerevents.CustomerRegistrationDeadLock]
	if err := deadLock(ctx, message(customerevents.CustomerRegistrationDeadLock, "e3")); err != nil {
		t.Fatalf("dead-lock: %v", err)
	}
	if ps, _ := svc.ForCustomer(ctx, eventstest.CustomerID); ps[0].Status != payment.StatusReverted || ps[0].Reason != customerevents.ReasonRegistrationDeadLock {
		t.Errorf("after the dead-lock event: %s (%s), want %s (%s)", ps[0].Status, ps[0].Reason, payment.StatusReverted, customerevents.ReasonRegistrationDeadLock)
	}
}

// TestRevertReasons: the payment records why the registration was failed,
// the dead-lock reason for events that carry none (written before the
// field existed).
func TestRevertReasons(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ reason, want string }{
		{customerevents.ReasonFailedByOperator, customerevents.ReasonFailedByOperator},
		{"", customerevents.ReasonRegistrationDeadLock},
	} {
		handlers, svc, _ := setup(t)
		if err := handlers[customerevents.CustomerPendingRegistration](ctx, message(customerevents.CustomerPendingRegistration, "e1")); err != nil {
			t.Fatal(err)
		}
		m := message(customerevents.CustomerRegistrationDeadLock, "e2")
		m.Value = []byte(`{"customerId":"` + eventstest.CustomerID + `","name":"John Doe","card":{"number":"******7890"}` +
			map[bool]string{true: `,"reason":"` + tc.reason + `"`, false: ""}[tc.reason != ""] + `}`)
		if err := handlers[customerevents.CustomerRegistrationDeadLock](ctx, m); err != nil {
			t.Fatal(err)
		}
		if ps, _ := svc.ForCustomer(ctx, eventstest.CustomerID); ps[0].Status != payment.StatusReverted || ps[0].Reason != tc.want {
			t.Errorf("reason %q: payment %s (%s), want %s (%s)", tc.reason, ps[0].Status, ps[0].Reason, payment.StatusReverted, tc.want)
		}
	}
}

// TestRoutesHandleTheInterestingTypes: the default INTERESTING_EVENTS are
// exactly the types Routes handles.
func TestRoutesHandleTheInterestingTypes(t *testing.T) {
	handlers, _, _ := setup(t)
	if got, want := slices.Sorted(maps.Keys(handlers)), slices.Sorted(slices.Values(messaging.Interesting)); !slices.Equal(got, want) {
		t.Errorf("Routes handles %q, Interesting lists %q", got, want)
	}
}

func TestUndecodableEventsArePermanent(t *testing.T) {
	handlers, _, _ := setup(t)
	for eventType, value := range map[string]string{
		customerevents.CustomerPendingRegistration:  `{"customer":{"id":""}}`,
		customerevents.CustomerRegistrationDeadLock: `[1,2]`,
	} {
		t.Run(eventType, func(t *testing.T) {
			err := handlers[eventType](context.Background(), router.Message{EventType: eventType, EventID: "x", Value: []byte(value)})
			if !router.IsPermanent(err) {
				t.Fatalf("error = %v, want a permanent one (dead-letter)", err)
			}
		})
	}
}
