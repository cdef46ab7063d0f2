package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/ops/timeline"
)

// registrations is GET /api/registrations: customer-service's list, with
// the same parameters (status, olderThan, limit, after), which it checks.
func (s *Server) registrations(c echo.Context) error {
	q := url.Values{}
	for _, name := range []string{"status", "olderThan", "limit", "after"} {
		if v := c.QueryParam(name); v != "" {
			q.Set(name, v)
		}
	}
	page, err := s.customer.Registrations(c.Request().Context(), q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, page)
}

// customerByID is GET /api/customers/:id: the customer as customer-service
// shows it.
func (s *Server) customerByID(c echo.Context) error {
	cu, err := s.customer.Customer(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, cu)
}

// timeline is GET /api/customers/:id/timeline: the merged timeline.
func (s *Server) timeline(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*s.cfg.UpstreamTimeout)
	defer cancel()
	tl, err := s.timelines.Build(ctx, c.Param("id"))
	if errors.Is(err, timeline.ErrUnknownCustomer) {
		return problem(http.StatusNotFound, "CUSTOMER_NOT_FOUND", "no service knows this customer")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, tl)
}

// fail is POST /api/customers/:id/fail: customer-service ends the pending
// registration (200 with the customer; 409 when it already ended).
func (s *Server) fail(c echo.Context) error {
	id := c.Param("id")
	cu, err := s.customer.Fail(c.Request().Context(), id)
	if err != nil {
		return err
	}
	s.log.Info("registration failed by an operator", "customer", id)
	return c.JSON(http.StatusOK, cu)
}

// relayView is one service on the relays page.
type relayView struct {
	Service string `json:"service"`
	URL     string `json:"url"`
	// Health is nil, and HealthError set, when the service did not answer.
	Health      *Health          `json:"health"`
	HealthError string           `json:"healthError,omitempty"`
	Outbox      *sagaview.Outbox `json:"outbox"`
	OutboxError string           `json:"outboxError,omitempty"`
	// Backlog is what /metrics says; nil when it could not be read.
	Backlog      *Backlog `json:"backlog"`
	BacklogError string   `json:"backlogError,omitempty"`
}

// relays is GET /api/relays: each service's /health, /outbox and relay
// backlog, asked in parallel; a service that does not answer is shown so.
func (s *Server) relays(c echo.Context) error {
	ctx := c.Request().Context()
	svcs := []*Service{s.customer, s.payment}
	out := make([]relayView, len(svcs))
	var wg sync.WaitGroup
	for i, svc := range svcs {
		out[i] = relayView{Service: svc.Name, URL: svc.URL + svc.Base}
		v := &out[i]
		wg.Go(func() {
			if h, err := svc.Health(ctx); err != nil {
				v.HealthError = err.Error()
			} else {
				v.Health = &h
			}
		})
		wg.Go(func() {
			if o, err := svc.Outbox(ctx); err != nil {
				v.OutboxError = err.Error()
			} else {
				v.Outbox = &o
			}
		})
		wg.Go(func() {
			if b, err := svc.Backlog(ctx); err != nil {
				v.BacklogError = err.Error()
			} else {
				v.Backlog = &b
			}
		})
	}
	wg.Wait()
	return c.JSON(http.StatusOK, map[string]any{"services": out})
}
