package messaging_test

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/router"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents/eventstest"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/messaging"
	"github.com/sagaoutbox/platform/customer/internal/mongostore"
)

// setup registers the customer the payment golden files are about.
func setup(t *testing.T) (map[string]router.Handler, *customer.Service, *inbox.Inbox) {
	t.Helper()
	ctx := context.Background()
	client := mongotest.Open(t).Client
	db := client.Database(mongostore.Database)
	store := mongostore.New(client, db)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	svc := customer.NewService(store, 5*time.Minute, mongotx.Now, func() string { return eventstest.CustomerID })
	_, err := svc.Register(ctx, customer.Registration{FirstName: "John", LastName: "Doe",
		Card: customer.CardInput{Number: "1234567890", HolderName: "John Doe", CVV: "120", ValidThru: "2024-05-04", Balance: "100"}})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	in := inbox.Open(db)
	return messaging.New(svc, in, client, log).Routes(), svc, in
}

func message(eventType, eventID string) router.Message {
	return router.Message{EventType: eventType, EventID: eventID, Value: eventstest.Golden(eventType)}
}

// TestPaymentEventsFromTheGoldenFiles feeds payment-service's golden Kafka
// values to customer-service's handlers.
func TestPaymentEventsFromTheGoldenFiles(t *testing.T) {
	tests := []struct {
		eventType  string
		wantStatus customer.Status
		wantReason string
	}{
		{paymentevents.PaymentAuthorized, customer.StatusSuccess, ""},
		{paymentevents.PaymentNotAuthorized, customer.StatusFailed, paymentevents.ReasonNoBalanceLeft},
	}
	for _, tt := range tests {
		t.Run(tt.eventType, func(t *testing.T) {
			ctx := context.Background()
			handlers, svc, in := setup(t)
			h := handlers[tt.eventType]
			for _, id := range []string{"e1", "e1", "e2"} { // e1 redelivered; e2 a late answer
				if err := h(ctx, message(tt.eventType, id)); err != nil {
					t.Fatalf("delivery %s: %v", id, err)
				}
			}
			// The late answer is acknowledged outside its transaction,
			// which rolled back: it left no consumed-event record.
			for id, want := range map[string]bool{"e1": true, "e2": false} {
				if got, err := in.Seen(ctx, id); err != nil || got != want {
					t.Errorf("Seen(%s) = %v, %v; want %v", id, got, err, want)
				}
			}
			c, err := svc.Get(ctx, eventstest.CustomerID)
			if err != nil {
				t.Fatal(err)
			}
			if c.Status != tt.wantStatus || c.FailureReason != tt.wantReason {
				t.Errorf("customer = %s (%q), want %s (%q)", c.Status, c.FailureReason, tt.wantStatus, tt.wantReason)
			}
		})
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

func TestUnknownCustomerIsPermanent(t *testing.T) {
	handlers, _, _ := setup(t)
	err := handlers[paymentevents.PaymentAuthorized](context.Background(), router.Message{
		EventType: paymentevents.PaymentAuthorized, EventID: "x", Value: []byte(`{"customerId":"nobody","payment":{}}`)})
	if !router.IsPermanent(err) {
		t.Fatalf("error = %v, want a permanent one (dead-letter)", err)
	}
}
