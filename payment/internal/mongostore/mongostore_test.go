package mongostore_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/payment/internal/mongostore"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

// t0 is a creation time in whole milliseconds, the precision MongoDB keeps.
var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

func newPayment(id, customerID string) payment.Payment {
	return payment.Payment{
		ID:         id,
		CustomerID: customerID,
		Payer:      payment.Payer{Name: "John Doe", CardNumber: "******7890"},
		Payee:      payment.Payee{Name: "SOME-COMPANY", BankAccount: "1234", BankName: "SOME-BANK"},
		Amount:     200,
		Status:     payment.StatusAuthorized,
		CreatedAt:  t0,
		UpdatedAt:  t0,
	}
}

func authorizedEvent(p payment.Payment) payment.Event {
	return payment.Event{Type: paymentevents.PaymentAuthorized, Payload: paymentevents.Authorized{CustomerID: p.CustomerID, Payment: payment.ToEvent(p)}}
}

type fixture struct {
	*mongotest.Store
	store *mongostore.Store
}

func open(t *testing.T, b mongotest.Backend) *fixture {
	t.Helper()
	s := b.Open(t)
	store := mongostore.New(s.Client, s.DB)
	if err := store.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &fixture{Store: s, store: store}
}

// outbox returns "type/aggregateId" of each outbox event in insertion
// order (natural order: createdAt has ties) and checks the aggregate type.
func (f *fixture) outbox(t *testing.T) []string {
	t.Helper()
	ctx := context.Background()
	cur, err := f.DB.Collection(mongostore.OutboxCollection).Find(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		AggregateType string `bson:"aggregateType"`
		AggregateID   string `bson:"aggregateId"`
		Type          string `bson:"type"`
		Payload       bson.M `bson:"payload"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		if d.AggregateType != paymentevents.AggregateType || d.Payload == nil {
			t.Errorf("event %s: aggregateType %q, payload %v; want %q and a payload", d.Type, d.AggregateType, d.Payload, paymentevents.AggregateType)
		}
		out[i] = d.Type + "/" + d.AggregateID
	}
	return out
}

// version returns the stored document's version.
func (f *fixture) version(t *testing.T, id string) int64 {
	t.Helper()
	var d struct {
		Version int64 `bson:"version"`
	}
	if err := f.DB.Collection(mongostore.Payments).FindOne(context.Background(), bson.M{"_id": id}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d.Version
}

func (f *fixture) forCustomer(t *testing.T, customerID string) []payment.Payment {
	t.Helper()
	ps, err := f.store.ForCustomer(context.Background(), customerID)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (f *fixture) create(t *testing.T, p payment.Payment) {
	t.Helper()
	if err := f.store.Create(context.Background(), p, authorizedEvent(p)); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationStore runs the payment.Store contract on every backend:
// the embedded engine always, a real replica set when MONGODB_TEST_URI is
// set. The service tests (payment_test.go, also run on every backend)
// cover the store through Authorize and Revert, including ErrAlreadyDecided
// for a repeated request; these cover what they do not reach.
func TestIntegrationStore(t *testing.T) {
	var _ payment.Store = (*mongostore.Store)(nil)
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		ctx := context.Background()

		t.Run("Create stores the payment and its event together", func(t *testing.T) {
			f := open(t, b)
			p := newPayment("p1", "c1")
			p.Status, p.Reason = payment.StatusNotAuthorized, paymentevents.ReasonNoBalanceLeft
			f.create(t, p)
			if got := f.forCustomer(t, "c1"); len(got) != 1 || !reflect.DeepEqual(got[0], p) {
				t.Errorf("ForCustomer = %+v\nwant [%+v]", got, p)
			}
			if got, want := fmt.Sprint(f.outbox(t)), "[PaymentAuthorizedEvent/p1]"; got != want {
				t.Errorf("outbox = %s, want %s", got, want)
			}
			var raw struct {
				Authorized bool  `bson:"authorized"`
				Version    int64 `bson:"version"`
			}
			if err := f.DB.Collection(mongostore.Payments).FindOne(ctx, bson.M{"_id": "p1"}).Decode(&raw); err != nil {
				t.Fatal(err)
			}
			if raw.Authorized || raw.Version != 0 {
				t.Errorf("stored authorized %v version %d, want false 0", raw.Authorized, raw.Version)
			}
			if got := f.forCustomer(t, "nobody"); len(got) != 0 {
				t.Errorf("ForCustomer(nobody) = %v, want none", got)
			}
		})

		t.Run("Create writes nothing when an event cannot be stored", func(t *testing.T) {
			f := open(t, b)
			if err := f.store.Create(ctx, newPayment("p1", "c1"), payment.Event{Type: "NoPayload"}); err == nil {
				t.Fatal("Create accepted an event without payload")
			}
			if got := f.forCustomer(t, "c1"); len(got) != 0 {
				t.Errorf("ForCustomer after a failed Create = %v, want none", got)
			}
			if got := f.outbox(t); len(got) != 0 {
				t.Errorf("outbox = %v, want empty", got)
			}
		})

		// Redeliveries racing each other: the unique index on customerId,
		// not a prior read, decides. On MongoDB the losing inserts conflict
		// with the winner's uncommitted one, are retried by the driver and
		// then fail on the unique index.
		t.Run("concurrent Creates for one customer: one wins, other customers unaffected", func(t *testing.T) {
			f := open(t, b)
			const creates = 4
			errs := make(chan error, creates)
			for i := range creates {
				go func() {
					p := newPayment(fmt.Sprintf("p%d", i), "c1")
					errs <- f.store.Create(ctx, p, authorizedEvent(p))
				}()
			}
			won := 0
			for range creates {
				switch err := <-errs; {
				case err == nil:
					won++
				case !errors.Is(err, payment.ErrAlreadyDecided):
					t.Errorf("Create = %v, want nil or ErrAlreadyDecided", err)
				}
			}
			if won != 1 {
				t.Errorf("%d Creates succeeded, want 1", won)
			}
			if got := f.forCustomer(t, "c1"); len(got) != 1 {
				t.Errorf("ForCustomer = %v, want one payment", got)
			}
			if got := f.outbox(t); len(got) != 1 {
				t.Errorf("outbox = %v, want one event", got)
			}
			f.create(t, newPayment("other", "c2"))
			if got := f.forCustomer(t, "c2"); len(got) != 1 || got[0].ID != "other" {
				t.Errorf("ForCustomer(c2) = %v, want its own payment", got)
			}
		})

		t.Run("UpdateForCustomer saves the change with its events and a new version", func(t *testing.T) {
			f := open(t, b)
			p := newPayment("p1", "c1")
			f.create(t, p)
			err := f.store.UpdateForCustomer(ctx, "c1", func(p *payment.Payment) ([]payment.Event, error) {
				p.Status, p.Reason, p.UpdatedAt = payment.StatusReverted, "REGISTRATION_DEAD_LOCK_DETECTED", t0.Add(time.Minute)
				return []payment.Event{{Type: paymentevents.PaymentAuthorizationReverted, Payload: bson.M{"customerId": "c1"}}}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			want := p
			want.Status, want.Reason, want.UpdatedAt = payment.StatusReverted, "REGISTRATION_DEAD_LOCK_DETECTED", t0.Add(time.Minute)
			if got := f.forCustomer(t, "c1"); len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("ForCustomer = %+v\nwant [%+v]", got, want)
			}
			if v := f.version(t, "p1"); v != 1 {
				t.Errorf("version = %d, want 1", v)
			}
			if got, want := fmt.Sprint(f.outbox(t)), "[PaymentAuthorizedEvent/p1 PaymentAuthorizationRevertedEvent/p1]"; got != want {
				t.Errorf("outbox = %s, want %s", got, want)
			}
		})

		t.Run("UpdateForCustomer writes nothing when fn fails", func(t *testing.T) {
			f := open(t, b)
			p := newPayment("p1", "c1")
			f.create(t, p)
			err := f.store.UpdateForCustomer(ctx, "c1", func(p *payment.Payment) ([]payment.Event, error) {
				p.Status = payment.StatusReverted
				return []payment.Event{{Type: "Never", Payload: bson.M{}}}, errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Errorf("UpdateForCustomer = %v, want fn's error", err)
			}
			if got := f.forCustomer(t, "c1"); len(got) != 1 || !reflect.DeepEqual(got[0], p) {
				t.Errorf("ForCustomer = %+v, want it unchanged", got)
			}
			if v := f.version(t, "p1"); v != 0 {
				t.Errorf("version = %d, want 0", v)
			}
			if got := f.outbox(t); len(got) != 1 {
				t.Errorf("outbox = %v, want the create event only", got)
			}
		})

		// aggregate.Update's rule, pinned here and in the customer store's
		// test of the same name: fn's events decide whether anything is
		// written. Without events nothing is, not even a change fn made, and
		// the version stays; with events the change is written, the
		// version moves by one and the events are appended.
		t.Run("the update-with-events rule", func(t *testing.T) {
			tests := []struct {
				name        string
				events      []payment.Event
				wantReason  string
				wantVersion int64
				wantOutbox  int
			}{
				{"no events: nothing written", nil, "", 0, 1},
				{"events: change, version and events written", []payment.Event{{Type: "Annotated", Payload: bson.M{}}}, "changed", 1, 2},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					f := open(t, b)
					f.create(t, newPayment("p1", "c1"))
					err := f.store.UpdateForCustomer(ctx, "c1", func(p *payment.Payment) ([]payment.Event, error) {
						p.Reason = "changed"
						return tt.events, nil
					})
					if err != nil {
						t.Fatalf("UpdateForCustomer = %v, want nil", err)
					}
					if got := f.forCustomer(t, "c1"); len(got) != 1 || got[0].Reason != tt.wantReason {
						t.Errorf("ForCustomer = %+v, want reason %q", got, tt.wantReason)
					}
					if v := f.version(t, "p1"); v != tt.wantVersion {
						t.Errorf("version = %d, want %d", v, tt.wantVersion)
					}
					if got := f.outbox(t); len(got) != tt.wantOutbox {
						t.Errorf("outbox = %v, want %d events", got, tt.wantOutbox)
					}
				})
			}
		})

		t.Run("UpdateForCustomer without a payment is ErrNotFound", func(t *testing.T) {
			f := open(t, b)
			f.create(t, newPayment("p1", "c1"))
			called := false
			err := f.store.UpdateForCustomer(ctx, "c2", func(*payment.Payment) ([]payment.Event, error) { called = true; return nil, nil })
			if !errors.Is(err, payment.ErrNotFound) || called {
				t.Errorf("UpdateForCustomer = %v (fn called %v), want ErrNotFound without calling fn", err, called)
			}
		})

		// The consumer records the event and reverts in one transaction
		// (inbox.ConsumeOnce): when that fails, the revert must go too.
		t.Run("UpdateForCustomer joins the caller's transaction", func(t *testing.T) {
			f := open(t, b)
			f.create(t, newPayment("p1", "c1"))
			err := f.Transact(ctx, func(ctx context.Context) error {
				err := f.store.UpdateForCustomer(ctx, "c1", func(p *payment.Payment) ([]payment.Event, error) {
					p.Status = payment.StatusReverted
					return []payment.Event{{Type: paymentevents.PaymentAuthorizationReverted, Payload: bson.M{}}}, nil
				})
				if err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Transact = %v, want errBoom", err)
			}
			if got := f.forCustomer(t, "c1"); len(got) != 1 || got[0].Status != payment.StatusAuthorized {
				t.Errorf("ForCustomer = %+v after the caller's rollback, want it authorized", got)
			}
			if got := f.outbox(t); len(got) != 1 {
				t.Errorf("outbox = %v, want the create event only", got)
			}
		})

		// See the customer store's test of the same name: MongoDB detects
		// the other write (write conflict) and the driver runs fn again; the
		// embedded engine makes the other write wait.
		t.Run("a concurrent update is detected, not lost", func(t *testing.T) {
			f := open(t, b)
			f.create(t, newPayment("p1", "c1"))
			other := make(chan error, 1)
			var attempts atomic.Int32
			err := f.store.UpdateForCustomer(ctx, "c1", func(p *payment.Payment) ([]payment.Event, error) {
				if attempts.Add(1) == 1 {
					go func() {
						_, err := f.DB.Collection(mongostore.Payments).UpdateOne(context.Background(), bson.M{"_id": "p1"},
							bson.M{"$set": bson.M{"payer.name": "Jane Doe"}, "$inc": bson.M{"version": 1}})
						other <- err
					}()
					select {
					case err := <-other:
						other <- err
					case <-time.After(200 * time.Millisecond): // blocked behind this transaction
					}
				}
				p.Status = payment.StatusReverted
				return []payment.Event{{Type: paymentevents.PaymentAuthorizationReverted, Payload: bson.M{}}}, nil
			})
			if err != nil {
				t.Fatalf("UpdateForCustomer: %v", err)
			}
			if err := <-other; err != nil {
				t.Fatalf("the other write: %v", err)
			}
			got := f.forCustomer(t, "c1")
			if len(got) != 1 || got[0].Status != payment.StatusReverted || got[0].Payer.Name != "Jane Doe" {
				t.Errorf("ForCustomer = %+v, want reverted and paid by Jane Doe: one of the two changes was lost", got)
			}
			if v := f.version(t, "p1"); v != 2 {
				t.Errorf("version = %d, want 2", v)
			}
			t.Logf("fn ran %d times", attempts.Load())
			if b.Name == mongotest.MongoDB && attempts.Load() < 2 {
				t.Errorf("fn ran once: the write conflict was not detected")
			}
		})
	})
}
