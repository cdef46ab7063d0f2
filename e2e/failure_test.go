package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestRedeliveryChangesNothing publishes already consumed events again, as a
// relay does after a crash or a Debezium re-snapshot.
func TestRedeliveryChangesNothing(t *testing.T) {
	p := newPlatform(t)
	p.start()
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)

	pending := recordsOf(p.records("outbox.event.customer"), "CustomerPendingRegistrationEvent", c.ID)[0]
	answer := recordsOf(p.records("outbox.event.payment"), "PaymentAuthorizedEvent", "")[0]
	paymentRecords := len(p.records("outbox.event.payment"))
	customerRecords := len(p.records("outbox.event.customer"))
	redeliver := func(topic string, r record) {
		var headers []string
		for _, h := range r.Headers {
			k, v, _ := strings.Cut(h, "=")
			headers = append(headers, k, v)
		}
		p.produce(topic, r.Key, r.Value, headers...)
	}
	redeliver("outbox.event.customer", pending)
	redeliver("outbox.event.payment", answer)
	// A marker registration behind the redeliveries: once it is done, the
	// redelivered records (earlier on their partitions or not) were consumed.
	marker := p.register(blueprintBody)
	p.waitStatus(marker.ID, "REGISTRATION_SUCCESS", sagaTimeout)
	time.Sleep(time.Second)

	if ps := p.payments(c.ID); len(ps) != 1 || !ps[0].Authorized {
		t.Errorf("payments after redelivery = %+v, want the one authorized payment", ps)
	}
	if got := p.getCustomer(c.ID).Status; got != "REGISTRATION_SUCCESS" {
		t.Errorf("status after redelivery = %s", got)
	}
	// The marker adds exactly 2 customer records (+1 redelivered) and 1
	// payment record (+1 redelivered): the redeliveries produced nothing.
	if got := len(p.records("outbox.event.payment")); got != paymentRecords+2 {
		t.Errorf("payment topic has %d records, want %d: a redelivery produced an answer", got, paymentRecords+2)
	}
	if got := len(p.records("outbox.event.customer")); got != customerRecords+3 {
		t.Errorf("customer topic has %d records, want %d: a redelivery produced an event", got, customerRecords+3)
	}
	if !strings.Contains(p.customer.Output(), "event already consumed") || !strings.Contains(p.payment.Output(), "event already consumed") {
		t.Error("the services did not report the duplicates as already consumed")
	}
}

// TestPoisonMessagesGoToDLT sends records that can never be handled: each
// lands on DLT with the reason, and the saga keeps working behind them.
func TestPoisonMessagesGoToDLT(t *testing.T) {
	p := newPlatform(t)
	p.start()
	poison := []struct {
		name, value string
		headers     []string
		wantError   string
	}{
		{"not json", "not json at all", []string{"id", "poison-1", "eventType", "PaymentAuthorizedEvent", "eventId", "poison-1"}, "invalid"},
		{"no eventType header", `{}`, []string{"id", "poison-2", "eventId", "poison-2"}, "eventType"},
		{"unknown customer", `{"customerId":"nobody","payment":{}}`, []string{"id", "poison-3", "eventType", "PaymentAuthorizedEvent", "eventId", "poison-3"}, "customer not found"},
	}
	for _, m := range poison {
		p.produce("outbox.event.payment", "poison-key", m.value, m.headers...)
	}
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)

	var dlt []record
	proctest.Eventually(t, sagaTimeout, "3 records on DLT", func() error {
		dlt = p.records("DLT")
		if len(dlt) < len(poison) {
			return errorf("%d records", len(dlt))
		}
		return nil
	})
	for _, m := range poison {
		t.Run(m.name, func(t *testing.T) {
			for _, r := range dlt {
				if r.Value != m.value {
					continue
				}
				if r.header("dlt-original-topic") != "outbox.event.payment" || r.header("dlt-original-offset") == "" ||
					r.header("dlt-original-partition") == "" || r.header("dlt-original-consumer-group") != "customerConsumerGroup1" {
					t.Errorf("DLT headers = %v, want the original topic, partition, offset and group", r.Headers)
				}
				if !strings.Contains(r.header("dlt-exception-message"), m.wantError) {
					t.Errorf("DLT reason = %q, want it to mention %q", r.header("dlt-exception-message"), m.wantError)
				}
				if r.Key != "poison-key" {
					t.Errorf("DLT key = %q, want the original key", r.Key)
				}
				return
			}
			t.Errorf("no DLT record with value %q among %d", m.value, len(dlt))
		})
	}
}

// TestDeadLock leaves a registration unanswered past DEADLOCK_TIMEOUT: it
// fails, and when payment-service processes the pending event late, its
// authorization is reverted and the late answer does not revive the
// registration.
func TestDeadLock(t *testing.T) {
	p := newPlatform(t)
	p.customerEnv = []string{"DEADLOCK_TIMEOUT=2s", "DEADLOCK_CHECK_INTERVAL=500ms"}
	p.startKafka()
	p.startCustomer()
	c := p.register(blueprintBody)
	failed := p.waitStatus(c.ID, "REGISTRATION_FAILED", 20*time.Second)
	if failed.FailureReason != "REGISTRATION_DEAD_LOCK_DETECTED" {
		t.Fatalf("failure reason = %q, want REGISTRATION_DEAD_LOCK_DETECTED", failed.FailureReason)
	}
	deadLocks := recordsOf(p.records("outbox.event.customer"), "CustomerRegistrationDeadLockEvent", c.ID)
	if len(deadLocks) != 1 {
		t.Fatalf("%d dead-lock records, want 1", len(deadLocks))
	}

	// payment-service now processes the pending event late (authorizing the
	// fee), then the dead-lock event (reverting it).
	p.startPayment()
	proctest.Eventually(t, sagaTimeout, "the late authorization is reverted", func() error {
		ps := p.payments(c.ID)
		if len(ps) != 1 || ps[0].Status != "REVERTED" || ps[0].Authorized {
			return errorf("payments = %+v", ps)
		}
		return nil
	})
	// The late PaymentAuthorizedEvent reaches customer-service, which ignores it.
	proctest.Eventually(t, sagaTimeout, "customer-service ignored the late answer", func() error {
		if !strings.Contains(p.customer.Output(), "registration already ended") {
			return errorf("not yet")
		}
		return nil
	})
	if got := p.getCustomer(c.ID); got.Status != "REGISTRATION_FAILED" || got.FailureReason != "REGISTRATION_DEAD_LOCK_DETECTED" {
		t.Errorf("customer = %s (%s), want REGISTRATION_FAILED (REGISTRATION_DEAD_LOCK_DETECTED)", got.Status, got.FailureReason)
	}
	if n := len(recordsOf(p.records("outbox.event.payment"), "PaymentAuthorizationRevertedEvent", "")); n != 1 {
		t.Errorf("%d PaymentAuthorizationRevertedEvent records, want 1", n)
	}
}
