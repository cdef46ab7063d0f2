package web

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
)

// Page sizes of GET /registrations.
const (
	defaultLimit = 50
	maxLimit     = 500
)

// registrations answers GET /registrations?status=&olderThan=&limit=&after=.
func (h handlers) registrations(c echo.Context) error {
	q, err := parseQuery(c, time.Now())
	if err != nil {
		return err
	}
	cs, err := h.svc.Registrations(c.Request().Context(), q)
	if err != nil {
		return err
	}
	now := time.Now()
	page := sagaview.Registrations{Registrations: make([]sagaview.Registration, len(cs))}
	for i, cu := range cs {
		r := sagaview.Registration{
			ID: cu.ID, Name: cu.Name(), Status: string(cu.Status), Reason: cu.FailureReason,
			CreatedAt: cu.CreatedAt, UpdatedAt: cu.UpdatedAt,
			AgeSeconds: max(now.Sub(cu.CreatedAt).Seconds(), 0),
		}
		if cu.Status == customer.StatusPending {
			at := h.svc.DeadLockAt(cu)
			r.Awaiting, r.DeadLockAt = customer.Awaited, &at
		}
		page.Registrations[i] = r
	}
	if len(cs) == q.Limit {
		last := cs[len(cs)-1]
		page.Next = encodeCursor(customer.Cursor{CreatedAt: last.CreatedAt, ID: last.ID})
	}
	return c.JSON(http.StatusOK, page)
}

// parseQuery reads the listing parameters; field names are the query's.
func parseQuery(c echo.Context, now time.Time) (customer.Query, error) {
	var errs validation.Errors
	q := customer.Query{Limit: defaultLimit}
	switch st := customer.Status(c.QueryParam("status")); st {
	case "", customer.StatusPending, customer.StatusSuccess, customer.StatusFailed:
		q.Status = st
	default:
		errs.Add("status", "must be %s, %s or %s", customer.StatusPending, customer.StatusSuccess, customer.StatusFailed)
	}
	if v := c.QueryParam("olderThan"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs.Add("olderThan", "must be a duration such as 90s or 5m")
		} else {
			q.CreatedBefore = now.Add(-d)
		}
	}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxLimit {
			errs.Add("limit", "must be a whole number from 1 to %d", maxLimit)
		} else {
			q.Limit = n
		}
	}
	if v := c.QueryParam("after"); v != "" {
		cur, err := decodeCursor(v)
		if err != nil {
			errs.Add("after", "must be the next value of a previous page")
		} else {
			q.After = &cur
		}
	}
	return q, errs.Err()
}

// A cursor is opaque to clients: the last registration's creation time and
// id, base64url-encoded.
func encodeCursor(c customer.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + " " + c.ID))
}

func decodeCursor(s string) (customer.Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return customer.Cursor{}, err
	}
	ts, id, ok := strings.Cut(string(b), " ")
	if !ok || id == "" {
		return customer.Cursor{}, fmt.Errorf("bad cursor")
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return customer.Cursor{}, err
	}
	return customer.Cursor{CreatedAt: t, ID: id}, nil
}

// timeline answers GET /customers/{id}/timeline: this service's part of the
// registration, from the customer, its outbox events and the events it
// consumed for it.
func (h handlers) timeline(c echo.Context) error {
	ctx := c.Request().Context()
	cu, err := h.svc.Get(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	steps := []sagaview.Step{{
		Time: cu.CreatedAt, Service: h.tl.Service, Kind: sagaview.KindRequestAccepted,
		Summary: "registration accepted: " + string(customer.StatusPending),
	}}
	written, err := h.tl.Written(ctx, customerevents.Topic, cu.ID)
	if err != nil {
		return err
	}
	consumed, err := h.tl.Consumed(ctx, cu.ID)
	if err != nil {
		return err
	}
	steps = append(append(steps, written...), consumed...)
	if cu.Status != customer.StatusPending {
		if cu.FailureReason == customerevents.ReasonFailedByOperator {
			steps = append(steps, sagaview.Step{Time: cu.UpdatedAt, Service: h.tl.Service, Kind: sagaview.KindOperatorAction,
				Summary: "failed by an operator (POST .../fail)"})
		}
		summary := "registration ended: " + string(cu.Status)
		if cu.FailureReason != "" {
			summary += " (" + cu.FailureReason + ")"
		}
		steps = append(steps, sagaview.Step{Time: cu.UpdatedAt, Service: h.tl.Service, Kind: sagaview.KindRegistrationEnded, Summary: summary})
	}
	sagaview.Sort(steps)
	return c.JSON(http.StatusOK, sagaview.Timeline{CustomerID: cu.ID, Service: h.tl.Service, Steps: steps, Retention: h.tl.Retention})
}

// fail answers POST /customers/{id}/fail: the operator ends a pending
// registration now, by the dead-lock path. 200 with the customer (also when
// an operator ended it before), 409 when it ended otherwise.
func (h handlers) fail(c echo.Context) error {
	cu, err := h.svc.FailByOperator(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toResponse(cu))
}
