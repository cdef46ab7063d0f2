package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/IBM/sarama"
	"github.com/eapache/go-resiliency/breaker"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/mongo/options"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/retry"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

// batch is what one publish step sends, parks and records.
type batch struct {
	msgs   []*sarama.ProducerMessage
	parks  []parkedDocument
	newest time.Time
}

type parkedDocument struct {
	id         bson.RawValue
	collection string
	reason     string
	doc        bson.Raw
}

// add converts one outbox document into the batch.
func (r *Relay) add(b *batch, coll string, doc bson.Raw, now time.Time) {
	msg, err := Record(r.cfg, doc, now)
	if err != nil {
		reason := err.Error()
		var ue *UnroutableError
		if errors.As(err, &ue) {
			reason = ue.Reason
		}
		b.parks = append(b.parks, parkedDocument{id: doc.Lookup("_id"), collection: coll, reason: reason, doc: doc})
		return
	}
	b.msgs = append(b.msgs, msg)
	if v, ok := doc.Lookup(createdAtField).DateTimeOK(); ok {
		if t := time.UnixMilli(v).UTC(); t.After(b.newest) {
			b.newest = t
		}
	}
}

// publish sends b's records until Kafka acknowledges them, then parks b's
// unroutable documents and raises the published-through mark in memory.
// It returns an error only when ctx ends before the acknowledgement or when
// parking fails.
func (r *Relay) publish(ctx context.Context, b batch) error {
	if len(b.msgs) > 0 {
		began := time.Now()
		if err := r.send(ctx, b.msgs); err != nil {
			return err
		}
		traceSent(b.msgs, began)
		r.count(func(s *Stats) { s.Published += int64(len(b.msgs)) })
		r.noteHealthy()
	}
	// Acknowledged: finish the step even if ctx is cancelled now.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	for _, p := range b.parks {
		if err := r.park(sctx, p); err != nil {
			return err
		}
	}
	if b.newest.After(r.pos.PublishedThrough) {
		r.pos.PublishedThrough = b.newest
		r.count(func(s *Stats) { s.PublishedThrough = b.newest })
	}
	return nil
}

// traceSent records a producer span per record that carries a trace
// context, from the batch's first send to Kafka's acknowledgement, as a
// child of the span that wrote the event. The record's traceparent header
// stays the document's, as Debezium leaves it: consumers are children of
// the writer, siblings of this span.
func traceSent(msgs []*sarama.ProducerMessage, began time.Time) {
	for _, m := range msgs {
		var tp, id string
		for _, h := range m.Headers {
			switch string(h.Key) {
			case kafkaheader.Traceparent:
				tp = string(h.Value)
			case kafkaheader.ID:
				id = string(h.Value)
			}
		}
		ctx := tracing.WithTraceparent(context.Background(), tp)
		if !trace.SpanContextFromContext(ctx).IsValid() {
			continue // no trace to add to: a span here would start a trace of its own
		}
		_, span := tracing.Tracer().Start(ctx, m.Topic+" publish",
			trace.WithSpanKind(trace.SpanKindProducer),
			trace.WithTimestamp(began),
			trace.WithAttributes(
				semconv.MessagingSystemKafka,
				semconv.MessagingOperationTypeSend,
				semconv.MessagingOperationName("publish"),
				semconv.MessagingDestinationName(m.Topic),
				semconv.MessagingMessageID(id),
			))
		span.End()
	}
}

// send retries the same records until Kafka acknowledges all of them or
// ctx ends. Each attempt sends fresh copies: sarama keeps retry and
// sequence state in the messages it was given.
//
// Without Options.Probe a failed send is retried after the exponential
// backoff. With it, the backoff counts only the sends that failed although
// the probe had answered, and after it the relay waits for the probe: it
// sends again as soon as the broker answers or, whatever the probe says,
// MaxBackoff after the failure. An outage, however long, then costs one
// failed send and a probe per ProbeInterval, and publishing resumes about
// a ProbeInterval after the broker's return, unless sarama's circuit
// breaker holds it back (see breakerOpen).
func (r *Relay) send(ctx context.Context, msgs []*sarama.ProducerMessage) error {
	refused := 0 // failed sends that followed a successful probe
	probed := false
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !r.leaseValid() {
			return errLeaseExpired
		}
		err := r.opts.Producer.SendMessages(copyMessages(msgs))
		if err == nil {
			return nil
		}
		r.noteError(err)
		r.count(func(s *Stats) { s.KafkaRetries++ })
		var notBefore time.Time
		if breakerOpen(err, len(msgs)) {
			notBefore = time.Now().Add(r.breakerHold)
		}
		if probed {
			refused++
		}
		var ok bool
		if probed, ok = r.awaitRetry(ctx, attempt, refused, len(msgs), err); !ok {
			return ctx.Err()
		}
		if wait := time.Until(notBefore); wait > 0 {
			r.log.Info("the producer's circuit breaker is open; retrying the batch once it can close",
				"records", len(msgs), "in", wait.Round(time.Millisecond))
			if !retry.Sleep(ctx, wait) {
				return ctx.Err()
			}
		}
	}
}

// awaitRetry waits before retry number attempt of a batch of n records
// that failed with err (see send), refused of the failed sends having
// followed a successful probe. It reports whether the probe ended the wait,
// and false for ok when ctx ended first.
func (r *Relay) awaitRetry(ctx context.Context, attempt, refused, n int, err error) (probed, ok bool) {
	if r.opts.Probe == nil {
		backoff := retry.Backoff(attempt, r.opts.RetryBackoff, r.opts.MaxBackoff)
		r.log.Warn("kafka did not acknowledge the batch; retrying the same batch",
			"records", n, "attempt", attempt, "backoff", backoff, "err", err)
		return false, retry.Sleep(ctx, backoff)
	}
	backoff := retry.Backoff(refused+1, r.opts.RetryBackoff, r.opts.MaxBackoff)
	r.log.Warn("kafka did not acknowledge the batch; retrying the same batch once the broker answers",
		"records", n, "attempt", attempt, "backoff", backoff, "err", err)
	if !retry.Sleep(ctx, backoff) {
		return false, false
	}
	probed, ok = retry.SleepUntil(ctx, r.opts.MaxBackoff-backoff, r.opts.ProbeInterval, r.opts.Probe)
	switch {
	case !ok:
	case probed:
		r.log.Info("kafka answers the probe; retrying the batch", "records", n)
	case r.opts.MaxBackoff-backoff > r.opts.ProbeInterval: // it was probed
		r.log.Warn("kafka does not answer the probe; retrying the batch anyway", "records", n, "waited", r.opts.MaxBackoff)
	}
	return probed, ok
}

// producerBreakerTimeout is how long sarama's producer keeps a circuit
// breaker open once three leader lookups for a partition failed within it,
// as they do in an outage: breaker.New(3, 1, 10*time.Second) in its
// async_producer.go, not configurable. While it is open the producer fails
// that partition's records without sending them.
const producerBreakerTimeout = 10 * time.Second

// breakerOpen reports whether the producer delivered none of n records and
// failed some because a circuit breaker was open. The breaker opened before
// the send returned, so it may close within producerBreakerTimeout of that;
// a send before then fails those records again and, should the breaker
// close meanwhile, publishes later records of the partition before earlier
// ones (which the retry of the whole batch cannot put back in order). A
// send that delivered records saw the breaker close already.
func breakerOpen(err error, n int) bool {
	var errs sarama.ProducerErrors
	if !errors.As(err, &errs) {
		return errors.Is(err, breaker.ErrBreakerOpen)
	}
	if len(errs) < n {
		return false
	}
	for _, e := range errs {
		if errors.Is(e.Err, breaker.ErrBreakerOpen) {
			return true
		}
	}
	return false
}

func copyMessages(msgs []*sarama.ProducerMessage) []*sarama.ProducerMessage {
	out := make([]*sarama.ProducerMessage, len(msgs))
	for i, m := range msgs {
		out[i] = &sarama.ProducerMessage{
			Topic:     m.Topic,
			Key:       m.Key,
			Value:     m.Value,
			Headers:   m.Headers,
			Timestamp: m.Timestamp,
			Metadata:  m.Metadata,
		}
	}
	return out
}

// park records an unroutable document where an operator finds it.
// Debezium would fail its task instead; the relay must not stall every
// later event behind one bad document.
func (r *Relay) park(ctx context.Context, p parkedDocument) error {
	id := p.id
	if id.Type == 0 {
		oid := primitive.NewObjectID()
		id = bson.RawValue{Type: bson.TypeObjectID, Value: oid[:]}
	}
	doc := bson.D{
		{Key: "_id", Value: id},
		{Key: "collection", Value: p.collection},
		{Key: "reason", Value: p.reason},
		{Key: "document", Value: p.doc},
		{Key: "parkedAt", Value: mongotx.Now()},
	}
	_, err := r.db.Collection(ParkedCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("relay: park unroutable document %s: %w", id, err)
	}
	r.count(func(s *Stats) { s.Parked++ })
	r.log.Error("unroutable outbox document parked", "collection", p.collection, "id", id.String(), "reason", p.reason)
	return nil
}
