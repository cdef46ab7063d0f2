package kafkaclient_test

import (
	"context"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// keys are Kafka's own murmur2 test vectors (clients/.../UtilsTest.testMurmur2),
// whose partitions kafkatest.JavaPartition knows as the Java client
// computes them.
var keys = []string{"21", "foobar", "a-little-bit-long-string", "a-little-bit-longer-string", "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", "abc"}

// newCluster starts a broker that creates topics on first use.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	return kafkatest.Start(t, append([]kfake.Opt{kfake.AllowAutoTopicCreation()}, opts...)...)
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func TestParseBrokers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []string
		wantErr string
	}{
		{name: "one", in: "kafka:9093", want: []string{"kafka:9093"}},
		{name: "several with spaces", in: " a:9093, b:9094 ,c:1", want: []string{"a:9093", "b:9094", "c:1"}},
		{name: "ipv6", in: "[::1]:9093", want: []string{"[::1]:9093"}},
		{name: "empty", in: "", wantErr: "empty broker list"},
		{name: "blank", in: "  ", wantErr: "empty broker list"},
		{name: "empty entry", in: "a:9093,,b:9093", wantErr: "entry 2 is empty"},
		{name: "trailing comma", in: "a:9093,", wantErr: "entry 2 is empty"},
		{name: "missing port", in: "kafka", wantErr: "want host:port"},
		{name: "empty port", in: "kafka:", wantErr: "invalid port"},
		{name: "port not a number", in: "kafka:http", wantErr: "invalid port"},
		{name: "port out of range", in: "kafka:70000", wantErr: "invalid port"},
		{name: "missing host", in: ":9093", wantErr: "missing host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kafkaclient.ParseBrokers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseBrokers(%q) error = %v, want one containing %q", tt.in, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBrokers(%q) error = %v, want nil", tt.in, err)
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("ParseBrokers(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestProducerConfig(t *testing.T) {
	c := kafkaclient.ProducerConfig("relay")
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v, want nil", err)
	}
	settings := []struct {
		name      string
		got, want any
	}{
		{"Version", c.Version, sarama.V3_6_0_0},
		{"ClientID", c.ClientID, "relay"},
		{"Idempotent", c.Producer.Idempotent, true},
		{"RequiredAcks", c.Producer.RequiredAcks, sarama.WaitForAll},
		{"MaxOpenRequests", c.Net.MaxOpenRequests, 1},
		{"Return.Successes", c.Producer.Return.Successes, true},
		{"AllowAutoTopicCreation", c.Metadata.AllowAutoTopicCreation, false},
		{"Retry.Max at least 10", c.Producer.Retry.Max >= 10, true},
		{"Retry.BackoffFunc set", c.Producer.Retry.BackoffFunc != nil, true},
	}
	for _, s := range settings {
		t.Run(s.name, func(t *testing.T) {
			if s.got != s.want {
				t.Errorf("got %v, want %v", s.got, s.want)
			}
		})
	}
	// The partitioner must pick the partition Kafka's Java client picks.
	for _, key := range keys {
		for _, n := range []int32{1, 3, 7, 12} {
			t.Run("partition "+key+" of "+strconv.Itoa(int(n)), func(t *testing.T) {
				p := c.Producer.Partitioner("t")
				got, err := p.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, n)
				if err != nil {
					t.Fatalf("Partition: %v", err)
				}
				if want := kafkatest.JavaPartition([]byte(key), n); got != want {
					t.Errorf("partition of %q among %d = %d, want %d (Java)", key, n, got, want)
				}
			})
		}
	}
}

func TestEnsureTopics(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	brokers := c.ListenAddrs()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()

	// A topic created beforehand with a non-default partition count.
	admin, err := sarama.NewClusterAdmin(brokers, kafkaclient.Config("test"))
	if err != nil {
		t.Fatalf("new admin: %v", err)
	}
	if err := admin.CreateTopic("preexisting", &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1}, false); err != nil {
		t.Fatalf("create preexisting: %v", err)
	}
	admin.Close()

	// Steps run in order on one broker.
	steps := []struct {
		name           string
		topics         []string
		wantErr        string
		wantPartitions map[string]int
	}{
		{
			name:           "creates missing topics with the broker default partitions",
			topics:         []string{"outbox.event.customer", "DLT"},
			wantPartitions: map[string]int{"outbox.event.customer": 3, "DLT": 3},
		},
		{
			name:           "is idempotent",
			topics:         []string{"outbox.event.customer", "DLT", "DLT"},
			wantPartitions: map[string]int{"outbox.event.customer": 3, "DLT": 3},
		},
		{
			name:           "leaves existing topics alone",
			topics:         []string{"preexisting", "outbox.event.payment"},
			wantPartitions: map[string]int{"preexisting": 1, "outbox.event.payment": 3},
		},
		{name: "rejects an empty name", topics: []string{"ok", ""}, wantErr: "empty topic name"},
		{name: "nothing to do", topics: nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			err := kafkaclient.EnsureTopics(ctx, brokers, s.topics)
			if s.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), s.wantErr) {
					t.Fatalf("EnsureTopics error = %v, want one containing %q", err, s.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("EnsureTopics error = %v, want nil", err)
			}
			for topic, want := range s.wantPartitions {
				if got := kafkatest.PartitionCount(t, brokers, topic); got != want {
					t.Errorf("partitions of %s = %d, want %d", topic, got, want)
				}
			}
		})
	}

	t.Run("broker older than 2.4 is refused clearly", func(t *testing.T) {
		old := newCluster(t, kfake.MaxVersions(kversion.V2_3_0()))
		err := kafkaclient.EnsureTopics(ctx, old.ListenAddrs(), []string{"t"})
		if err == nil || !strings.Contains(err.Error(), "Kafka 2.4 or later") {
			t.Errorf("EnsureTopics error = %v, want one mentioning Kafka 2.4", err)
		}
	})
	t.Run("no broker", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		start := time.Now()
		err := kafkaclient.EnsureTopics(ctx, []string{"127.0.0.1:" + strconv.Itoa(proctest.FreePort(t))}, []string{"t"})
		if err == nil {
			t.Fatalf("EnsureTopics error = nil, want an error")
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("EnsureTopics took %v, want at most ctx's 1s (+slack)", d)
		}
	})
}

func TestPing(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	broker := c.ListenAddrs()[0]
	closed := "127.0.0.1:" + strconv.Itoa(proctest.FreePort(t))
	// A listener that accepts but never answers: Ping must respect the deadline.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer silent.Close()

	tests := []struct {
		name    string
		brokers []string
		wantErr bool
	}{
		{name: "broker answers", brokers: []string{broker}},
		{name: "one of several answers", brokers: []string{closed, broker}},
		{name: "closed port", brokers: []string{closed}, wantErr: true},
		{name: "silent listener", brokers: []string{silent.Addr().String()}, wantErr: true},
		{name: "no brokers", brokers: nil, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := kafkaclient.Ping(ctx, tt.brokers)
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("Ping(%v) error = %v, want error: %v", tt.brokers, err, tt.wantErr)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("Ping took %v, want it within the 500ms deadline", d)
			}
		})
	}
}

func TestWaitSyncProducer(t *testing.T) {
	t.Parallel()
	port := proctest.FreePort(t)
	brokers := []string{"127.0.0.1:" + strconv.Itoa(port)}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()

	t.Run("gives up when ctx ends", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		p, err := kafkaclient.WaitSyncProducer(ctx, brokers, "test", testLogger(t))
		if err == nil {
			p.Close()
			t.Fatalf("WaitSyncProducer error = nil, want an error (no broker)")
		}
	})

	t.Run("connects once the broker appears", func(t *testing.T) {
		type result struct {
			p   sarama.SyncProducer
			err error
		}
		done := make(chan result, 1)
		go func() {
			p, err := kafkaclient.WaitSyncProducer(ctx, brokers, "test", testLogger(t))
			done <- result{p, err}
		}()
		time.Sleep(time.Second)
		select {
		case r := <-done:
			t.Fatalf("WaitSyncProducer returned (%v) before the broker started", r.err)
		default:
		}
		c := newCluster(t, kfake.Ports(port))
		r := <-done
		if r.err != nil {
			t.Fatalf("WaitSyncProducer error = %v, want nil", r.err)
		}
		defer r.p.Close()

		if err := kafkaclient.EnsureTopics(ctx, c.ListenAddrs(), []string{"keyed"}); err != nil {
			t.Fatalf("EnsureTopics: %v", err)
		}
		// Records land where Kafka's Java producer (Debezium) would put them.
		for _, key := range keys {
			got, _, err := r.p.SendMessage(&sarama.ProducerMessage{Topic: "keyed", Key: sarama.StringEncoder(key), Value: sarama.StringEncoder("v")})
			if err != nil {
				t.Fatalf("SendMessage: %v", err)
			}
			if want := kafkatest.JavaPartition([]byte(key), kafkatest.Partitions); got != want {
				t.Errorf("key %q went to partition %d, want %d (Java)", key, got, want)
			}
		}
	})
}

// TestMinSessionTimeout: a broker with its default settings (kfake, as in
// devkafka) accepts a consumer group session of MinSessionTimeout and
// refuses a shorter one.
func TestMinSessionTimeout(t *testing.T) {
	addr := newCluster(t).ListenAddrs()[0]
	tests := []struct {
		name    string
		session time.Duration
		want    sarama.KError
	}{
		{"MinSessionTimeout", kafkaclient.MinSessionTimeout, sarama.ErrMemberIdRequired}, // accepted: JoinGroup v4+ asks for a second join
		{"shorter", kafkaclient.MinSessionTimeout - time.Millisecond, sarama.ErrInvalidSessionTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := sarama.NewBroker(addr)
			if err := b.Open(kafkaclient.Config("session-test")); err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			req := &sarama.JoinGroupRequest{
				Version: 5, GroupId: "session-" + tt.name, ProtocolType: "consumer",
				SessionTimeout: int32(tt.session.Milliseconds()), RebalanceTimeout: 10_000,
			}
			req.AddGroupProtocol("range", []byte{0, 0})
			resp, err := b.JoinGroup(req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Err != tt.want {
				t.Errorf("JoinGroup with a %v session: %v, want %v", tt.session, resp.Err, tt.want)
			}
		})
	}
}
