package sagametrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/sagametrics"
)

// fakeStore keeps customers in a map; Update fails with failNext once.
type fakeStore struct {
	customers map[string]customer.Customer
	failNext  error
}

func (f *fakeStore) List(context.Context, customer.Query) ([]customer.Customer, error) {
	return nil, nil
}

func (f *fakeStore) Create(_ context.Context, c customer.Customer, _ ...customer.Event) error {
	f.customers[c.ID] = c
	return nil
}

func (f *fakeStore) Update(_ context.Context, id string, fn func(*customer.Customer) ([]customer.Event, error)) error {
	c, ok := f.customers[id]
	if !ok {
		return customer.ErrNotFound
	}
	evts, err := fn(&c)
	if err != nil {
		return err
	}
	if f.failNext != nil {
		err, f.failNext = f.failNext, nil
		return err
	}
	if len(evts) > 0 {
		f.customers[id] = c
	}
	return nil
}

func (f *fakeStore) Get(_ context.Context, id string) (customer.Customer, error) {
	return f.customers[id], nil
}

func (f *fakeStore) PendingSince(_ context.Context, t time.Time) ([]string, error) {
	var ids []string
	for id, c := range f.customers {
		if c.Status == customer.StatusPending && c.CreatedAt.Before(t) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (f *fakeStore) pending(context.Context) (int64, error) {
	n := int64(0)
	for _, c := range f.customers {
		if c.Status == customer.StatusPending {
			n++
		}
	}
	return n, nil
}

func TestSagaCounters(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	ids := []string{"a", "b", "c", "d"}
	newID := func() string { id := ids[0]; ids = ids[1:]; return id }
	fake := &fakeStore{customers: map[string]customer.Customer{}}
	m := metrics.New()
	store, err := sagametrics.New(fake, m, fake.pending)
	if err != nil {
		t.Fatal(err)
	}
	svc := customer.NewService(store, time.Minute, clock, newID)
	ctx := context.Background()
	reg := customer.Registration{FirstName: "John", LastName: "Doe", Card: customer.CardInput{Number: "1234567890", HolderName: "John Doe", CVV: "120", ValidThru: "2024-05-04", Balance: "100"}}
	for range 4 {
		if _, err := svc.Register(ctx, reg); err != nil {
			t.Fatal(err)
		}
	}
	now = now.Add(3 * time.Second)
	if err := svc.Approve(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := svc.Approve(ctx, "a"); !errors.Is(err, customer.ErrRegistrationEnded) {
		t.Fatalf("second approve: %v", err)
	}
	if err := svc.Reject(ctx, "b", "NO_BALANCE_LEFT"); err != nil {
		t.Fatal(err)
	}
	fake.failNext = errors.New("store down")
	if err := svc.Reject(ctx, "c", "NO_BALANCE_LEFT"); err == nil {
		t.Fatal("want the store's error")
	}
	now = now.Add(time.Hour)
	if n, err := svc.DetectDeadLocks(ctx); err != nil || n != 2 {
		t.Fatalf("dead-locks = %d, %v; want 2 (c and d)", n, err)
	}

	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"started", value(t, m, "saga_registration_started_total"), 4},
		{"success", value(t, m, "saga_registration_ended_total", "outcome", "success", "reason", ""), 1},
		{"no balance", value(t, m, "saga_registration_ended_total", "outcome", "failed", "reason", "NO_BALANCE_LEFT"), 1},
		{"dead-locked", value(t, m, "saga_registration_ended_total", "outcome", "failed", "reason", customerevents.ReasonRegistrationDeadLock), 2},
		{"dead-locks", value(t, m, "saga_registration_dead_locks_total"), 2},
		{"pending", value(t, m, "saga_registration_pending"), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
	if n, err := testutil.GatherAndCount(m.Registry, "saga_registration_duration_seconds"); err != nil || n != 2 {
		t.Errorf("duration series = %d, %v; want 2 (success, failed)", n, err)
	}
}

// value is the counter or gauge name with the label pairs kv, 0 when absent.
func value(t *testing.T, m *metrics.Metrics, name string, kv ...string) float64 {
	t.Helper()
	families, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, metric := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range metric.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for i := 0; i < len(kv); i += 2 {
				if labels[kv[i]] != kv[i+1] {
					continue next
				}
			}
			if c := metric.GetCounter(); c != nil {
				return c.GetValue()
			}
			return metric.GetGauge().GetValue()
		}
	}
	return 0
}
