// Package sagaview is the operators' contract of the registration saga: what
// each service answers about it over HTTP (the registrations list, its part
// of one customer's timeline) and what the console and the CLI merge. Each
// service builds its part from what it already stores: the customer or the
// payment, its outbox events, its consumed-event records. The console adds
// what only Kafka knows (where an event was published, what was
// dead-lettered), and each service's outbox and relay state (Outbox). None
// of it is on the saga's path: the services never call
// each other.
package sagaview

import (
	"slices"
	"time"
)

// Step kinds. A service reports the first group; the console adds the
// second from Kafka.
const (
	// KindRequestAccepted: POST /customers accepted the registration.
	KindRequestAccepted = "request-accepted"
	// KindEventWritten: an event was written to the service's outbox, in
	// the transaction of the change it announces.
	KindEventWritten = "event-written"
	// KindEventConsumed: an event of the other service was applied (its
	// consumed-event record was written with the change).
	KindEventConsumed = "event-consumed"
	// KindDuplicateIgnored: an event consumed before was delivered again
	// and skipped (the consumed-event record counts redeliveries).
	KindDuplicateIgnored = "duplicate-ignored"
	// KindPaymentDecided: payment-service authorized the fee or not.
	KindPaymentDecided = "payment-decided"
	// KindCompensated: payment-service reverted an authorization.
	KindCompensated = "compensated"
	// KindOperatorAction: an operator ended the registration.
	KindOperatorAction = "operator-action"
	// KindRegistrationEnded: the registration reached its final status.
	KindRegistrationEnded = "registration-ended"

	// KindEventPublished: the event is on Kafka (topic, partition, offset).
	KindEventPublished = "event-published"
	// KindDeadLettered: a record of this customer is on the dead-letter
	// topic.
	KindDeadLettered = "dead-lettered"
)

// Step is one thing that happened to a registration in one service.
type Step struct {
	Time    time.Time `json:"time"`
	Service string    `json:"service"`
	Kind    string    `json:"kind"`
	// Summary is one human sentence: "CustomerPendingRegistrationEvent
	// written to the outbox".
	Summary   string `json:"summary"`
	EventType string `json:"eventType,omitempty"`
	EventID   string `json:"eventId,omitempty"`
	// Topic is where a written event is published to, or where a consumed
	// one came from. Key is its Kafka record key (the aggregate id).
	Topic string `json:"topic,omitempty"`
	Key   string `json:"key,omitempty"`
	// Partition and Offset locate the record, when known.
	Partition *int32 `json:"partition,omitempty"`
	Offset    *int64 `json:"offset,omitempty"`
	// Count is how many times it happened (redeliveries of a duplicate).
	Count int `json:"count,omitempty"`
}

// Timeline is one service's part of a customer's registration, oldest step
// first, as GET .../customers/{id}/timeline answers it.
type Timeline struct {
	CustomerID string `json:"customerId"`
	Service    string `json:"service"`
	Steps      []Step `json:"steps"`
	// Retention says what may be missing: outbox events and consumed-event
	// records are deleted after their retention.
	Retention string `json:"retention,omitempty"`
}

// Registration is one row of GET /customer-service/registrations.
type Registration struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Status    string    `json:"status"`
	Reason    string    `json:"reason,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// AgeSeconds is now minus CreatedAt.
	AgeSeconds float64 `json:"ageSeconds"`
	// Awaiting is, for a pending registration, what it waits for:
	// "PaymentAuthorizedEvent|PaymentNotAuthorizedEvent from payment-service".
	Awaiting string `json:"awaiting,omitempty"`
	// DeadLockAt is, for a pending registration, when the dead-lock
	// detection fails it at the earliest (CreatedAt + DEADLOCK_TIMEOUT).
	DeadLockAt *time.Time `json:"deadLockAt,omitempty"`
}

// Registrations is a page of registrations, newest first. Next, when set,
// is the value of the after parameter that returns the following page.
type Registrations struct {
	Registrations []Registration `json:"registrations"`
	Next          string         `json:"next,omitempty"`
}

// Outbox is what GET <base>/outbox reports: the outbox's size and, with
// the embedded relay, the relay's counters. LastError is a short cause
// (commonlib/app relayCause), not the error's text, which may hold file paths, addresses
// and driver detail: the relay logs that.
type Outbox struct {
	Relay            string     `json:"relay"`
	Events           int64      `json:"events"`
	Leader           *bool      `json:"leader,omitempty"`
	Holder           string     `json:"holder,omitempty"`
	Published        int64      `json:"published"`
	PublishedThrough *time.Time `json:"publishedThrough,omitempty"`
	Parked           int64      `json:"parked"`
	Dropped          int64      `json:"dropped"`
	Sweeps           int64      `json:"sweeps"`
	HistoryLost      int64      `json:"historyLost"`
	KafkaRetries     int64      `json:"kafkaRetries"`
	LastError        string     `json:"lastError,omitempty"`
	LastErrorAt      *time.Time `json:"lastErrorAt,omitempty"`
	FailingSince     *time.Time `json:"failingSince,omitempty"`
}

// Sort orders steps by cause, then time. Clocks of different services
// disagree and the stores keep milliseconds, so time alone can put an
// event's consumption before its writing; Sort keeps each service's steps
// in time order (steps of one transaction, at the same millisecond, in the
// order they happen: consumed, decided, written, ended) and puts an
// event's writing before its publication before its consumption or
// dead-lettering, whatever the times say. Among the steps free to come
// next it takes the earliest. Two transactions of one service in the same
// millisecond cannot be told apart: their steps are ordered as one.
func Sort(steps []Step) {
	n := len(steps)
	less := func(a, b int) bool {
		sa, sb := steps[a], steps[b]
		if c := sa.Time.Compare(sb.Time); c != 0 {
			return c < 0
		}
		if ra, rb := rank(sa.Kind), rank(sb.Kind); ra != rb {
			return ra < rb
		}
		return a < b
	}
	// Edges: each service's steps in order, and an event's stages.
	after := make([][]int, n)
	preds := make([]int, n)
	edge := func(from, to int) { after[from] = append(after[from], to); preds[to]++ }
	byService := map[string][]int{}
	stages := map[string][3][]int{} // event id: written, published, consumed or dead-lettered
	for i, s := range steps {
		byService[s.Service] = append(byService[s.Service], i)
		if s.EventID == "" {
			continue
		}
		st := stages[s.EventID]
		switch s.Kind {
		case KindEventWritten:
			st[0] = append(st[0], i)
		case KindEventPublished:
			st[1] = append(st[1], i)
		case KindEventConsumed, KindDuplicateIgnored, KindDeadLettered:
			st[2] = append(st[2], i)
		}
		stages[s.EventID] = st
	}
	for _, idx := range byService {
		slices.SortFunc(idx, func(a, b int) int {
			if less(a, b) {
				return -1
			}
			return 1
		})
		for j := 1; j < len(idx); j++ {
			edge(idx[j-1], idx[j])
		}
	}
	link := func(from, to []int) {
		for _, f := range from {
			for _, t := range to {
				if steps[f].Service != steps[t].Service { // one service's own order is its clock's
					edge(f, t)
				}
			}
		}
	}
	for _, st := range stages {
		written, published, used := st[0], st[1], st[2]
		if len(published) == 0 {
			link(written, used)
		} else {
			link(written, published)
			link(published, used)
		}
	}
	// Kahn's algorithm, earliest free step first; should the edges ever
	// form a cycle, the rest follows by time.
	done := make([]bool, n)
	order := make([]int, 0, n)
	for len(order) < n {
		next := -1
		for i := range n {
			if !done[i] && preds[i] == 0 && (next < 0 || less(i, next)) {
				next = i
			}
		}
		if next < 0 {
			for i := range n {
				if !done[i] && (next < 0 || less(i, next)) {
					next = i
				}
			}
			preds[next] = 0
		}
		done[next] = true
		order = append(order, next)
		for _, t := range after[next] {
			preds[t]--
		}
	}
	sorted := make([]Step, n)
	for i, j := range order {
		sorted[i] = steps[j]
	}
	copy(steps, sorted)
}

// rank orders the steps of one transaction, which share a time.
func rank(kind string) int {
	switch kind {
	case KindRequestAccepted:
		return 0
	case KindEventConsumed, KindDuplicateIgnored:
		return 1
	case KindPaymentDecided, KindOperatorAction, KindCompensated:
		return 2
	case KindEventWritten:
		return 3
	case KindRegistrationEnded:
		return 4
	}
	return 5 // what Kafka saw: after what the services wrote
}
