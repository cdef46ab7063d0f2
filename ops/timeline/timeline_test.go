package timeline_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/ops/kafkaview"
	"github.com/sagaoutbox/platform/ops/timeline"
)

var t0 = time.Date(2026, 11, 22, 3, 31, 49, 566_000_000, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// The two services' parts of a successful registration, as they answer
// them: customer's pending event keyed by the customer, payment's by the
// payment.
func customerPart() sagaview.Timeline {
	return sagaview.Timeline{CustomerID: "c1", Service: "customer-service", Retention: "outbox 24h", Steps: []sagaview.Step{
		{Time: at(0), Service: "customer-service", Kind: sagaview.KindRequestAccepted, Summary: "registration accepted"},
		{Time: at(0), Service: "customer-service", Kind: sagaview.KindEventWritten, EventType: "CustomerPendingRegistrationEvent", EventID: "e1", Topic: "outbox.event.customer", Key: "c1"},
		{Time: at(9), Service: "customer-service", Kind: sagaview.KindEventConsumed, EventType: "PaymentAuthorizedEvent", EventID: "e2"},
		{Time: at(9), Service: "customer-service", Kind: sagaview.KindEventWritten, EventType: "CustomerRegisteredEvent", EventID: "e3", Topic: "outbox.event.customer", Key: "c1"},
		{Time: at(9), Service: "customer-service", Kind: sagaview.KindRegistrationEnded, Summary: "registration ended"},
	}}
}

func paymentPart() sagaview.Timeline {
	return sagaview.Timeline{CustomerID: "c1", Service: "payment-service", Steps: []sagaview.Step{
		{Time: at(4), Service: "payment-service", Kind: sagaview.KindEventConsumed, EventType: "CustomerPendingRegistrationEvent", EventID: "e1"},
		{Time: at(5), Service: "payment-service", Kind: sagaview.KindPaymentDecided},
		{Time: at(5), Service: "payment-service", Kind: sagaview.KindEventWritten, EventType: "PaymentAuthorizedEvent", EventID: "e2", Topic: "outbox.event.payment", Key: "p1"},
	}}
}

// kind is a step as the tests compare it: service, kind and event type.
func kinds(steps []sagaview.Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Service + " " + s.Kind
		if s.EventType != "" {
			out[i] += " " + s.EventType
		}
	}
	return out
}

func TestMerge(t *testing.T) {
	published := map[string]timeline.Publication{
		// Published 2 ms after written.
		"e1": {Found: true, Topic: "outbox.event.customer", Partition: 1, Offset: 7, Time: at(2)},
		// The record's millisecond timestamp is before the write: the
		// step stays after it.
		"e2": {Found: true, Topic: "outbox.event.payment", Partition: 0, Offset: 3, Time: at(4)},
		"e3": {Found: false},
	}
	dead := []timeline.DeadLetter{{Topic: "DLT", Partition: 0, Offset: 0, Time: at(6), Key: "p1", OriginalTopic: "outbox.event.payment", OriginalOffset: 2,
		Group: "customerConsumerGroup1", EventType: "PaymentAuthorizedEvent", Error: "invalid character"}}
	got := timeline.Merge([]sagaview.Timeline{customerPart(), paymentPart()}, published, dead)
	want := []string{
		"customer-service request-accepted",
		"customer-service event-written CustomerPendingRegistrationEvent",
		"customer-service event-published CustomerPendingRegistrationEvent",
		"payment-service event-consumed CustomerPendingRegistrationEvent",
		"payment-service payment-decided",
		"payment-service event-written PaymentAuthorizedEvent",
		"payment-service event-published PaymentAuthorizedEvent",
		"kafka dead-lettered PaymentAuthorizedEvent",
		"customer-service event-consumed PaymentAuthorizedEvent",
		"customer-service event-written CustomerRegisteredEvent",
		// Same millisecond: what the service did before what Kafka saw.
		"customer-service registration-ended",
		"customer-service event-published CustomerRegisteredEvent",
	}
	if g := kinds(got); !slices.Equal(g, want) {
		t.Fatalf("steps:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
	if s := got[2]; timeline.Position(s) != "outbox.event.customer/1@7" || !s.Time.Equal(at(2)) {
		t.Errorf("published step = %s at %s, want outbox.event.customer/1@7 at +2ms", timeline.Position(s), s.Time)
	}
	if s := got[6]; !s.Time.Equal(at(5)) {
		t.Errorf("published step at %s, want no earlier than written (+5ms)", s.Time)
	}
	if s := got[11]; !strings.Contains(s.Summary, "not found on Kafka yet") || s.Partition != nil {
		t.Errorf("unpublished step = %+v, want not found on Kafka yet without a position", s)
	}
	if s := got[7]; !strings.Contains(s.Summary, "invalid character") || !strings.Contains(s.Summary, "customerConsumerGroup1") || timeline.Position(s) != "DLT/0@0" {
		t.Errorf("dead-lettered step = %+v", s)
	}
}

// finder is a Finder over fixed records, keyed by topic and id header.
type finder struct {
	recs map[string]kafkaview.Record
	err  error
	asks []string
}

func (f *finder) Find(_ context.Context, topic string, key []byte, header, value string, since time.Time, _ int) (kafkaview.Record, bool, error) {
	f.asks = append(f.asks, fmt.Sprintf("%s %s %s=%s since %s", topic, key, header, value, since.Format("15:04:05.000")))
	if f.err != nil {
		return kafkaview.Record{}, false, f.err
	}
	r, ok := f.recs[topic+" "+value]
	return r, ok, nil
}

func source(service string, part sagaview.Timeline, err error) timeline.Source {
	return timeline.Source{Service: service, Fetch: func(context.Context, string) (sagaview.Timeline, error) { return part, err }}
}

func TestBuild(t *testing.T) {
	ctx := context.Background()
	kafka := &finder{recs: map[string]kafkaview.Record{
		"outbox.event.customer e1": {Topic: "outbox.event.customer", Partition: 1, Offset: 7, Timestamp: at(2)},
		"outbox.event.payment e2":  {Topic: "outbox.event.payment", Partition: 0, Offset: 3, Timestamp: at(6)},
	}}
	var deadKeys []string
	dead := func(_ context.Context, keys []string) ([]timeline.DeadLetter, error) {
		deadKeys = keys
		return nil, nil
	}

	t.Run("complete", func(t *testing.T) {
		b := timeline.Builder{Sources: []timeline.Source{source("customer-service", customerPart(), nil), source("payment-service", paymentPart(), nil)}, Kafka: kafka, DeadLetters: dead}
		tl, err := b.Build(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if tl.Partial || len(tl.Notes) != 0 || len(tl.Steps) != 11 {
			t.Errorf("partial %v, notes %v, %d steps; want complete with 11 steps", tl.Partial, tl.Notes, len(tl.Steps))
		}
		if !slices.Equal(deadKeys, []string{"c1", "p1"}) {
			t.Errorf("dead letters asked for keys %v, want the customer's and the payment's", deadKeys)
		}
		if want := "outbox.event.customer c1 id=e1 since 03:30:49.566"; !slices.Contains(kafka.asks, want) {
			t.Errorf("kafka asked %v, want %q (a minute before the write)", kafka.asks, want)
		}
		if len(tl.Retention) != 1 || !strings.HasPrefix(tl.Retention[0], "customer-service: ") {
			t.Errorf("retention = %v", tl.Retention)
		}
	})
	t.Run("a service down makes it partial", func(t *testing.T) {
		b := timeline.Builder{Sources: []timeline.Source{source("customer-service", customerPart(), nil), source("payment-service", sagaview.Timeline{}, errors.New("connection refused"))}, Kafka: kafka}
		tl, err := b.Build(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if !tl.Partial || len(tl.Notes) != 1 || !strings.Contains(tl.Notes[0], "payment-service did not answer (connection refused)") || len(tl.Steps) != 7 {
			t.Errorf("partial %v, notes %q, %d steps; want partial, payment-service named, 7 steps", tl.Partial, tl.Notes, len(tl.Steps))
		}
	})
	t.Run("kafka down makes it partial", func(t *testing.T) {
		b := timeline.Builder{Sources: []timeline.Source{source("customer-service", customerPart(), nil)}, Kafka: &finder{err: context.DeadlineExceeded},
			DeadLetters: func(context.Context, []string) ([]timeline.DeadLetter, error) { return nil, errors.New("broker down") }}
		tl, err := b.Build(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		if !tl.Partial || len(tl.Notes) != 2 || !strings.Contains(tl.Notes[0], "kafka could not be searched (no answer in time)") || !strings.Contains(tl.Notes[1], "broker down") {
			t.Errorf("partial %v, notes %q", tl.Partial, tl.Notes)
		}
		for _, s := range tl.Steps {
			if s.Kind == sagaview.KindEventPublished {
				t.Errorf("a published step without kafka: %+v", s)
			}
		}
	})
	t.Run("unknown customer", func(t *testing.T) {
		b := timeline.Builder{Sources: []timeline.Source{source("customer-service", sagaview.Timeline{}, timeline.ErrUnknownCustomer), source("payment-service", sagaview.Timeline{Service: "payment-service"}, nil)}}
		if _, err := b.Build(ctx, "nobody"); !errors.Is(err, timeline.ErrUnknownCustomer) {
			t.Errorf("err = %v, want ErrUnknownCustomer", err)
		}
	})
}

func TestWrite(t *testing.T) {
	p, o := int32(1), int64(7)
	tl := timeline.Timeline{CustomerID: "c1", Partial: true, Notes: []string{"payment-service did not answer"}, Steps: []sagaview.Step{
		{Time: at(0), Service: "customer-service", Kind: sagaview.KindRequestAccepted, Summary: "registration accepted"},
		{Time: at(2), Service: "customer-service", Kind: sagaview.KindEventPublished, Topic: "outbox.event.customer", Partition: &p, Offset: &o, Summary: "published\tto\x1b[31m kafka\n"},
	}}
	var out bytes.Buffer
	if err := timeline.Write(&out, tl); err != nil {
		t.Fatal(err)
	}
	want := `customer c1
TIME                      SERVICE           KIND              RECORD                     SUMMARY
2026-11-22T03:31:49.566Z  customer-service  request-accepted  -                          registration accepted
2026-11-22T03:31:49.568Z  customer-service  event-published   outbox.event.customer/1@7  published to [31m kafka
note: payment-service did not answer
the timeline is partial: see the notes
`
	if out.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", out.String(), want)
	}
}
