// Package web is customer-service's HTTP API under /customer-service:
// register a customer and read its registration status; for operators, list
// registrations, show one's timeline here and end a stuck one.
package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/customer/internal/customer"
)

// BasePath is the service's context path (the blueprint's).
const BasePath = "/customer-service"

// MapError maps the core's errors for httpapi.
func MapError(err error) (int, httpapi.Problem, bool) {
	switch {
	case errors.Is(err, customer.ErrNotFound):
		return http.StatusNotFound, httpapi.Problem{Code: "CUSTOMER_NOT_FOUND", Message: "no customer with this id"}, true
	case errors.Is(err, customer.ErrRegistrationEnded):
		return http.StatusConflict, httpapi.Problem{Code: "REGISTRATION_ENDED", Message: "the registration already ended"}, true
	}
	return 0, httpapi.Problem{}, false
}

// Routes registers the customer endpoints on g (mounted at BasePath).
// tl's Service is the name timelines show (Service).
func Routes(g *echo.Group, svc *customer.Service, tl app.Timeline) {
	h := handlers{svc: svc, tl: tl}
	g.POST("/customers", h.register)
	g.POST("/customers/", h.register)
	g.GET("/customers/:id", h.get)
	g.GET("/customers/:id/timeline", h.timeline)
	g.POST("/customers/:id/fail", h.fail)
	g.GET("/registrations", h.registrations)
}

type handlers struct {
	svc *customer.Service
	tl  app.Timeline
}

type registrationRequest struct {
	FirstName string      `json:"firstName"`
	LastName  string      `json:"lastName"`
	Card      cardRequest `json:"card"`
}

type cardRequest struct {
	Number     string          `json:"number"`
	HolderName string          `json:"holderName"`
	CVV        json.RawMessage `json:"cvv"`
	ValidThru  string          `json:"validThru"`
	Balance    json.Number     `json:"balance"`
}

// toRegistration converts the request; the CVV is accepted as a JSON number
// (the blueprint's example) or a string.
func toRegistration(r registrationRequest) (customer.Registration, error) {
	cvv := string(bytes.TrimSpace(r.Card.CVV))
	if len(cvv) >= 2 && cvv[0] == '"' {
		if err := json.Unmarshal(r.Card.CVV, &cvv); err != nil {
			cvv = "?"
		}
	} else if cvv == "null" {
		cvv = ""
	} else if len(cvv) > 0 && (cvv[0] == '{' || cvv[0] == '[' || cvv[0] == 't' || cvv[0] == 'f') {
		var errs validation.Errors
		errs.Add("card.cvv", "must be a number or a string of digits")
		return customer.Registration{}, errs
	}
	return customer.Registration{
		FirstName: r.FirstName,
		LastName:  r.LastName,
		Card: customer.CardInput{
			Number:     r.Card.Number,
			HolderName: r.Card.HolderName,
			CVV:        cvv,
			ValidThru:  r.Card.ValidThru,
			Balance:    r.Card.Balance.String(),
		},
	}, nil
}

type customerResponse struct {
	ID            string       `json:"id"`
	FirstName     string       `json:"firstName"`
	LastName      string       `json:"lastName"`
	Card          cardResponse `json:"card"`
	Status        string       `json:"status"`
	FailureReason string       `json:"failureReason,omitempty"`
	CreatedAt     time.Time    `json:"createdAt"`
	UpdatedAt     time.Time    `json:"updatedAt"`
}

type cardResponse struct {
	Number     string      `json:"number"`
	HolderName string      `json:"holderName"`
	ValidThru  string      `json:"validThru"`
	Balance    money.Cents `json:"balance"`
}

func toResponse(c customer.Customer) customerResponse {
	return customerResponse{
		ID:        c.ID,
		FirstName: c.FirstName,
		LastName:  c.LastName,
		Card: cardResponse{
			Number:     c.Card.MaskedNumber(),
			HolderName: c.Card.HolderName,
			ValidThru:  c.Card.ValidThru,
			Balance:    c.Card.Balance,
		},
		Status:        string(c.Status),
		FailureReason: c.FailureReason,
		CreatedAt:     c.CreatedAt,
		UpdatedAt:     c.UpdatedAt,
	}
}

func (h handlers) register(c echo.Context) error {
	var req registrationRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	reg, err := toRegistration(req)
	if err != nil {
		return err
	}
	cust, err := h.svc.Register(c.Request().Context(), reg)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, BasePath+"/customers/"+cust.ID)
	return c.JSON(http.StatusCreated, toResponse(cust))
}

func (h handlers) get(c echo.Context) error {
	cust, err := h.svc.Get(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toResponse(cust))
}
