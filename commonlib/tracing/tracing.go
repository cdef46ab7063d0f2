// Package tracing sets up OpenTelemetry tracing for a service and carries
// W3C trace context across the platform's boundaries: HTTP requests, outbox
// documents (a top-level traceparent field) and Kafka records (a
// traceparent header).
//
// It installs the global tracer provider and the W3C trace-context
// propagator; spans are always recorded (so outbox documents get a
// traceparent even when nothing is exported), and they are exported over
// OTLP/HTTP only when Config.Export says so. The exporter itself reads the
// standard OTEL_EXPORTER_OTLP_* variables. Spans leave through a batch
// processor with a bounded queue that drops rather than blocks, so an
// unreachable collector never slows the saga. The spans are started where
// the work is: package app (HTTP requests), mongotx (transactions), relay
// (publishing) and router (consuming).
package tracing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Header is the W3C trace-context header, outbox field and Kafka header name.
const Header = "traceparent"

// Instrumentation is the name the platform's tracers carry.
const Instrumentation = "github.com/sagaoutbox/platform/commonlib"

// Config says whether and how a service exports spans.
type Config struct {
	// ServiceName is service.name unless OTEL_SERVICE_NAME is set.
	ServiceName string
	// Export turns the OTLP/HTTP exporter on (see Enabled).
	Export bool
}

// LogValue shows the effective settings.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(slog.String("service", c.ServiceName), slog.Bool("export", c.Export))
}

// Enabled reports whether the standard variables ask for an export:
// an OTLP endpoint is set, or OTEL_TRACES_EXPORTER is otlp. An
// OTEL_TRACES_EXPORTER of none wins over everything, and with nothing set
// nothing is exported.
func Enabled(lookup func(string) (string, bool)) bool {
	get := func(k string) string { v, _ := lookup(k); return v }
	switch get("OTEL_TRACES_EXPORTER") {
	case "none":
		return false
	case "otlp":
		return true
	}
	return get("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// Setup installs the global tracer provider and propagator and returns the
// function that flushes and stops them (bounded by its context). Export
// failures go to log, at most one a minute.
func Setup(ctx context.Context, cfg Config, log *slog.Logger) (func(context.Context) error, error) {
	res, err := newResource(ctx, cfg)
	if err != nil {
		return nil, err
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)} // sampler: OTEL_TRACES_SAMPLER
	if cfg.Export {
		exp, err := otlptracehttp.New(ctx) // OTEL_EXPORTER_OTLP_*
		if err != nil {
			return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
		}
		// The batch processor never blocks a span's End: a full queue
		// (OTEL_BSP_MAX_QUEUE_SIZE, 2048 by default) drops spans, and
		// exports run in the background (OTEL_BSP_SCHEDULE_DELAY,
		// OTEL_BSP_EXPORT_TIMEOUT).
		opts = append(opts, sdktrace.WithBatcher(exp))
	}
	tp := sdktrace.NewTracerProvider(opts...)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.TraceContext{})
	var last atomic.Int64
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		if prev := last.Load(); now-prev >= int64(time.Minute) && last.CompareAndSwap(prev, now) {
			log.Warn("tracing: spans not exported (further errors muted for a minute)", "err", err)
		}
	}))
	return tp.Shutdown, nil
}

// newResource names the service: cfg.ServiceName unless the environment
// (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES) says otherwise.
func newResource(ctx context.Context, cfg Config) (*resource.Resource, error) {
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(cfg.ServiceName)),
		resource.WithFromEnv(), // later detectors win
	)
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return res, nil
}

// Tracer is the platform's tracer from the global provider.
func Tracer() trace.Tracer { return otel.Tracer(Instrumentation) }

// Traceparent renders ctx's span context as a W3C traceparent, "" when
// ctx holds no valid one.
func Traceparent(ctx context.Context) string {
	c := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, c)
	return c[Header]
}

// WithTraceparent returns ctx continuing the remote span tp names; ctx
// unchanged when tp is empty or malformed.
func WithTraceparent(ctx context.Context, tp string) context.Context {
	if tp == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{Header: tp})
}
