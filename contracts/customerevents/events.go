// Package customerevents is customer-service's messaging contract: the event
// types it publishes on outbox.event.customer and their payloads.
// customer-service owns its content; consumers import it, never the service.
//
// The payloads are written to the outbox as BSON and reach consumers as the
// JSON the relays produce from it (see docs/outbox-contract.md): amounts
// are Decimal128 in the outbox and JSON strings such as "100.00" on Kafka.
// Golden files in testdata hold the exact Kafka values; producer and consumer
// tests both read them.
package customerevents

import "github.com/sagaoutbox/platform/commonlib/money"

// AggregateType routes customer events to the Topic.
const AggregateType = "customer"

// Topic is where the relay publishes customer events.
const Topic = "outbox.event." + AggregateType

// Event types, the value of the eventType header.
const (
	CustomerPendingRegistration  = "CustomerPendingRegistrationEvent"
	CustomerRegistered           = "CustomerRegisteredEvent"
	CustomerNotRegistered        = "CustomerNotRegisteredEvent"
	CustomerRegistrationDeadLock = "CustomerRegistrationDeadLockEvent"
	ReasonRegistrationDeadLock   = "REGISTRATION_DEAD_LOCK_DETECTED"
	// ReasonFailedByOperator is the reason of a registration an operator
	// ended (POST /customer-service/customers/{id}/fail): the dead-lock
	// path, started by hand.
	ReasonFailedByOperator = "REGISTRATION_FAILED_BY_OPERATOR"
)

// Customer is the customer as events carry it. The card number is masked:
// only the last four digits leave customer-service, and never the CVV.
type Customer struct {
	ID            string `json:"id" bson:"id"`
	FirstName     string `json:"firstName" bson:"firstName"`
	LastName      string `json:"lastName" bson:"lastName"`
	Card          Card   `json:"card" bson:"card"`
	Status        string `json:"status" bson:"status"`
	FailureReason string `json:"failureReason,omitempty" bson:"failureReason,omitempty"`
}

// Card is a payment card without its secrets. Balance stands in for the card
// issuer's answer to "can this card pay the fee?".
type Card struct {
	Number     string      `json:"number" bson:"number"`
	HolderName string      `json:"holderName" bson:"holderName"`
	ValidThru  string      `json:"validThru" bson:"validThru"`
	Balance    money.Cents `json:"balance" bson:"balance"`
}

// PendingRegistration is the payload of CustomerPendingRegistrationEvent: a
// registration started and waits for the payment authorization.
type PendingRegistration struct {
	Customer Customer `json:"customer" bson:"customer"`
}

// Registered is the payload of CustomerRegisteredEvent.
type Registered struct {
	Customer Customer `json:"customer" bson:"customer"`
}

// NotRegistered is the payload of CustomerNotRegisteredEvent.
type NotRegistered struct {
	Customer Customer `json:"customer" bson:"customer"`
	Reason   string   `json:"reason" bson:"reason"`
}

// RegistrationDeadLock is the payload of CustomerRegistrationDeadLockEvent:
// the registration waited too long, or an operator ended it, and was
// failed; whatever the payment side did for it must be reverted.
type RegistrationDeadLock struct {
	CustomerID string `json:"customerId" bson:"customerId"`
	Name       string `json:"name" bson:"name"`
	Card       Card   `json:"card" bson:"card"`
	// Reason is why it was failed: ReasonRegistrationDeadLock or
	// ReasonFailedByOperator. Events written before the field existed
	// have none; read them as ReasonRegistrationDeadLock (RevertReason).
	Reason string `json:"reason,omitempty" bson:"reason,omitempty"`
}

// RevertReason is the reason to record on the reverted payment.
func (d RegistrationDeadLock) RevertReason() string {
	if d.Reason == "" {
		return ReasonRegistrationDeadLock
	}
	return d.Reason
}
