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
	"unicode"
	"unicode/utf8"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
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
	// decimal is a plain decimal number: no exponent, no sign but minus.
	decimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)
	// exponent is a number in scientific notation, as JSON allows (1e2).
	exponent = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?[eE][+-]?[0-9]+$`)
)

const maxNameLen = 100

// MaxBalance is the largest card balance accepted: a trillion, far above
// any real card, and small enough that every amount up to it is exact to
// the cent as a JSON number in a float64 (JavaScript) client.
const MaxBalance = money.Cents(1_000_000_000_000_00)

// validate checks a registration and returns the card to keep. Field names
// are the API's JSON paths.
func (r Registration) validate() (Card, error) {
	var errs validation.Errors
	name := func(field, v string) {
		if problem := nameProblem(v); problem != "" {
			errs.Add(field, "%s", problem)
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
	case len(r.Card.ValidThru) == len("2006-01-02") && !realDate(r.Card.ValidThru):
		errs.Add("card.validThru", "is not a real date (%s has no day %s)", r.Card.ValidThru[:7], r.Card.ValidThru[8:])
	}
	balance, problem := parseBalance(r.Card.Balance)
	if problem != "" {
		errs.Add("card.balance", "%s", problem)
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

// nameProblem says what is wrong with a name, or "" when nothing is. A
// name is stored, published and shown as the payer's name, so it may not
// carry control characters (NUL, line breaks), bidirectional overrides
// that make text display in another order, or other invisible formatting;
// and it must show something: one made of spaces or invisible characters
// alone is no name. The zero-width joiner and non-joiner are allowed
// inside a name: several scripts need them.
func nameProblem(v string) string {
	visible := false
	for _, r := range v {
		if forbiddenInName(r) {
			return fmt.Sprintf("must not contain control or invisible formatting characters (found %U)", r)
		}
		if (unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)) &&
			!unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r) {
			visible = true
		}
	}
	switch {
	case !visible:
		return "is required"
	case utf8.RuneCountInString(v) > maxNameLen:
		return fmt.Sprintf("must be at most %d characters", maxNameLen)
	}
	return ""
}

const (
	zeroWidthNonJoiner = '\u200C'
	zeroWidthJoiner    = '\u200D'
)

// forbiddenInName: control characters (Cc), format characters (Cf: the
// bidirectional controls U+202A-U+202E and U+2066-U+2069, marks such as
// U+200E, zero-width space U+200B, the byte-order mark), line and paragraph
// separators, private-use and surrogate code points, noncharacters, and
// U+FFFD, which the JSON decoder puts where the body was not valid UTF-8.
func forbiddenInName(r rune) bool {
	switch {
	case r == zeroWidthNonJoiner || r == zeroWidthJoiner:
		return false
	case r == utf8.RuneError:
		return true
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
		return true // noncharacters
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co, unicode.Cs)
}

// realDate reports whether a YYYY-MM-DD date exists (2030-02-30 does not).
func realDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// parseBalance reads the card balance, a plain decimal such as 100 or
// 100.50 (the JSON number as written), or says precisely what is wrong.
func parseBalance(s string) (money.Cents, string) {
	if s == "" {
		return 0, "is required"
	}
	if exponent.MatchString(s) {
		return 0, "must be written without an exponent, such as 100 or 100.50"
	}
	if !decimal.MatchString(s) {
		return 0, "must be a number such as 100 or 100.50"
	}
	unsigned := strings.TrimPrefix(s, "-")
	if unsigned != s && strings.Trim(unsigned, "0.") != "" {
		return 0, "must not be negative"
	}
	whole, frac, _ := strings.Cut(unsigned, ".")
	if len(frac) > 2 {
		return 0, "must have at most two decimals"
	}
	// Compared as text first: a long number would overflow money.Cents.
	maxWhole := strings.TrimSuffix(MaxBalance.String(), ".00")
	if w := strings.TrimLeft(whole, "0"); len(w) > len(maxWhole) {
		return 0, "must be at most " + MaxBalance.String()
	}
	c, err := money.Parse(unsigned)
	if err != nil {
		return 0, "must be a number such as 100 or 100.50"
	}
	if c > MaxBalance {
		return 0, "must be at most " + MaxBalance.String()
	}
	return c, ""
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
	// Update loads the customer, lets fn change it and writes the change
	// with fn's events; nothing is written when fn fails or returns no
	// events (a change is written only with the events announcing it).
	// ErrNotFound when id does not exist.
	Update(ctx context.Context, id string, fn func(c *Customer) ([]Event, error)) error
	Get(ctx context.Context, id string) (Customer, error)
	// PendingSince lists ids of registrations pending since before t.
	PendingSince(ctx context.Context, t time.Time) ([]string, error)
	// List returns registrations matching q, newest first (by CreatedAt,
	// then ID), at most q.Limit.
	List(ctx context.Context, q Query) ([]Customer, error)
}

// Query selects registrations for operators.
type Query struct {
	// Status selects one status; empty selects all.
	Status Status
	// CreatedBefore, when set, selects registrations created before it.
	CreatedBefore time.Time
	// After, when set, continues a listing after that registration.
	After *Cursor
	Limit int
}

// Cursor is a position in a listing: the last registration of a page.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Awaited is what a pending registration waits for.
const Awaited = paymentevents.PaymentAuthorized + "|" + paymentevents.PaymentNotAuthorized + " from payment-service"

// Service runs the registration saga's customer side.
type Service struct {
	store           Store
	deadLockTimeout time.Duration
	now             func() time.Time
	newID           func() string
}

// NewService returns a Service. A registration still pending deadLockTimeout
// after it started is failed as dead-locked (DetectDeadLocks); now and newID
// are the clock and id source.
func NewService(store Store, deadLockTimeout time.Duration, now func() time.Time, newID func() string) *Service {
	return &Service{store: store, deadLockTimeout: deadLockTimeout, now: now, newID: newID}
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
	evt := Event{Type: customerevents.CustomerPendingRegistration, Payload: customerevents.PendingRegistration{Customer: ToEvent(c)}}
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
		return []Event{{Type: customerevents.CustomerRegistered, Payload: customerevents.Registered{Customer: ToEvent(*c)}}}, nil
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
	return []Event{{Type: customerevents.CustomerNotRegistered, Payload: customerevents.NotRegistered{Customer: ToEvent(*c), Reason: reason}}}
}

// DeadLockAt is when DetectDeadLocks fails c if it is still pending then, at
// the earliest (the detection runs periodically).
func (s *Service) DeadLockAt(c Customer) time.Time { return c.CreatedAt.Add(s.deadLockTimeout) }

// Registrations lists registrations for operators (Store.List).
func (s *Service) Registrations(ctx context.Context, q Query) ([]Customer, error) {
	return s.store.List(ctx, q)
}

// failDeadLocked ends a pending registration as dead-locked, for reason:
// failed, and payment-service asked to revert what it did for it.
func (s *Service) failDeadLocked(c *Customer, reason string) []Event {
	evts := s.fail(c, reason)
	dl := customerevents.RegistrationDeadLock{CustomerID: c.ID, Name: c.Name(), Card: ToEvent(*c).Card, Reason: reason}
	return append(evts, Event{Type: customerevents.CustomerRegistrationDeadLock, Payload: dl})
}

// FailByOperator ends a pending registration now, the way DetectDeadLocks
// would, with reason customerevents.ReasonFailedByOperator. Calling it again
// for a registration it ended changes nothing and returns it; for one that
// ended otherwise it returns ErrRegistrationEnded.
func (s *Service) FailByOperator(ctx context.Context, id string) (Customer, error) {
	var ended Customer
	err := s.store.Update(ctx, id, func(c *Customer) ([]Event, error) {
		ended = *c
		switch {
		case c.Status == StatusFailed && c.FailureReason == customerevents.ReasonFailedByOperator:
			return nil, nil // done before: nothing to write
		case c.Status != StatusPending:
			return nil, ErrRegistrationEnded
		}
		evts := s.failDeadLocked(c, customerevents.ReasonFailedByOperator)
		ended = *c
		return evts, nil
	})
	if err != nil {
		return Customer{}, err
	}
	return ended, nil
}

// DetectDeadLocks fails registrations pending for longer than the dead-lock
// timeout and asks payment-service to revert what it did for them. It
// returns how many it failed.
func (s *Service) DetectDeadLocks(ctx context.Context) (int, error) {
	ids, err := s.store.PendingSince(ctx, s.now().Add(-s.deadLockTimeout))
	if err != nil {
		return 0, fmt.Errorf("find pending registrations: %w", err)
	}
	failed := 0
	for _, id := range ids {
		err := s.store.Update(ctx, id, func(c *Customer) ([]Event, error) {
			if c.Status != StatusPending {
				return nil, ErrRegistrationEnded // answered since the query
			}
			return s.failDeadLocked(c, customerevents.ReasonRegistrationDeadLock), nil
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
func ToEvent(c Customer) customerevents.Customer {
	return customerevents.Customer{
		ID:        c.ID,
		FirstName: c.FirstName,
		LastName:  c.LastName,
		Card: customerevents.Card{
			Number:     c.Card.MaskedNumber(),
			HolderName: c.Card.HolderName,
			ValidThru:  c.Card.ValidThru,
			Balance:    c.Card.Balance,
		},
		Status:        string(c.Status),
		FailureReason: c.FailureReason,
	}
}
