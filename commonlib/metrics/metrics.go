// Package metrics exports a process's metrics in the Prometheus text format:
// one registry per process (New), with the Go runtime and process
// collectors, served by Handler at GET /metrics. It defines the metrics the
// commonlib building blocks report: events appended to the outbox
// (saga_outbox_...), records consumed (saga_consumer_..., recorded through
// router.Observer), HTTP requests (saga_http_..., HTTPMiddleware) and the
// relays' counters read from relay.Stats at scrape time (saga_relay_...,
// RelayCollector).
//
// It never touches Prometheus's global default registry, and a nil *Metrics
// records nothing, so libraries take one and work without. A service's own
// metrics (the saga's) are defined by the service, on Registry.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one process's registry and the metrics commonlib reports.
type Metrics struct {
	// Registry is the process's registry; a service registers its own
	// metrics on it.
	Registry *prometheus.Registry

	appended        *prometheus.CounterVec
	consumed        *prometheus.CounterVec
	handlerDuration *prometheus.HistogramVec
	consumerLag     *prometheus.GaugeVec
	httpRequests    *prometheus.CounterVec
	httpDuration    *prometheus.HistogramVec
}

// New returns a fresh registry with the Go runtime and process collectors
// and commonlib's metrics registered.
func New() *Metrics {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: reg,
		appended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_outbox_events_appended_total",
			Help: "Events appended to the outbox with their business change, by event type.",
		}, []string{"event_type"}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_consumer_records_total",
			Help: "Kafka records consumed, by topic, event type and outcome (handled, duplicate, ignored, dead_lettered, retried: one per failed attempt retried).",
		}, []string{"topic", "event_type", "outcome"}),
		handlerDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "saga_consumer_handler_duration_seconds",
			Help:    "Duration of one handler call (an attempt), by topic and event type.",
			Buckets: prometheus.DefBuckets,
		}, []string{"topic", "event_type"}),
		consumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "saga_consumer_lag_records",
			Help: "Records of a partition behind its high-water mark, as of the last record consumed from it.",
		}, []string{"topic", "partition"}),
		httpRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "saga_http_requests_total",
			Help: "HTTP requests answered, by method, route (the route's path pattern) and status code.",
		}, []string{"method", "route", "code"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "saga_http_request_duration_seconds",
			Help:    "Duration of HTTP requests, by method, route and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"method", "route", "code"}),
	}
	reg.MustRegister(m.appended, m.consumed, m.handlerDuration, m.consumerLag, m.httpRequests, m.httpDuration)
	return m
}

// Handler serves the registry in the Prometheus text format. A nil
// *Metrics answers 404.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// Register registers c, for a collector a service defines; nil-safe.
func (m *Metrics) Register(c prometheus.Collector) error {
	if m == nil {
		return nil
	}
	return m.Registry.Register(c)
}

// OutboxAppended counts an event appended to the outbox in a transaction
// that committed.
func (m *Metrics) OutboxAppended(eventType string) {
	if m == nil {
		return
	}
	m.appended.WithLabelValues(eventType).Inc()
}

// Consumed counts a consumed record's outcome (router.Observer).
func (m *Metrics) Consumed(topic, eventType, outcome string) {
	if m == nil {
		return
	}
	m.consumed.WithLabelValues(topic, eventType, outcome).Inc()
}

// HandlerDuration observes one handler call (router.Observer).
func (m *Metrics) HandlerDuration(topic, eventType string, d time.Duration) {
	if m == nil {
		return
	}
	m.handlerDuration.WithLabelValues(topic, eventType).Observe(d.Seconds())
}

// Lag sets how far a partition's consumer is behind (router.Observer).
func (m *Metrics) Lag(topic string, partition int32, lag int64) {
	if m == nil {
		return
	}
	m.consumerLag.WithLabelValues(topic, strconv.FormatInt(int64(partition), 10)).Set(float64(max(lag, 0)))
}

// HTTPMiddleware counts and times requests by method, echo's route path
// (c.Path(), never the raw URL, so ids do not multiply the series; requests
// matching no route are "unmatched") and status code. Use it on the echo
// itself so it sees the status the HTTPErrorHandler answers.
func (m *Metrics) HTTPMiddleware(next echo.HandlerFunc) echo.HandlerFunc {
	if m == nil {
		return next
	}
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			// Let the error handler write the answer now, so its status
			// is the one counted; echo skips a committed response.
			c.Error(err)
			err = nil
		}
		route := c.Path()
		if route == "" {
			route = "unmatched"
		}
		code := strconv.Itoa(c.Response().Status)
		labels := []string{c.Request().Method, route, code}
		m.httpRequests.WithLabelValues(labels...).Inc()
		m.httpDuration.WithLabelValues(labels...).Observe(time.Since(start).Seconds())
		return err
	}
}
