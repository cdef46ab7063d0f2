package e2e

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestMetrics runs one successful and one failed registration and checks
// that both services' GET /metrics moved as the saga did: the saga's
// counters, the outbox, the relay, the consumers and HTTP.
func TestMetrics(t *testing.T) {
	p := newPlatform(t)
	p.start()

	ok := p.register(blueprintBody)
	failed := p.register(bodyWithBalance("1"))
	p.waitStatus(ok.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	p.waitStatus(failed.ID, "REGISTRATION_FAILED", sagaTimeout)

	customerURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", p.customerPort)
	paymentURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", p.paymentPort)

	// The relays publish the saga's last events after the registrations
	// ended, and payment-service consumes them after that: wait for the
	// values that settle last.
	const (
		customerTopic = "outbox.event.customer"
		paymentTopic  = "outbox.event.payment"
	)
	wantCustomer := map[string]float64{
		`saga_registration_started_total`:                                                                                    2,
		`saga_registration_ended_total{outcome="success",reason=""}`:                                                         1,
		`saga_registration_ended_total{outcome="failed",reason="NO_BALANCE_LEFT"}`:                                           1,
		`saga_registration_duration_seconds_count{outcome="success"}`:                                                        1,
		`saga_registration_duration_seconds_count{outcome="failed"}`:                                                         1,
		`saga_registration_pending`:                                                                                          0,
		`saga_registration_dead_locks_total`:                                                                                 0,
		`saga_outbox_events_appended_total{event_type="CustomerPendingRegistrationEvent"}`:                                   2,
		`saga_outbox_events_appended_total{event_type="CustomerRegisteredEvent"}`:                                            1,
		`saga_outbox_events_appended_total{event_type="CustomerNotRegisteredEvent"}`:                                         1,
		`saga_consumer_records_total{event_type="PaymentAuthorizedEvent",outcome="handled",topic="` + paymentTopic + `"}`:    1,
		`saga_consumer_records_total{event_type="PaymentNotAuthorizedEvent",outcome="handled",topic="` + paymentTopic + `"}`: 1,
		`saga_consumer_handler_duration_seconds_count{event_type="PaymentAuthorizedEvent",topic="` + paymentTopic + `"}`:     1,
		`saga_consumer_lag_records`:                                                                                          0, // summed over the partitions consumed
		`saga_http_requests_total{code="201",method="POST",route="/customer-service/customers"}`:                             2,
		`saga_http_request_duration_seconds_count{code="201",method="POST",route="/customer-service/customers"}`:             2,
		`saga_relay_records_published_total`:                                                                                 4, // pending ×2, registered, not registered
		`saga_relay_lease_held`:                                                                                              1,
		`saga_relay_backlog_events`:                                                                                          0,
		`saga_relay_documents_parked_total`:                                                                                  0,
		`saga_relay_kafka_retries_total`:                                                                                     0,
	}
	wantPayment := map[string]float64{
		`saga_payment_authorizations_total{decision="authorized",reason=""}`:                                                         1,
		`saga_payment_authorizations_total{decision="not_authorized",reason="NO_BALANCE_LEFT"}`:                                      1,
		`saga_payment_authorizations_reverted_total`:                                                                                 0,
		`saga_outbox_events_appended_total{event_type="PaymentAuthorizedEvent"}`:                                                     1,
		`saga_outbox_events_appended_total{event_type="PaymentNotAuthorizedEvent"}`:                                                  1,
		`saga_consumer_records_total{event_type="CustomerPendingRegistrationEvent",outcome="handled",topic="` + customerTopic + `"}`: 2,
		`saga_consumer_records_total{event_type="CustomerRegisteredEvent",outcome="ignored",topic="` + customerTopic + `"}`:          1,
		`saga_consumer_records_total{event_type="CustomerNotRegisteredEvent",outcome="ignored",topic="` + customerTopic + `"}`:       1,
		`saga_consumer_handler_duration_seconds_count{event_type="CustomerPendingRegistrationEvent",topic="` + customerTopic + `"}`:  2,
		`saga_relay_records_published_total`:                                                                                         2,
		`saga_relay_lease_held`:                                                                                                      1,
		`saga_relay_backlog_events`:                                                                                                  0,
	}
	for _, tc := range []struct {
		name string
		url  string
		want map[string]float64
	}{
		{"customer-service", customerURL, wantCustomer},
		{"payment-service", paymentURL, wantPayment},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got map[string]float64
			proctest.Eventually(t, sagaTimeout, tc.name+" metrics settle", func() error {
				got = scrape(t, tc.url)
				for k, want := range tc.want {
					if v, ok := got[k]; !ok || v != want {
						return fmt.Errorf("%s = %v (present %t), want %v", k, v, ok, want)
					}
				}
				return nil
			})
			// The runtime and process collectors, and a lag gauge that is
			// a real age.
			for _, k := range []string{"go_goroutines", "process_cpu_seconds_total", "saga_relay_lag_seconds"} {
				if _, ok := got[k]; !ok {
					t.Errorf("%s missing", k)
				}
			}
			if got["saga_relay_lag_seconds"] != 0 {
				t.Errorf("saga_relay_lag_seconds = %v with no backlog, want 0", got["saga_relay_lag_seconds"])
			}
		})
	}

	t.Run("base path unchanged", func(t *testing.T) {
		// /metrics is at the root; the API's own paths stay where they were.
		if status, _ := proctest.HTTP(t, "GET", p.customerURL("/metrics"), ""); status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p.customerURL("/metrics"), status)
		}
		got := scrape(t, customerURL)
		if v := got[`saga_http_requests_total{code="200",method="GET",route="/customer-service/customers/:id"}`]; v < 2 {
			t.Errorf("GET /customers/:id requests = %v, want >= 2 (by route, not by id)", v)
		}
		for k := range got {
			if strings.Contains(k, ok.ID) {
				t.Errorf("series %s holds a customer id: routes must be patterns", k)
			}
		}
	})
}

// scrape reads url's Prometheus text format into series → value. The
// relay's series (one per service, labelled by connector and database) are
// also listed under their bare name, so a test need not know those labels,
// and so is the consumer lag, summed over the partitions.
func scrape(t testing.TB, url string) map[string]float64 {
	t.Helper()
	status, body := proctest.HTTP(t, "GET", url, "")
	if status != http.StatusOK {
		t.Fatalf("GET %s: status %d: %s", url, status, body)
	}
	out := map[string]float64{}
	bare := map[string]int{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			t.Fatalf("bad metrics line %q", line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q: %v", line, err)
		}
		series := line[:i]
		out[series] = v
		name, _, _ := strings.Cut(series, "{")
		switch {
		case strings.HasPrefix(series, "saga_relay_"):
			out[name] += v
			bare[name]++
		case name == "saga_consumer_lag_records":
			out[name] += v
		}
	}
	for name, n := range bare {
		if n != 1 {
			t.Fatalf("%s: %d relay series, want one per service", name, n)
		}
	}
	return out
}
