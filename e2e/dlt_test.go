package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// inspect runs kafka-inspect against the platform's broker, with nothing of
// the developer's shell that it reads.
func (p *platform) inspect(args ...string) proctest.Result {
	p.t.Helper()
	env := proctest.Environ([]string{"KAFKA_BROKERS=", "CONSUMED_EVENTS_RETENTION="}, "KAFKA_BROKERS="+p.kafkaAddr)
	return proctest.Run(p.t, 30*time.Second, env, filepath.Join(binDir, "kafka-inspect"), args...)
}

// TestDeadLetterReplayAfterFix is the operator's path through a dead letter
// with the real binaries: payment-service's answer for a registration that
// customer-service has lost (its store restored from a backup older than the
// registration) is dead-lettered as an unknown customer; the operator
// restores the registration into the stopped service's store, replays the
// record with kafka-inspect dlt replay, and the registration ends as the
// answer says, once. A second replay of the same record applies nothing:
// the consumer recognises the event id.
//
// payment-service does not run: the test plays its relay, producing the
// answer as the relay publishes one (key, headers id, eventType, eventId,
// traceparent; the payload of contracts/paymentevents), because with the real
// payment-service the answer only exists for a registration customer-service
// wrote, and losing it again would need the store restore the test does
// anyway.
func TestDeadLetterReplayAfterFix(t *testing.T) {
	p := newPlatform(t)
	p.startKafka()
	p.startCustomer()
	p.waitHealthy(p.customerURL("/health"))

	const (
		customerID = "5d2b5c1e-8b1f-4c55-a0b4-3f0d1a7e9c21"
		eventID    = "3f8e1c2a-77d0-4f4e-9a51-0c6f2b9d8e13"
		answer     = `{"customerId":"` + customerID + `","reason":"NO_BALANCE_LEFT","payment":{"id":"0e6f3a52-91d4-4b0b-9d62-7c7c1d2f4a10","customerId":"` + customerID + `",` +
			`"payer":{"name":"Jane Roe","cardNumber":"******1111"},"payee":{"name":"SOME-COMPANY","bankAccount":"1234 5678 9101 1121","bankName":"SOME-BANK"},"amount":"2.00","authorized":false}}`
	)
	p.produce("outbox.event.payment", customerID, answer,
		"id", eventID, "eventType", "PaymentNotAuthorizedEvent", "eventId", eventID,
		"traceparent", "00-4bf92f3577b34da6a1a2b3c4d5e6f708-00f067aa0ba902b7-01")

	// 1. It is dead-lettered: kafka-inspect dlt shows where from and why.
	var position, listing string
	row := regexp.MustCompile(`(?m)^(\d+) +(\d+) +\S+ +\S+ +outbox\.event\.payment/\d+@\d+ +customerConsumerGroup1 +PaymentNotAuthorizedEvent +1 +(.*)$`)
	proctest.Eventually(t, sagaTimeout, "the answer on DLT", func() error {
		res := p.inspect("dlt", "-key", customerID)
		if res.Code != 0 {
			return fmt.Errorf("kafka-inspect dlt: exit %d: %s", res.Code, res.Stderr)
		}
		m := row.FindStringSubmatch(res.Stdout)
		if m == nil {
			return fmt.Errorf("no row in\n%s", res.Stdout)
		}
		if !strings.Contains(m[3], "customer not found") {
			t.Fatalf("dead-lettered because %q, want an unknown customer", m[3])
		}
		position, listing = m[1]+":"+m[2], res.Stdout
		return nil
	})
	t.Logf("kafka-inspect dlt -key %s\n%s", customerID, listing)
	if status, body := proctest.HTTP(t, "GET", p.customerURL("/customers/"+customerID), ""); status != 404 {
		t.Fatalf("customer before the restore: status %d %s, want 404", status, body)
	}
	deadLettered := p.records("DLT")

	// 2. The fix, outside Kafka: the registration restored into the
	// stopped service's store as a restore from backup writes it.
	p.customer.Stop(t)
	restoreRegistration(t, filepath.Join(p.dataDir, "customer-service"), customerID)
	p.startCustomer()
	p.waitHealthy(p.customerURL("/health"))
	if c := p.getCustomer(customerID); c.Status != "REGISTRATION_PENDING" {
		t.Fatalf("restored customer is %s, want REGISTRATION_PENDING", c.Status)
	}

	// 3. The replay: the answer applies now.
	replayed := regexp.MustCompile(`(?m)^REPLAYED +DLT/` + strings.Replace(position, ":", "@", 1) + ` +-> +outbox\.event\.payment/\d+@\d+$`)
	replay := func() {
		t.Helper()
		res := p.inspect("dlt", "replay", "-offset", position)
		if res.Code != 0 || !replayed.MatchString(res.Stdout) {
			t.Fatalf("kafka-inspect dlt replay -offset %s: exit %d, want 0 and a REPLAYED line\nstdout:\n%s\nstderr:\n%s", position, res.Code, res.Stdout, res.Stderr)
		}
		t.Logf("kafka-inspect dlt replay -offset %s\n%s", position, res.Stdout)
	}
	replay()
	failed := p.waitStatus(customerID, "REGISTRATION_FAILED", sagaTimeout)
	if failed.FailureReason != "NO_BALANCE_LEFT" {
		t.Errorf("failure reason %q, want the answer's NO_BALANCE_LEFT", failed.FailureReason)
	}
	notRegistered := func() []record {
		return recordsOf(p.records("outbox.event.customer"), "CustomerNotRegisteredEvent", customerID)
	}
	proctest.Eventually(t, sagaTimeout, "CustomerNotRegisteredEvent published", func() error {
		if n := len(notRegistered()); n != 1 {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	var copies []record
	for _, r := range recordsOf(p.records("outbox.event.payment"), "PaymentNotAuthorizedEvent", customerID) {
		if r.header("dlt-replayed-from-offset") == position {
			copies = append(copies, r)
		}
	}
	if len(copies) != 1 || copies[0].Value != answer || copies[0].header("eventId") != eventID || copies[0].header("dlt-original-topic") != "" {
		t.Errorf("replayed copies on outbox.event.payment = %+v, want one: the answer with its headers and dlt-replayed-from-offset=%s", copies, position)
	}

	// 4. A second replay of the same record changes nothing.
	replay()
	proctest.Eventually(t, sagaTimeout, "the second replay recognised as already consumed", func() error {
		for _, l := range strings.Split(p.customer.Output(), "\n") {
			if strings.Contains(l, "event already consumed") && strings.Contains(l, eventID) {
				return nil
			}
		}
		return fmt.Errorf("no such log line yet")
	})
	if again := p.getCustomer(customerID); again.Status != failed.Status || again.FailureReason != failed.FailureReason || !again.UpdatedAt.Equal(failed.UpdatedAt) {
		t.Errorf("after the second replay: %s %s updated %v, want it as after the first: %s %s %v",
			again.Status, again.FailureReason, again.UpdatedAt, failed.Status, failed.FailureReason, failed.UpdatedAt)
	}
	if n := len(notRegistered()); n != 1 {
		t.Errorf("%d CustomerNotRegisteredEvent for %s after the second replay, want 1", n, customerID)
	}
	if now := p.records("DLT"); len(now) != len(deadLettered) {
		t.Errorf("DLT holds %d records after the replays, want %d: a replay was dead-lettered", len(now), len(deadLettered))
	}

	// 5. The consumed-event record: one, which counted the second replay.
	p.customer.Stop(t)
	consumed := consumedEvents(t, filepath.Join(p.dataDir, "customer-service"), eventID)
	if len(consumed) != 1 || consumed[0].Duplicates != 1 || consumed[0].Topic != "outbox.event.payment" {
		t.Errorf("consumed-event records of %s = %+v, want one from outbox.event.payment with one duplicate", eventID, consumed)
	}
}

// restoreRegistration writes a pending registration into customer-service's
// embedded store in dir, as restoring the document from a backup does. The
// fields are customer/internal/mongostore's customerDoc, written by hand:
// e2e runs the binaries and may not import a service's internal packages, so
// this is the document shape the store reads (a change to it fails this
// test, as it would fail a restore of an older backup).
func restoreRegistration(t *testing.T, dir, id string) {
	t.Helper()
	ctx := context.Background()
	client := mongotest.Open(t, func(o *mongotx.Options) { o.Dir = dir }).Client
	defer client.Close(ctx) // at once: it holds the directory's lock the service needs
	balance, err := money.Parse("1.00")
	if err != nil {
		t.Fatal(err)
	}
	now := mongotx.Now()
	doc := bson.D{
		{Key: "_id", Value: id}, {Key: "firstName", Value: "Jane"}, {Key: "lastName", Value: "Roe"},
		{Key: "card", Value: bson.D{{Key: "last4", Value: "1111"}, {Key: "holderName", Value: "Jane Roe"}, {Key: "validThru", Value: "2028-01"}, {Key: "balance", Value: balance}}},
		{Key: "status", Value: "REGISTRATION_PENDING"}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}, {Key: "version", Value: int64(0)},
	}
	err = client.Transact(ctx, func(ctx context.Context) error {
		_, err := client.Database("customers-db").Collection("customers").InsertOne(ctx, doc)
		return err
	})
	if err != nil {
		t.Fatalf("restore customer %s: %v", id, err)
	}
}

// consumedEvent is commonlib/inbox's consumed-event record, as much as the
// test reads.
type consumedEvent struct {
	EventID    string `bson:"_id"`
	Topic      string `bson:"topic"`
	Duplicates int    `bson:"duplicates"`
}

// consumedEvents returns the consumed-event records of eventID in the
// stopped customer-service's store in dir.
func consumedEvents(t *testing.T, dir, eventID string) []consumedEvent {
	t.Helper()
	ctx := context.Background()
	client := mongotest.Open(t, func(o *mongotx.Options) { o.Dir = dir }).Client
	defer client.Close(ctx)
	cur, err := client.Database("customers-db").Collection("consumed-events").Find(ctx, bson.D{{Key: "_id", Value: eventID}})
	if err != nil {
		t.Fatal(err)
	}
	var out []consumedEvent
	if err := cur.All(ctx, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
