// Package eventstest holds the golden Kafka values of payment-service's
// events: exactly what a relay publishes for the Samples below. The producer's
// test (contracts/paymentevents) renders the samples through the relay and
// compares; consumers' tests decode the same files.
package eventstest

import (
	"embed"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
)

//go:embed testdata/*.json
var files embed.FS

// Golden returns the Kafka value of the sample of eventType.
func Golden(eventType string) []byte {
	b, err := files.ReadFile("testdata/" + eventType + ".json")
	if err != nil {
		panic("eventstest: no golden file for " + eventType) // a test-only package
	}
	return b
}

// CustomerID is the customer every sample is about.
const CustomerID = "5d2b5c1e-8b1f-4c55-a0b4-3f0d1a7e9c21"

func payment(authorized bool) paymentevents.Payment {
	return paymentevents.Payment{
		ID:         "0e6f3a52-91d4-4b0b-9d62-7c7c1d2f4a10",
		CustomerID: CustomerID,
		Payer:      paymentevents.Payer{Name: "John Doe", CardNumber: "******7890"},
		Payee:      paymentevents.Payee{Name: "SOME-COMPANY", BankAccount: "1234 5678 9101 1121", BankName: "SOME-BANK"},
		Amount:     money.Cents(200),
		Authorized: authorized,
	}
}

// Samples are one payload of each event type.
var Samples = map[string]any{
	paymentevents.PaymentAuthorized:    paymentevents.Authorized{CustomerID: CustomerID, Payment: payment(true)},
	paymentevents.PaymentNotAuthorized: paymentevents.NotAuthorized{CustomerID: CustomerID, Reason: paymentevents.ReasonNoBalanceLeft, Payment: payment(false)},
	paymentevents.PaymentAuthorizationReverted: paymentevents.AuthorizationReverted{
		CustomerID: CustomerID, Reason: "REGISTRATION_DEAD_LOCK_DETECTED", Payment: payment(false),
	},
}
