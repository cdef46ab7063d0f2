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
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/mongostore"
)

// t0 is a creation time in whole milliseconds, the precision MongoDB keeps.
var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

var errBoom = errors.New("boom")

func newCustomer(id string, createdAt time.Time) customer.Customer {
	return customer.Customer{
		ID:        id,
		FirstName: "John",
		LastName:  "Doe",
		Card:      customer.Card{Last4: "7890", HolderName: "John Doe", ValidThru: "2027-05", Balance: 10000},
		Status:    customer.StatusPending,
		CreatedAt: createdAt,
		UpdatedAt: createdAt,
	}
}

func pendingEvent(c customer.Customer) customer.Event {
	return customer.Event{Type: customerevents.CustomerPendingRegistration, Payload: customerevents.PendingRegistration{Customer: customer.ToEvent(c)}}
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
		if d.AggregateType != customerevents.AggregateType || d.Payload == nil {
			t.Errorf("event %s: aggregateType %q, payload %v; want %q and a payload", d.Type, d.AggregateType, d.Payload, customerevents.AggregateType)
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
	if err := f.DB.Collection(mongostore.Customers).FindOne(context.Background(), bson.M{"_id": id}).Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d.Version
}

func (f *fixture) get(t *testing.T, id string) customer.Customer {
	t.Helper()
	c, err := f.store.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *fixture) create(t *testing.T, c customer.Customer) {
	t.Helper()
	if err := f.store.Create(context.Background(), c, pendingEvent(c)); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationStore runs the customer.Store contract on every backend:
// the embedded engine always, a real replica set when MONGODB_TEST_URI is
// set. The service tests (customer_test.go, also run on every backend)
// cover the store through the saga's transitions, including ErrNotFound;
// these cover what they do not reach.
func TestIntegrationStore(t *testing.T) {
	var _ customer.Store = (*mongostore.Store)(nil)
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		ctx := context.Background()

		t.Run("Create stores the customer and its events together", func(t *testing.T) {
			f := open(t, b)
			c := newCustomer("c1", t0)
			c.FailureReason = "kept as written"
			f.create(t, c)
			if got := f.get(t, "c1"); !reflect.DeepEqual(got, c) {
				t.Errorf("Get = %+v\nwant  %+v", got, c)
			}
			if got, want := fmt.Sprint(f.outbox(t)), "[CustomerPendingRegistrationEvent/c1]"; got != want {
				t.Errorf("outbox = %s, want %s", got, want)
			}
			if v := f.version(t, "c1"); v != 0 {
				t.Errorf("version = %d, want 0", v)
			}
		})

		t.Run("Create writes nothing when an event cannot be stored", func(t *testing.T) {
			f := open(t, b)
			err := f.store.Create(ctx, newCustomer("c1", t0), customer.Event{Type: "NoPayload"})
			if err == nil {
				t.Fatal("Create accepted an event without payload")
			}
			if _, err := f.store.Get(ctx, "c1"); !errors.Is(err, customer.ErrNotFound) {
				t.Errorf("Get after a failed Create = %v, want ErrNotFound", err)
			}
			if got := f.outbox(t); len(got) != 0 {
				t.Errorf("outbox = %v, want empty", got)
			}
		})

		t.Run("Create of an existing id fails and changes nothing", func(t *testing.T) {
			f := open(t, b)
			c := newCustomer("c1", t0)
			f.create(t, c)
			other := newCustomer("c1", t0.Add(time.Minute))
			other.FirstName = "Jane"
			if err := f.store.Create(ctx, other, pendingEvent(other)); err == nil {
				t.Fatal("Create accepted an existing id")
			}
			if got := f.get(t, "c1"); !reflect.DeepEqual(got, c) {
				t.Errorf("Get = %+v, want the first customer %+v", got, c)
			}
			if got := f.outbox(t); len(got) != 1 {
				t.Errorf("outbox = %v, want the first customer's event only", got)
			}
		})

		t.Run("Update saves the change with its events and a new version", func(t *testing.T) {
			f := open(t, b)
			c := newCustomer("c1", t0)
			f.create(t, c)
			for i, status := range []customer.Status{customer.StatusSuccess, customer.StatusFailed} {
				err := f.store.Update(ctx, "c1", func(c *customer.Customer) ([]customer.Event, error) {
					c.Status, c.UpdatedAt = status, t0.Add(time.Duration(i+1)*time.Minute)
					return []customer.Event{{Type: "Event" + fmt.Sprint(i), Payload: bson.M{"i": i}}}, nil
				})
				if err != nil {
					t.Fatalf("Update %d: %v", i, err)
				}
			}
			want := c
			want.Status, want.UpdatedAt = customer.StatusFailed, t0.Add(2*time.Minute)
			if got := f.get(t, "c1"); !reflect.DeepEqual(got, want) {
				t.Errorf("Get = %+v\nwant  %+v", got, want)
			}
			if v := f.version(t, "c1"); v != 2 {
				t.Errorf("version = %d after two updates, want 2", v)
			}
			if got, want := fmt.Sprint(f.outbox(t)), "[CustomerPendingRegistrationEvent/c1 Event0/c1 Event1/c1]"; got != want {
				t.Errorf("outbox = %s, want %s", got, want)
			}
		})

		t.Run("Update writes nothing when fn fails", func(t *testing.T) {
			f := open(t, b)
			c := newCustomer("c1", t0)
			f.create(t, c)
			err := f.store.Update(ctx, "c1", func(c *customer.Customer) ([]customer.Event, error) {
				c.Status = customer.StatusSuccess
				return []customer.Event{{Type: "Never", Payload: bson.M{}}}, errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Update = %v, want fn's error", err)
			}
			if got := f.get(t, "c1"); !reflect.DeepEqual(got, c) {
				t.Errorf("Get = %+v, want it unchanged", got)
			}
			if v := f.version(t, "c1"); v != 0 {
				t.Errorf("version = %d, want 0", v)
			}
			if got := f.outbox(t); len(got) != 1 {
				t.Errorf("outbox = %v, want the create event only", got)
			}
		})

		// aggregate.Update's rule, pinned here and in the payment store's
		// test of the same name: fn's events decide whether anything is
		// written. Without events nothing is, not even a change fn made, and
		// the version stays; with events the change is written, the
		// version moves by one and the events are appended.
		t.Run("the update-with-events rule", func(t *testing.T) {
			tests := []struct {
				name        string
				events      []customer.Event
				wantName    string
				wantVersion int64
				wantOutbox  int
			}{
				{"no events: nothing written", nil, "John", 0, 1},
				{"events: change, version and events written", []customer.Event{{Type: "Renamed", Payload: bson.M{}}}, "Jim", 1, 2},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					f := open(t, b)
					f.create(t, newCustomer("c1", t0))
					err := f.store.Update(ctx, "c1", func(c *customer.Customer) ([]customer.Event, error) {
						c.FirstName = "Jim"
						return tt.events, nil
					})
					if err != nil {
						t.Fatalf("Update = %v, want nil", err)
					}
					if got := f.get(t, "c1").FirstName; got != tt.wantName {
						t.Errorf("first name = %s, want %s", got, tt.wantName)
					}
					if v := f.version(t, "c1"); v != tt.wantVersion {
						t.Errorf("version = %d, want %d", v, tt.wantVersion)
					}
					if got := f.outbox(t); len(got) != tt.wantOutbox {
						t.Errorf("outbox = %v, want %d events", got, tt.wantOutbox)
					}
				})
			}
		})

		// A consumer records the event it handles and calls Update in one
		// transaction (inbox.ConsumeOnce): when that transaction fails, the
		// update must go too.
		t.Run("Update joins the caller's transaction", func(t *testing.T) {
			f := open(t, b)
			c := newCustomer("c1", t0)
			f.create(t, c)
			err := f.Transact(ctx, func(ctx context.Context) error {
				err := f.store.Update(ctx, "c1", func(c *customer.Customer) ([]customer.Event, error) {
					c.Status = customer.StatusSuccess
					return []customer.Event{{Type: "Approved", Payload: bson.M{}}}, nil
				})
				if err != nil {
					return err
				}
				return errBoom
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Transact = %v, want errBoom", err)
			}
			if got := f.get(t, "c1"); got.Status != customer.StatusPending {
				t.Errorf("status = %s after the caller's rollback, want %s", got.Status, customer.StatusPending)
			}
			if got := f.outbox(t); len(got) != 1 {
				t.Errorf("outbox = %v, want the create event only", got)
			}
		})

		// Another writer changes the customer between Update's read and its
		// write. Saving the stale copy would lose that change. MongoDB
		// fails the write (a write conflict; the version check would catch
		// it too) and the driver runs fn again on the fresh document; the
		// embedded engine runs writers one at a time, so the other write
		// waits for Update's commit and lands after it.
		t.Run("a concurrent update is detected, not lost", func(t *testing.T) {
			f := open(t, b)
			f.create(t, newCustomer("c1", t0))
			other := make(chan error, 1)
			var attempts atomic.Int32
			err := f.store.Update(ctx, "c1", func(c *customer.Customer) ([]customer.Event, error) {
				if attempts.Add(1) == 1 {
					go func() {
						// Outside Update's transaction: context.Background().
						_, err := f.DB.Collection(mongostore.Customers).UpdateOne(context.Background(), bson.M{"_id": "c1"},
							bson.M{"$set": bson.M{"lastName": "Roe"}, "$inc": bson.M{"version": 1}})
						other <- err
					}()
					select {
					case err := <-other:
						other <- err
					case <-time.After(200 * time.Millisecond): // blocked behind this transaction
					}
				}
				c.FirstName = "Jim"
				return []customer.Event{{Type: "Renamed", Payload: bson.M{"firstName": c.FirstName}}}, nil
			})
			if err != nil {
				t.Fatalf("Update: %v", err)
			}
			if err := <-other; err != nil {
				t.Fatalf("the other write: %v", err)
			}
			got := f.get(t, "c1")
			if got.FirstName != "Jim" || got.LastName != "Roe" {
				t.Errorf("name = %s %s, want Jim Roe: one of the two changes was lost", got.FirstName, got.LastName)
			}
			if v := f.version(t, "c1"); v != 2 {
				t.Errorf("version = %d, want 2", v)
			}
			if got := f.outbox(t); len(got) != 2 {
				t.Errorf("outbox = %v, want the create event and one Renamed", got)
			}
			t.Logf("fn ran %d times", attempts.Load())
			if b.Name == mongotest.MongoDB && attempts.Load() < 2 {
				t.Errorf("fn ran once: the write conflict was not detected")
			}
		})

		t.Run("concurrent updates all count", func(t *testing.T) {
			f := open(t, b)
			f.create(t, newCustomer("c1", t0))
			const updates = 4
			errs := make(chan error, updates)
			for range updates {
				go func() {
					errs <- f.store.Update(ctx, "c1", func(c *customer.Customer) ([]customer.Event, error) {
						c.Card.Balance++
						return []customer.Event{{Type: "Charged", Payload: bson.M{}}}, nil
					})
				}()
			}
			for range updates {
				if err := <-errs; err != nil {
					t.Errorf("Update: %v", err)
				}
			}
			if got := f.get(t, "c1").Card.Balance; got != 10000+updates {
				t.Errorf("balance = %d, want %d", got, 10000+updates)
			}
			if v := f.version(t, "c1"); v != updates {
				t.Errorf("version = %d, want %d", v, updates)
			}
			if got := f.outbox(t); len(got) != 1+updates {
				t.Errorf("outbox holds %d events, want %d", len(got), 1+updates)
			}
		})

		t.Run("PendingSince lists pending registrations created before t, oldest first", func(t *testing.T) {
			f := open(t, b)
			cs := []struct {
				id     string
				age    time.Duration
				status customer.Status
			}{
				{"recent", 10 * time.Minute, customer.StatusPending},
				{"ended-ok", 40 * time.Minute, customer.StatusSuccess},
				{"oldest", 30 * time.Minute, customer.StatusPending},
				{"at-cutoff", 0, customer.StatusPending},
				{"ended-failed", 50 * time.Minute, customer.StatusFailed},
				{"middle", 20 * time.Minute, customer.StatusPending},
				{"after-cutoff", -time.Minute, customer.StatusPending},
			}
			for _, c := range cs {
				cust := newCustomer(c.id, t0.Add(-c.age))
				cust.Status = c.status
				f.create(t, cust)
			}
			ids, err := f.store.PendingSince(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := fmt.Sprint(ids), "[oldest middle recent]"; got != want {
				t.Errorf("PendingSince = %s, want %s", got, want)
			}
			if ids, err := f.store.PendingSince(ctx, t0.Add(-time.Hour)); err != nil || len(ids) != 0 {
				t.Errorf("PendingSince an hour earlier = %v, %v; want none", ids, err)
			}
		})
	})
}
