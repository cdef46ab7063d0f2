package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestTraceHTTP: API requests get a server span continuing the caller's
// traceparent (a new trace without one) and naming the route; /health and
// /metrics get none.
func TestTraceHTTP(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prevTP, prevProp := otel.GetTracerProvider(), otel.GetTextMapPropagator()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	t.Cleanup(func() { otel.SetTracerProvider(prevTP); otel.SetTextMapPropagator(prevProp) })

	e := echo.New()
	e.Use(traceHTTP)
	var inHandler trace.SpanContext
	e.POST("/svc/customers", func(c echo.Context) error {
		inHandler = trace.SpanContextFromContext(c.Request().Context())
		return c.NoContent(http.StatusCreated)
	})
	e.GET("/svc/customers/:id", func(echo.Context) error { return errors.New("boom") })
	e.GET("/svc/health", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	e.GET("/metrics", func(c echo.Context) error { return c.NoContent(http.StatusOK) })

	const traceID, parent = "4bf92f3577b34da6a1a2b3c4d5e6f708", "00f067aa0ba902b7"
	tests := []struct {
		name, method, path, traceparent string
		wantName                        string // "" for no span
		wantStatus                      int
		wantTrace, wantParent           string // "" for a new trace
	}{
		{"continues the caller's trace", "POST", "/svc/customers", "00-" + traceID + "-" + parent + "-01", "POST /svc/customers", 201, traceID, parent},
		{"starts a trace without one", "POST", "/svc/customers", "", "POST /svc/customers", 201, "", ""},
		{"names the route, not the URL; records a 500", "GET", "/svc/customers/c-1", "", "GET /svc/customers/:id", 500, "", ""},
		{"no span for /health", "GET", "/svc/health", "", "", 200, "", ""},
		{"no span for /metrics", "GET", "/metrics", "", "", 200, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(rec.Ended())
			req := httptest.NewRequest(tc.method, tc.path, nil)
			if tc.traceparent != "" {
				req.Header.Set("traceparent", tc.traceparent)
			}
			w := httptest.NewRecorder()
			e.ServeHTTP(w, req)
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			spans := rec.Ended()[before:]
			if tc.wantName == "" {
				if len(spans) != 0 {
					t.Errorf("%d spans, want none", len(spans))
				}
				return
			}
			if len(spans) != 1 {
				t.Fatalf("%d spans, want 1", len(spans))
			}
			s := spans[0]
			if s.Name() != tc.wantName || s.SpanKind() != trace.SpanKindServer {
				t.Errorf("span %q kind %v, want %q server", s.Name(), s.SpanKind(), tc.wantName)
			}
			if tc.wantTrace != "" && (s.SpanContext().TraceID().String() != tc.wantTrace || s.Parent().SpanID().String() != tc.wantParent) {
				t.Errorf("trace %s parent %s, want %s %s", s.SpanContext().TraceID(), s.Parent().SpanID(), tc.wantTrace, tc.wantParent)
			}
			if tc.wantTrace == "" && s.Parent().IsValid() {
				t.Errorf("parent %s, want a new trace", s.Parent().SpanID())
			}
			for _, a := range s.Attributes() {
				if a.Key == "http.response.status_code" && a.Value.AsInt64() != int64(tc.wantStatus) {
					t.Errorf("http.response.status_code = %d, want %d", a.Value.AsInt64(), tc.wantStatus)
				}
			}
		})
	}
	if !inHandler.IsValid() {
		t.Error("the handler's context holds no span")
	}
}
