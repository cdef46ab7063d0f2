package router_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/router"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

// TestRouterTracesRecords: each record is handled in a consumer span, a
// child of its traceparent header's context (a new trace without one),
// with the messaging attributes, and the handler's context holds it.
func TestRouterTracesRecords(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	prev := otel.GetTracerProvider()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)))
	t.Cleanup(func() { otel.SetTracerProvider(prev) })

	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)
	var mu sync.Mutex
	inHandler := map[string]string{} // event id → traceparent in the handler
	cfg := testConfig(brokers, "traced", map[string]router.Handler{"A": func(ctx context.Context, m router.Message) error {
		mu.Lock()
		defer mu.Unlock()
		inHandler[m.EventID] = tracing.Traceparent(ctx)
		return nil
	}})
	r, err := router.New(cfg, p, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	const traceID, parent = "4bf92f3577b34da6a1a2b3c4d5e6f708", "00f067aa0ba902b7"
	key := keyOn(t, 0, "k")
	produce(t, p, key, "v", append(event("A", "with"), kafkatest.Headers(kafkaheader.Traceparent, "00-"+traceID+"-"+parent+"-01")...))
	produce(t, p, key, "v", event("A", "without"))

	var spans map[string]sdktrace.ReadOnlySpan
	proctest.Eventually(t, 20*time.Second, "both records' spans", func() error {
		spans = map[string]sdktrace.ReadOnlySpan{}
		for _, s := range rec.Ended() {
			for _, a := range s.Attributes() {
				if a.Key == "messaging.message.id" {
					spans[a.Value.AsString()] = s
				}
			}
		}
		if len(spans) < 2 {
			return fmt.Errorf("%d spans", len(spans))
		}
		return nil
	})

	with, without := spans["with"], spans["without"]
	if got := with.SpanContext().TraceID().String(); got != traceID {
		t.Errorf("trace id = %s, want %s", got, traceID)
	}
	if got := with.Parent().SpanID().String(); got != parent || !with.Parent().IsRemote() {
		t.Errorf("parent = %s (remote %t), want the header's %s", got, with.Parent().IsRemote(), parent)
	}
	if without.Parent().IsValid() || without.SpanContext().TraceID().String() == traceID {
		t.Errorf("span of the record without traceparent has parent %v, want a new trace", without.Parent())
	}
	if with.SpanKind() != trace.SpanKindConsumer {
		t.Errorf("span kind %v, want consumer", with.SpanKind())
	}
	attrs := map[string]string{}
	for _, a := range with.Attributes() {
		attrs[string(a.Key)] = a.Value.Emit()
	}
	for k, v := range map[string]string{
		"messaging.system": "kafka", "messaging.operation.type": "process", "messaging.consumer.group.name": "traced",
		"messaging.destination.partition.id": "0", "messaging.message.event_type": "A", "outbox.consumer.outcome": "handled",
	} {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q", k, attrs[k], v)
		}
	}
	for _, k := range []string{"messaging.destination.name", "messaging.kafka.offset"} {
		if attrs[k] == "" {
			t.Errorf("%s missing: %v", k, attrs)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "00-" + traceID + "-" + with.SpanContext().SpanID().String() + "-01"; inHandler["with"] != want {
		t.Errorf("traceparent in the handler = %q, want the consumer span's %q", inHandler["with"], want)
	}
}
