// Package customer is customer-service's core: customers, their registration
// saga state and the rules that move it. It knows nothing of HTTP, Kafka or
// MongoDB; adapters around it do (web, messaging, mongostore).
//
// The registration is a choreography saga (see the README): Register starts
// it (compensable), payment-service's answer ends it through Approve or
// Reject, and DetectDeadLocks ends registrations nobody answered. A
// registration changes state only while it is REGISTRATION_PENDING (a
// semantic lock), so a late answer cannot undo an ending.
package customer

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/customer/events"
)

// Status is where a customer's registration stands.
type Status string

// Registration statuses.
const (
	StatusPending Status = "REGISTRATION_PENDING"
	StatusSuccess Status = "REGISTRATION_SUCCESS"
	StatusFailed  Status = "REGISTRATION_FAILED"
)

var (
	// ErrNotFound is returned for a customer id that does not exist.
	ErrNotFound = errors.New("customer not found")
	// ErrRegistrationEnded is returned when an answer arrives for a
	// registration that is no longer pending; nothing was changed.
	ErrRegistrationEnded = errors.New("registration already ended")
)

// Customer is a registered or registering customer.
type Customer struct {
	ID            string
	FirstName     string
	LastName      string
	Card          Card
	Status        Status
	FailureReason string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Name is the customer's full name.
func (c Customer) Name() string { return c.FirstName + " " + c.LastName }

// Card is what the platform keeps of a payment card: never its full number
// or its CVV.
type Card struct {
	Last4      string
	HolderName string
	ValidThru  string
	Balance    money.Cents
}

// MaskedNumber shows only the last four digits.
func (c Card) MaskedNumber() string { return "******" + c.Last4 }

// Registration is a request to register, as received. The card number and
// CVV are checked here and go no further.
type Registration struct {
	FirstName string
	LastName  string
	Card      CardInput
}

// CardInput is a card as typed in. Balance is a decimal string.
type CardInput struct {
	Number     string
	HolderName string
	CVV        string
	ValidThru  string
	Balance    string
}

var (
	digits    = regexp.MustCompile(`^[0-9]+$`)
	validThru = regexp.MustCompile(`^\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?$`)
)

const maxNameLen = 100

// validate checks a registration and returns the card to keep. Field names
// are the API's JSON paths.
func (r Registration) validate() (Card, error) {
	var errs validation.Errors
	name := func(field, v string) {
		switch {
		case strings.TrimSpace(v) == "":
			errs.Add(field, "is required")
		case utf8.RuneCountInString(v) > maxNameLen:
			errs.Add(field, "must be at most %d characters", maxNameLen)
		}
	}
	name("firstName", r.FirstName)
	name("lastName", r.LastName)
	name("card.holderName", r.Card.HolderName)

	number := strings.NewReplacer(" ", "", "-", "").Replace(r.Card.Number)
	switch {
	case number == "":
		errs.Add("card.number", "is required")
	case !digits.MatchString(number) || len(number) < 8 || len(number) > 19:
		errs.Add("card.number", "must be 8 to 19 digits")
	}
	switch {
	case r.Card.CVV == "":
		errs.Add("card.cvv", "is required")
	case !digits.MatchString(r.Card.CVV) || len(r.Card.CVV) < 3 || len(r.Card.CVV) > 4:
		errs.Add("card.cvv", "must be 3 or 4 digits")
	}
	switch {
	case r.Card.ValidThru == "":
		errs.Add("card.validThru", "is required")
	case !validThru.MatchString(r.Card.ValidThru):
		errs.Add("card.validThru", "must be a date such as 2027-05 or 2027-05-31")
	}
	var balance money.Cents
	if r.Card.Balance == "" {
		errs.Add("card.balance", "is required")
	} else if b, err := money.Parse(r.Card.Balance); err != nil {
		errs.Add("card.balance", "must be a number with at most two decimals")
	} else if b < 0 {
		errs.Add("card.balance", "must not be negative")
	} else {
		balance = b
	}
	if err := errs.Err(); err != nil {
		return Card{}, err
	}
	return Card{
		Last4:      number[len(number)-4:],
		HolderName: strings.TrimSpace(r.Card.HolderName),
		ValidThru:  r.Card.ValidThru,
		Balance:    balance,
	}, nil
}

// Event is a domain event to publish with the change that caused it.
type Event struct {
	Type    string
	Payload any
}

// Store keeps customers. Create and Update write the customer and its events
// in one transaction.
type Store interface {
	Create(ctx context.Context, c Customer, events ...Event) error
	// Update loads the customer, lets fn change it and returns fn's events;
	// nothing is written when fn fails. ErrNotFound when id does not exist.
	Update(ctx context.Context, id string, fn func(c *Customer) ([]Event, error)) error
	Get(ctx context.Context, id string) (Customer, error)
	// PendingSince lists ids of registrations pending since before t.
	PendingSince(ctx context.Context, t time.Time) ([]string, error)
}

// Service runs the registration saga's customer side.
type Service struct {
	store Store
	now   func() time.Time
	newID func() string
}

// NewService returns a Service. now and newID are the clock and id source.
func NewService(store Store, now func() time.Time, newID func() string) *Service {
	return &Service{store: store, now: now, newID: newID}
}

// Register starts a registration: the customer is saved pending and
// CustomerPendingRegistrationEvent is published with it.
func (s *Service) Register(ctx context.Context, r Registration) (Customer, error) {
	card, err := r.validate()
	if err != nil {
		return Customer{}, err
	}
	now := s.now()
	c := Customer{
		ID:        s.newID(),
		FirstName: strings.TrimSpace(r.FirstName),
		LastName:  strings.TrimSpace(r.LastName),
		Card:      card,
		Status:    StatusPending,
		CreatedAt: now,
		UpdatedAt: now,
	}
	evt := Event{Type: events.CustomerPendingRegistration, Payload: events.PendingRegistration{Customer: ToEvent(c)}}
	if err := s.store.Create(ctx, c, evt); err != nil {
		return Customer{}, fmt.Errorf("register customer: %w", err)
	}
	return c, nil
}

// Get returns a customer.
func (s *Service) Get(ctx context.Context, id string) (Customer, error) {
	return s.store.Get(ctx, id)
}

// Approve ends a pending registration successfully (payment authorized).
func (s *Service) Approve(ctx context.Context, id string) error {
	return s.store.Update(ctx, id, func(c *Customer) ([]Event, error) {
		if c.Status != StatusPending {
			return nil, ErrRegistrationEnded
		}
		c.Status, c.UpdatedAt = StatusSuccess, s.now()
		return []Event{{Type: events.CustomerRegistered, Payload: events.Registered{Customer: ToEvent(*c)}}}, nil
	})
}

// Reject fails a pending registration with a reason (payment not authorized).
func (s *Service) Reject(ctx context.Context, id, reason string) error {
	return s.store.Update(ctx, id, func(c *Customer) ([]Event, error) {
		if c.Status != StatusPending {
			return nil, ErrRegistrationEnded
		}
		return s.fail(c, reason), nil
	})
}

func (s *Service) fail(c *Customer, reason string) []Event {
	c.Status, c.FailureReason, c.UpdatedAt = StatusFailed, reason, s.now()
	return []Event{{Type: events.CustomerNotRegistered, Payload: events.NotRegistered{Customer: ToEvent(*c), Reason: reason}}}
}

// DetectDeadLocks fails registrations pending for longer than timeout and
// asks payment-service to revert what it did for them. It returns how many
// it failed.
func (s *Service) DetectDeadLocks(ctx context.Context, timeout time.Duration) (int, error) {
	ids, err := s.store.PendingSince(ctx, s.now().Add(-timeout))
	if err != nil {
		return 0, fmt.Errorf("find pending registrations: %w", err)
	}
	failed := 0
	for _, id := range ids {
		err := s.store.Update(ctx, id, func(c *Customer) ([]Event, error) {
			if c.Status != StatusPending {
				return nil, ErrRegistrationEnded // answered since the query
			}
			evts := s.fail(c, events.ReasonRegistrationDeadLock)
			dl := events.RegistrationDeadLock{CustomerID: c.ID, Name: c.Name(), Card: ToEvent(*c).Card}
			return append(evts, Event{Type: events.CustomerRegistrationDeadLock, Payload: dl}), nil
		})
		switch {
		case errors.Is(err, ErrRegistrationEnded):
		case err != nil:
			return failed, fmt.Errorf("fail dead-locked registration %s: %w", id, err)
		default:
			failed++
		}
	}
	return failed, nil
}

// ToEvent converts a customer to its event representation.
func ToEvent(c Customer) events.Customer {
	return events.Customer{
		ID:        c.ID,
		FirstName: c.FirstName,
		LastName:  c.LastName,
		Card: events.Card{
			Number:     c.Card.MaskedNumber(),
			HolderName: c.Card.HolderName,
			ValidThru:  c.Card.ValidThru,
			Balance:    c.Card.Balance,
		},
		Status:        string(c.Status),
		FailureReason: c.FailureReason,
	}
}
