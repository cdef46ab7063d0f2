package web

import (
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

// timeline answers GET /customers/{id}/timeline: this service's part of a
// customer's registration, from its payment, the payment's outbox events
// and the customer events it consumed. A customer payment-service has not
// heard of has an empty timeline, not a 404: the saga may not have reached
// it yet.
func (h handlers) timeline(c echo.Context) error {
	ctx := c.Request().Context()
	customerID := c.Param("id")
	ps, err := h.svc.ForCustomer(ctx, customerID)
	if err != nil {
		return err
	}
	steps, err := h.tl.Consumed(ctx, customerID)
	if err != nil {
		return err
	}
	for _, p := range ps {
		decided := fmt.Sprintf("fee %s %s", p.Amount, p.Status)
		if p.Status == payment.StatusReverted {
			decided = fmt.Sprintf("fee %s %s", p.Amount, payment.StatusAuthorized)
		} else if p.Reason != "" {
			decided += " (" + p.Reason + ")"
		}
		steps = append(steps, sagaview.Step{Time: p.CreatedAt, Service: h.tl.Service, Kind: sagaview.KindPaymentDecided,
			Summary: decided, Key: p.ID})
		if p.Status == payment.StatusReverted {
			steps = append(steps, sagaview.Step{Time: p.UpdatedAt, Service: h.tl.Service, Kind: sagaview.KindCompensated,
				Summary: fmt.Sprintf("authorization of %s reverted (%s)", p.Amount, p.Reason), Key: p.ID})
		}
		written, err := h.tl.Written(ctx, paymentevents.Topic, p.ID)
		if err != nil {
			return err
		}
		steps = append(steps, written...)
	}
	sagaview.Sort(steps)
	if steps == nil {
		steps = []sagaview.Step{}
	}
	return c.JSON(http.StatusOK, sagaview.Timeline{CustomerID: customerID, Service: h.tl.Service, Steps: steps, Retention: h.tl.Retention})
}
