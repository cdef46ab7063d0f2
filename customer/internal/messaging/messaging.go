// Package messaging is customer-service's side of the saga on Kafka: it
// consumes payment-service's answers and applies them to registrations, once
// per event (package inbox), in the same transaction as the change.
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

// Interesting lists the event types customer-service handles by default.
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
func (h *Handlers) Routes() map[string]router.Handler {
	return map[string]router.Handler{
		paymentevents.PaymentAuthorized: router.JSON(func(ctx context.Context, m router.Message, p paymentevents.Authorized) error {
			return h.apply(ctx, m, p.CustomerID, func(ctx context.Context) error {
				return h.svc.Approve(ctx, p.CustomerID)
			})
		}),
		paymentevents.PaymentNotAuthorized: router.JSON(func(ctx context.Context, m router.Message, p paymentevents.NotAuthorized) error {
			if p.Reason == "" {
				return router.Permanent(errors.New("payload has no reason"))
			}
			return h.apply(ctx, m, p.CustomerID, func(ctx context.Context) error {
				return h.svc.Reject(ctx, p.CustomerID, p.Reason)
			})
		}),
	}
}

func (h *Handlers) apply(ctx context.Context, m router.Message, customerID string, fn func(context.Context) error) error {
	if customerID == "" {
		return router.Permanent(errors.New("payload has no customerId"))
	}
	err := h.inbox.Consume(ctx, h.tx, m.EventID, m.EventType, fn)
	switch {
	case errors.Is(err, inbox.ErrDuplicate):
		h.log.Info("event already consumed, skipped", "eventId", m.EventID, "eventType", m.EventType)
		return nil
	case errors.Is(err, customer.ErrRegistrationEnded):
		h.log.Info("registration already ended, event ignored", "eventId", m.EventID, "eventType", m.EventType, "customerId", customerID)
		return nil
	case errors.Is(err, customer.ErrNotFound):
		return router.Permanent(err)
	case err != nil:
		return fmt.Errorf("%s %s: %w", m.EventType, m.EventID, err)
	}
	return nil
}
