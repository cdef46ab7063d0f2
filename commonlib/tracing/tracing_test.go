package tracing

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func TestEnabled(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, true},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter none wins", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, false},
		{"service name alone", map[string]string{"OTEL_SERVICE_NAME": "x"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Enabled(func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if got != tc.want {
				t.Errorf("Enabled(%v) = %v, want %v", tc.env, got, tc.want)
			}
		})
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	const tp = "00-4bf92f3577b34da6a1a2b3c4d5e6f708-00f067aa0ba902b7-01"
	tests := []struct {
		name, in, want string
	}{
		{"valid", tp, tp},
		{"empty", "", ""},
		{"malformed", "00-xyz", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Traceparent(WithTraceparent(context.Background(), tc.in)); got != tc.want {
				t.Errorf("Traceparent(WithTraceparent(%q)) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestLogHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewLogHandler(slog.NewTextHandler(&buf, nil))).With("component", "test")
	ctx := WithTraceparent(context.Background(), "00-4bf92f3577b34da6a1a2b3c4d5e6f708-00f067aa0ba902b7-01")
	ctx = trace.ContextWithSpanContext(ctx, trace.SpanContextFromContext(ctx))

	log.InfoContext(ctx, "in a span")
	log.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("got %d lines, want 2: %q", len(lines), buf.String())
	}
	if want := "component=test trace_id=4bf92f3577b34da6a1a2b3c4d5e6f708 span_id=00f067aa0ba902b7"; !strings.Contains(lines[0], want) {
		t.Errorf("line in a span = %q, want it to contain %q", lines[0], want)
	}
	if strings.Contains(lines[1], "trace_id") {
		t.Errorf("line outside a span = %q, want no trace_id", lines[1])
	}
}

func TestServiceName(t *testing.T) {
	tests := []struct {
		name, env, want string
	}{
		{"default", "", "customer-service"},
		{"OTEL_SERVICE_NAME wins", "registrations", "registrations"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("OTEL_SERVICE_NAME", tc.env)
			res, err := newResource(context.Background(), Config{ServiceName: "customer-service"})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, kv := range res.Attributes() {
				if kv.Key == "service.name" {
					got = kv.Value.AsString()
				}
			}
			if got != tc.want {
				t.Errorf("service.name = %q, want %q", got, tc.want)
			}
		})
	}
}
