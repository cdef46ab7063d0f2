package customer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/mongostore"
)

type fixture struct {
	svc    *customer.Service
	client *mongotx.Client
	db     lungo.IDatabase
	dir    string
	now    time.Time
}

// newFixture returns a service on a store of backend b (mongotest.Open's
// embedded engine when b is nil).
func newFixture(t *testing.T, b *mongotest.Backend) *fixture {
	t.Helper()
	ctx := context.Background()
	var s *mongotest.Store
	if b == nil {
		s = mongotest.Open(t)
	} else {
		s = b.Open(t)
	}
	store := mongostore.New(s.Client, s.DB)
	if err := store.EnsureIndexes(ctx); err != nil {
		t.Fatal(err)
	}
	f := &fixture{client: s.Client, db: s.DB, dir: s.Dir, now: time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)}
	n := 0
	f.svc = customer.NewService(store, 5*time.Minute, func() time.Time { return f.now }, func() string { n++; return fmt.Sprintf("c%d", n) })
	return f
}

// outbox returns the events in the outbox, oldest first.
func (f *fixture) outbox(t *testing.T) []bson.M {
	t.Helper()
	ctx := context.Background()
	cur, err := f.db.Collection(mongostore.OutboxCollection).Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []bson.M
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	return docs
}

func types(docs []bson.M) []string {
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d["type"].(string)
	}
	return out
}

// blueprint is the blueprint's example request, as people will paste it.
func blueprint() customer.Registration {
	return customer.Registration{
		FirstName: "John",
		LastName:  "Doe",
		Card:      customer.CardInput{Number: "1234567890", HolderName: "John Doe", CVV: "120", ValidThru: "2024-05-04", Balance: "100"},
	}
}

func TestRegisterValidates(t *testing.T) {
	tests := []struct {
		name       string
		change     func(r *customer.Registration)
		wantFields []string
	}{
		{"blueprint example", func(*customer.Registration) {}, nil},
		{"card with spaces and a 4-digit cvv", func(r *customer.Registration) {
			r.Card.Number, r.Card.CVV, r.Card.ValidThru, r.Card.Balance = "4111 1111 1111 1111", "1234", "2030-01", "1.5"
		}, nil},
		{"everything missing", func(r *customer.Registration) { *r = customer.Registration{} },
			[]string{"firstName", "lastName", "card.holderName", "card.number", "card.cvv", "card.validThru", "card.balance"}},
		{"bad card values", func(r *customer.Registration) {
			r.Card.Number, r.Card.CVV, r.Card.ValidThru, r.Card.Balance = "12ab", "12", "05/24", "-1"
		}, []string{"card.number", "card.cvv", "card.validThru", "card.balance"}},
		{"too many decimals", func(r *customer.Registration) { r.Card.Balance = "1.005" }, []string{"card.balance"}},
		{"number too long", func(r *customer.Registration) { r.Card.Number = "12345678901234567890" }, []string{"card.number"}},
		{"name too long", func(r *customer.Registration) { r.FirstName = string(bytes.Repeat([]byte("a"), 101)) }, []string{"firstName"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := blueprint()
			tt.change(&r)
			c, err := f.svc.Register(context.Background(), r)
			var fields validation.Errors
			errors.As(err, &fields)
			var got []string
			for _, fe := range fields {
				got = append(got, fe.Field)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantFields) {
				t.Fatalf("invalid fields = %v, want %v (err %v)", got, tt.wantFields, err)
			}
			if tt.wantFields == nil && c.Status != customer.StatusPending {
				t.Fatalf("status = %s, want %s", c.Status, customer.StatusPending)
			}
			if tt.wantFields != nil && len(f.outbox(t)) != 0 {
				t.Fatal("a rejected registration wrote to the outbox")
			}
		})
	}
}

// TestRegisterSaysPreciselyWhatIsWrong: one bad field per case, and the
// message the API shows for it.
func TestRegisterSaysPreciselyWhatIsWrong(t *testing.T) {
	tests := []struct {
		name        string
		change      func(r *customer.Registration)
		wantField   string
		wantMessage string
	}{
		{"exponent", func(r *customer.Registration) { r.Card.Balance = "1e2" }, "card.balance", "must be written without an exponent, such as 100 or 100.50"},
		{"negative exponent", func(r *customer.Registration) { r.Card.Balance = "1E-2" }, "card.balance", "must be written without an exponent, such as 100 or 100.50"},
		{"too large", func(r *customer.Registration) { r.Card.Balance = "1000000000000000000" }, "card.balance", "must be at most 1000000000000.00"},
		{"just above the limit", func(r *customer.Registration) { r.Card.Balance = "1000000000000.01" }, "card.balance", "must be at most 1000000000000.00"},
		{"too large to count", func(r *customer.Registration) { r.Card.Balance = "99999999999999999999999999" }, "card.balance", "must be at most 1000000000000.00"},
		{"three decimals", func(r *customer.Registration) { r.Card.Balance = "1.005" }, "card.balance", "must have at most two decimals"},
		{"negative", func(r *customer.Registration) { r.Card.Balance = "-1" }, "card.balance", "must not be negative"},
		{"not a number", func(r *customer.Registration) { r.Card.Balance = "ten" }, "card.balance", "must be a number such as 100 or 100.50"},
		{"february 30th", func(r *customer.Registration) { r.Card.ValidThru = "2030-02-30" }, "card.validThru", "is not a real date (2030-02 has no day 30)"},
		{"april 31st", func(r *customer.Registration) { r.Card.ValidThru = "2030-04-31" }, "card.validThru", "is not a real date (2030-04 has no day 31)"},
		{"february 29th of a common year", func(r *customer.Registration) { r.Card.ValidThru = "2027-02-29" }, "card.validThru", "is not a real date (2027-02 has no day 29)"},
		{"zero-width spaces only", func(r *customer.Registration) { r.FirstName = "\u200b\u200b" }, "firstName", "must not contain control or invisible formatting characters (found U+200B)"},
		{"hangul fillers only", func(r *customer.Registration) { r.LastName = "\u3164\u3164" }, "lastName", "is required"},
		{"spaces only", func(r *customer.Registration) { r.LastName = " \u00a0 " }, "lastName", "is required"},
		{"nul", func(r *customer.Registration) { r.Card.HolderName = "John\u0000Doe" }, "card.holderName", "must not contain control or invisible formatting characters (found U+0000)"},
		{"newline", func(r *customer.Registration) { r.FirstName = "John\nDoe" }, "firstName", "must not contain control or invisible formatting characters (found U+000A)"},
		{"right-to-left override", func(r *customer.Registration) { r.Card.HolderName = "John \u202eeoD" }, "card.holderName", "must not contain control or invisible formatting characters (found U+202E)"},
		{"right-to-left isolate", func(r *customer.Registration) { r.LastName = "\u2067Doe" }, "lastName", "must not contain control or invisible formatting characters (found U+2067)"},
		{"byte-order mark", func(r *customer.Registration) { r.FirstName = "\ufeffJohn" }, "firstName", "must not contain control or invisible formatting characters (found U+FEFF)"},
		{"invalid utf-8, decoded as U+FFFD", func(r *customer.Registration) { r.FirstName = "Jo\ufffdn" }, "firstName", "must not contain control or invisible formatting characters (found U+FFFD)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := blueprint()
			tt.change(&r)
			_, err := f.svc.Register(context.Background(), r)
			var fields validation.Errors
			errors.As(err, &fields)
			want := validation.Errors{{Field: tt.wantField, Message: tt.wantMessage}}
			if fmt.Sprint(fields) != fmt.Sprint(want) {
				t.Fatalf("got %v, want %v (err %v)", fields, want, err)
			}
		})
	}
}

// TestRegisterAccepts: values at the edges that are valid.
func TestRegisterAccepts(t *testing.T) {
	tests := []struct {
		name   string
		change func(r *customer.Registration)
	}{
		{"the largest balance", func(r *customer.Registration) { r.Card.Balance = "1000000000000.00" }},
		{"a zero balance with leading zeros", func(r *customer.Registration) { r.Card.Balance = "000.0" }},
		{"february 29th of a leap year", func(r *customer.Registration) { r.Card.ValidThru = "2028-02-29" }},
		{"accented and non-latin names", func(r *customer.Registration) { r.FirstName, r.LastName = "Zoë", "Дмитриев" }},
		{"a zero-width non-joiner inside a persian name", func(r *customer.Registration) { r.FirstName = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645" }},
		{"an apostrophe and a hyphen", func(r *customer.Registration) { r.LastName = "O'Neil-Smith" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, nil)
			r := blueprint()
			tt.change(&r)
			if _, err := f.svc.Register(context.Background(), r); err != nil {
				t.Fatalf("got %v, want the registration accepted", err)
			}
		})
	}
}

// TestRegisterStoresNoCardSecrets reads the embedded engine's files
// (journal and snapshots).
func TestRegisterStoresNoCardSecrets(t *testing.T) {
	f := newFixture(t, nil)
	r := blueprint()
	r.Card.Number, r.Card.CVV = "4929123456781234", "987"
	c, err := f.svc.Register(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Card.MaskedNumber(); got != "******1234" {
		t.Errorf("masked number = %s, want ******1234", got)
	}
	if err := f.client.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var raw []byte
	files, _ := filepath.Glob(filepath.Join(f.dir, "*"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		raw = append(raw, b...)
	}
	for _, secret := range []string{"4929123456781234", "cvv", "CVV"} {
		if bytes.Contains(raw, []byte(secret)) {
			t.Errorf("the store holds %q", secret)
		}
	}
	if !bytes.Contains(raw, []byte("******1234")) {
		t.Error("the store does not hold the masked number: is this the right file?")
	}
}

// TestIntegrationSagaTransitions runs on every backend: the embedded engine
// always, a real replica set when MONGODB_TEST_URI is set.
func TestIntegrationSagaTransitions(t *testing.T) {
	mongotest.Run(t, testSagaTransitions)
}

func testSagaTransitions(t *testing.T, b mongotest.Backend) {
	ctx := context.Background()
	tests := []struct {
		name       string
		act        func(f *fixture, id string) error
		wantErr    error
		wantStatus customer.Status
		wantReason string
		wantEvents []string
	}{
		{"approve", func(f *fixture, id string) error { return f.svc.Approve(ctx, id) }, nil,
			customer.StatusSuccess, "", []string{customerevents.CustomerPendingRegistration, customerevents.CustomerRegistered}},
		{"reject", func(f *fixture, id string) error { return f.svc.Reject(ctx, id, "NO_BALANCE_LEFT") }, nil,
			customer.StatusFailed, "NO_BALANCE_LEFT", []string{customerevents.CustomerPendingRegistration, customerevents.CustomerNotRegistered}},
		{"approve after reject is ignored", func(f *fixture, id string) error {
			if err := f.svc.Reject(ctx, id, "NO_BALANCE_LEFT"); err != nil {
				return err
			}
			return f.svc.Approve(ctx, id)
		}, customer.ErrRegistrationEnded, customer.StatusFailed, "NO_BALANCE_LEFT",
			[]string{customerevents.CustomerPendingRegistration, customerevents.CustomerNotRegistered}},
		{"late approval after a dead-lock is ignored", func(f *fixture, id string) error {
			f.now = f.now.Add(6 * time.Minute)
			if n, err := f.svc.DetectDeadLocks(ctx); err != nil || n != 1 {
				return fmt.Errorf("DetectDeadLocks = %d, %v; want 1", n, err)
			}
			return f.svc.Approve(ctx, id)
		}, customer.ErrRegistrationEnded, customer.StatusFailed, customerevents.ReasonRegistrationDeadLock,
			[]string{customerevents.CustomerPendingRegistration, customerevents.CustomerNotRegistered, customerevents.CustomerRegistrationDeadLock}},
		{"no dead-lock before the timeout", func(f *fixture, id string) error {
			f.now = f.now.Add(4 * time.Minute)
			if n, err := f.svc.DetectDeadLocks(ctx); err != nil || n != 0 {
				return fmt.Errorf("DetectDeadLocks = %d, %v; want 0", n, err)
			}
			return nil
		}, nil, customer.StatusPending, "", []string{customerevents.CustomerPendingRegistration}},
		{"an operator fails it by the dead-lock path", func(f *fixture, id string) error {
			c, err := f.svc.FailByOperator(ctx, id)
			if err == nil && (c.Status != customer.StatusFailed || c.FailureReason != customerevents.ReasonFailedByOperator) {
				return fmt.Errorf("FailByOperator returned %s (%s)", c.Status, c.FailureReason)
			}
			return err
		}, nil, customer.StatusFailed, customerevents.ReasonFailedByOperator,
			[]string{customerevents.CustomerPendingRegistration, customerevents.CustomerNotRegistered, customerevents.CustomerRegistrationDeadLock}},
		{"failing it again changes nothing", func(f *fixture, id string) error {
			if _, err := f.svc.FailByOperator(ctx, id); err != nil {
				return err
			}
			f.now = f.now.Add(time.Minute)
			c, err := f.svc.FailByOperator(ctx, id)
			if err == nil && !c.UpdatedAt.Equal(f.now.Add(-time.Minute)) {
				return fmt.Errorf("the second call moved updatedAt to %s", c.UpdatedAt)
			}
			return err
		}, nil, customer.StatusFailed, customerevents.ReasonFailedByOperator,
			[]string{customerevents.CustomerPendingRegistration, customerevents.CustomerNotRegistered, customerevents.CustomerRegistrationDeadLock}},
		{"an operator cannot fail an ended registration", func(f *fixture, id string) error {
			if err := f.svc.Approve(ctx, id); err != nil {
				return err
			}
			_, err := f.svc.FailByOperator(ctx, id)
			return err
		}, customer.ErrRegistrationEnded, customer.StatusSuccess, "",
			[]string{customerevents.CustomerPendingRegistration, customerevents.CustomerRegistered}},
		{"a late approval after the operator is ignored", func(f *fixture, id string) error {
			if _, err := f.svc.FailByOperator(ctx, id); err != nil {
				return err
			}
			return f.svc.Approve(ctx, id)
		}, customer.ErrRegistrationEnded, customer.StatusFailed, customerevents.ReasonFailedByOperator,
			[]string{customerevents.CustomerPendingRegistration, customerevents.CustomerNotRegistered, customerevents.CustomerRegistrationDeadLock}},
		{"unknown customer", func(f *fixture, _ string) error { return f.svc.Approve(ctx, "nobody") },
			customer.ErrNotFound, customer.StatusPending, "", []string{customerevents.CustomerPendingRegistration}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, &b)
			c, err := f.svc.Register(ctx, blueprint())
			if err != nil {
				t.Fatal(err)
			}
			if err := tt.act(f, c.ID); !errors.Is(err, tt.wantErr) {
				t.Fatalf("error = %v, want %v", err, tt.wantErr)
			}
			got, err := f.svc.Get(ctx, c.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != tt.wantStatus || got.FailureReason != tt.wantReason {
				t.Errorf("status = %s (%q), want %s (%q)", got.Status, got.FailureReason, tt.wantStatus, tt.wantReason)
			}
			docs := f.outbox(t)
			if fmt.Sprint(types(docs)) != fmt.Sprint(tt.wantEvents) {
				t.Errorf("outbox = %v, want %v", types(docs), tt.wantEvents)
			}
			for _, d := range docs {
				if d["aggregateType"] != customerevents.AggregateType || d["aggregateId"] != c.ID {
					t.Errorf("event %v: aggregate %v/%v, want %s/%s", d["type"], d["aggregateType"], d["aggregateId"], customerevents.AggregateType, c.ID)
				}
			}
		})
	}
}

// TestIntegrationGetUnknownCustomer runs on every backend.
func TestIntegrationGetUnknownCustomer(t *testing.T) {
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		f := newFixture(t, &b)
		if _, err := f.svc.Get(context.Background(), "nobody"); !errors.Is(err, customer.ErrNotFound) {
			t.Fatalf("error = %v, want ErrNotFound", err)
		}
	})
}

func TestRegistrationsListing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, nil)
	var ids []string
	for i := range 5 {
		c, err := f.svc.Register(ctx, blueprint())
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, c.ID)
		if i == 1 {
			if err := f.svc.Approve(ctx, c.ID); err != nil {
				t.Fatal(err)
			}
		}
		f.now = f.now.Add(time.Minute)
	}
	list := func(q customer.Query) []string {
		t.Helper()
		cs, err := f.svc.Registrations(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			got = append(got, c.ID)
		}
		return got
	}
	if got := list(customer.Query{Limit: 10}); fmt.Sprint(got) != "[c5 c4 c3 c2 c1]" {
		t.Errorf("all, newest first: %v", got)
	}
	if got := list(customer.Query{Status: customer.StatusPending, Limit: 10}); fmt.Sprint(got) != "[c5 c4 c3 c1]" {
		t.Errorf("pending: %v", got)
	}
	if got := list(customer.Query{CreatedBefore: f.now.Add(-3 * time.Minute), Limit: 10}); fmt.Sprint(got) != "[c2 c1]" {
		t.Errorf("created more than 3 minutes ago: %v", got)
	}
	page1 := list(customer.Query{Limit: 2})
	first, err := f.svc.Get(ctx, page1[1])
	if err != nil {
		t.Fatal(err)
	}
	page2 := list(customer.Query{Limit: 2, After: &customer.Cursor{CreatedAt: first.CreatedAt, ID: first.ID}})
	if fmt.Sprint(page1, page2) != "[c5 c4] [c3 c2]" {
		t.Errorf("pages: %v then %v, want [c5 c4] then [c3 c2]", page1, page2)
	}
	// Two registrations in the same instant: the id breaks the tie, so
	// paging neither repeats nor skips one.
	for range 2 {
		if _, err := f.svc.Register(ctx, blueprint()); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	var after *customer.Cursor
	for range 8 {
		cs, err := f.svc.Registrations(ctx, customer.Query{Limit: 1, After: after})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs) == 0 {
			break
		}
		seen = append(seen, cs[0].ID)
		after = &customer.Cursor{CreatedAt: cs[0].CreatedAt, ID: cs[0].ID}
	}
	if fmt.Sprint(seen) != "[c7 c6 c5 c4 c3 c2 c1]" {
		t.Errorf("paging one by one: %v", seen)
	}
	if c, _ := f.svc.Get(ctx, ids[0]); !f.svc.DeadLockAt(c).Equal(c.CreatedAt.Add(5 * time.Minute)) {
		t.Errorf("DeadLockAt = %s, want createdAt + the 5m timeout", f.svc.DeadLockAt(c))
	}
}
