// Package messaging is payment-service's side of the saga on Kafka: it
// consumes customer-service's events, decides the registration fee and runs
// the dead-lock cleanup, once per event (inbox.ConsumeOnce), in the same
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

// Interesting is INTERESTING_EVENTS's default: every event type payment-service
// handles, the keys of Routes (a test checks they agree). It is a list of
// its own because the configuration is read before the handlers exist.
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
// Each applies its event once (inbox.ConsumeOnce) and then maps the
// outcome (outcome).
func (h *Handlers) Routes() map[string]router.Handler {
	once := inbox.ConsumeOnce(h.inbox, h.tx, nil, h.log) // customer events are keyed by the customer
	return map[string]router.Handler{
		customerevents.CustomerPendingRegistration: h.outcome(once(router.JSON(func(ctx context.Context, m router.Message, p customerevents.PendingRegistration) error {
			c := p.Customer
			if c.ID == "" {
				return router.Permanent(errors.New("payload has no customer.id"))
			}
			decided, err := h.svc.Authorize(ctx, payment.Registration{
				CustomerID: c.ID,
				Name:       c.FirstName + " " + c.LastName,
				CardNumber: c.Card.Number,
				Balance:    c.Card.Balance,
			})
			if err == nil {
				h.log.InfoContext(ctx, "registration payment decided", "customerId", c.ID, "status", decided.Status, "reason", decided.Reason)
			}
			return err
		}))),
		customerevents.CustomerRegistrationDeadLock: h.outcome(once(router.JSON(func(ctx context.Context, m router.Message, p customerevents.RegistrationDeadLock) error {
			if p.CustomerID == "" {
				return router.Permanent(errors.New("payload has no customerId"))
			}
			reverted, err := h.svc.Revert(ctx, p.CustomerID, p.RevertReason())
			if err == nil {
				h.log.InfoContext(ctx, "dead-locked registration cleaned up", "customerId", p.CustomerID, "reverted", reverted)
			}
			return err
		}))),
	}
}

// outcome maps what applying an event returned, outside its transaction so
// that an event acknowledged without effect writes nothing: a registration
// whose payment was decided before is ignored, any other failure is retried.
func (h *Handlers) outcome(next router.Handler) router.Handler {
	return func(ctx context.Context, m router.Message) error {
		err := next(ctx, m)
		switch {
		case err == nil, router.IsPermanent(err):
			return err
		case errors.Is(err, payment.ErrAlreadyDecided):
			h.log.InfoContext(ctx, "registration payment already decided, event ignored", "eventId", m.EventID, "eventType", m.EventType)
			return nil
		}
		return fmt.Errorf("%s %s: %w", m.EventType, m.EventID, err)
	}
}
