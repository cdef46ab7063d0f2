package e2e

import (
	"bytes"
	"compress/gzip"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// span is one received span, flattened for the assertions.
type span struct {
	Service  string
	Name     string
	Kind     tracepb.Span_SpanKind
	TraceID  string
	SpanID   string
	ParentID string
	Attrs    map[string]string
}

func (s span) String() string {
	return fmt.Sprintf("%s %q %s span=%s parent=%s", s.Service, s.Name, s.Kind, s.SpanID, s.ParentID)
}

// otlpReceiver is an OTLP/HTTP trace receiver: it decodes the protobuf
// ExportTraceServiceRequest the services' exporters post to /v1/traces.
type otlpReceiver struct {
	t     *testing.T
	srv   *httptest.Server
	mu    sync.Mutex
	spans []span
}

func newOTLPReceiver(t *testing.T) *otlpReceiver {
	r := &otlpReceiver{t: t}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *otlpReceiver) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != "/v1/traces" || req.Method != http.MethodPost {
		http.NotFound(w, req)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var export coltracepb.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &export); err != nil {
		r.t.Errorf("otlp receiver: undecodable request (%s): %v", req.Header.Get("Content-Type"), err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	for _, rs := range export.ResourceSpans {
		service := attrs(rs.GetResource().GetAttributes())["service.name"]
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				r.spans = append(r.spans, span{
					Service:  service,
					Name:     s.Name,
					Kind:     s.Kind,
					TraceID:  hex.EncodeToString(s.TraceId),
					SpanID:   hex.EncodeToString(s.SpanId),
					ParentID: hex.EncodeToString(s.ParentSpanId),
					Attrs:    attrs(s.Attributes),
				})
			}
		}
	}
	r.mu.Unlock()
	out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(out)
}

func attrs(kvs []*commonpb.KeyValue) map[string]string {
	m := map[string]string{}
	for _, kv := range kvs {
		v := kv.GetValue()
		switch x := v.GetValue().(type) {
		case *commonpb.AnyValue_StringValue:
			m[kv.Key] = x.StringValue
		case *commonpb.AnyValue_IntValue:
			m[kv.Key] = fmt.Sprint(x.IntValue)
		case *commonpb.AnyValue_BoolValue:
			m[kv.Key] = fmt.Sprint(x.BoolValue)
		default:
			m[kv.Key] = fmt.Sprint(v)
		}
	}
	return m
}

// trace returns the spans received so far of traceID.
func (r *otlpReceiver) trace(traceID string) []span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []span
	for _, s := range r.spans {
		if s.TraceID == traceID {
			out = append(out, s)
		}
	}
	return out
}

// find returns the spans of spans that match.
func find(spans []span, match func(span) bool) []span {
	var out []span
	for _, s := range spans {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// descends reports whether s has ancestor among its parents in spans.
func descends(spans []span, s span, ancestor string) bool {
	byID := map[string]span{}
	for _, x := range spans {
		byID[x.SpanID] = x
	}
	for i := 0; i < len(spans) && s.ParentID != ""; i++ {
		if s.ParentID == ancestor {
			return true
		}
		p, ok := byID[s.ParentID]
		if !ok {
			return false
		}
		s = p
	}
	return false
}

// TestTraceFollowsTheSaga registers a customer with a known traceparent and
// checks that one trace holds both services' spans, linked POST → customer
// transaction → payment consumer → payment transaction → customer consumer
// → customer transaction, and that both topics' records carry the trace in
// their traceparent header.
func TestTraceFollowsTheSaga(t *testing.T) {
	recv := newOTLPReceiver(t)
	p := newPlatform(t)
	otel := []string{
		"OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.srv.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf",
		"OTEL_BSP_SCHEDULE_DELAY=200",
	}
	p.customerEnv, p.paymentEnv = otel, otel
	p.start()

	const traceID = "4bf92f3577b34da6a1a2b3c4d5e6f708"
	const callerSpan = "00f067aa0ba902b7"
	req, err := http.NewRequest("POST", p.customerURL("/customers"), strings.NewReader(blueprintBody))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("traceparent", "00-"+traceID+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: status %d, want 201: %s", resp.StatusCode, body)
	}
	id := string(bytes.TrimSpace(body))
	if i := strings.Index(id, `"id":"`); i >= 0 {
		id = id[i+6:]
		id = id[:strings.IndexByte(id, '"')]
	}
	p.waitStatus(id, "REGISTRATION_SUCCESS", sagaTimeout)

	var server, custTx, custPublish, payConsumer, payTx, payPublish, custConsumer, custTx2 span
	proctest.Eventually(t, 20*time.Second, "the saga's spans reach the receiver", func() error {
		spans := recv.trace(traceID)
		one := func(what string, match func(span) bool) (span, error) {
			got := find(spans, match)
			if len(got) == 0 {
				return span{}, fmt.Errorf("no %s among %d spans of the trace: %v", what, len(spans), spans)
			}
			return got[0], nil
		}
		var err error
		if server, err = one("customer-service server span continuing the caller's", func(s span) bool {
			return s.Service == "customer-service" && s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.Name == "POST /customer-service/customers" && s.ParentID == callerSpan
		}); err != nil {
			return err
		}
		if custTx, err = one("customer transaction under the POST", func(s span) bool {
			return s.Service == "customer-service" && s.Name == "mongotx.transaction" && s.ParentID == server.SpanID
		}); err != nil {
			return err
		}
		if custPublish, err = one("customer-service relay's publish span under the transaction", func(s span) bool {
			return s.Service == "customer-service" && s.Kind == tracepb.Span_SPAN_KIND_PRODUCER && s.Name == "outbox.event.customer publish" && s.ParentID == custTx.SpanID
		}); err != nil {
			return err
		}
		if payConsumer, err = one("payment-service consumer span of the pending registration", func(s span) bool {
			return s.Service == "payment-service" && s.Kind == tracepb.Span_SPAN_KIND_CONSUMER &&
				s.Attrs["messaging.message.event_type"] == "CustomerPendingRegistrationEvent" && s.ParentID == custTx.SpanID
		}); err != nil {
			return err
		}
		if payTx, err = one("payment transaction under its consumer span", func(s span) bool {
			return s.Service == "payment-service" && s.Name == "mongotx.transaction" && s.ParentID == payConsumer.SpanID
		}); err != nil {
			return err
		}
		if payPublish, err = one("payment-service relay's publish span under the transaction", func(s span) bool {
			return s.Service == "payment-service" && s.Kind == tracepb.Span_SPAN_KIND_PRODUCER && s.Name == "outbox.event.payment publish" && s.ParentID == payTx.SpanID
		}); err != nil {
			return err
		}
		if custConsumer, err = one("customer-service consumer span of the authorization", func(s span) bool {
			return s.Service == "customer-service" && s.Kind == tracepb.Span_SPAN_KIND_CONSUMER &&
				s.Attrs["messaging.message.event_type"] == "PaymentAuthorizedEvent" && s.ParentID == payTx.SpanID
		}); err != nil {
			return err
		}
		if custTx2, err = one("customer approval transaction", func(s span) bool {
			return s.Service == "customer-service" && s.Name == "mongotx.transaction" && s.ParentID == custConsumer.SpanID
		}); err != nil {
			return err
		}
		return nil
	})
	if !descends(recv.trace(traceID), custTx2, callerSpan) {
		t.Errorf("the approval transaction %v does not descend from the caller's span", custTx2)
	}

	for _, tc := range []struct {
		span  span
		topic string
		group string
		event string
	}{
		{payConsumer, "outbox.event.customer", "paymentConsumerGroup1", "CustomerPendingRegistrationEvent"},
		{custConsumer, "outbox.event.payment", "customerConsumerGroup1", "PaymentAuthorizedEvent"},
	} {
		t.Run("attributes of "+tc.span.Name, func(t *testing.T) {
			a := tc.span.Attrs
			want := map[string]string{
				"messaging.system":             "kafka",
				"messaging.operation.type":     "process",
				"messaging.destination.name":   tc.topic,
				"messaging.message.event_type": tc.event,
				"outbox.consumer.outcome":      "handled",
			}
			if tc.group != "" {
				want["messaging.consumer.group.name"] = tc.group
			}
			for k, v := range want {
				if a[k] != v {
					t.Errorf("%s = %q, want %q (all: %v)", k, a[k], v, a)
				}
			}
			for _, k := range []string{"messaging.destination.partition.id", "messaging.kafka.offset", "messaging.message.id"} {
				if a[k] == "" {
					t.Errorf("%s missing (all: %v)", k, a)
				}
			}
		})
	}

	for _, topic := range []string{"outbox.event.customer", "outbox.event.payment"} {
		t.Run("traceparent headers on "+topic, func(t *testing.T) {
			var ours int
			for _, r := range p.records(topic) {
				if len(r.Headers) != 4 || !strings.HasPrefix(r.Headers[0], "id=") || !strings.HasPrefix(r.Headers[1], "eventType=") ||
					!strings.HasPrefix(r.Headers[2], "eventId=") || !strings.HasPrefix(r.Headers[3], "traceparent=") {
					t.Errorf("headers = %v, want id, eventType, eventId, traceparent", r.Headers)
				}
				tp := r.header("traceparent")
				if strings.Contains(r.Value, id) && !strings.HasPrefix(tp, "00-"+traceID+"-") {
					t.Errorf("record %d/%d about %s: traceparent = %q, want trace %s", r.Partition, r.Offset, id, tp, traceID)
				}
				if strings.HasPrefix(tp, "00-"+traceID+"-") {
					ours++
				}
			}
			if ours == 0 {
				t.Errorf("no record on %s carries trace %s", topic, traceID)
			}
		})
	}
	t.Run("log lines carry the trace", func(t *testing.T) {
		for _, tc := range []struct {
			proc *proctest.Proc
			msg  string
			span span
		}{
			{p.customer, `msg=http method=POST`, server},
			{p.payment, `msg="registration payment decided"`, payTx}, // logged inside the transaction
		} {
			want := "trace_id=" + traceID + " span_id=" + tc.span.SpanID
			found := false
			for _, line := range strings.Split(tc.proc.Output(), "\n") {
				if strings.Contains(line, tc.msg) && strings.Contains(line, want) {
					found = true
				}
			}
			if !found {
				t.Errorf("%s: no %s line with %s", tc.proc.Name(), tc.msg, want)
			}
		}
	})
	t.Run("without a traceparent a new trace starts", func(t *testing.T) {
		p.t = t
		c := p.register(bodyWithBalance("50"))
		p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)
		var tp string
		for _, r := range p.records("outbox.event.customer") {
			if r.Key == c.ID {
				tp = r.header("traceparent")
				break
			}
		}
		parts := strings.Split(tp, "-")
		if len(parts) != 4 || parts[1] == traceID {
			t.Fatalf("traceparent of %s's record = %q, want one of a new trace", c.ID, tp)
		}
		proctest.Eventually(t, 10*time.Second, "the new trace's root span", func() error {
			roots := find(recv.trace(parts[1]), func(s span) bool {
				return s.Service == "customer-service" && s.Kind == tracepb.Span_SPAN_KIND_SERVER && s.ParentID == ""
			})
			if len(roots) != 1 {
				return fmt.Errorf("%d root server spans in trace %s, want 1", len(roots), parts[1])
			}
			return nil
		})
	})
	p.t = t

	t.Logf("trace %s:\n  %v\n  %v\n  %v\n  %v\n  %v\n  %v\n  %v\n  %v", traceID, server, custTx, custPublish, payConsumer, payTx, payPublish, custConsumer, custTx2)
}

// TestTraceUnreachableCollector points both services at a collector that
// is not there: registrations answer and finish as fast as ever.
func TestTraceUnreachableCollector(t *testing.T) {
	p := newPlatform(t)
	otel := []string{fmt.Sprintf("OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:%d", proctest.FreePort(t)), "OTEL_BSP_SCHEDULE_DELAY=50"}
	p.customerEnv, p.paymentEnv = otel, otel
	p.start()
	for i := range 5 {
		began := time.Now()
		c := p.register(bodyWithBalance(fmt.Sprint(10 + i)))
		if took := time.Since(began); took > time.Second {
			t.Errorf("registration %d answered in %v, want well under a second", i, took)
		}
		p.waitStatus(c.ID, "REGISTRATION_SUCCESS", 10*time.Second)
	}
}

// TestTraceDeadLock leaves a registration unanswered past DEADLOCK_TIMEOUT:
// the dead-lock event, written by the detection job outside any span of
// the POST, still carries the registration's trace, and payment-service's
// revert lands in that trace.
func TestTraceDeadLock(t *testing.T) {
	recv := newOTLPReceiver(t)
	p := newPlatform(t)
	otel := []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + recv.srv.URL, "OTEL_BSP_SCHEDULE_DELAY=200"}
	p.customerEnv = append([]string{"DEADLOCK_TIMEOUT=2s", "DEADLOCK_CHECK_INTERVAL=500ms"}, otel...)
	p.paymentEnv = otel
	p.startKafka()
	p.startCustomer()
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_FAILED", 20*time.Second)
	deadLocks := recordsOf(p.records("outbox.event.customer"), "CustomerRegistrationDeadLockEvent", c.ID)
	pending := recordsOf(p.records("outbox.event.customer"), "CustomerPendingRegistrationEvent", c.ID)
	if len(deadLocks) != 1 || len(pending) != 1 {
		t.Fatalf("%d dead-lock and %d pending records, want 1 each", len(deadLocks), len(pending))
	}
	tp := strings.Split(pending[0].header("traceparent"), "-")
	if len(tp) != 4 {
		t.Fatalf("pending record's traceparent = %q", pending[0].header("traceparent"))
	}
	if got := deadLocks[0].header("traceparent"); got != pending[0].header("traceparent") {
		t.Errorf("dead-lock record's traceparent = %q, want the registration's %q", got, pending[0].header("traceparent"))
	}

	p.startPayment()
	proctest.Eventually(t, sagaTimeout, "payment-service's revert in the registration's trace", func() error {
		reverts := find(recv.trace(tp[1]), func(s span) bool {
			return s.Service == "payment-service" && s.Kind == tracepb.Span_SPAN_KIND_CONSUMER &&
				s.Attrs["messaging.message.event_type"] == "CustomerRegistrationDeadLockEvent" && s.ParentID == tp[2]
		})
		if len(reverts) != 1 {
			return fmt.Errorf("%d dead-lock consumer spans under %s in trace %s: %v", len(reverts), tp[2], tp[1], recv.trace(tp[1]))
		}
		return nil
	})
}
