package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
)

func register(t *testing.T, base string) string {
	t.Helper()
	code, b := proctest.HTTP(t, "POST", base+"/customer-service/customers", body())
	if code != http.StatusCreated {
		t.Fatalf("register: %d %s", code, b)
	}
	var c struct{ ID string }
	if err := json.Unmarshal([]byte(b), &c); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

func TestRegistrationsEndpoint(t *testing.T) {
	srv := newServer(t)
	var ids []string
	for range 3 {
		ids = append(ids, register(t, srv.URL))
	}
	list := func(query string) (int, sagaview.Registrations, string) {
		t.Helper()
		code, b := proctest.HTTP(t, "GET", srv.URL+"/customer-service/registrations"+query, "")
		var page sagaview.Registrations
		if code == http.StatusOK {
			if err := json.Unmarshal([]byte(b), &page); err != nil {
				t.Fatal(err)
			}
		}
		return code, page, b
	}
	code, page, b := list("?status=REGISTRATION_PENDING&limit=2")
	if code != 200 || len(page.Registrations) != 2 || page.Next == "" {
		t.Fatalf("first page: %d %s", code, b)
	}
	r := page.Registrations[0]
	if r.ID != ids[2] || r.Status != string(customer.StatusPending) || r.Name != "John Doe" || r.Awaiting != customer.Awaited ||
		r.DeadLockAt == nil || !r.DeadLockAt.Equal(r.CreatedAt.Add(5*time.Minute)) || r.AgeSeconds < 0 {
		t.Errorf("newest pending registration: %+v", r)
	}
	_, next, b := list("?status=REGISTRATION_PENDING&limit=2&after=" + page.Next)
	if len(next.Registrations) != 1 || next.Registrations[0].ID != ids[0] || next.Next != "" {
		t.Errorf("second page: %s", b)
	}
	if _, none, b := list("?olderThan=1h"); len(none.Registrations) != 0 {
		t.Errorf("older than an hour: %s", b)
	}
	for query, field := range map[string]string{
		"?status=DONE": "status", "?olderThan=soon": "olderThan", "?limit=0": "limit", "?limit=501": "limit", "?after=not-a-cursor": "after",
	} {
		if code, _, b := list(query); code != 400 || !strings.Contains(b, `"field":"`+field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", query, code, b, field)
		}
	}
}

func TestFailAndTimelineEndpoints(t *testing.T) {
	srv := newServer(t)
	id := register(t, srv.URL)
	// The stores keep milliseconds, and two transactions of one service in
	// the same millisecond are ordered by the kind of their steps
	// (sagaview.Sort), not by which came first: let the clock move on, as
	// it does between a registration and an operator's action.
	for start := time.Now().Truncate(time.Millisecond); !time.Now().Truncate(time.Millisecond).After(start); {
		time.Sleep(100 * time.Microsecond)
	}
	fail := func(id string) (int, string) {
		t.Helper()
		return proctest.HTTP(t, "POST", srv.URL+"/customer-service/customers/"+id+"/fail", "")
	}
	code, b := fail(id)
	if code != 200 || !strings.Contains(b, `"status":"REGISTRATION_FAILED"`) || !strings.Contains(b, customerevents.ReasonFailedByOperator) {
		t.Fatalf("fail: %d %s", code, b)
	}
	if again, b2 := fail(id); again != 200 || b2 != b {
		t.Errorf("fail again: %d %s, want the same 200 answer %s", again, b2, b)
	}
	if code, b := fail("nobody"); code != 404 || !strings.Contains(b, "CUSTOMER_NOT_FOUND") {
		t.Errorf("fail of an unknown customer: %d %s", code, b)
	}

	code, b = proctest.HTTP(t, "GET", srv.URL+"/customer-service/customers/"+id+"/timeline", "")
	var tl sagaview.Timeline
	if code != 200 || json.Unmarshal([]byte(b), &tl) != nil {
		t.Fatalf("timeline: %d %s", code, b)
	}
	var kinds []string
	for _, s := range tl.Steps {
		if s.Service != "customer-service" {
			t.Errorf("step of service %q", s.Service)
		}
		k := s.Kind
		if s.EventType != "" {
			k += ":" + s.EventType
			if s.Topic != customerevents.Topic || s.Key != id || s.EventID == "" {
				t.Errorf("event step without its topic, key or id: %+v", s)
			}
		}
		kinds = append(kinds, k)
	}
	want := []string{
		sagaview.KindRequestAccepted,
		sagaview.KindEventWritten + ":" + customerevents.CustomerPendingRegistration,
		sagaview.KindOperatorAction, // in the same millisecond as what it wrote, and before it
		sagaview.KindEventWritten + ":" + customerevents.CustomerNotRegistered,
		sagaview.KindEventWritten + ":" + customerevents.CustomerRegistrationDeadLock,
		sagaview.KindRegistrationEnded,
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Errorf("timeline steps\n got %v\nwant %v", kinds, want)
	}
	if tl.CustomerID != id || tl.Retention == "" {
		t.Errorf("timeline header: %+v", tl)
	}
	if code, _ := proctest.HTTP(t, "GET", srv.URL+"/customer-service/customers/nobody/timeline", ""); code != 404 {
		t.Errorf("timeline of an unknown customer: %d", code)
	}
}
