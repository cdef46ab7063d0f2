package deadletter_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/ops/deadletter"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// dead is a record as the router dead-letters it, put into an explicit
// partition of the dead-letter topic.
type dead struct {
	partition   int32
	key         string
	eventType   string
	origTopic   string // "": no dlt headers at all
	origAge     time.Duration
	errorText   string
	deadLetters time.Duration // how long ago it was dead-lettered
}

// produceDead writes recs to topic as the router would have, ages taken
// at now, and returns their positions.
func produceDead(t *testing.T, brokers []string, topic string, now time.Time, recs []dead) []deadletter.Position {
	t.Helper()
	p := kafkatest.Producer(t, brokers, func(c *sarama.Config) { c.Producer.Partitioner = sarama.NewManualPartitioner })
	var out []deadletter.Position
	for i, r := range recs {
		id := "e-" + r.key
		hs := kafkatest.Headers(kafkaheader.ID, id, kafkaheader.EventType, r.eventType, kafkaheader.EventID, id, kafkaheader.Traceparent, "")
		if r.origTopic != "" {
			hs = append(hs, kafkatest.Headers(
				kafkaheader.DLTOriginalTopic, r.origTopic, kafkaheader.DLTOriginalPartition, "1", kafkaheader.DLTOriginalOffset, strconv.Itoa(i),
				kafkaheader.DLTOriginalTimestamp, now.Add(-r.origAge).UTC().Format(kafkaheader.TimeFormat),
				kafkaheader.DLTOriginalGroup, "customerConsumerGroup1", kafkaheader.DLTError, r.errorText, kafkaheader.DLTAttempts, "1")...)
		}
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: r.partition, Key: sarama.StringEncoder(r.key),
			Value: sarama.StringEncoder(`{"customerId":"` + r.key + `"}`), Headers: hs, Timestamp: now.Add(-r.deadLetters)})
		if err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		out = append(out, deadletter.Position{Partition: part, Offset: off})
	}
	return out
}

func dial(t *testing.T, brokers []string) *kafkaview.Client {
	t.Helper()
	c, err := kafkaview.Dial(t.Context(), kafkaview.Config{Brokers: brokers, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newReplayer(t *testing.T, brokers []string) *deadletter.Replayer {
	t.Helper()
	r, err := deadletter.NewReplayer(brokers, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func positions(recs []deadletter.Record) []deadletter.Position {
	var out []deadletter.Position
	for _, r := range recs {
		out = append(out, r.Position())
	}
	return out
}

// TestListAndReplay lists and replays records of a three-partition
// dead-letter topic on the in-process broker: filters, limit, dry run,
// refusals, forced replay, the replayed record's headers and partition.
func TestListAndReplay(t *testing.T) {
	brokers := kafkatest.Start(t, kfake.SeedTopics(3, deadletter.Topic, "outbox.event.payment"), kfake.SeedTopics(5, "five")).ListenAddrs()
	now := time.Now().Truncate(time.Millisecond)
	const day = 24 * time.Hour
	pos := produceDead(t, brokers, deadletter.Topic, now, []dead{
		{0, "c-1", "PaymentNotAuthorizedEvent", "outbox.event.payment", time.Hour, "customer not found", 50 * time.Minute},
		{1, "c-2", "PaymentAuthorizedEvent", "outbox.event.payment", 10 * day, "customer not found", 9 * day},
		{2, "c-3", "", "", 0, "", 40 * time.Minute},
		{1, "c-4", "PaymentAuthorizedEvent", "five", 2 * time.Minute, "handler panicked: boom", time.Minute},
		{0, "c-5", "PaymentAuthorizedEvent", "gone", time.Minute, "handler panicked: boom", 30 * time.Second},
	})
	c := dial(t, brokers)

	list := func(f deadletter.Filter, limit int) []deadletter.Position {
		t.Helper()
		recs, err := deadletter.List(t.Context(), c, "", f, now, limit)
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		return positions(recs)
	}
	at := func(i ...int) []deadletter.Position {
		var out []deadletter.Position
		for _, j := range i {
			out = append(out, pos[j])
		}
		return out
	}
	listTests := []struct {
		name  string
		f     deadletter.Filter
		limit int
		want  []deadletter.Position
	}{
		{"all, by partition then offset", deadletter.Filter{}, 0, at(0, 4, 1, 3, 2)},
		{"original topic", deadletter.Filter{OriginalTopic: "outbox.event.payment"}, 0, at(0, 1)},
		{"event type", deadletter.Filter{EventType: "PaymentAuthorizedEvent"}, 0, at(4, 1, 3)},
		{"error", deadletter.Filter{ErrorContains: "PANICKED"}, 0, at(4, 3)},
		{"key", deadletter.Filter{Key: "c-3"}, 0, at(2)},
		{"older than, by the original timestamp", deadletter.Filter{OlderThan: 30 * time.Minute}, 0, at(0, 1, 2)},
		{"newer than", deadletter.Filter{NewerThan: 30 * time.Minute}, 0, at(4, 3)},
		{"positions", deadletter.Filter{Positions: at(3, 0)}, 0, at(0, 3)},
		{"the newest two by dead-letter time, still by position", deadletter.Filter{}, 2, at(4, 3)},
		{"limit over the matches", deadletter.Filter{Key: "c-1"}, 5, at(0)},
	}
	for _, tc := range listTests {
		t.Run("List/"+tc.name, func(t *testing.T) {
			if got := list(tc.f, tc.limit); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	all, err := deadletter.List(t.Context(), c, deadletter.Topic, deadletter.Filter{}, now, 0)
	if err != nil {
		t.Fatal(err)
	}
	byKey := map[string]deadletter.Record{}
	for _, r := range all {
		byKey[string(r.Key)] = r
	}
	r := newReplayer(t, brokers)
	opts := deadletter.Options{Retention: 168 * time.Hour, Now: now}

	t.Run("Replay/dry run says where and writes nothing", func(t *testing.T) {
		o := opts
		o.DryRun = true
		res, err := r.Replay(t.Context(), []deadletter.Record{byKey["c-4"], byKey["c-1"]}, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 2 {
			t.Fatalf("got %d results, want 2", len(res))
		}
		for i, want := range []struct {
			topic string
			n     int32
		}{{"five", 5}, {"outbox.event.payment", 3}} {
			key := res[i].Record.Key
			if res[i].Refused != "" || res[i].Topic != want.topic || res[i].Offset != -1 || res[i].Partition != kafkatest.JavaPartition(key, want.n) {
				t.Errorf("result %d = %s/%d@%d refused %q, want %s/%d@-1", i, res[i].Topic, res[i].Partition, res[i].Offset, res[i].Refused,
					want.topic, kafkatest.JavaPartition(key, want.n))
			}
		}
		for _, topic := range []string{"five", "outbox.event.payment"} {
			if n := len(kafkatest.ReadTopic(t, brokers, topic)); n != 0 {
				t.Errorf("%s has %d records after a dry run, want 0", topic, n)
			}
		}
	})

	var results []deadletter.Result
	t.Run("Replay/replays what it may, refuses the rest", func(t *testing.T) {
		results, err = r.Replay(t.Context(), all, opts)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{ // key: refusal ("" replayed)
			"c-1": "",
			"c-2": "older than the consumers' dedup retention (168h0m0s): replaying could apply it twice; use -force",
			"c-3": "no dlt-original-topic header: the topic it came from is unknown",
			"c-4": "",
			"c-5": `its original topic "gone" does not exist`,
		}
		if len(results) != len(all) {
			t.Fatalf("got %d results, want %d", len(results), len(all))
		}
		for _, res := range results {
			key := string(res.Record.Key)
			if res.Refused != want[key] {
				t.Errorf("%s: refused %q, want %q", key, res.Refused, want[key])
			}
			if res.Refused != "" && (res.Partition != -1 || res.Offset != -1) {
				t.Errorf("%s: refused but at %d@%d", key, res.Partition, res.Offset)
			}
		}
	})

	t.Run("Replay/the replayed record is the original, by key, with the replay headers", func(t *testing.T) {
		got := kafkatest.ReadTopic(t, brokers, "five")
		if len(got) != 1 {
			t.Fatalf("five has %d records, want 1", len(got))
		}
		m, src := got[0], byKey["c-4"]
		if string(m.Key) != "c-4" || string(m.Value) != string(src.Value) {
			t.Errorf("record %q=%q, want %q=%q", m.Key, m.Value, "c-4", src.Value)
		}
		if want := kafkatest.JavaPartition(m.Key, 5); m.Partition != want {
			t.Errorf("partition %d, want %d (the Java client's for the key)", m.Partition, want)
		}
		var res deadletter.Result
		for _, rr := range results {
			if string(rr.Record.Key) == "c-4" {
				res = rr
			}
		}
		if res.Topic != "five" || res.Partition != m.Partition || res.Offset != m.Offset {
			t.Errorf("result says %s/%d@%d, the record is at five/%d@%d", res.Topic, res.Partition, res.Offset, m.Partition, m.Offset)
		}
		want := []string{"id=e-c-4", "eventType=PaymentAuthorizedEvent", "eventId=e-c-4", "traceparent=",
			kafkaheader.DLTReplayedFromOffset + "=" + src.Position().String(),
			kafkaheader.DLTReplayedAt + "=" + now.UTC().Format(kafkaheader.TimeFormat)}
		if got := kafkatest.HeaderStrings(m); !slices.Equal(got, want) {
			t.Errorf("headers\n got %q\nwant %q", got, want)
		}
	})

	t.Run("Replay/force replays an old record", func(t *testing.T) {
		o := opts
		o.Force = true
		res, err := r.Replay(t.Context(), []deadletter.Record{byKey["c-2"]}, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || res[0].Refused != "" || res[0].Offset < 0 {
			t.Fatalf("got %+v, want it replayed", res)
		}
		var keys []string
		for _, m := range kafkatest.ReadTopic(t, brokers, "outbox.event.payment") {
			keys = append(keys, string(m.Key))
			if want := kafkatest.JavaPartition(m.Key, 3); m.Partition != want {
				t.Errorf("%s on partition %d, want %d", m.Key, m.Partition, want)
			}
		}
		if slices.Sort(keys); !slices.Equal(keys, []string{"c-1", "c-2"}) {
			t.Errorf("outbox.event.payment holds %q, want c-1 and c-2", keys)
		}
	})

	t.Run("Replay/needs a retention unless forced", func(t *testing.T) {
		if _, err := r.Replay(t.Context(), all[:1], deadletter.Options{}); err == nil || !strings.Contains(err.Error(), "Retention must be positive") {
			t.Errorf("got %v, want an error about Retention", err)
		}
	})

	t.Run("Replay/stops when ctx has ended", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if res, err := r.Replay(ctx, all, opts); err == nil || len(res) != 0 {
			t.Errorf("got %d results, %v; want none and an error", len(res), err)
		}
	})
}

// TestReplayFromOnePartition checks the replay header of a dead-letter
// topic with one partition is the offset alone, and that List fails on a
// topic that does not exist.
func TestReplayFromOnePartition(t *testing.T) {
	brokers := kafkatest.Start(t, kfake.SeedTopics(1, "DLT1"), kfake.SeedTopics(3, "outbox.event.payment")).ListenAddrs()
	now := time.Now()
	produceDead(t, brokers, "DLT1", now, []dead{
		{0, "c-1", "PaymentAuthorizedEvent", "outbox.event.payment", time.Minute, "x", 0},
		{0, "c-2", "PaymentAuthorizedEvent", "outbox.event.payment", time.Minute, "x", 0},
	})
	c := dial(t, brokers)
	recs, err := deadletter.List(t.Context(), c, "DLT1", deadletter.Filter{Positions: []deadletter.Position{{0, 1}}}, now, 0)
	if err != nil || len(recs) != 1 {
		t.Fatalf("List: %d records, %v; want 1", len(recs), err)
	}
	if _, err := newReplayer(t, brokers).Replay(t.Context(), recs, deadletter.Options{Retention: time.Hour}); err != nil {
		t.Fatal(err)
	}
	got := kafkatest.ReadTopic(t, brokers, "outbox.event.payment")
	if len(got) != 1 {
		t.Fatalf("got %d records, want 1", len(got))
	}
	if v := headerValue(got[0], kafkaheader.DLTReplayedFromOffset); v != "1" {
		t.Errorf("%s = %q, want %q", kafkaheader.DLTReplayedFromOffset, v, "1")
	}
	// Newest bounds what is read: the last record only.
	newest, err := deadletter.List(t.Context(), c, "DLT1", deadletter.Filter{Newest: 1}, now, 0)
	if err != nil || len(newest) != 1 || newest[0].Offset != 1 || string(newest[0].Key) != "c-2" {
		t.Errorf("List with Newest 1: %+v, %v; want the record at offset 1", newest, err)
	}
	if _, err := deadletter.List(t.Context(), c, "nope", deadletter.Filter{}, now, 0); err == nil || !strings.Contains(err.Error(), `unknown topic "nope"`) {
		t.Errorf("List of a missing topic: %v, want unknown topic", err)
	}
}

func headerValue(m *sarama.ConsumerMessage, key string) string {
	for _, h := range m.Headers {
		if string(h.Key) == key {
			return string(h.Value)
		}
	}
	return ""
}
