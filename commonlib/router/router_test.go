package router_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/router"
)

const (
	topic      = "outbox.event.customer"
	dlt        = "DLT"
	partitions = kafkatest.Partitions
)

// errDown stands for a dependency being down: the tests' IsTransient.
var errDown = errors.New("database unavailable")

func isTransient(err error) bool { return errors.Is(err, errDown) }

// newCluster starts a kfake cluster as the router tests need it: topics
// made on first use, and group sessions as short as 500ms.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return kafkatest.Start(t, append([]kfake.Opt{
		kfake.AllowAutoTopicCreation(), kfake.GroupMinSessionTimeout(500 * time.Millisecond),
	}, opts...)...)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// both handles event types A and B with h.
func both(h router.Handler) map[string]router.Handler {
	return map[string]router.Handler{"A": h, "B": h}
}

// nop handles a record by doing nothing.
func nop(context.Context, router.Message) error { return nil }

// testConfig is a Config with delays short enough for tests, handling the
// event types of handlers.
func testConfig(brokers []string, group string, handlers map[string]router.Handler) router.Config {
	return router.Config{
		Brokers:         brokers,
		Group:           group,
		Topics:          []string{topic},
		Handlers:        handlers,
		DeadLetterTopic: dlt,
		Backoff:         20 * time.Millisecond,
		MaxBackoff:      200 * time.Millisecond,
		IsTransient:     isTransient,
		HandlerTimeout:  5 * time.Second,
		SessionTimeout:  time.Second,
	}
}

// newProducer creates the topic and the dead-letter topic and connects a
// producer.
func newProducer(t *testing.T, brokers []string) sarama.SyncProducer {
	t.Helper()
	if err := kafkaclient.EnsureTopics(t.Context(), brokers, []string{topic, dlt}); err != nil {
		t.Fatalf("EnsureTopics: %v", err)
	}
	return kafkatest.Producer(t, brokers)
}

// event is an outbox record as the relays produce it.
func event(eventType, id string) []sarama.RecordHeader {
	return kafkatest.Headers(kafkaheader.ID, id, kafkaheader.EventType, eventType, kafkaheader.EventID, id)
}

type sent struct {
	partition int32
	offset    int64
	timestamp time.Time // the record's, to the millisecond as Kafka keeps it
}

func produce(t *testing.T, p sarama.SyncProducer, key, value string, headers []sarama.RecordHeader) sent {
	t.Helper()
	ts := time.Now().Truncate(time.Millisecond)
	part, off, err := p.SendMessage(&sarama.ProducerMessage{
		Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value), Headers: headers, Timestamp: ts,
	})
	if err != nil {
		t.Fatalf("produce %s: %v", key, err)
	}
	return sent{part, off, ts}
}

// keyOn returns a key the producer puts on partition p.
func keyOn(t *testing.T, p int32, prefix string) string {
	t.Helper()
	part := sarama.NewMurmur2Partitioner(topic)
	for i := range 1000 {
		k := prefix + "-" + strconv.Itoa(i)
		got, err := part.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(k)}, partitions)
		if err != nil {
			t.Fatalf("partition: %v", err)
		}
		if got == p {
			return k
		}
	}
	t.Fatalf("no key for partition %d", p)
	return ""
}

// call is one handler invocation.
type call struct {
	handler   string
	msg       router.Message
	seq       int64
	ctxErr    error // the handler's ctx error when it returned
	returnErr error
}

// recorder records handler calls and dead-letter sends in one sequence.
type recorder struct {
	seq   atomic.Int64
	mu    sync.Mutex
	calls map[string][]call // by event id
}

func newRecorder() *recorder { return &recorder{calls: make(map[string][]call)} }

func (rec *recorder) add(c call) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.calls[c.msg.EventID] = append(rec.calls[c.msg.EventID], c)
}

func (rec *recorder) get(id string) []call {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return slices.Clone(rec.calls[id])
}

func (rec *recorder) ids() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	var ids []string
	for id := range rec.calls {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// handledOnce returns nil once each of ids was handled exactly once.
func handledOnce(rec *recorder, ids ...string) error {
	for _, id := range ids {
		if n := len(rec.get(id)); n != 1 {
			return fmt.Errorf("%s handled %d times, want 1", id, n)
		}
	}
	return nil
}

// handler behaves as the record's value says: "ok", "permanent", "panic",
// "fail" (always), "transient:N" or "flaky:N" (N failures, then success),
// "stuck" (transient forever), "slow" (takes 300ms), "permanent-down" (a
// Permanent error wrapping a transient one).
func (rec *recorder) handler(name string, started chan<- string) router.Handler {
	return func(ctx context.Context, m router.Message) (err error) {
		n := len(rec.get(m.EventID)) + 1
		defer func() {
			rec.add(call{handler: name, msg: m, seq: rec.seq.Add(1), ctxErr: ctx.Err(), returnErr: err})
		}()
		verb, arg, _ := strings.Cut(string(m.Value), ":")
		limit, _ := strconv.Atoi(arg)
		switch verb {
		case "ok":
			return nil
		case "permanent":
			return router.Permanent(errors.New("amount is negative"))
		case "permanent-down":
			return router.Permanent(fmt.Errorf("customer deleted: %w", errDown))
		case "panic":
			panic("boom") // the deferred add records the call while panicking
		case "fail":
			return errors.New("always failing")
		case "transient":
			if n <= limit {
				return fmt.Errorf("save customer: %w", errDown)
			}
			return nil
		case "flaky":
			if n <= limit {
				return errors.New("flaky")
			}
			return nil
		case "stuck":
			return errDown
		case "slow":
			if started != nil {
				started <- m.EventID
			}
			time.Sleep(300 * time.Millisecond)
			return nil
		}
		return fmt.Errorf("test bug: unknown verb %q", verb)
	}
}

// dltProducer wraps a real producer: it fails the first failures sends (as a
// broker outage would) and numbers successful ones in the recorder's sequence.
type dltProducer struct {
	sarama.SyncProducer
	rec      *recorder
	failures atomic.Int32
	mu       sync.Mutex
	sent     map[string]int64 // record key -> seq of the successful send
}

func (p *dltProducer) SendMessage(msg *sarama.ProducerMessage) (int32, int64, error) {
	if p.failures.Add(-1) >= 0 {
		return 0, 0, errors.New("broker unavailable")
	}
	part, off, err := p.SyncProducer.SendMessage(msg)
	if err == nil {
		k, _ := msg.Key.Encode()
		p.mu.Lock()
		p.sent[string(k)] = p.rec.seq.Add(1)
		p.mu.Unlock()
	}
	return part, off, err
}

func (p *dltProducer) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.sent)
}

func (p *dltProducer) seqOf(key string) (int64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	s, ok := p.sent[key]
	return s, ok
}

// nopProducer is for routers that never dead-letter.
type nopProducer struct{ sarama.SyncProducer }

func TestRouterDispatchAndDeadLetters(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)
	rec := newRecorder()
	dp := &dltProducer{SyncProducer: p, rec: rec, sent: make(map[string]int64)}
	dp.failures.Store(2) // the first two dead-letter sends fail

	const group = "customerConsumerGroup1"
	r, err := router.New(testConfig(brokers, group, map[string]router.Handler{
		"A": rec.handler("A", nil),
		"B": rec.handler("B", nil),
	}), dp, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	type wantDLT struct {
		reason   string
		attempts int
	}
	tests := []struct {
		name        string
		headers     []sarama.RecordHeader
		value       string
		wantHandler string // "" when no handler may run
		wantID      string
		wantType    string
		wantCalls   int
		wantDLT     *wantDLT
	}{
		{name: "routes A to its handler", headers: event("A", "e-a"), value: "ok",
			wantHandler: "A", wantID: "e-a", wantType: "A", wantCalls: 1},
		{name: "routes B to its handler", headers: event("B", "e-b"), value: "ok",
			wantHandler: "B", wantID: "e-b", wantType: "B", wantCalls: 1},
		{name: "falls back to the id header", headers: kafkatest.Headers(kafkaheader.ID, "e-id", kafkaheader.EventType, "A"), value: "ok",
			wantHandler: "A", wantID: "e-id", wantType: "A", wantCalls: 1},
		{name: "prefers eventId over id", headers: kafkatest.Headers(kafkaheader.ID, "other", kafkaheader.EventType, "A", kafkaheader.EventID, "e-pref"), value: "ok",
			wantHandler: "A", wantID: "e-pref", wantType: "A", wantCalls: 1},
		{name: "ignores unknown headers", headers: append(kafkatest.Headers("__debezium.context.connectorName", "mongodb"), event("A", "e-unk")...), value: "ok",
			wantHandler: "A", wantID: "e-unk", wantType: "A", wantCalls: 1},
		{name: "skips an uninteresting type", headers: event("C", "e-c"), value: "ok", wantID: "e-c"},
		{name: "dead-letters a record without eventType", headers: kafkatest.Headers(kafkaheader.ID, "e-notype", kafkaheader.EventID, "e-notype"), value: "ok",
			wantID: "e-notype", wantDLT: &wantDLT{reason: "missing header eventType", attempts: 0}},
		{name: "dead-letters a record without an id", headers: kafkatest.Headers(kafkaheader.EventType, "A"), value: "ok",
			wantDLT: &wantDLT{reason: "missing header eventId (or id)", attempts: 0}},
		{name: "dead-letters a record without any header", value: "ok",
			wantDLT: &wantDLT{reason: "missing headers eventType and eventId (or id)", attempts: 0}},
		{name: "dead-letters a permanent error at once", headers: event("A", "e-perm"), value: "permanent",
			wantHandler: "A", wantID: "e-perm", wantType: "A", wantCalls: 1, wantDLT: &wantDLT{reason: "amount is negative", attempts: 1}},
		{name: "Permanent beats IsTransient", headers: event("B", "e-perm-down"), value: "permanent-down",
			wantHandler: "B", wantID: "e-perm-down", wantType: "B", wantCalls: 1, wantDLT: &wantDLT{reason: "customer deleted: database unavailable", attempts: 1}},
		{name: "dead-letters a panicking handler after max attempts", headers: event("B", "e-panic"), value: "panic",
			wantHandler: "B", wantID: "e-panic", wantType: "B", wantCalls: 3,
			wantDLT: &wantDLT{reason: "handler panicked: boom", attempts: 3}},
		{name: "dead-letters after max attempts", headers: event("A", "e-fail"), value: "fail",
			wantHandler: "A", wantID: "e-fail", wantType: "A", wantCalls: 3, wantDLT: &wantDLT{reason: "always failing", attempts: 3}},
		{name: "dead-letters a replay again, replacing its dlt headers and keeping the replay's", headers: append(event("A", "e-replayed"), kafkatest.Headers(
			kafkaheader.DLTOriginalTopic, "elsewhere", kafkaheader.DLTOriginalPartition, "9", kafkaheader.DLTOriginalOffset, "99",
			kafkaheader.DLTOriginalTimestamp, "2020-01-01T00:00:00.000Z", kafkaheader.DLTOriginalGroup, "other", kafkaheader.DLTError, "old", kafkaheader.DLTAttempts, "7",
			kafkaheader.DLTReplayedFromOffset, "1:4", kafkaheader.DLTReplayedAt, "2026-03-01T12:00:00.000Z")...), value: "permanent",
			wantHandler: "A", wantID: "e-replayed", wantType: "A", wantCalls: 1, wantDLT: &wantDLT{reason: "amount is negative", attempts: 1}},
		{name: "retries transient errors beyond max attempts", headers: event("A", "e-trans"), value: "transient:4",
			wantHandler: "A", wantID: "e-trans", wantType: "A", wantCalls: 5},
		{name: "retries a failure then succeeds", headers: event("B", "e-flaky"), value: "flaky:2",
			wantHandler: "B", wantID: "e-flaky", wantType: "B", wantCalls: 3},
	}

	// Each case's record is followed, on the same partition (same key), by
	// a plain event that must still be handled, after it.
	offsets := make([]sent, len(tests))
	for i, tt := range tests {
		key := "key-" + strconv.Itoa(i)
		offsets[i] = produce(t, p, key, tt.value, tt.headers)
		produce(t, p, key, "ok", event("A", "next-"+strconv.Itoa(i)))
	}
	wantDLTs := 0
	for _, tt := range tests {
		if tt.wantDLT != nil {
			wantDLTs++
		}
	}

	proctest.Go(t, "Run", r.Run)
	proctest.EventuallyEvery(t, 20*time.Second, 10*time.Millisecond, "every follow-up event", func() error {
		for i := range tests {
			if len(rec.get("next-"+strconv.Itoa(i))) == 0 {
				return fmt.Errorf("next-%d not handled", i)
			}
		}
		if got := dp.count(); got != wantDLTs {
			return fmt.Errorf("dead-lettered %d records, want %d", got, wantDLTs)
		}
		return nil
	})
	var dlts []*sarama.ConsumerMessage
	proctest.Eventually(t, 10*time.Second, fmt.Sprintf("%d records on %s", wantDLTs, dlt), func() error {
		var err error
		if dlts, err = kafkatest.Records(brokers, dlt); err != nil {
			return err
		}
		if len(dlts) < wantDLTs {
			return fmt.Errorf("read %d records from %s, want %d", len(dlts), dlt, wantDLTs)
		}
		return nil
	})
	dead := make(map[string]*sarama.ConsumerMessage)
	for _, m := range dlts {
		dead[string(m.Key)] = m
	}

	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := "key-" + strconv.Itoa(i)
			calls := rec.get(tt.wantID)
			if tt.wantID == "" {
				calls = nil
			}
			if got := len(calls); got != tt.wantCalls {
				t.Errorf("handler calls = %d, want %d", got, tt.wantCalls)
			}
			last := int64(0)
			for _, c := range calls {
				if c.handler != tt.wantHandler {
					t.Errorf("handled by %q, want %q", c.handler, tt.wantHandler)
				}
				if c.msg.EventID != tt.wantID || c.msg.EventType != tt.wantType {
					t.Errorf("message id, type = %q, %q, want %q, %q", c.msg.EventID, c.msg.EventType, tt.wantID, tt.wantType)
				}
				if c.msg.Topic != topic || c.msg.Partition != offsets[i].partition || c.msg.Offset != offsets[i].offset ||
					string(c.msg.Key) != key || string(c.msg.Value) != tt.value {
					t.Errorf("message = %s/%d@%d %q=%q, want %s/%d@%d %q=%q", c.msg.Topic, c.msg.Partition, c.msg.Offset,
						c.msg.Key, c.msg.Value, topic, offsets[i].partition, offsets[i].offset, key, tt.value)
				}
				last = max(last, c.seq)
			}

			m, gotDLT := dead[key]
			if gotDLT != (tt.wantDLT != nil) {
				t.Fatalf("dead-lettered = %v, want %v", gotDLT, tt.wantDLT != nil)
			}
			if gotDLT {
				if s, _ := dp.seqOf(key); s < last {
					t.Errorf("dead-lettered before the last handler call")
				} else {
					last = s
				}
				if string(m.Value) != tt.value {
					t.Errorf("dead-letter value = %q, want %q", m.Value, tt.value)
				}
				// The record's own headers in order, but for the ones the
				// router writes, which come after them.
				want := slices.DeleteFunc(slices.Clone(tt.headers), func(h sarama.RecordHeader) bool {
					return slices.Contains(routerDLTHeaders, string(h.Key))
				})
				want = append(want, kafkatest.Headers(
					kafkaheader.DLTOriginalTopic, topic,
					kafkaheader.DLTOriginalPartition, strconv.Itoa(int(offsets[i].partition)),
					kafkaheader.DLTOriginalOffset, strconv.FormatInt(offsets[i].offset, 10),
					kafkaheader.DLTOriginalTimestamp, offsets[i].timestamp.UTC().Format("2006-01-02T15:04:05.000Z"),
					kafkaheader.DLTOriginalGroup, group,
					kafkaheader.DLTError, tt.wantDLT.reason,
					kafkaheader.DLTAttempts, strconv.Itoa(tt.wantDLT.attempts),
				)...)
				if got, want := kafkatest.HeaderStrings(m), headerStrings(want); !slices.Equal(got, want) {
					t.Errorf("dead-letter headers:\n got %q\nwant %q", got, want)
				}
			}

			next := rec.get("next-" + strconv.Itoa(i))
			if len(next) != 1 {
				t.Fatalf("follow-up handled %d times, want 1", len(next))
			}
			if next[0].msg.Partition != offsets[i].partition {
				t.Errorf("follow-up on partition %d, want %d", next[0].msg.Partition, offsets[i].partition)
			}
			if next[0].seq < last {
				t.Errorf("follow-up handled before the record ahead of it was done")
			}
		})
	}
}

// routerDLTHeaders are the headers the router writes on a dead-lettered
// record, replacing copies the record carries.
var routerDLTHeaders = []string{
	kafkaheader.DLTOriginalTopic, kafkaheader.DLTOriginalPartition, kafkaheader.DLTOriginalOffset, kafkaheader.DLTOriginalTimestamp,
	kafkaheader.DLTOriginalGroup, kafkaheader.DLTError, kafkaheader.DLTAttempts,
}

// headerStrings shows hs as kafkatest.HeaderStrings shows a record's.
func headerStrings(hs []sarama.RecordHeader) []string {
	m := &sarama.ConsumerMessage{}
	for i := range hs {
		m.Headers = append(m.Headers, &hs[i])
	}
	return kafkatest.HeaderStrings(m)
}

func TestRouterOrdersEachPartition(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)

	const perKey = 40
	keys := []string{keyOn(t, 0, "o"), keyOn(t, 1, "o"), keyOn(t, 2, "o"), keyOn(t, 0, "p")}
	for i := range perKey {
		for _, k := range keys {
			produce(t, p, k, strconv.Itoa(i), event("A", k+"/"+strconv.Itoa(i)))
		}
	}

	var (
		mu          sync.Mutex
		seen        = make(map[string][]int)
		inFlight    [partitions]atomic.Int32
		overlap     atomic.Bool
		maxParallel atomic.Int32
		running     atomic.Int32
	)
	handle := func(_ context.Context, m router.Message) error {
		if inFlight[m.Partition].Add(1) > 1 {
			overlap.Store(true)
		}
		n := running.Add(1)
		for cur := maxParallel.Load(); n > cur && !maxParallel.CompareAndSwap(cur, n); cur = maxParallel.Load() {
		}
		time.Sleep(time.Millisecond)
		i, _ := strconv.Atoi(string(m.Value))
		mu.Lock()
		seen[string(m.Key)] = append(seen[string(m.Key)], i)
		mu.Unlock()
		running.Add(-1)
		inFlight[m.Partition].Add(-1)
		return nil
	}
	r, err := router.New(testConfig(brokers, "ordering", both(handle)), nopProducer{}, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	proctest.Go(t, "Run", r.Run)
	proctest.EventuallyEvery(t, 20*time.Second, 10*time.Millisecond, "every event", func() error {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range seen {
			n += len(s)
		}
		if n != perKey*len(keys) {
			return fmt.Errorf("handled %d events, want %d", n, perKey*len(keys))
		}
		return nil
	})

	want := make([]int, perKey)
	for i := range want {
		want[i] = i
	}
	for _, k := range keys {
		t.Run("key "+k, func(t *testing.T) {
			mu.Lock()
			got := seen[k]
			mu.Unlock()
			if !slices.Equal(got, want) {
				t.Errorf("handled order = %v, want %v", got, want)
			}
		})
	}
	if overlap.Load() {
		t.Errorf("two messages of one partition were handled at the same time")
	}
	t.Logf("most handlers running at once across partitions: %d", maxParallel.Load())
}

func TestRouterCommitsOffsets(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)
	const group = "paymentConsumerGroup1"

	// Router 1.
	rec1 := newRecorder()
	dp := &dltProducer{SyncProducer: p, rec: rec1, sent: make(map[string]int64)}
	started := make(chan string, 1)
	r1, err := router.New(testConfig(brokers, group, map[string]router.Handler{
		"A": rec1.handler("A", started),
		"B": rec1.handler("B", started),
	}), dp, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	stop1 := proctest.Go(t, "Run", r1.Run)

	admin, err := sarama.NewClusterAdmin(brokers, kafkaclient.Config("test"))
	if err != nil {
		t.Fatalf("new admin: %v", err)
	}
	defer admin.Close()
	// position is where the group resumes on partition p: the committed
	// offset, or the start when nothing is committed.
	position := func(p int32) (int64, error) {
		resp, err := admin.ListConsumerGroupOffsets(group, nil)
		if err != nil {
			return 0, fmt.Errorf("list group offsets: %w", err)
		}
		if b := resp.GetBlock(topic, p); b != nil && b.Offset >= 0 {
			return b.Offset, nil
		}
		return 0, nil
	}

	k0, k1, k2 := keyOn(t, 0, "c"), keyOn(t, 1, "c"), keyOn(t, 2, "c")
	// Partition 0: handled, handled, skipped (last, so only its own mark
	// can move the committed offset past it).
	produce(t, p, k0, "ok", event("A", "ok1"))
	produce(t, p, k0, "ok", event("A", "ok2"))
	produce(t, p, k0, "ok", event("C", "skipped"))
	t.Run("offsets are committed while running", func(t *testing.T) {
		proctest.EventuallyEvery(t, 10*time.Second, 10*time.Millisecond, "partition 0 committed past the skipped record", func() error {
			pos, err := position(0)
			if err == nil && pos != 3 {
				err = fmt.Errorf("position %d, want 3", pos)
			}
			return err
		})
	})
	// Partition 1: dead-lettered, then a handler that never completes
	// (its dependency stays down).
	produce(t, p, k1, "ok", kafkatest.Headers(kafkaheader.EventID, "poison"))
	produce(t, p, k1, "stuck", event("A", "stuck"))
	proctest.EventuallyEvery(t, 15*time.Second, 10*time.Millisecond, "stuck retries", func() error {
		if n, calls := dp.count(), len(rec1.get("stuck")); n != 1 || calls < 2 {
			return fmt.Errorf("dead-lettered %d, stuck handled %d times; want 1, at least 2", n, calls)
		}
		return nil
	})
	// Partition 2: in flight when the router stops.
	produce(t, p, k2, "slow", event("B", "slow"))
	select {
	case <-started:
	case <-time.After(15 * time.Second):
		t.Fatalf("slow handler did not start")
	}
	stop1()

	t.Run("shutdown lets the in-flight handler finish", func(t *testing.T) {
		calls := rec1.get("slow")
		if len(calls) != 1 {
			t.Fatalf("slow handled %d times, want 1", len(calls))
		}
		if calls[0].ctxErr != nil {
			t.Errorf("handler ctx error = %v, want nil (not cancelled by shutdown)", calls[0].ctxErr)
		}
	})

	for _, tt := range []struct {
		name      string
		partition int32
		want      int64
	}{
		{"handled and skipped records are committed", 0, 3},
		{"a dead-lettered record is committed, one whose handler never completed is not", 1, 1},
		{"the record in flight at shutdown is committed", 2, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := position(tt.partition)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("partition %d position = %d, want %d", tt.partition, got, tt.want)
			}
		})
	}

	// Router 2, same group: gets only what router 1 did not finish. New
	// records behind the old ones on partitions 0 and 2 prove that nothing
	// before them is redelivered (a partition is handled in order).
	rec2 := newRecorder()
	dp2 := &dltProducer{SyncProducer: p, rec: rec2, sent: make(map[string]int64)}
	ok := func(ctx context.Context, m router.Message) error {
		rec2.add(call{handler: "ok", msg: m, seq: rec2.seq.Add(1)})
		return nil
	}
	r2, err := router.New(testConfig(brokers, group, both(ok)), dp2, testLogger(t))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	proctest.Go(t, "Run", r2.Run)
	produce(t, p, k0, "ok", event("A", "new0"))
	produce(t, p, k2, "ok", event("A", "new2"))
	proctest.EventuallyEvery(t, 15*time.Second, 10*time.Millisecond, "second router", func() error {
		return handledOnce(rec2, "stuck", "new0", "new2")
	})
	t.Run("a second router sees only unfinished and new records", func(t *testing.T) {
		if got, want := rec2.ids(), []string{"new0", "new2", "stuck"}; !slices.Equal(got, want) {
			t.Errorf("handled = %q, want %q", got, want)
		}
		if got := dp2.count(); got != 0 {
			t.Errorf("dead-lettered %d records, want 0", got)
		}
	})
}

func TestRouterRebalances(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)
	const group = "rebalancing"

	var mu sync.Mutex
	handledBy := make(map[string][]string) // event id -> routers
	newRouter := func(name string) *router.Router {
		h := func(_ context.Context, m router.Message) error {
			mu.Lock()
			handledBy[m.EventID] = append(handledBy[m.EventID], name)
			mu.Unlock()
			return nil
		}
		r, err := router.New(testConfig(brokers, group, both(h)), nopProducer{}, testLogger(t).With("router", name))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return r
	}
	// batch produces one event per partition and waits until all are handled.
	batch := func(name string) []string {
		t.Helper()
		var ids []string
		for part := range int32(partitions) {
			id := name + "-" + strconv.Itoa(int(part))
			produce(t, p, keyOn(t, part, name), "ok", event("A", id))
			ids = append(ids, id)
		}
		proctest.EventuallyEvery(t, 15*time.Second, 10*time.Millisecond, "batch "+name, func() error {
			mu.Lock()
			defer mu.Unlock()
			for _, id := range ids {
				if len(handledBy[id]) == 0 {
					return fmt.Errorf("%s not handled", id)
				}
			}
			return nil
		})
		return ids
	}
	routersOf := func(ids []string) []string {
		mu.Lock()
		defer mu.Unlock()
		var rs []string
		for _, id := range ids {
			rs = append(rs, handledBy[id]...)
		}
		slices.Sort(rs)
		return slices.Compact(rs)
	}

	r1 := newRouter("r1")
	stop1 := proctest.Go(t, "Run", r1.Run)
	alone := batch("alone")
	r2 := newRouter("r2")
	proctest.Go(t, "Run", r2.Run)
	select {
	case <-r2.Ready():
	case <-time.After(15 * time.Second):
		t.Fatalf("second router never joined")
	}
	shared := batch("shared")
	stop1()
	takenOver := batch("taken-over")

	tests := []struct {
		name string
		ids  []string
		want []string
	}{
		{"one member consumes every partition", alone, []string{"r1"}},
		{"a joining member takes a share", shared, []string{"r1", "r2"}},
		{"the remaining member takes over after the other leaves", takenOver, []string{"r2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := routersOf(tt.ids); !slices.Equal(got, tt.want) {
				t.Errorf("handled by %q, want %q", got, tt.want)
			}
		})
	}
	// Delivery is at least once: a record handled just before a rebalance
	// can come again when the old generation's commit is refused (consumers
	// dedup with package inbox). What must hold is that none is lost.
	t.Run("every record handled", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		for _, id := range slices.Concat(alone, shared, takenOver) {
			if len(handledBy[id]) == 0 {
				t.Errorf("%s was never handled", id)
			}
		}
		for id, rs := range handledBy {
			if len(rs) > 1 {
				t.Logf("%s handled %d times (%q): redelivered across a rebalance", id, len(rs), rs)
			}
		}
	})
}

func TestRouterWithoutBroker(t *testing.T) {
	t.Parallel()
	t.Run("stops cleanly while the broker is down", func(t *testing.T) {
		addr := "127.0.0.1:" + strconv.Itoa(proctest.FreePort(t))
		r, err := router.New(testConfig([]string{addr}, "g", both(nop)), nopProducer{}, testLogger(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := r.Run(ctx); err != nil {
			t.Errorf("Run() = %v, want nil", err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("Run returned %v after start, want soon after ctx's 500ms", d)
		}
	})

	t.Run("starts consuming once the broker appears", func(t *testing.T) {
		port := proctest.FreePort(t)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		handled := make(chan router.Message, 1)
		h := func(_ context.Context, m router.Message) error { handled <- m; return nil }
		r, err := router.New(testConfig([]string{addr}, "g", both(h)), nopProducer{}, testLogger(t))
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		returned := make(chan error, 1)
		stop := proctest.Go(t, "Run", func(ctx context.Context) error {
			err := r.Run(ctx)
			returned <- err
			return err
		})
		time.Sleep(time.Second)
		select {
		case err := <-returned:
			t.Fatalf("Run returned %v while the broker was down, want it to keep trying", err)
		default:
		}

		brokers := newCluster(t, kfake.Ports(port)).ListenAddrs()
		p := newProducer(t, brokers)
		produce(t, p, "k", "ok", event("A", "late"))
		select {
		case m := <-handled:
			if m.EventID != "late" {
				t.Errorf("handled %q, want %q", m.EventID, "late")
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("event not handled within 15s of the broker starting")
		}
		select {
		case <-r.Ready():
		default:
			t.Errorf("Ready() not closed after handling an event")
		}
		stop()
	})
}

func TestNew(t *testing.T) {
	valid := testConfig([]string{"127.0.0.1:1"}, "g", both(nop))
	tests := []struct {
		name        string
		mutate      func(*router.Config)
		nilProducer bool
		wantErr     string
	}{
		{name: "valid", mutate: func(*router.Config) {}},
		{name: "nil producer", mutate: func(*router.Config) {}, nilProducer: true, wantErr: "nil producer"},
		{name: "no brokers", mutate: func(c *router.Config) { c.Brokers = nil }, wantErr: "no brokers"},
		{name: "no group", mutate: func(c *router.Config) { c.Group = "" }, wantErr: "no consumer group"},
		{name: "no topics", mutate: func(c *router.Config) { c.Topics = nil }, wantErr: "no topics"},
		{name: "empty topic", mutate: func(c *router.Config) { c.Topics = []string{topic, ""} }, wantErr: "empty topic name"},
		{name: "no handlers", mutate: func(c *router.Config) { c.Handlers = nil }, wantErr: "no handlers"},
		{name: "empty event type", mutate: func(c *router.Config) { c.Handlers = map[string]router.Handler{"A": nop, "": nop} }, wantErr: "empty event type"},
		{name: "nil handler", mutate: func(c *router.Config) { c.Handlers = map[string]router.Handler{"A": nop, "B": nil} }, wantErr: `nil handler for "B"`},
		{name: "no dead-letter topic", mutate: func(c *router.Config) { c.DeadLetterTopic = "" }, wantErr: "no dead-letter topic"},
		{name: "dead-letter topic consumed", mutate: func(c *router.Config) { c.Topics = []string{topic, dlt} }, wantErr: "is also consumed"},
		{name: "negative attempts", mutate: func(c *router.Config) { c.MaxAttempts = -1 }, wantErr: "negative"},
		{name: "negative backoff", mutate: func(c *router.Config) { c.Backoff = -time.Second }, wantErr: "negative duration"},
		{name: "max backoff below backoff", mutate: func(c *router.Config) { c.Backoff, c.MaxBackoff = time.Second, time.Millisecond }, wantErr: "below backoff"},
		{name: "session timeout sarama rejects", mutate: func(c *router.Config) { c.SessionTimeout = time.Microsecond }, wantErr: "sarama config"},
		{name: "static member", mutate: func(c *router.Config) { c.InstanceID = "payment-service-0123abcd" }},
		{name: "instance id Kafka rejects", mutate: func(c *router.Config) { c.InstanceID = "host/data dir" }, wantErr: "instance id"},
		{name: "instance id too long", mutate: func(c *router.Config) { c.InstanceID = strings.Repeat("x", 250) }, wantErr: "instance id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			var p sarama.SyncProducer = nopProducer{}
			if tt.nilProducer {
				p = nil
			}
			_, err := router.New(cfg, p, nil)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("New() error = %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad payload")
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantIs        error
	}{
		{name: "nil", err: router.Permanent(nil)},
		{name: "plain error", err: base, wantIs: base},
		{name: "marked", err: router.Permanent(base), wantPermanent: true, wantIs: base},
		{name: "marked then wrapped", err: fmt.Errorf("decode: %w", router.Permanent(base)), wantPermanent: true, wantIs: base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := router.IsPermanent(tt.err); got != tt.wantPermanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.wantPermanent)
			}
			if tt.wantIs != nil && !errors.Is(tt.err, tt.wantIs) {
				t.Errorf("errors.Is(%v, %v) = false, want true", tt.err, tt.wantIs)
			}
			if tt.wantIs == nil && tt.err != nil {
				t.Errorf("Permanent(nil) = %v, want nil", tt.err)
			}
		})
	}
	if got, want := router.Permanent(base).Error(), base.Error(); got != want {
		t.Errorf("Permanent(err).Error() = %q, want %q", got, want)
	}
}

func TestMessageHeader(t *testing.T) {
	m := router.Message{Headers: []router.Header{{"a", []byte("1")}, {"b", []byte("2")}, {"a", []byte("3")}}}
	tests := []struct {
		key    string
		want   string
		wantOK bool
	}{
		{key: "a", want: "3", wantOK: true}, // the last one, like Java's lastHeader
		{key: "b", want: "2", wantOK: true},
		{key: "c", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, ok := m.Header(tt.key)
			if string(got) != tt.want || ok != tt.wantOK {
				t.Errorf("Header(%q) = %q, %v, want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

// TestRouterSuccessorTakesOver: the next member of a group gets the
// partitions at once when its predecessor left (stopped), or when the
// predecessor crashed without leaving (kill -9; here its LeaveGroup is
// lost) but the next member is its restart as a static member with the
// same instance id; a dynamic member restarted after a crash waits for
// the crashed member's session timeout.
func TestRouterSuccessorTakesOver(t *testing.T) {
	t.Parallel()
	const session = 4 * time.Second
	tests := []struct {
		name       string
		crash      bool   // the first member's LeaveGroup is lost
		instanceID string // of both members; empty: dynamic members
		wantAtOnce bool
	}{
		{"dynamic member stopped", false, "", true},
		{"dynamic member crashed", true, "", false},
		{"static member crashed, restarted with its instance id", true, "svc-1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := newCluster(t)
			brokers := cluster.ListenAddrs()
			newProducer(t, brokers) // the topics
			start := func() (*router.Router, func()) {
				cfg := testConfig(brokers, "successor", both(nop))
				cfg.SessionTimeout, cfg.InstanceID = session, tt.instanceID
				r, err := router.New(cfg, nopProducer{}, testLogger(t))
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				return r, proctest.Go(t, "Run", r.Run)
			}
			first, stopFirst := start()
			select {
			case <-first.Ready():
			case <-time.After(15 * time.Second):
				t.Fatal("the first member never got partitions")
			}
			if tt.crash {
				cluster.ControlKey(int16(kmsg.LeaveGroup), func(req kmsg.Request) (kmsg.Response, error, bool) {
					return req.ResponseKind(), nil, true // answered, not applied
				})
			}
			stopFirst()
			stopped := time.Now()
			next, _ := start()
			select {
			case <-next.Ready():
			case <-time.After(15 * time.Second):
				t.Fatal("the next member never got partitions")
			}
			took := time.Since(stopped)
			t.Logf("next member assigned %v after the first stopped (session timeout %v)", took, session)
			if atOnce := took < session/2; atOnce != tt.wantAtOnce {
				t.Errorf("next member assigned after %v; at once (< %v) = %v, want %v", took, session/2, atOnce, tt.wantAtOnce)
			}
		})
	}
}

// TestRouterResetsOffsetsPastTheEnd: a committed offset past the partition's
// end (the log lost under the group) is noticed and counted, and the
// partition is consumed from its start, as Kafka's clients reset on
// OFFSET_OUT_OF_RANGE, instead of waiting for records to pass the offset.
func TestRouterResetsOffsetsPastTheEnd(t *testing.T) {
	t.Parallel()
	brokers := newCluster(t).ListenAddrs()
	p := newProducer(t, brokers)
	const group = "resetGroup"
	k0 := keyOn(t, 0, "r")
	for _, id := range []string{"r1", "r2", "r3"} {
		produce(t, p, k0, "ok", event("A", id))
	}
	client, err := sarama.NewClient(brokers, kafkaclient.Config("test"))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	coordinator, err := client.Coordinator(group)
	if err != nil {
		t.Fatal(err)
	}
	// A commit outside any generation, as a simple consumer makes one.
	req := &sarama.OffsetCommitRequest{Version: 2, ConsumerGroup: group, ConsumerGroupGeneration: -1, RetentionTime: -1}
	req.AddBlock(topic, 0, 10, 0, "")
	resp, err := coordinator.CommitOffset(req)
	if err != nil {
		t.Fatal(err)
	}
	if kerr := resp.Errors[topic][0]; kerr != sarama.ErrNoError {
		t.Fatalf("commit offset 10: %v", kerr)
	}

	rec := newRecorder()
	r, err := router.New(testConfig(brokers, group, map[string]router.Handler{
		"A": rec.handler("A", nil),
		"B": rec.handler("B", nil),
	}), p, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	proctest.Go(t, "Run", r.Run)
	proctest.EventuallyEvery(t, 15*time.Second, 10*time.Millisecond, "the three records before the committed offset", func() error {
		return handledOnce(rec, "r1", "r2", "r3")
	})
	if got := r.OffsetResets(); got != 1 {
		t.Errorf("offset resets = %d, want 1", got)
	}
}
