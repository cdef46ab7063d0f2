// Package eventstest holds the golden Kafka values of customer-service's
// events: exactly what a relay publishes for the Samples below. The producer's
// test (contracts/customerevents) renders the samples through the relay and
// compares; consumers' tests decode the same files. A change to the contract
// therefore fails one side or the other until both agree.
package eventstest

import (
	"embed"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/contracts/customerevents"
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

func customer(status, reason string) customerevents.Customer {
	return customerevents.Customer{
		ID:        CustomerID,
		FirstName: "John",
		LastName:  "Doe",
		Card: customerevents.Card{
			Number:     "******7890",
			HolderName: "John Doe",
			ValidThru:  "2024-05-04",
			Balance:    money.Cents(10000),
		},
		Status:        status,
		FailureReason: reason,
	}
}

// Samples are one payload of each event type.
var Samples = map[string]any{
	customerevents.CustomerPendingRegistration: customerevents.PendingRegistration{Customer: customer("REGISTRATION_PENDING", "")},
	customerevents.CustomerRegistered:          customerevents.Registered{Customer: customer("REGISTRATION_SUCCESS", "")},
	customerevents.CustomerNotRegistered: customerevents.NotRegistered{
		Customer: customer("REGISTRATION_FAILED", "NO_BALANCE_LEFT"), Reason: "NO_BALANCE_LEFT",
	},
	customerevents.CustomerRegistrationDeadLock: customerevents.RegistrationDeadLock{
		CustomerID: CustomerID, Name: "John Doe", Card: customer("", "").Card,
		Reason: customerevents.ReasonRegistrationDeadLock,
	},
}
