// Package console is saga-console's web application: a JSON API under
// /api and a single page (HTML, CSS and JavaScript modules embedded in the
// binary, nothing loaded from elsewhere) over it, for operators of the
// registration saga. It shows Kafka's topics, consumer groups and records,
// the registrations and one customer's merged timeline (package timeline),
// the dead-letter topic (package deadletter) and the services' relays.
//
// Its only writes are replaying dead-lettered records and failing a stuck
// registration (customer-service does that). Both are refused when the
// console listens beyond loopback, unless the deployment allows them, and
// whenever a request could come from another site (writeGuard). Everything
// it shows comes from Kafka or the services, so the page renders all of it
// as text, never as HTML.
package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/ops/timeline"
)

// bodyLimit bounds request bodies: the writes' bodies are a few positions.
const bodyLimit = "64KB"

// Deps are the parts the console shows.
type Deps struct {
	Kafka *KafkaConn
	// Customer and Payment are the two services.
	Customer, Payment *Service
	// Timelines builds the timeline page.
	Timelines timeline.Builder
}

// Server is the console's HTTP server.
type Server struct {
	cfg       Config
	kafka     *KafkaConn
	customer  *Service
	payment   *Service
	timelines timeline.Builder
	log       *slog.Logger

	listener net.Listener
	server   *http.Server
	readOnly bool
}

// New returns the console, not yet listening.
func New(cfg Config, deps Deps, log *slog.Logger) *Server {
	return &Server{
		cfg: cfg, kafka: deps.Kafka, customer: deps.Customer, payment: deps.Payment, timelines: deps.Timelines,
		log: log,
	}
}

// Listen binds cfg.Addr and decides, from the address actually bound,
// whether the console is read-only (ReadOnly).
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on CONSOLE_ADDR %s: %w", s.cfg.Addr, err)
	}
	s.listener = ln
	addr := ln.Addr().String()
	s.readOnly = ReadOnly(addr, s.cfg.AllowWrite)
	s.server = httpapi.NewServer(s.Handler(IsLoopback(addr) || !s.readOnly), s.cfg.HTTPTimeouts)
	s.log.Info("console listening", "url", "http://"+addr+"/", "read_only", s.readOnly)
	return nil
}

// ReadOnly reports whether the console refuses its writes; known once
// Listen has bound the address.
func (s *Server) ReadOnly() bool { return s.readOnly }

// Addr is the bound address, once Listen returned.
func (s *Server) Addr() string { return s.listener.Addr().String() }

// Run serves until Shutdown.
func (s *Server) Run(context.Context) error {
	if s.listener == nil {
		return errors.New("console: Listen was not called")
	}
	if err := s.server.Serve(s.listener); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("http server stopped: %w", err)
	}
	return nil
}

// Shutdown stops taking requests and waits for those in progress until ctx
// ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.server.Shutdown(ctx) }

// Handler is the console's routes. loopback says the console listens on
// loopback only: requests must then be addressed to a loopback name.
//
//	GET  /healthz                     {"status":"UP"}
//	GET  /api/config                  read-only or not, the DLT topic, the retention
//	GET  /api/topics                  topics with their partitions' offsets
//	GET  /api/groups                  consumer groups with committed offsets and lag
//	GET  /api/topics/:topic/records   newest first; limit, before, key, header=name=value
//	GET  /api/registrations           customer-service's list: status, olderThan, limit, after
//	GET  /api/customers/:id           the customer
//	GET  /api/customers/:id/timeline  the merged timeline
//	POST /api/customers/:id/fail      end a pending registration (a write)
//	GET  /api/dlt                     dead letters, newest first: originalTopic, eventType, error, key, olderThan, newerThan, limit
//	POST /api/dlt/replay              {"records":[{"partition","offset"}],"dryRun","force"} (a write)
//	GET  /api/relays                  each service's health, outbox and relay backlog
//	GET  /                            the page; /assets/* its files
func (s *Server) Handler(checkHost bool) http.Handler {
	e := httpapi.New(s.log, mapError, bodyLimit)
	e.Use(securityHeaders, hostGuard(checkHost, s.cfg.AllowedHosts))
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "UP"})
	})
	api := e.Group("/api")
	api.GET("/config", s.config)
	api.GET("/topics", s.topics)
	api.GET("/groups", s.groups)
	api.GET("/topics/:topic/records", s.records)
	api.GET("/registrations", s.registrations)
	api.GET("/customers/:id", s.customerByID)
	api.GET("/customers/:id/timeline", s.timeline)
	api.GET("/dlt", s.listDLT)
	api.GET("/relays", s.relays)
	write := writeGuard(s.readOnly)
	api.POST("/customers/:id/fail", s.fail, write)
	api.POST("/dlt/replay", s.replay, write)
	assets(e)
	return e
}

// config is GET /api/config: what the page needs to know of the console.
func (s *Server) config(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]any{
		"readOnly":         s.readOnly,
		"dltTopic":         s.cfg.DLTTopic,
		"retention":        s.cfg.Retention.String(),
		"retentionSeconds": s.cfg.Retention.Seconds(),
		"customerUrl":      s.customer.URL + s.customer.Base,
		"paymentUrl":       s.payment.URL + s.payment.Base,
		"brokers":          s.kafka.Brokers(),
		"scanLimit":        s.cfg.ScanLimit,
	})
}

// upstream is the context of one call to Kafka or a service.
func (s *Server) upstream(c echo.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(c.Request().Context(), s.cfg.UpstreamTimeout)
}
