// Package web is payment-service's HTTP API under /payment-service: the
// payments made for a customer's registration and, for operators, this
// service's part of its timeline.
package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/payment/internal/payment"
)

// BasePath is the service's context path (the blueprint's).
const BasePath = "/payment-service"

// Routes registers the payment endpoints on g (mounted at BasePath); tl's
// Service is the name timelines show.
func Routes(g *echo.Group, svc *payment.Service, tl app.Timeline) {
	h := handlers{svc: svc, tl: tl}
	g.GET("/customers/:id/timeline", h.timeline)
	g.GET("/payments", func(c echo.Context) error {
		customerID := c.QueryParam("customerId")
		if customerID == "" {
			var errs validation.Errors
			errs.Add("customerId", "is required")
			return errs
		}
		ps, err := svc.ForCustomer(c.Request().Context(), customerID)
		if err != nil {
			return err
		}
		out := make([]paymentResponse, len(ps))
		for i, p := range ps {
			out[i] = toResponse(p)
		}
		return c.JSON(http.StatusOK, out)
	})
}

type handlers struct {
	svc *payment.Service
	tl  app.Timeline
}

type paymentResponse struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customerId"`
	Amount     money.Cents `json:"amount"`
	Authorized bool        `json:"authorized"`
	Status     string      `json:"status"`
	Reason     string      `json:"reason,omitempty"`
	Payer      payer       `json:"payer"`
	Payee      payee       `json:"payee"`
	CreatedAt  time.Time   `json:"createdAt"`
	UpdatedAt  time.Time   `json:"updatedAt"`
}

type payer struct {
	Name       string `json:"name"`
	CardNumber string `json:"cardNumber"`
}

type payee struct {
	Name        string `json:"name"`
	BankAccount string `json:"bankAccount"`
	BankName    string `json:"bankName"`
}

func toResponse(p payment.Payment) paymentResponse {
	return paymentResponse{
		ID:         p.ID,
		CustomerID: p.CustomerID,
		Amount:     p.Amount,
		Authorized: p.Authorized(),
		Status:     string(p.Status),
		Reason:     p.Reason,
		Payer:      payer{Name: p.Payer.Name, CardNumber: p.Payer.CardNumber},
		Payee:      payee{Name: p.Payee.Name, BankAccount: p.Payee.BankAccount, BankName: p.Payee.BankName},
		CreatedAt:  p.CreatedAt,
		UpdatedAt:  p.UpdatedAt,
	}
}
