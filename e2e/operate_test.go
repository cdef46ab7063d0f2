package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
)

// TestOperatorEndpoints: the registrations list, both services' timeline
// parts and the operator's fail action, on the real binaries.
func TestOperatorEndpoints(t *testing.T) {
	p := newPlatform(t)
	p.start()

	ok := p.register(bodyWithBalance("1000"))
	poor := p.register(bodyWithBalance("1"))
	p.waitStatus(ok.ID, "REGISTRATION_SUCCESS", 30*time.Second)
	p.waitStatus(poor.ID, "REGISTRATION_FAILED", 30*time.Second)

	// A redelivered answer is ignored, and the timeline says so.
	answers := recordsOf(p.records("outbox.event.payment"), "PaymentAuthorizedEvent", "")
	if len(answers) != 1 {
		t.Fatalf("%d PaymentAuthorizedEvent records, want 1", len(answers))
	}
	var headers []string
	for _, h := range answers[0].Headers {
		k, v, _ := strings.Cut(h, "=")
		headers = append(headers, k, v)
	}
	p.produce("outbox.event.payment", answers[0].Key, answers[0].Value, headers...)

	steps := func(service, id string) []sagaview.Step {
		t.Helper()
		url := p.customerURL("/customers/" + id + "/timeline")
		if service == "payment-service" {
			url = p.paymentURL("/customers/" + id + "/timeline")
		}
		code, b := proctest.HTTP(t, "GET", url, "")
		var tl sagaview.Timeline
		if code != http.StatusOK || json.Unmarshal([]byte(b), &tl) != nil {
			t.Fatalf("%s timeline of %s: %d %s", service, id, code, b)
		}
		return tl.Steps
	}
	proctest.Eventually(t, 20*time.Second, "the redelivery shows as a duplicate", func() error {
		for _, s := range steps("customer-service", ok.ID) {
			if s.Kind == sagaview.KindDuplicateIgnored && s.EventType == "PaymentAuthorizedEvent" && s.Count == 1 {
				return nil
			}
		}
		return fmt.Errorf("no duplicate-ignored step")
	})

	// Both parts merged by time tell the saga in order.
	merged := append(steps("customer-service", ok.ID), steps("payment-service", ok.ID)...)
	sagaview.Sort(merged)
	var got []string
	for _, s := range merged {
		if s.Kind == sagaview.KindDuplicateIgnored {
			continue
		}
		got = append(got, s.Service[:len("customer")]+" "+s.Kind+" "+s.EventType)
	}
	want := []string{
		"customer request-accepted ",
		"customer event-written CustomerPendingRegistrationEvent",
		"payment- event-consumed CustomerPendingRegistrationEvent",
		"payment- payment-decided ",
		"payment- event-written PaymentAuthorizedEvent",
		"customer event-consumed PaymentAuthorizedEvent",
		"customer event-written CustomerRegisteredEvent",
		"customer registration-ended ",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("merged timeline of a success\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, s := range merged {
		if s.Kind == sagaview.KindEventConsumed && (s.Partition == nil || s.Offset == nil || s.Topic == "") {
			t.Errorf("consumed step without its record position: %+v", s)
		}
	}

	// The list shows both, newest first, with their statuses.
	code, b := proctest.HTTP(t, "GET", p.customerURL("/registrations"), "")
	var page sagaview.Registrations
	if code != 200 || json.Unmarshal([]byte(b), &page) != nil || len(page.Registrations) != 2 {
		t.Fatalf("registrations: %d %s", code, b)
	}
	if r := page.Registrations; r[0].ID != poor.ID || r[0].Status != "REGISTRATION_FAILED" || r[0].Reason != "NO_BALANCE_LEFT" ||
		r[1].ID != ok.ID || r[1].Status != "REGISTRATION_SUCCESS" || r[0].Awaiting != "" {
		t.Errorf("registrations: %s", b)
	}

	// A stuck registration (payment-service down) ended by the operator:
	// the dead-lock path, and payment-service reverts when it is back.
	p.payment.Stop(t)
	stuck := p.register(bodyWithBalance("1000"))
	code, b = proctest.HTTP(t, "GET", p.customerURL("/registrations?status=REGISTRATION_PENDING"), "")
	if code != 200 || !strings.Contains(b, stuck.ID) || !strings.Contains(b, `"awaiting":"PaymentAuthorizedEvent|PaymentNotAuthorizedEvent from payment-service"`) {
		t.Fatalf("pending registrations: %d %s", code, b)
	}
	code, b = proctest.HTTP(t, "POST", p.customerURL("/customers/"+stuck.ID+"/fail"), "")
	if code != 200 || !strings.Contains(b, `"failureReason":"REGISTRATION_FAILED_BY_OPERATOR"`) {
		t.Fatalf("fail: %d %s", code, b)
	}
	if again, b2 := proctest.HTTP(t, "POST", p.customerURL("/customers/"+stuck.ID+"/fail"), ""); again != 200 || b2 != b {
		t.Errorf("fail again: %d %s, want the same answer", again, b2)
	}
	if code, b := proctest.HTTP(t, "POST", p.customerURL("/customers/"+ok.ID+"/fail"), ""); code != 409 || !strings.Contains(b, "REGISTRATION_ENDED") {
		t.Errorf("fail of a registration that succeeded: %d %s, want 409", code, b)
	}
	p.startPayment()
	proctest.Eventually(t, 30*time.Second, "payment-service reverts the stuck registration's authorization", func() error {
		ps := p.payments(stuck.ID)
		if len(ps) != 1 || ps[0].Status != "REVERTED" || ps[0].Reason != "REGISTRATION_FAILED_BY_OPERATOR" {
			return fmt.Errorf("payments: %+v", ps)
		}
		return nil
	})
	if c := p.getCustomer(stuck.ID); c.Status != "REGISTRATION_FAILED" {
		t.Errorf("the late authorization changed the failed registration: %s", c.Status)
	}
	var kinds []string
	for _, s := range steps("payment-service", stuck.ID) {
		kinds = append(kinds, s.Kind+" "+s.EventType)
	}
	if !strings.Contains(strings.Join(kinds, ","), "compensated ,event-written PaymentAuthorizationRevertedEvent") {
		t.Errorf("payment timeline of the stuck registration: %v", kinds)
	}
}
