package metrics_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/commonlib/router"
)

// The Observer the router takes is what *Metrics provides.
var _ router.Observer = (*metrics.Metrics)(nil)

func TestHTTPMiddlewareByRoute(t *testing.T) {
	m := metrics.New()
	e := echo.New()
	e.Use(m.HTTPMiddleware)
	e.GET("/customers/:id", func(c echo.Context) error {
		if c.Param("id") == "missing" {
			return echo.NewHTTPError(http.StatusNotFound)
		}
		return c.String(http.StatusOK, "ok")
	})
	e.GET("/metrics", echo.WrapHandler(m.Handler()))
	for _, path := range []string{"/customers/1", "/customers/2", "/customers/missing", "/nowhere"} {
		e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, path, nil))
	}

	tests := []struct {
		name   string
		series string
		want   float64
	}{
		{"by route, not by id", `saga_http_requests_total{code="200",method="GET",route="/customers/:id"}`, 2},
		{"error status", `saga_http_requests_total{code="404",method="GET",route="/customers/:id"}`, 1},
		{"durations", `saga_http_request_duration_seconds_count{code="200",method="GET",route="/customers/:id"}`, 2},
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := value(t, body, tt.series); got != tt.want {
				t.Errorf("%s = %v, want %v", tt.series, got, tt.want)
			}
		})
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, "\n"+name+" ") {
			t.Errorf("%s missing from the scrape", name)
		}
	}
	if strings.Contains(body, `route="/customers/1"`) {
		t.Errorf("a raw path became a route label:\n%s", body)
	}
}

func TestConsumerMetrics(t *testing.T) {
	m := metrics.New()
	m.Consumed("t", "E", router.OutcomeHandled)
	m.Consumed("t", "E", router.OutcomeHandled)
	m.Consumed("t", "E", router.OutcomeDuplicate)
	m.HandlerDuration("t", "E", 3*time.Millisecond)
	m.Lag("t", 2, 5)
	m.Lag("t", 2, -1) // past the high-water mark read earlier: none
	m.OutboxAppended("E")
	got, err := testutil.GatherAndCount(m.Registry, "saga_consumer_records_total", "saga_consumer_handler_duration_seconds",
		"saga_consumer_lag_records", "saga_outbox_events_appended_total")
	if err != nil || got != 5 {
		t.Errorf("series = %d, %v; want 5 (handled, duplicate, one histogram, one lag, one appended)", got, err)
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	for series, want := range map[string]float64{
		`saga_consumer_records_total{event_type="E",outcome="handled",topic="t"}`:   2,
		`saga_consumer_records_total{event_type="E",outcome="duplicate",topic="t"}`: 1,
		`saga_consumer_lag_records{partition="2",topic="t"}`:                        0,
		`saga_outbox_events_appended_total{event_type="E"}`:                         1,
	} {
		if got := value(t, rec.Body.String(), series); got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
}

func TestNilMetricsRecordsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.Consumed("t", "E", router.OutcomeHandled)
	m.HandlerDuration("t", "E", time.Second)
	m.Lag("t", 0, 1)
	m.OutboxAppended("E")
	if err := m.Register(nil); err != nil {
		t.Errorf("Register on nil: %v", err)
	}
	e := echo.New()
	e.Use(m.HTTPMiddleware)
	e.GET("/x", func(c echo.Context) error { return errors.New("boom") })
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/x", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("status = %d, want 500 (the middleware passes through)", rec.Code)
	}
	rec = httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /metrics without metrics: %d, want 404", rec.Code)
	}
}

func TestRelayCollectorWithoutRelays(t *testing.T) {
	m := metrics.New()
	m.Registry.MustRegister(metrics.RelayCollector(func() []metrics.RelaySource { return nil }))
	n, err := testutil.GatherAndCount(m.Registry, "saga_relay_records_published_total")
	if err != nil || n != 0 {
		t.Errorf("series = %d, %v; want none before a relay runs", n, err)
	}
}

// value is series' value in a scrape, failing when it is absent.
func value(t *testing.T, body, series string) float64 {
	t.Helper()
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			var f float64
			if _, err := fmt.Sscan(v, &f); err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("%s missing from:\n%s", series, body)
	return 0
}
