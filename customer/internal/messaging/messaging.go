// Package messaging is customer-service's side of the saga on Kafka: it
// consumes payment-service's answers and applies them to registrations, once
// per event (inbox.ConsumeOnce), in the same transaction as the change.
package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/router"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
)

// Interesting is INTERESTING_EVENTS's default: every event type customer-service
// handles, the keys of Routes (a test checks they agree). It is a list of
// its own because the configuration is read before the handlers exist.
var Interesting = []string{paymentevents.PaymentAuthorized, paymentevents.PaymentNotAuthorized}

// Handlers applies payment events to the customer service.
type Handlers struct {
	svc   *customer.Service
	inbox *inbox.Inbox
	tx    inbox.Transactor
	log   *slog.Logger
}

// New returns the handlers.
func New(svc *customer.Service, in *inbox.Inbox, tx inbox.Transactor, log *slog.Logger) *Handlers {
	return &Handlers{svc: svc, inbox: in, tx: tx, log: log}
}

// Routes returns the handler of every event type customer-service knows.
// Each applies its event once (inbox.ConsumeOnce) and then maps the
// outcome (outcome).
func (h *Handlers) Routes() map[string]router.Handler {
	// Payment events are keyed by the payment: record the customer.
	once := inbox.ConsumeOnce(h.inbox, h.tx, func(m router.Message) string { return paymentevents.CustomerIDOf(m.Value) }, h.log)
	return map[string]router.Handler{
		paymentevents.PaymentAuthorized: h.outcome(once(router.JSON(func(ctx context.Context, m router.Message, p paymentevents.Authorized) error {
			if p.CustomerID == "" {
				return router.Permanent(errors.New("payload has no customerId"))
			}
			return h.svc.Approve(ctx, p.CustomerID)
		}))),
		paymentevents.PaymentNotAuthorized: h.outcome(once(router.JSON(func(ctx context.Context, m router.Message, p paymentevents.NotAuthorized) error {
			switch {
			case p.CustomerID == "":
				return router.Permanent(errors.New("payload has no customerId"))
			case p.Reason == "":
				return router.Permanent(errors.New("payload has no reason"))
			}
			return h.svc.Reject(ctx, p.CustomerID, p.Reason)
		}))),
	}
}

// outcome maps what applying an event returned, outside its transaction so
// that an event acknowledged without effect writes nothing: an answer for a
// registration that already ended is ignored, one for an unknown customer
// is dead-lettered, any other failure is retried.
func (h *Handlers) outcome(next router.Handler) router.Handler {
	return func(ctx context.Context, m router.Message) error {
		err := next(ctx, m)
		switch {
		case err == nil, router.IsPermanent(err):
			return err
		case errors.Is(err, customer.ErrRegistrationEnded):
			h.log.InfoContext(ctx, "registration already ended, event ignored", "eventId", m.EventID, "eventType", m.EventType)
			return nil
		case errors.Is(err, customer.ErrNotFound):
			return router.Permanent(err)
		}
		return fmt.Errorf("%s %s: %w", m.EventType, m.EventID, err)
	}
}
