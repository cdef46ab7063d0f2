package console

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/ops/timeline"
)

// maxUpstreamBody bounds what the console reads of a service's answer.
const maxUpstreamBody = 4 << 20

// Service is a client of one saga service's operator endpoints: the
// registrations list, the timeline, the fail action, /outbox, /health and
// /metrics. Every call is bounded by the client's timeout.
type Service struct {
	// Name is the service's name (customer-service).
	Name string
	// URL is the service's address without its base path
	// (http://127.0.0.1:9990).
	URL string
	// Base is its base path (/customer-service).
	Base    string
	timeout time.Duration
	http    *http.Client
}

// NewService returns a client of the service at rawURL (scheme, host and
// port) under base, each call bounded by timeout.
func NewService(name, rawURL, base string, timeout time.Duration) *Service {
	return &Service{
		Name: name, URL: strings.TrimSuffix(rawURL, "/"), Base: base, timeout: timeout,
		http: &http.Client{
			Timeout: timeout,
			// Redirects are not followed: the operator endpoints never
			// redirect, and a redirect elsewhere is not the service.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// UpstreamError is a service's answer other than the one asked for, or
// its silence. Its text is safe to show: a status and the service's
// problem code, or a short cause, never a response body.
type UpstreamError struct {
	Service string
	// Status is the HTTP status, 0 when there was no answer.
	Status int
	// Problem is the service's error body, when it sent one.
	Problem httpapi.Problem
	cause   string
}

func (e *UpstreamError) Error() string { return e.Service + ": " + e.Cause() }

// Cause is the error without the service's name: "no answer in time",
// "answered 500 INTERNAL".
func (e *UpstreamError) Cause() string {
	switch {
	case e.Status == 0:
		return e.cause
	case e.Problem.Code != "":
		return fmt.Sprintf("answered %d %s", e.Status, e.Problem.Code)
	}
	return fmt.Sprintf("answered %d", e.Status)
}

// do sends a request and returns the status and body of the service's
// answer; err is an *UpstreamError when there is none.
func (s *Service) do(ctx context.Context, method, path string, query url.Values) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	u := s.URL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader("{}")
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return 0, nil, &UpstreamError{Service: s.Name, cause: "bad URL"}
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.http.Do(req)
	if err != nil {
		return 0, nil, &UpstreamError{Service: s.Name, cause: netCause(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxUpstreamBody+1))
	if err != nil {
		return 0, nil, &UpstreamError{Service: s.Name, cause: netCause(err)}
	}
	if len(b) > maxUpstreamBody {
		return 0, nil, &UpstreamError{Service: s.Name, cause: "answer too large"}
	}
	return resp.StatusCode, b, nil
}

// netCause says briefly why a request got no answer.
func netCause(err error) string {
	var ne net.Error
	var oe *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "request canceled"
	case errors.As(err, &oe) && oe.Op == "dial":
		return "not reachable (connection refused)"
	}
	return "no answer (the connection failed)"
}

// getJSON GETs path and decodes a 200 answer into v.
func (s *Service) getJSON(ctx context.Context, path string, query url.Values, v any) error {
	status, body, err := s.do(ctx, http.MethodGet, path, query)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return s.answerError(status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return &UpstreamError{Service: s.Name, Status: status, cause: "not json"}
	}
	return nil
}

func (s *Service) answerError(status int, body []byte) error {
	e := &UpstreamError{Service: s.Name, Status: status}
	_ = json.Unmarshal(body, &e.Problem)
	return e
}

// Registrations lists registrations: GET {base}/registrations with the
// query's status, olderThan, limit and after.
func (s *Service) Registrations(ctx context.Context, query url.Values) (sagaview.Registrations, error) {
	var page sagaview.Registrations
	err := s.getJSON(ctx, s.Base+"/registrations", query, &page)
	return page, err
}

// customerPath is the path of customer id under the service's base. An id
// is one path segment: escaped, and never a dot segment a proxy in front
// of the service would resolve to another endpoint.
func (s *Service) customerPath(id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		var errs validation.Errors
		errs.Add("id", "is not a customer id")
		return "", errs
	}
	return s.Base + "/customers/" + url.PathEscape(id), nil
}

// Customer returns the customer as the service shows it.
func (s *Service) Customer(ctx context.Context, id string) (json.RawMessage, error) {
	path, err := s.customerPath(id)
	if err != nil {
		return nil, err
	}
	var c json.RawMessage
	err = s.getJSON(ctx, path, nil, &c)
	return c, err
}

// Fail ends a pending registration: POST {base}/customers/{id}/fail. The
// answer is the customer.
func (s *Service) Fail(ctx context.Context, id string) (json.RawMessage, error) {
	path, err := s.customerPath(id)
	if err != nil {
		return nil, err
	}
	status, body, err := s.do(ctx, http.MethodPost, path+"/fail", nil)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, s.answerError(status, body)
	}
	if !json.Valid(body) {
		return nil, &UpstreamError{Service: s.Name, Status: status, cause: "not json"}
	}
	return json.RawMessage(body), nil
}

// Timeline returns the service's part of a customer's timeline, or
// timeline.ErrUnknownCustomer when the service does not know the
// customer. A service that does not serve timelines (an older version:
// a 404 without a problem code of its own) is an *UpstreamError.
func (s *Service) Timeline(ctx context.Context, id string) (sagaview.Timeline, error) {
	path, err := s.customerPath(id)
	if err != nil {
		return sagaview.Timeline{}, err
	}
	var tl sagaview.Timeline
	err = s.getJSON(ctx, path+"/timeline", nil, &tl)
	var ue *UpstreamError
	if errors.As(err, &ue) && ue.Status == http.StatusNotFound && strings.HasSuffix(ue.Problem.Code, "_NOT_FOUND") && ue.Problem.Code != "NOT_FOUND" {
		return sagaview.Timeline{}, timeline.ErrUnknownCustomer
	}
	return tl, err
}

// Source is the service as a timeline source.
func (s *Service) Source() timeline.Source {
	return timeline.Source{Service: s.Name, Fetch: s.Timeline}
}

// Outbox returns the service's outbox and relay state.
func (s *Service) Outbox(ctx context.Context) (sagaview.Outbox, error) {
	var o sagaview.Outbox
	err := s.getJSON(ctx, s.Base+"/outbox", nil, &o)
	return o, err
}

// Health is a service's GET {base}/health answer: 200 UP, 503 with the
// failing checks.
type Health struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
	// Code is the HTTP status.
	Code int `json:"code"`
}

// Health returns the service's health; a 503 is an answer, not an error.
func (s *Service) Health(ctx context.Context) (Health, error) {
	status, body, err := s.do(ctx, http.MethodGet, s.Base+"/health", nil)
	if err != nil {
		return Health{}, err
	}
	if status != http.StatusOK && status != http.StatusServiceUnavailable {
		return Health{}, s.answerError(status, body)
	}
	h := Health{Code: status}
	if err := json.Unmarshal(body, &h); err != nil {
		return Health{}, &UpstreamError{Service: s.Name, Status: status, cause: "not json"}
	}
	return h, nil
}

// Backlog is what a service's metrics say of its relay's backlog.
type Backlog struct {
	// Events are the outbox events written after the relay's
	// published-through mark (saga_relay_backlog_events).
	Events *float64 `json:"events"`
	// LagSeconds is the age of the oldest of them
	// (saga_relay_lag_seconds).
	LagSeconds *float64 `json:"lagSeconds"`
}

// Backlog reads the relay's backlog from the service's GET /metrics (at
// the root of its address); both are nil when the service does not
// export them (no embedded relay).
func (s *Service) Backlog(ctx context.Context) (Backlog, error) {
	status, body, err := s.do(ctx, http.MethodGet, "/metrics", nil)
	if err != nil {
		return Backlog{}, err
	}
	if status != http.StatusOK {
		return Backlog{}, s.answerError(status, body)
	}
	var b Backlog
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := sample(sc.Text())
		if !ok {
			continue
		}
		switch name {
		case "saga_relay_backlog_events":
			b.Events = &value
		case "saga_relay_lag_seconds":
			b.LagSeconds = &value
		}
	}
	return b, nil
}

// sample parses a line of the Prometheus text format, "name{labels} value
// [timestamp]", summing nothing: the relay gauges have one series each.
func sample(line string) (string, float64, bool) {
	if line == "" || line[0] == '#' {
		return "", 0, false
	}
	name, rest, ok := strings.Cut(line, " ")
	if !ok {
		return "", 0, false
	}
	if i := strings.IndexByte(name, '{'); i >= 0 {
		name = name[:i]
		if j := strings.LastIndexByte(line, '}'); j >= 0 {
			rest = strings.TrimSpace(line[j+1:])
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return "", 0, false
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	return name, v, err == nil
}
