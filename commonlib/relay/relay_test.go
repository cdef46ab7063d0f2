package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

const (
	testDB     = "customers-db"
	testOutbox = "customer-events"
	testTopic  = "outbox.event.customer"
	partitions = 3
)

// --- fixtures -----------------------------------------------------------

// openStore opens an embedded store for t.
func openStore(t *testing.T) *mongotx.Client { return mongotest.Open(t).Client }

// openSmallOplogStore opens an embedded store whose change history keeps
// only maxOplog entries.
func openSmallOplogStore(t *testing.T, maxOplog int) *mongotx.Client {
	return mongotest.Open(t, func(o *mongotx.Options) { o.HistorySize = maxOplog }).Client
}

// startCluster starts a broker holding testTopic. It would create any
// other topic a client asked for; the kit's producer, like the platform's,
// never asks, so a record for another topic fails its batch.
func startCluster(t *testing.T) []string {
	t.Helper()
	return kafkatest.Start(t, kfake.SeedTopics(partitions, testTopic), kfake.AllowAutoTopicCreation()).ListenAddrs()
}

// logRecorder keeps the relay's log lines so tests can assert on them.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
	t     *testing.T
}

func (l *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *logRecorder) WithGroup(string) slog.Handler            { return l }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Level.String() + " " + r.Message)
	r.Attrs(func(a slog.Attr) bool {
		b.WriteString(" " + a.String())
		return true
	})
	l.mu.Lock()
	l.lines = append(l.lines, b.String())
	l.mu.Unlock()
	return nil
}

// count returns how many lines have level and contain text.
func (l *logRecorder) count(level slog.Level, text string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, line := range l.lines {
		if strings.HasPrefix(line, level.String()+" ") && strings.Contains(line, text) {
			n++
		}
	}
	return n
}

func (l *logRecorder) dump() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// running is a Relay started in the background.
type running struct {
	*Relay
	logs *logRecorder
	stop func()
}

func startRelay(t *testing.T, client *mongotx.Client, producer sarama.SyncProducer, edit ...func(*Options)) *running {
	t.Helper()
	return startRelayBefore(t, client, producer, nil, edit...)
}

// startRelayBefore is startRelay with a hook, before, that sees the relay
// between New and Run.
func startRelayBefore(t *testing.T, client *mongotx.Client, producer sarama.SyncProducer, before func(*Relay), edit ...func(*Options)) *running {
	t.Helper()
	logs := &logRecorder{t: t}
	opts := Options{
		Config:       shippedConfig(t),
		Database:     testDB,
		Producer:     producer,
		Log:          slog.New(logs),
		RetryBackoff: 10 * time.Millisecond,
		MaxBackoff:   50 * time.Millisecond,
	}
	for _, e := range edit {
		e(&opts)
	}
	r, err := New(client, opts)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(r)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("logs of relay %s:\n%s", r.opts.Holder, logs.dump())
		}
	})
	stop := proctest.Go(t, "Run()", r.Run)
	return &running{Relay: r, logs: logs, stop: stop}
}

// waitFor polls cond until it holds, as often as the relay's short test
// backoffs need; r's stats are the last error.
func waitFor(t *testing.T, what string, cond func() bool, r *running) {
	t.Helper()
	proctest.EventuallyEvery(t, 10*time.Second, 10*time.Millisecond, what, func() error {
		if cond() {
			return nil
		}
		return fmt.Errorf("stats %+v", statsOf(r))
	})
}

func statsOf(r *running) Stats {
	if r == nil {
		return Stats{}
	}
	return r.Stats()
}

func published(r *running, n int64) func() bool {
	return func() bool { return r.Stats().Published >= n }
}

// newEvent is an outbox event of aggregate agg with a sequence number in
// its payload, so tests can check order and contents.
func newEvent(agg string, seq int) outbox.Event {
	return outbox.New("customer", agg, "CustomerUpdated", bson.D{
		{Key: "customerId", Value: agg},
		{Key: "seq", Value: int32(seq)},
	})
}

func wantValue(e outbox.Event) string {
	p := e.Payload.(bson.D)
	return fmt.Sprintf(`{"customerId":"%s","seq":%d}`, p[0].Value, p[1].Value)
}

// commit writes events the way a service does: a domain write and the
// outbox append in one transaction.
func commit(t *testing.T, client *mongotx.Client, events ...outbox.Event) {
	t.Helper()
	db := client.Database(testDB)
	err := client.Transact(context.Background(), func(ctx context.Context) error {
		if _, err := db.Collection("customers").InsertOne(ctx, bson.D{{Key: "_id", Value: uuid.NewString()}, {Key: "name", Value: "Ada"}}); err != nil {
			return err
		}
		return outbox.Open(db, testOutbox).Append(ctx, events...)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func headerMap(m *sarama.ConsumerMessage) (keys []string, values map[string]string) {
	values = map[string]string{}
	for _, h := range m.Headers {
		keys = append(keys, string(h.Key))
		values[string(h.Key)] = string(h.Value)
	}
	return keys, values
}

// checkRecords asserts that records hold every event exactly as Debezium
// would publish it, in order per aggregate, and returns how many records
// were duplicates.
func checkRecords(t *testing.T, records []*sarama.ConsumerMessage, events []outbox.Event) (duplicates int) {
	t.Helper()
	return checkRecordsOn(t, records, events, testTopic, partitions)
}

// checkRecordsOn is checkRecords for events routed to topic, which has
// parts partitions.
func checkRecordsOn(t *testing.T, records []*sarama.ConsumerMessage, events []outbox.Event, topic string, parts int32) (duplicates int) {
	t.Helper()
	byID := map[string]outbox.Event{}
	for _, e := range events {
		byID[e.ID] = e
	}
	seen := map[string]int{}
	lastSeq := map[string]int32{} // per aggregate, first deliveries only
	for _, m := range records {
		keys, h := headerMap(m)
		if want := []string{"id", "eventType", "eventId", "traceparent"}; !slices.Equal(keys, want) {
			t.Errorf("record at %d/%d: header keys = %q, want %q", m.Partition, m.Offset, keys, want)
		}
		e, ok := byID[h["eventId"]]
		if !ok {
			t.Errorf("record at %d/%d: unexpected event %q", m.Partition, m.Offset, h["eventId"])
			continue
		}
		seen[e.ID]++
		if seen[e.ID] > 1 {
			duplicates++
			continue
		}
		if m.Topic != topic {
			t.Errorf("event %s: topic = %q, want %q", e.ID, m.Topic, topic)
		}
		if got := string(m.Key); got != e.AggregateID {
			t.Errorf("event %s: key = %q, want %q", e.ID, got, e.AggregateID)
		}
		if h["id"] != e.ID || h["eventType"] != e.Type {
			t.Errorf("event %s: headers = %v, want id=%s eventType=%s", e.ID, h, e.ID, e.Type)
		}
		if got, want := string(m.Value), wantValue(e); got != want {
			t.Errorf("event %s: value = %s, want %s", e.ID, got, want)
		}
		if want := kafkatest.JavaPartition([]byte(e.AggregateID), parts); m.Partition != want {
			t.Errorf("event %s: partition = %d, want %d (Java's murmur2)", e.ID, m.Partition, want)
		}
		seq := e.Payload.(bson.D)[1].Value.(int32)
		if prev, ok := lastSeq[e.AggregateID]; ok && seq < prev {
			t.Errorf("aggregate %s: seq %d published after seq %d", e.AggregateID, seq, prev)
		}
		lastSeq[e.AggregateID] = seq
	}
	for _, e := range events {
		if seen[e.ID] == 0 {
			t.Errorf("event %s (%s seq %v) was not published", e.ID, e.AggregateID, e.Payload.(bson.D)[1].Value)
		}
	}
	return duplicates
}

// --- tests --------------------------------------------------------------

// TestRelayPublishesOutbox: a first start sweeps what is already in the
// outbox, then the stream publishes new inserts; the records are exactly
// Debezium's, in order per aggregate and in Java's partition; nothing of
// the other collections reaches Kafka.
func TestRelayPublishesOutbox(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	ctx := context.Background()

	var events []outbox.Event
	add := func(evs ...outbox.Event) {
		commit(t, client, evs...)
		events = append(events, evs...)
	}
	add(newEvent("c-1", 1), newEvent("c-2", 1))

	r := startRelay(t, client, kafkatest.Producer(t, addrs))
	waitFor(t, "the sweep", func() bool { return r.Stats().Sweeps == 1 && r.Stats().Published >= 2 }, r)

	for seq := 2; seq <= 4; seq++ {
		add(newEvent("c-1", seq), newEvent("c-2", seq), newEvent("c-3", seq))
	}
	// Writes no consumer must see: consumed events (excluded by the list),
	// a collection the pattern does not match, another database's outbox,
	// and the domain collection.
	db := client.Database(testDB)
	err := client.Transact(ctx, func(ctx context.Context) error {
		if err := inbox.Open(db).Record(ctx, inbox.Consumed{EventID: uuid.NewString(), EventType: "PaymentAccepted"}); err != nil {
			return err
		}
		if _, err := db.Collection("audit").InsertOne(ctx, bson.D{{Key: "aggregateType", Value: "audit"}, {Key: "payload", Value: bson.D{}}}); err != nil {
			return err
		}
		_, err := db.Collection("customers").UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "name", Value: "Grace"}}}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Database("payments-db").Collection("payment-events").InsertOne(ctx,
		outbox.New("payment", "p-1", "PaymentAccepted", bson.D{{Key: "paymentId", Value: "p-1"}})); err != nil {
		t.Fatal(err)
	}
	add(newEvent("c-1", 5))

	waitFor(t, "every event", published(r, int64(len(events))), r)
	time.Sleep(200 * time.Millisecond) // let anything unexpected arrive too
	r.stop()

	records := kafkatest.ReadTopic(t, addrs, testTopic)
	if dups := checkRecords(t, records, events); dups != 0 {
		t.Errorf("duplicates = %d, want 0", dups)
	}
	if got, want := len(records), len(events); got != want {
		t.Errorf("records = %d, want %d", got, want)
	}
	if got, want := kafkatest.Topics(t, addrs), []string{testTopic}; !slices.Equal(got, want) {
		t.Errorf("topics = %q, want %q (nothing but the outbox may be published)", got, want)
	}
	st := r.Stats()
	if st.Published != int64(len(events)) || st.Parked != 0 || st.Dropped != 0 || st.Sweeps != 1 || st.HistoryLost != 0 {
		t.Errorf("stats = %+v, want %d published, 1 sweep and nothing else", st, len(events))
	}
	newest := events[len(events)-1].CreatedAt
	got, err := r.PublishedThrough(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(newest) {
		t.Errorf("PublishedThrough() = %v, want %v (newest createdAt)", got, newest)
	}
}

// TestRelayResumesAfterRestart: a new relay on the same store resumes after
// the stored position: what was committed while no relay ran is published,
// nothing twice, and no sweep happens.
func TestRelayResumesAfterRestart(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	producer := kafkatest.Producer(t, addrs)

	var events []outbox.Event
	add := func(evs ...outbox.Event) {
		commit(t, client, evs...)
		events = append(events, evs...)
	}

	first := startRelay(t, client, producer)
	waitFor(t, "the first sweep", func() bool { return first.Stats().Sweeps == 1 }, first)
	add(newEvent("c-1", 1), newEvent("c-2", 1))
	add(newEvent("c-1", 2))
	waitFor(t, "the first relay", published(first, 3), first)
	first.stop()

	add(newEvent("c-1", 3), newEvent("c-3", 1))
	add(newEvent("c-2", 2))

	second := startRelay(t, client, producer)
	waitFor(t, "the second relay", published(second, 3), second)
	add(newEvent("c-3", 2))
	waitFor(t, "the event after the restart", published(second, 4), second)
	time.Sleep(200 * time.Millisecond)
	second.stop()

	// A third start with nothing new publishes nothing.
	third := startRelay(t, client, producer)
	time.Sleep(300 * time.Millisecond)
	third.stop()

	records := kafkatest.ReadTopic(t, addrs, testTopic)
	if dups := checkRecords(t, records, events); dups != 0 {
		t.Errorf("duplicates = %d, want 0 when resuming after a stored position", dups)
	}
	tests := []struct {
		name      string
		got, want int64
	}{
		{"first relay published", first.Stats().Published, 3},
		{"second relay published", second.Stats().Published, 4},
		{"second relay sweeps", second.Stats().Sweeps, 0},
		{"third relay published", third.Stats().Published, 0},
		{"third relay sweeps", third.Stats().Sweeps, 0},
		{"records", int64(len(records)), int64(len(events))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %d, want %d", tt.got, tt.want)
			}
		})
	}
}

// flakyProducer fails SendMessages without sending while down is set.
type flakyProducer struct {
	sarama.SyncProducer
	down     atomic.Bool
	failures atomic.Int64
}

func (p *flakyProducer) SendMessages(msgs []*sarama.ProducerMessage) error {
	if p.down.Load() {
		p.failures.Add(1)
		errs := make(sarama.ProducerErrors, 0, len(msgs))
		for _, m := range msgs {
			errs = append(errs, &sarama.ProducerError{Msg: m, Err: sarama.ErrOutOfBrokers})
		}
		return errs
	}
	return p.SyncProducer.SendMessages(msgs)
}

// TestRelayKafkaDown: while Kafka does not acknowledge, the relay retries
// the same batch, stores no position and publishes nothing; once Kafka is
// back everything is published, once.
func TestRelayKafkaDown(t *testing.T) {
	t.Run("producer errors", func(t *testing.T) {
		client := openStore(t)
		addrs := startCluster(t)
		producer := &flakyProducer{SyncProducer: kafkatest.Producer(t, addrs)}

		r := startRelay(t, client, producer)
		waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
		producer.down.Store(true)
		events := []outbox.Event{newEvent("c-1", 1), newEvent("c-2", 1), newEvent("c-1", 2)}
		commit(t, client, events[:2]...)
		commit(t, client, events[2])
		waitFor(t, "three failed attempts", func() bool { return producer.failures.Load() >= 3 }, r)

		through, err := r.PublishedThrough(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if st := r.Stats(); st.Published != 0 || st.KafkaRetries < 3 || !through.IsZero() {
			t.Errorf("while down: stats %+v, published through %v; want nothing published, retries counted, no position", st, through)
		}
		if n := r.logs.count(slog.LevelWarn, "retrying the same batch"); n < 3 {
			t.Errorf("WARN lines about retries = %d, want >= 3", n)
		}

		producer.down.Store(false)
		waitFor(t, "the events after recovery", published(r, 3), r)
		time.Sleep(100 * time.Millisecond)
		r.stop()
		records := kafkatest.ReadTopic(t, addrs, testTopic)
		if dups := checkRecords(t, records, events); dups != 0 {
			t.Errorf("duplicates = %d, want 0", dups)
		}
		if len(records) != len(events) {
			t.Errorf("records = %d, want %d", len(records), len(events))
		}
	})

	t.Run("broker drops produce requests", func(t *testing.T) {
		client := openStore(t)
		c := kafkatest.Start(t, kfake.SeedTopics(partitions, testTopic))
		addrs := c.ListenAddrs()
		producer := kafkatest.Producer(t, addrs, func(c *sarama.Config) {
			c.Producer.Retry.Max = 2 // surface the outage to the relay quickly
		})

		var down atomic.Bool
		var dropped atomic.Int64
		c.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
			c.KeepControl()
			if down.Load() {
				dropped.Add(1)
				return nil, errors.New("broker down"), true // closes the connection
			}
			return nil, nil, false
		})

		r := startRelay(t, client, producer)
		waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
		down.Store(true)
		events := []outbox.Event{newEvent("c-1", 1), newEvent("c-2", 1), newEvent("c-3", 1)}
		commit(t, client, events...)
		waitFor(t, "the relay to see the outage", func() bool { return r.Stats().KafkaRetries >= 2 }, r)
		if st := r.Stats(); st.Published != 0 {
			t.Errorf("published %d records while the broker was down", st.Published)
		}
		down.Store(false)
		waitFor(t, "the events after recovery", published(r, 3), r)
		r.stop()
		records := kafkatest.ReadTopic(t, addrs, testTopic)
		dups := checkRecords(t, records, events)
		t.Logf("produce requests dropped %d, relay retries %d, duplicates %d", dropped.Load(), r.Stats().KafkaRetries, dups)
	})
}

// TestRelayHistoryLost: when the stored position has left the change
// history, the relay warns and sweeps the outbox: everything still in it is
// published (duplicates expected), nothing is lost.
func TestRelayHistoryLost(t *testing.T) {
	t.Run("while stopped", func(t *testing.T) {
		client := openSmallOplogStore(t, 20)
		addrs := startCluster(t)
		producer := kafkatest.Producer(t, addrs)

		var events []outbox.Event
		first := startRelay(t, client, producer)
		waitFor(t, "the first sweep", func() bool { return first.Stats().Sweeps == 1 }, first)
		for seq := 1; seq <= 3; seq++ {
			e := newEvent("c-1", seq)
			commit(t, client, e)
			events = append(events, e)
		}
		waitFor(t, "the first events", published(first, 3), first)
		first.stop()

		// Far more changes than the history keeps.
		for seq := 4; seq <= 30; seq++ {
			e := newEvent(fmt.Sprintf("c-%d", seq%4), seq)
			commit(t, client, e)
			events = append(events, e)
		}

		second := startRelay(t, client, producer)
		waitFor(t, "the sweep", published(second, int64(len(events))), second)
		second.stop()

		st := second.Stats()
		if st.HistoryLost != 1 || st.Sweeps != 1 {
			t.Errorf("stats = %+v, want 1 history lost and 1 sweep", st)
		}
		if n := second.logs.count(slog.LevelWarn, "left the change history"); n != 1 {
			t.Errorf("WARN lines about lost history = %d, want 1", n)
		}
		records := kafkatest.ReadTopic(t, addrs, testTopic)
		dups := checkRecords(t, records, events)
		if dups != 3 {
			t.Errorf("duplicates = %d, want 3 (the events published before the stop, swept again)", dups)
		}
	})

	t.Run("the sweep starts a commit margin before what was published", func(t *testing.T) {
		client := openSmallOplogStore(t, 20)
		addrs := startCluster(t)
		producer := kafkatest.Producer(t, addrs)

		// Published before the stop: three events an hour before the last
		// one (older than the mark by more than the margin), and the last.
		now := time.Now().UTC().Truncate(time.Millisecond)
		var events []outbox.Event
		for seq := 1; seq <= 4; seq++ {
			e := newEvent("c-1", seq)
			e.CreatedAt = now.Add(-2 * time.Hour)
			if seq == 4 {
				e.CreatedAt = now.Add(-time.Hour)
			}
			commit(t, client, e)
			events = append(events, e)
		}
		first := startRelay(t, client, producer)
		waitFor(t, "the first events", published(first, 4), first)
		first.stop()

		for seq := 5; seq <= 30; seq++ {
			e := newEvent("c-2", seq)
			commit(t, client, e)
			events = append(events, e)
		}
		second := startRelay(t, client, producer)
		waitFor(t, "the sweep", published(second, 27), second)
		second.stop()

		if st := second.Stats(); st.HistoryLost != 1 || st.Sweeps != 1 || st.Published != 27 {
			t.Errorf("stats = %+v, want 1 history lost, 1 sweep, 27 published (the mark's own event and the 26 new)", st)
		}
		if dups := checkRecords(t, kafkatest.ReadTopic(t, addrs, testTopic), events); dups != 1 {
			t.Errorf("duplicates = %d, want 1 (only the event within the commit margin of the mark)", dups)
		}
	})

	t.Run("stream falls behind while kafka is down", func(t *testing.T) {
		client := openSmallOplogStore(t, 20)
		addrs := startCluster(t)
		producer := &flakyProducer{SyncProducer: kafkatest.Producer(t, addrs)}

		r := startRelay(t, client, producer)
		waitFor(t, "the first sweep", func() bool { return r.Stats().Sweeps == 1 }, r)
		producer.down.Store(true)
		var events []outbox.Event
		for seq := 1; seq <= 25; seq++ {
			e := newEvent("c-1", seq)
			commit(t, client, e)
			events = append(events, e)
		}
		producer.down.Store(false)
		waitFor(t, "every event", published(r, int64(len(events))), r)
		waitFor(t, "the sweep after the lost position", func() bool { return r.Stats().Sweeps == 2 }, r)
		r.stop()

		if st := r.Stats(); st.HistoryLost != 1 {
			t.Errorf("stats = %+v, want 1 history lost", st)
		}
		records := kafkatest.ReadTopic(t, addrs, testTopic)
		dups := checkRecords(t, records, events)
		t.Logf("records %d, duplicates %d", len(records), dups)
	})
}

// TestRelayDropsUpdatesAndDeletes: updates and replacements of outbox
// documents are dropped with a warning and counted; deletes are dropped
// silently; neither reaches Kafka.
func TestRelayDropsUpdatesAndDeletes(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	ctx := context.Background()
	r := startRelay(t, client, kafkatest.Producer(t, addrs))

	events := []outbox.Event{newEvent("c-1", 1), newEvent("c-2", 1)}
	commit(t, client, events...)
	waitFor(t, "the inserts", published(r, 2), r)

	coll := client.Database(testDB).Collection(testOutbox)
	if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: events[0].ID}}, bson.D{{Key: "$set", Value: bson.D{{Key: "payload.seq", Value: int32(99)}}}}); err != nil {
		t.Fatal(err)
	}
	replaced := newEvent("c-2", 98)
	replaced.ID = events[1].ID
	if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: events[1].ID}}, replaced); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.Open(client.Database(testDB), testOutbox).Purge(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	last := newEvent("c-1", 2)
	commit(t, client, last)
	events = append(events, last)
	waitFor(t, "the last insert", published(r, 3), r)
	time.Sleep(100 * time.Millisecond)
	r.stop()

	records := kafkatest.ReadTopic(t, addrs, testTopic)
	if dups := checkRecords(t, records, events); dups != 0 {
		t.Errorf("duplicates = %d, want 0", dups)
	}
	if len(records) != 3 {
		t.Errorf("records = %d, want 3 (inserts only)", len(records))
	}
	if st := r.Stats(); st.Dropped != 2 || st.Published != 3 {
		t.Errorf("stats = %+v, want 2 dropped, 3 published", st)
	}
	tests := []struct {
		op   string
		want int
	}{{"update", 1}, {"replace", 1}, {"delete", 0}}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			if got := r.logs.count(slog.LevelWarn, "unexpected "+tt.op); got != tt.want {
				t.Errorf("WARN lines for %s = %d, want %d", tt.op, got, tt.want)
			}
		})
	}
}

// TestRelayParksUnroutable: documents Debezium would fail on are parked in
// outbox-parked with the reason, logged at ERROR and counted, and later
// valid documents still flow.
func TestRelayParksUnroutable(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	ctx := context.Background()
	db := client.Database(testDB)
	coll := db.Collection(testOutbox)
	insert := func(doc bson.D) {
		t.Helper()
		if err := client.Transact(ctx, func(ctx context.Context) error {
			_, err := coll.InsertOne(ctx, doc)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	bad := func(id string, drop string, set ...bson.E) bson.D {
		return edited(bson.D{
			{Key: "_id", Value: id},
			{Key: "aggregateType", Value: "customer"},
			{Key: "aggregateId", Value: "c-9"},
			{Key: "type", Value: "CustomerUpdated"},
			{Key: "payload", Value: bson.D{{Key: "customerId", Value: "c-9"}}},
			{Key: "createdAt", Value: time.Now()},
			{Key: "traceparent", Value: nil},
		}, drop, set...)
	}
	// Already in the outbox at the first start: parked by the sweep.
	insert(bad("before-start", "payload"))

	r := startRelay(t, client, kafkatest.Producer(t, addrs))
	waitFor(t, "the sweep", func() bool { return r.Stats().Sweeps == 1 }, r)

	wantReasons := map[string]string{
		"before-start":        `no payload field "payload"`,
		"no-aggregate-type":   `no "aggregateType" field to route by`,
		"numeric-aggregate":   `"aggregateType" is a int32, not a string`,
		"no-payload":          `no payload field "payload"`,
		"mixed-array-payload": "not a homogenous array",
	}
	insert(bad("no-aggregate-type", "aggregateType"))
	insert(bad("numeric-aggregate", "", bson.E{Key: "aggregateType", Value: int32(7)}))
	insert(bad("no-payload", "payload"))
	insert(bad("mixed-array-payload", "", bson.E{Key: "payload", Value: bson.D{{Key: "xs", Value: bson.A{int32(1), "x"}}}}))
	good := newEvent("c-1", 1)
	commit(t, client, good)

	waitFor(t, "the parked and the good documents", func() bool {
		st := r.Stats()
		return st.Parked >= int64(len(wantReasons)) && st.Published >= 1
	}, r)
	r.stop()

	records := kafkatest.ReadTopic(t, addrs, testTopic)
	checkRecords(t, records, []outbox.Event{good})
	if len(records) != 1 {
		t.Errorf("records = %d, want 1", len(records))
	}
	if st := r.Stats(); st.Parked != int64(len(wantReasons)) {
		t.Errorf("parked = %d, want %d", st.Parked, len(wantReasons))
	}
	if n := r.logs.count(slog.LevelError, "parked"); n != len(wantReasons) {
		t.Errorf("ERROR lines = %d, want %d", n, len(wantReasons))
	}
	for id, want := range wantReasons {
		t.Run(id, func(t *testing.T) {
			var parked struct {
				Collection string    `bson:"collection"`
				Reason     string    `bson:"reason"`
				Document   bson.Raw  `bson:"document"`
				ParkedAt   time.Time `bson:"parkedAt"`
			}
			if err := db.Collection(ParkedCollection).FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(&parked); err != nil {
				t.Fatalf("parked document %s: %v", id, err)
			}
			if parked.Collection != testOutbox || !strings.Contains(parked.Reason, want) || parked.ParkedAt.IsZero() {
				t.Errorf("parked = {collection %q, reason %q, parkedAt %v}, want {%q, containing %q, set}", parked.Collection, parked.Reason, parked.ParkedAt, testOutbox, want)
			}
			if got := parked.Document.Lookup("_id").StringValue(); got != id {
				t.Errorf("parked document _id = %q, want %q", got, id)
			}
		})
	}
}

// TestNewRefuses checks the settings New rejects before touching anything.
func TestNewRefuses(t *testing.T) {
	client := openStore(t)
	cfg := shippedConfig(t)
	producer := &flakyProducer{}
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"database not captured", Options{Config: cfg, Database: "orders-db", Producer: producer}, "database.include.list"},
		{"no database", Options{Config: cfg, Producer: producer}, "no database"},
		{"no producer", Options{Config: cfg, Database: testDB}, "no producer"},
		{"unexpanded payload", Options{Config: func() Config { c := cfg; c.ExpandJSONPayload = false; return c }(), Database: testDB, Producer: producer}, "expand.json.payload"},
		{"lease too short", Options{Config: cfg, Database: testDB, Producer: producer, LeaseTTL: 10 * time.Millisecond}, "lease TTL"},
		{"envelope placement", Options{Config: func() Config {
			c := cfg
			c.Placements = []Placement{{Field: "type", Location: "envelope", Alias: "type"}}
			return c
		}(), Database: testDB, Producer: producer}, "header"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(client, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New() error = %v, want one mentioning %q", err, tt.want)
			}
		})
	}
}
