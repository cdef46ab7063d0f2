// Package messaging is payment-service's side of the saga on Kafka: it
// consumes customer-service's events, decides the registration fee and runs
// the dead-lock cleanup, once per event (package inbox), in the same
// transaction as the change.
package messaging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/router"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

// Interesting lists the event types payment-service handles by default.
var Interesting = []string{customerevents.CustomerPendingRegistration, customerevents.CustomerRegistrationDeadLock}

// Handlers applies customer events to the payment service.
type Handlers struct {
	svc   *payment.Service
	inbox *inbox.Inbox
	tx    inbox.Transactor
	log   *slog.Logger
}

// New returns the handlers.
func New(svc *payment.Service, in *inbox.Inbox, tx inbox.Transactor, log *slog.Logger) *Handlers {
	return &Handlers{svc: svc, inbox: in, tx: tx, log: log}
}

// Routes returns the handler of every event type payment-service knows.
func (h *Handlers) Routes() map[string]router.Handler {
	return map[string]router.Handler{
		customerevents.CustomerPendingRegistration: router.JSON(func(ctx context.Context, m router.Message, p customerevents.PendingRegistration) error {
			c := p.Customer
			if c.ID == "" {
				return router.Permanent(errors.New("payload has no customer.id"))
			}
			reg := payment.Registration{
				CustomerID: c.ID,
				Name:       c.FirstName + " " + c.LastName,
				CardNumber: c.Card.Number,
				Balance:    c.Card.Balance,
			}
			return h.apply(ctx, m, func(ctx context.Context) error {
				p, err := h.svc.Authorize(ctx, reg)
				if err == nil {
					h.log.Info("registration payment decided", "customerId", c.ID, "status", p.Status, "reason", p.Reason)
				}
				return err
			})
		}),
		customerevents.CustomerRegistrationDeadLock: router.JSON(func(ctx context.Context, m router.Message, p customerevents.RegistrationDeadLock) error {
			if p.CustomerID == "" {
				return router.Permanent(errors.New("payload has no customerId"))
			}
			return h.apply(ctx, m, func(ctx context.Context) error {
				reverted, err := h.svc.Revert(ctx, p.CustomerID, customerevents.ReasonRegistrationDeadLock)
				if err == nil {
					h.log.Info("dead-locked registration cleaned up", "customerId", p.CustomerID, "reverted", reverted)
				}
				return err
			})
		}),
	}
}

func (h *Handlers) apply(ctx context.Context, m router.Message, fn func(context.Context) error) error {
	err := h.inbox.Consume(ctx, h.tx, m.EventID, m.EventType, fn)
	switch {
	case errors.Is(err, inbox.ErrDuplicate):
		h.log.Info("event already consumed, skipped", "eventId", m.EventID, "eventType", m.EventType)
		return nil
	case errors.Is(err, payment.ErrAlreadyDecided):
		h.log.Info("registration payment already decided, event ignored", "eventId", m.EventID, "eventType", m.EventType)
		return nil
	case err != nil:
		return fmt.Errorf("%s %s: %w", m.EventType, m.EventID, err)
	}
	return nil
}
