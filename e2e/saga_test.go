package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

const sagaTimeout = 30 * time.Second

// TestRegistrationSaga runs the blueprint's two cases on one platform and
// checks the records both relays must produce.
func TestRegistrationSaga(t *testing.T) {
	p := newPlatform(t)
	p.start()

	t.Run("success with balance 100", func(t *testing.T) {
		p.t = t
		c := p.register(blueprintBody)
		if c.Card.Number != "******7890" || c.Card.CVV != nil {
			t.Errorf("card in the response = %+v, want a masked number and no cvv", c.Card)
		}
		done := p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)
		if done.FailureReason != "" {
			t.Errorf("failure reason = %q, want none", done.FailureReason)
		}
		ps := p.payments(c.ID)
		if len(ps) != 1 || !ps[0].Authorized || ps[0].Amount.String() != "2.00" || ps[0].Payer.Name != "John Doe" ||
			ps[0].Payer.CardNumber != "******7890" || ps[0].Payee.Name != "SOME-COMPANY" || ps[0].CreatedAt.IsZero() {
			t.Errorf("payments = %+v, want one authorized payment of 2.00 by John Doe (******7890) to SOME-COMPANY", ps)
		}

		customerRecords := p.records("outbox.event.customer")
		pending := recordsOf(customerRecords, "CustomerPendingRegistrationEvent", c.ID)
		registered := recordsOf(customerRecords, "CustomerRegisteredEvent", c.ID)
		if len(pending) != 1 || len(registered) != 1 {
			t.Fatalf("customer topic: %d pending and %d registered records for %s, want 1 each", len(pending), len(registered), c.ID)
		}
		r := pending[0]
		if len(r.Headers) != 4 || !strings.HasPrefix(r.Headers[0], "id=") || !strings.HasPrefix(r.Headers[1], "eventType=") ||
			!strings.HasPrefix(r.Headers[2], "eventId=") || !strings.HasPrefix(r.Headers[3], "traceparent=00-") || r.header("id") != r.header("eventId") {
			t.Errorf("headers = %v, want id, eventType, eventId, traceparent with id == eventId", r.Headers)
		}
		var value struct {
			Customer struct {
				ID   string `json:"id"`
				Card struct {
					Number  string `json:"number"`
					Balance string `json:"balance"`
				} `json:"card"`
			} `json:"customer"`
		}
		if err := json.Unmarshal([]byte(r.Value), &value); err != nil {
			t.Fatalf("value is not the payload JSON: %v: %s", err, r.Value)
		}
		if value.Customer.ID != c.ID || value.Customer.Card.Number != "******7890" || value.Customer.Card.Balance != "100.00" {
			t.Errorf("value = %s, want the customer with a masked card and balance \"100.00\" (Decimal128 as a string)", r.Value)
		}
		for _, secret := range []string{"1234567890", "cvv", "120"} {
			for _, rec := range customerRecords {
				if strings.Contains(rec.Value, `"`+secret+`"`) || strings.Contains(rec.Value, secret+`"`) && secret == "cvv" {
					t.Errorf("a customer record carries %q: %s", secret, rec.Value)
				}
			}
		}
		status, body := proctest.HTTP(t, "GET", p.customerURL("/outbox"), "")
		var outbox struct {
			Relay     string `json:"relay"`
			Leader    bool   `json:"leader"`
			Published int64  `json:"published"`
			Parked    int64  `json:"parked"`
		}
		if status != 200 || json.Unmarshal([]byte(body), &outbox) != nil || outbox.Relay != "embedded" ||
			!outbox.Leader || outbox.Published < 2 || outbox.Parked != 0 {
			t.Errorf("GET /outbox = %d %s, want the embedded relay leading, 2 or more published, none parked", status, body)
		}
		authorized := recordsOf(p.records("outbox.event.payment"), "PaymentAuthorizedEvent", ps[0].ID)
		if len(authorized) != 1 {
			t.Errorf("payment topic: %d PaymentAuthorizedEvent records keyed by payment %s, want 1", len(authorized), ps[0].ID)
		}
	})

	t.Run("failure with balance 1", func(t *testing.T) {
		p.t = t
		c := p.register(bodyWithBalance("1"))
		done := p.waitStatus(c.ID, "REGISTRATION_FAILED", sagaTimeout)
		if done.FailureReason != "NO_BALANCE_LEFT" {
			t.Errorf("failure reason = %q, want NO_BALANCE_LEFT", done.FailureReason)
		}
		ps := p.payments(c.ID)
		if len(ps) != 1 || ps[0].Authorized || ps[0].Status != "NOT_AUTHORIZED" {
			t.Errorf("payments = %+v, want one payment not authorized", ps)
		}
		if n := len(recordsOf(p.records("outbox.event.customer"), "CustomerNotRegisteredEvent", c.ID)); n != 1 {
			t.Errorf("%d CustomerNotRegisteredEvent records, want 1", n)
		}
	})
}

func TestHTTPAPI(t *testing.T) {
	p := newPlatform(t)
	p.start()
	large := `{"firstName":"` + strings.Repeat("x", 100_000) + `"}`
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantInBody               []string
	}{
		{"blueprint body with trailing slash", "POST", "/customers/", blueprintBody, 201, []string{`"status":"REGISTRATION_PENDING"`, `"number":"******7890"`}},
		{"cvv as a string", "POST", "/customers", strings.Replace(blueprintBody, "120", `"0120"`, 1), 201, nil},
		{"each bad field named", "POST", "/customers", `{"firstName":"","card":{"number":"12","cvv":1,"validThru":"soon","balance":-1}}`, 400,
			[]string{`"code":"INVALID_INPUT"`, `"field":"firstName"`, `"field":"lastName"`, `"field":"card.number"`, `"field":"card.cvv"`, `"field":"card.validThru"`, `"field":"card.balance"`, `"field":"card.holderName"`}},
		{"wrong type", "POST", "/customers", `{"firstName":1}`, 400, []string{`"field":"firstName"`}},
		{"not json", "POST", "/customers", `firstName=John`, 400, []string{`"code":"MALFORMED_JSON"`}},
		{"too large", "POST", "/customers", large, 413, []string{`"code":"PAYLOAD_TOO_LARGE"`}},
		{"unknown customer", "GET", "/customers/does-not-exist", "", 404, []string{`"code":"CUSTOMER_NOT_FOUND"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := proctest.HTTP(t, tt.method, p.customerURL(tt.path), tt.body)
			if status != tt.wantStatus {
				t.Fatalf("status = %d, want %d: %s", status, tt.wantStatus, body)
			}
			for _, w := range tt.wantInBody {
				if !strings.Contains(body, w) {
					t.Errorf("body does not contain %s: %s", w, body)
				}
			}
		})
	}
	t.Run("location header", func(t *testing.T) {
		resp, err := http.Post(p.customerURL("/customers"), "application/json", strings.NewReader(blueprintBody))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var c customer
		loc := resp.Header.Get("Location")
		if !strings.HasPrefix(loc, "/customer-service/customers/") {
			t.Fatalf("Location = %q", loc)
		}
		status, body := proctest.HTTP(t, "GET", fmt.Sprintf("http://127.0.0.1:%d%s", p.customerPort, loc), "")
		if status != 200 || json.Unmarshal([]byte(body), &c) != nil || c.ID == "" {
			t.Fatalf("GET Location: %d %s", status, body)
		}
	})
	t.Run("payments need a customer id", func(t *testing.T) {
		status, body := proctest.HTTP(t, "GET", p.paymentURL("/payments"), "")
		if status != 400 || !strings.Contains(body, `"field":"customerId"`) {
			t.Fatalf("status %d body %s, want 400 naming customerId", status, body)
		}
	})
}

// TestPaymentServiceDown registers while payment-service is down: the
// registration waits, and completes once payment-service starts.
func TestPaymentServiceDown(t *testing.T) {
	p := newPlatform(t)
	p.startKafka()
	p.startCustomer()
	c := p.register(blueprintBody)
	time.Sleep(2 * time.Second)
	if got := p.getCustomer(c.ID).Status; got != "REGISTRATION_PENDING" {
		t.Fatalf("status without payment-service = %s, want REGISTRATION_PENDING", got)
	}
	p.startPayment()
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)
}

// TestBrokerDown registers while the broker is down: the HTTP API keeps
// working, health says the broker is down, and the saga completes once the
// broker is back (its data directory kept, as after a restart).
func TestBrokerDown(t *testing.T) {
	p := newPlatform(t)
	p.customerEnv = []string{"HEALTH_FAILING_AFTER=1s"}
	p.start()
	p.kafka.Stop(t)
	c := p.register(blueprintBody)
	if status, body := proctest.HTTP(t, "GET", p.customerURL("/health"), ""); status != 503 || !strings.Contains(body, `"broker":"DOWN"`) {
		t.Errorf("health with the broker down: %d %s, want 503 naming the broker", status, body)
	}
	// Past HEALTH_FAILING_AFTER, the relay (which cannot publish the
	// registration's event) and the consumers are reported too.
	proctest.Eventually(t, 15*time.Second, "health names the failing relay and consumers", func() error {
		_, body := proctest.HTTP(t, "GET", p.customerURL("/health"), "")
		if !strings.Contains(body, `"relay":"DOWN"`) || !strings.Contains(body, `"consumers":"DOWN"`) {
			return errorf("health: %s", body)
		}
		return nil
	})
	p.startKafka()
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", 60*time.Second)
	p.waitHealthy(p.customerURL("/health"))
}

// TestBrokerLosesItsData: devkafka killed with kill -9 and its data
// deleted comes back empty. The services re-create the topics they need,
// and a registration made afterwards completes: no consumer resumes from
// an offset that no longer means anything, and no relay or consumer loops
// on a missing topic.
func TestBrokerLosesItsData(t *testing.T) {
	p := newPlatform(t)
	p.start()
	for range 3 {
		c := p.register(blueprintBody)
		p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	}
	p.kafka.Kill()
	if err := os.RemoveAll(filepath.Join(p.dataDir, "kafka")); err != nil {
		t.Fatal(err)
	}
	p.startKafka()
	start := time.Now()
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", 20*time.Second)
	t.Logf("registration after the broker lost its data: done in %v", time.Since(start).Round(100*time.Millisecond))
	p.waitHealthy(p.customerURL("/health"))
	p.waitHealthy(p.paymentURL("/health"))
}

// TestRestartKeepsState restarts every process on the same data directory.
func TestRestartKeepsState(t *testing.T) {
	p := newPlatform(t)
	p.start()
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	p.customer.Stop(t)
	p.payment.Stop(t)
	p.kafka.Stop(t)
	p.start()
	if got := p.getCustomer(c.ID).Status; got != "REGISTRATION_SUCCESS" {
		t.Errorf("status after restart = %s", got)
	}
	// Nothing is processed twice after a restart: still one payment, and no
	// second answer on the payment topic.
	c2 := p.register(blueprintBody)
	p.waitStatus(c2.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	if ps := p.payments(c.ID); len(ps) != 1 {
		t.Errorf("payments after restart = %d, want 1", len(ps))
	}
	if n := len(recordsOf(p.records("outbox.event.payment"), "PaymentAuthorizedEvent", "")); n != 2 {
		t.Errorf("%d PaymentAuthorizedEvent records for two registrations, want 2", n)
	}
}

func TestBadConfigurationStopsAtStart(t *testing.T) {
	skipShort(t)
	tests := []struct {
		binary, variable, value string
	}{
		{"customer-service", "DEADLOCK_TIMEOUT", "soon"},
		{"customer-service", "OUTBOX_RELAY", "debezium"},
		{"customer-service", "CONSUMED_EVENTS_CLEANUP_CRON", "every night"},
		{"payment-service", "AUTHORIZATION_FEE", "-2"},
		{"payment-service", "KAFKA_BROKERS", "localhost"},
		{"payment-service", "INTERESTING_EVENTS", "CustomerPendingRegistrationEvent;NoSuchEvent"},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			pr := startProc(t, tt.binary, []string{"DATA_DIR=" + t.TempDir(), "HTTP_ADDR=127.0.0.1:0", tt.variable + "=" + tt.value})
			select {
			case <-pr.Done():
			case <-time.After(10 * time.Second):
				t.Fatalf("%s kept running with %s=%s", tt.binary, tt.variable, tt.value)
			}
			if pr.ExitCode() == 0 {
				t.Errorf("exit code 0, want non-zero")
			}
			if !strings.Contains(pr.Output(), tt.variable) {
				t.Errorf("output does not name %s:\n%s", tt.variable, pr.Output())
			}
		})
	}
}
