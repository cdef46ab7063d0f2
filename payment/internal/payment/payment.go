// Package payment is payment-service's core: the authorization fee a new
// customer's card must cover, and reverting it when the registration
// dead-locked. It knows nothing of HTTP, Kafka or MongoDB.
//
// In the registration saga, Authorize is the pivot: its answer, published in
// the same transaction as the payment, decides how the registration ends.
// Revert is the dead-lock cleanup. A customer has at most one payment per
// registration, so a redelivered request cannot charge twice even after its
// consumed-event record was cleaned up.
package payment

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
)

// Status is where a payment stands.
type Status string

// Payment statuses.
const (
	StatusAuthorized    Status = "AUTHORIZED"
	StatusNotAuthorized Status = "NOT_AUTHORIZED"
	StatusReverted      Status = "REVERTED"
)

var (
	// ErrNotFound is returned when a customer has no payment.
	ErrNotFound = errors.New("payment not found")
	// ErrAlreadyDecided is returned by Authorize for a customer whose
	// registration was already answered; nothing was changed.
	ErrAlreadyDecided = errors.New("registration payment already decided")
)

// Payment is the authorization fee payment of one customer registration.
type Payment struct {
	ID         string
	CustomerID string
	Payer      Payer
	Payee      Payee
	Amount     money.Cents
	Status     Status
	Reason     string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Authorized reports whether the payment stands authorized.
func (p Payment) Authorized() bool { return p.Status == StatusAuthorized }

// Payer is the customer paying, with a masked card number.
type Payer struct {
	Name       string
	CardNumber string
}

// Payee is the company paid.
type Payee struct {
	Name        string
	BankAccount string
	BankName    string
}

// Registration is what payment-service learns of a pending registration.
type Registration struct {
	CustomerID string
	Name       string
	CardNumber string // masked
	Balance    money.Cents
}

// Event is a domain event to publish with the change that caused it.
type Event struct {
	Type    string
	Payload any
}

// Store keeps payments; writes and their events commit together.
type Store interface {
	// Create fails with ErrAlreadyDecided when the customer has a payment.
	Create(ctx context.Context, p Payment, events ...Event) error
	// UpdateForCustomer loads the customer's payment, lets fn change it and
	// writes it with fn's events; nothing is written when fn fails or
	// returns no events (a change is written only with the events
	// announcing it). ErrNotFound when there is none.
	UpdateForCustomer(ctx context.Context, customerID string, fn func(p *Payment) ([]Event, error)) error
	ForCustomer(ctx context.Context, customerID string) ([]Payment, error)
}

// Service decides registration payments.
type Service struct {
	store Store
	fee   money.Cents
	payee Payee
	now   func() time.Time
	newID func() string
}

// NewService returns a Service charging fee to payee.
func NewService(store Store, fee money.Cents, payee Payee, now func() time.Time, newID func() string) *Service {
	return &Service{store: store, fee: fee, payee: payee, now: now, newID: newID}
}

// Authorize decides the registration's fee: authorized when the card's
// balance covers it, not authorized (NO_BALANCE_LEFT) otherwise. Either way
// the payment is saved and its answer published.
func (s *Service) Authorize(ctx context.Context, r Registration) (Payment, error) {
	now := s.now()
	p := Payment{
		ID:         s.newID(),
		CustomerID: r.CustomerID,
		Payer:      Payer{Name: r.Name, CardNumber: r.CardNumber},
		Payee:      s.payee,
		Amount:     s.fee,
		Status:     StatusAuthorized,
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	evt := Event{Type: paymentevents.PaymentAuthorized, Payload: paymentevents.Authorized{CustomerID: r.CustomerID, Payment: ToEvent(p)}}
	if r.Balance < s.fee {
		p.Status, p.Reason = StatusNotAuthorized, paymentevents.ReasonNoBalanceLeft
		evt = Event{Type: paymentevents.PaymentNotAuthorized, Payload: paymentevents.NotAuthorized{CustomerID: r.CustomerID, Reason: p.Reason, Payment: ToEvent(p)}}
	}
	if err := s.store.Create(ctx, p, evt); err != nil {
		return Payment{}, fmt.Errorf("authorize customer %s: %w", r.CustomerID, err)
	}
	return p, nil
}

// Revert takes back the authorization of a customer's registration that
// dead-locked. It reports whether there was an authorized payment to revert.
func (s *Service) Revert(ctx context.Context, customerID, reason string) (bool, error) {
	reverted := false
	err := s.store.UpdateForCustomer(ctx, customerID, func(p *Payment) ([]Event, error) {
		reverted = false // fn may run again when a transaction is retried
		if !p.Authorized() {
			return nil, nil
		}
		reverted = true
		p.Status, p.Reason, p.UpdatedAt = StatusReverted, reason, s.now()
		return []Event{{Type: paymentevents.PaymentAuthorizationReverted, Payload: paymentevents.AuthorizationReverted{CustomerID: customerID, Reason: reason, Payment: ToEvent(*p)}}}, nil
	})
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("revert payment of customer %s: %w", customerID, err)
	}
	return reverted, nil
}

// ForCustomer lists a customer's payments.
func (s *Service) ForCustomer(ctx context.Context, customerID string) ([]Payment, error) {
	return s.store.ForCustomer(ctx, customerID)
}

// ToEvent converts a payment to its event representation.
func ToEvent(p Payment) paymentevents.Payment {
	return paymentevents.Payment{
		ID:         p.ID,
		CustomerID: p.CustomerID,
		Payer:      paymentevents.Payer{Name: p.Payer.Name, CardNumber: p.Payer.CardNumber},
		Payee:      paymentevents.Payee{Name: p.Payee.Name, BankAccount: p.Payee.BankAccount, BankName: p.Payee.BankName},
		Amount:     p.Amount,
		Authorized: p.Authorized(),
	}
}
