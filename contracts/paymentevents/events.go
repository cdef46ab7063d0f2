// Package paymentevents is payment-service's messaging contract: the event
// types it publishes on outbox.event.payment and their payloads.
// payment-service owns its content; consumers import it, never the service.
//
// Payloads are written to the outbox as BSON and reach consumers as the JSON
// the relays produce from it (see docs/outbox-contract.md): amounts are
// Decimal128 in the outbox and JSON strings such as "2.00" on Kafka, dates
// are epoch milliseconds. Golden files in testdata hold the exact Kafka
// values; producer and consumer tests both read them.
package paymentevents

import (
	"encoding/json"

	"github.com/sagaoutbox/platform/commonlib/money"
)

// AggregateType routes payment events to the Topic.
const AggregateType = "payment"

// Topic is where the relay publishes payment events.
const Topic = "outbox.event." + AggregateType

// Event types, the value of the eventType header.
const (
	PaymentAuthorized            = "PaymentAuthorizedEvent"
	PaymentNotAuthorized         = "PaymentNotAuthorizedEvent"
	PaymentAuthorizationReverted = "PaymentAuthorizationRevertedEvent"
)

// Reasons a payment is not authorized.
const (
	ReasonNoBalanceLeft = "NO_BALANCE_LEFT"
)

// Payment is a payment as events carry it; the payer's card is masked.
type Payment struct {
	ID         string      `json:"id" bson:"id"`
	CustomerID string      `json:"customerId" bson:"customerId"`
	Payer      Payer       `json:"payer" bson:"payer"`
	Payee      Payee       `json:"payee" bson:"payee"`
	Amount     money.Cents `json:"amount" bson:"amount"`
	Authorized bool        `json:"authorized" bson:"authorized"`
}

// Payer is who pays: a customer and a masked card number.
type Payer struct {
	Name       string `json:"name" bson:"name"`
	CardNumber string `json:"cardNumber" bson:"cardNumber"`
}

// Payee is who is paid: the company.
type Payee struct {
	Name        string `json:"name" bson:"name"`
	BankAccount string `json:"bankAccount" bson:"bankAccount"`
	BankName    string `json:"bankName" bson:"bankName"`
}

// Authorized is the payload of PaymentAuthorizedEvent: the customer's card
// can pay the authorization fee.
type Authorized struct {
	CustomerID string  `json:"customerId" bson:"customerId"`
	Payment    Payment `json:"payment" bson:"payment"`
}

// NotAuthorized is the payload of PaymentNotAuthorizedEvent.
type NotAuthorized struct {
	CustomerID string  `json:"customerId" bson:"customerId"`
	Reason     string  `json:"reason" bson:"reason"`
	Payment    Payment `json:"payment" bson:"payment"`
}

// AuthorizationReverted is the payload of PaymentAuthorizationRevertedEvent:
// the authorization of a registration that dead-locked was taken back.
type AuthorizationReverted struct {
	CustomerID string  `json:"customerId" bson:"customerId"`
	Reason     string  `json:"reason" bson:"reason"`
	Payment    Payment `json:"payment" bson:"payment"`
}

// CustomerIDOf returns the customerId of a payment event's Kafka value
// (every payload has one at its top level), "" when it has none or is not
// JSON.
func CustomerIDOf(value []byte) string {
	var v struct {
		CustomerID string `json:"customerId"`
	}
	if json.Unmarshal(value, &v) != nil {
		return ""
	}
	return v.CustomerID
}
