package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

// API is the service's HTTP API under Spec.BasePath: the service's routes,
// added to Group, and GET /health and GET /outbox.
type API struct {
	// Group is where the service adds its routes, relative to
	// Spec.BasePath.
	Group *echo.Group

	addr     string
	base     string
	server   *http.Server
	listener net.Listener
	log      *slog.Logger
}

// NewAPI returns the API, not yet listening. /health checks the store, its
// write queue, the broker, and the relay and consumers (DOWN when failing for
// longer than HEALTH_FAILING_AFTER); rel is nil without an embedded relay.
// With Spec.Metrics it counts requests by route and serves GET /metrics at
// the root, with the relay's counters, backlog and lag read at scrape.
func NewAPI(spec Spec, store *mongotx.Client, out *outbox.Outbox, rel *Relay, consumers *Consumers, log *slog.Logger) *API {
	cfg := spec.Config
	e := httpapi.New(log, withStoreErrors(spec.MapError), "64KB")
	// Middleware on the echo itself, not the group: group middleware makes
	// echo add a catch-all route to the group, which answers 404 where a
	// known path asked with another method is a 405.
	e.Use(spec.Metrics.HTTPMiddleware, traceHTTP, newWorkOnPost)
	if spec.Metrics != nil {
		// At the root, where Prometheus looks by default, not under
		// BasePath; the relay's and outbox's series are read at scrape.
		e.GET("/metrics", echo.WrapHandler(spec.Metrics.Handler()))
		err := spec.Metrics.Register(metrics.RelayCollector(func() []metrics.RelaySource {
			r := rel.running()
			if r == nil {
				return nil
			}
			return []metrics.RelaySource{{Connector: rel.config.Name, Database: rel.database, Relay: r, Backlog: out.Backlog}}
		}))
		if err != nil {
			// Only a second API on the same Metrics gets here.
			log.Error("relay metrics not registered", "err", err)
		}
	}
	g := e.Group(spec.BasePath)
	g.GET("/health", httpapi.Health(
		httpapi.Check{Name: "store", Probe: store.Ping},
		httpapi.Check{Name: "writes", Probe: func(context.Context) error {
			if store.Saturated() {
				return &httpapi.StateError{State: "SATURATED", Reason: "the store's write queue is full; new registrations are refused"}
			}
			return nil
		}},
		httpapi.Check{Name: "broker", Probe: func(ctx context.Context) error { return kafkaclient.Ping(ctx, cfg.Brokers) }},
		httpapi.Check{Name: "relay", Probe: func(context.Context) error {
			if r := rel.running(); r != nil {
				return failing(r.Stats().FailingSince, cfg.FailingAfter)
			}
			return nil
		}},
		httpapi.Check{Name: "consumers", Probe: func(context.Context) error {
			if r := consumers.running(); r != nil {
				return failing(r.FailingSince(), cfg.FailingAfter)
			}
			return nil
		}},
	))
	g.GET("/outbox", func(c echo.Context) error {
		return c.JSON(http.StatusOK, outboxStatus(c.Request().Context(), cfg.Relay, out, rel.running()))
	})
	return &API{
		Group:  g,
		addr:   cfg.HTTPAddr,
		base:   spec.BasePath,
		server: httpapi.NewServer(e, cfg.HTTPTimeouts),
		log:    log,
	}
}

// Listen binds HTTP_ADDR. A main calls it last before running its parts,
// so that no later step can fail with the port bound.
func (a *API) Listen() error {
	ln, err := net.Listen("tcp", a.addr)
	if err != nil {
		return fmt.Errorf("listen on HTTP_ADDR %s: %w", a.addr, err)
	}
	a.listener = ln
	a.log.Info("http listening", "addr", ln.Addr().String(), "base", a.base)
	return nil
}

// Run serves HTTP on the listener until Shutdown.
func (a *API) Run(context.Context) error {
	if a.listener == nil {
		return errors.New("http server: Listen was not called")
	}
	if err := a.server.Serve(a.listener); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server stopped: %w", err)
	}
	return nil
}

// Shutdown stops taking requests and waits for those in progress until ctx
// ends.
func (a *API) Shutdown(ctx context.Context) error {
	return a.server.Shutdown(ctx)
}

// traceHTTP runs each API request in a server span that continues the
// caller's W3C traceparent, or starts a trace without one. /health and
// /metrics are polled too often to be worth a span.
func traceHTTP(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		route := c.Path()
		if route == "" || strings.HasSuffix(route, "/health") || route == "/metrics" {
			return next(c)
		}
		req := c.Request()
		ctx := otel.GetTextMapPropagator().Extract(req.Context(), propagation.HeaderCarrier(req.Header))
		ctx, span := tracing.Tracer().Start(ctx, req.Method+" "+route,
			trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(req.Method), semconv.HTTPRoute(route)))
		defer span.End()
		c.SetRequest(req.WithContext(ctx))
		err := next(c)
		status := c.Response().Status
		if err != nil {
			c.Error(err) // answer now, so the span sees the status
			status = c.Response().Status
			span.RecordError(err)
		}
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		return nil
	}
}

// newWorkOnPost marks a POST's transactions as new work (mongotx.NewWork):
// under overload they are refused at once, while the consumers' saga steps
// already queued go first.
func newWorkOnPost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodPost {
			c.SetRequest(c.Request().WithContext(mongotx.NewWork(c.Request().Context())))
		}
		return next(c)
	}
}

// withStoreErrors answers 503 with Retry-After for a saturated or
// unavailable store, before the service's own mapping.
func withStoreErrors(mapErr httpapi.Mapper) httpapi.Mapper {
	return func(err error) (int, httpapi.Problem, bool) {
		switch {
		case errors.Is(err, mongotx.ErrSaturated):
			return http.StatusServiceUnavailable, httpapi.Problem{Code: "SATURATED", Message: "too many registrations in progress; retry later", RetryAfter: 1}, true
		case mongotx.IsUnavailable(err):
			return http.StatusServiceUnavailable, httpapi.Problem{Code: "STORE_UNAVAILABLE", Message: "the store is unavailable; retry later", RetryAfter: 5}, true
		}
		if mapErr == nil {
			return 0, httpapi.Problem{}, false
		}
		return mapErr(err)
	}
}

// outboxStatus is GET <base>/outbox's answer; r is the running relay, nil
// when there is none (yet).
func outboxStatus(ctx context.Context, mode string, out *outbox.Outbox, r *relay.Relay) sagaview.Outbox {
	st := sagaview.Outbox{Relay: mode, Events: -1}
	if n, err := out.Count(ctx); err == nil {
		st.Events = n
	}
	if r == nil {
		return st
	}
	stats := r.Stats()
	timeOrNil := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	st.Leader, st.Holder = &stats.Leader, stats.Holder
	st.Published, st.Parked, st.Dropped = stats.Published, stats.Parked, stats.Dropped
	st.Sweeps, st.HistoryLost, st.KafkaRetries = stats.Sweeps, stats.HistoryLost, stats.KafkaRetries
	st.LastError, st.LastErrorAt, st.FailingSince = relayCause(stats.LastError), timeOrNil(stats.LastErrorAt), timeOrNil(stats.FailingSince)
	if t, err := r.PublishedThrough(ctx); err == nil {
		st.PublishedThrough = timeOrNil(t)
	}
	return st
}

// relayCauses maps what a relay error says to the short cause shown by
// GET <base>/outbox, first match wins. The relay's Stats keep only the
// error's text, so its wording is matched: commonlib/relay prefixes its own
// errors ("relay: lease …", "relay: change stream …"), the store's write
// failures read "store cannot write", sarama's errors start with "kafka".
var relayCauses = []struct{ contains, cause string }{
	{"store cannot write", "the store cannot write"},
	{"lease expired before the batch was sent", "the lease expired before kafka acknowledged the batch"},
	{"lease taken by another holder", "another replica took the lease"},
	{"lease", "the lease could not be read or renewed"},
	{"kafka", "kafka did not acknowledge the batch"},
	{"circuit breaker", "kafka did not acknowledge the batch"},
	{"change stream", "the change stream failed"},
	{"position", "the relay position could not be read or stored"},
	{"sweep", "the outbox could not be read"},
	{"list collections", "the outbox could not be read"},
	{"park", "an unroutable document could not be parked"},
}

// relayCause is the short cause of a relay error for GET <base>/outbox: a
// fixed phrase, never the error's own text, which may name files (the
// embedded store's journal), addresses or driver internals. The detail is
// in the service log, where the relay logs every error it recovers from.
func relayCause(lastError string) string {
	if lastError == "" {
		return ""
	}
	lower := strings.ToLower(lastError)
	for _, c := range relayCauses {
		if strings.Contains(lower, c.contains) {
			return c.cause + " (details in the service log)"
		}
	}
	return "the relay failed (details in the service log)"
}

// failing reports a component failing without recovering since since for
// longer than bound.
func failing(since time.Time, bound time.Duration) error {
	if since.IsZero() || time.Since(since) <= bound {
		return nil
	}
	return fmt.Errorf("failing since %s", since.UTC().Format(time.RFC3339))
}
