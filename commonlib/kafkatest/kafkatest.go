// Package kafkatest gives tests a Kafka and a look at what it holds: an
// in-process kfake cluster (Start), a producer with the platform's settings
// from package kafkaclient (Producer, Produce), readers that take a topic's
// records up to its high-water marks (Records, ReadTopic), the broker's
// topics, partitions and offsets, and the Java client's partition choice
// (JavaPartition) that the platform's producers must match.
//
// It is test support only: tests import it, with the embedded broker or a
// real one (a devkafka process, a KAFKA_TEST_BROKERS list). It knows no
// topic, event or header of the platform. Devkafka's own tests have their
// own kit (devkafka/internal/kafkatest): that module does not depend on
// commonlib.
package kafkatest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
)

// Partitions is the partition count of the topics of a cluster from Start
// unless its options say otherwise.
const Partitions = 3

// ReadTimeout bounds the wait for each record Records reads: one that does
// not arrive in time (below the high-water mark) is an error.
const ReadTimeout = 10 * time.Second

// clientID identifies the kit's clients to the broker.
const clientID = "kafkatest"

// Start starts a one-broker kfake cluster whose topics have Partitions
// partitions, closed when t ends. opts come after those defaults and can
// override them; the cluster creates no topic on its own unless opts include
// kfake.AllowAutoTopicCreation.
func Start(t testing.TB, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(Partitions)}, opts...)...)
	if err != nil {
		t.Fatalf("start kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Producer connects a synchronous producer with the platform's settings
// (kafkaclient.ProducerConfig), after edit changed them, and closes it when
// t ends. It fails t when no broker answers.
func Producer(t testing.TB, brokers []string, edit ...func(*sarama.Config)) sarama.SyncProducer {
	t.Helper()
	cfg := kafkaclient.ProducerConfig(clientID)
	for _, e := range edit {
		e(cfg)
	}
	p, err := sarama.NewSyncProducer(brokers, cfg)
	if err != nil {
		t.Fatalf("kafka producer: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// Produce publishes one record to topic, with headers given as name, value
// pairs, through a producer of its own that it closes again: for a test that
// plays a relay or a misbehaving producer now and then.
func Produce(t testing.TB, brokers []string, topic, key, value string, headers ...string) {
	t.Helper()
	p, err := kafkaclient.NewSyncProducer(brokers, clientID)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value), Headers: Headers(headers...)}
	if _, _, err := p.SendMessage(msg); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
}

// Headers builds record headers from name, value pairs (an odd last name is
// ignored).
func Headers(kv ...string) []sarama.RecordHeader {
	var hs []sarama.RecordHeader
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, sarama.RecordHeader{Key: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return hs
}

// HeaderStrings returns m's headers as "name=value", in order: easy to
// compare and to print.
func HeaderStrings(m *sarama.ConsumerMessage) []string {
	out := make([]string, 0, len(m.Headers))
	for _, h := range m.Headers {
		out = append(out, string(h.Key)+"="+string(h.Value))
	}
	return out
}

// Records returns every record of topic, read from the oldest offset of each
// partition up to its high-water mark as it was when Records looked,
// ordered by partition, then offset (per key, publication order). A topic
// that does not exist is an error that errors.Is
// sarama.ErrUnknownTopicOrPartition; Records creates no topic.
func Records(brokers []string, topic string) ([]*sarama.ConsumerMessage, error) {
	client, err := sarama.NewClient(brokers, kafkaclient.Config(clientID))
	if err != nil {
		return nil, fmt.Errorf("kafka client: %w", err)
	}
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	slices.Sort(parts)
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, err
	}
	defer consumer.Close()
	var out []*sarama.ConsumerMessage
	for _, part := range parts {
		recs, err := readPartition(client, consumer, topic, part)
		if err != nil {
			return nil, err
		}
		out = append(out, recs...)
	}
	return out, nil
}

func readPartition(client sarama.Client, consumer sarama.Consumer, topic string, part int32) ([]*sarama.ConsumerMessage, error) {
	newest, err := client.GetOffset(topic, part, sarama.OffsetNewest)
	if err != nil {
		return nil, fmt.Errorf("%s/%d: newest offset: %w", topic, part, err)
	}
	oldest, err := client.GetOffset(topic, part, sarama.OffsetOldest)
	if err != nil {
		return nil, fmt.Errorf("%s/%d: oldest offset: %w", topic, part, err)
	}
	if newest <= oldest {
		return nil, nil
	}
	pc, err := consumer.ConsumePartition(topic, part, oldest)
	if err != nil {
		return nil, fmt.Errorf("consume %s/%d: %w", topic, part, err)
	}
	defer pc.Close()
	var out []*sarama.ConsumerMessage
	for off := oldest; off < newest; {
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				return nil, fmt.Errorf("%s/%d: consumer closed before offset %d", topic, part, off)
			}
			out = append(out, m)
			off = m.Offset + 1
		case <-time.After(ReadTimeout):
			return nil, fmt.Errorf("%s/%d: no record at offset %d within %v (high-water mark %d)", topic, part, off, ReadTimeout, newest)
		}
	}
	return out, nil
}

// ReadTopic is Records that fails t on an error, a missing topic included.
func ReadTopic(t testing.TB, brokers []string, topic string) []*sarama.ConsumerMessage {
	t.Helper()
	recs, err := Records(brokers, topic)
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	return recs
}

// Topics returns the names of the brokers' topics, sorted.
func Topics(t testing.TB, brokers []string) []string {
	t.Helper()
	client := newClient(t, brokers)
	defer client.Close()
	if err := client.RefreshMetadata(); err != nil {
		t.Fatalf("kafka metadata: %v", err)
	}
	ts, err := client.Topics()
	if err != nil {
		t.Fatalf("kafka topics: %v", err)
	}
	slices.Sort(ts)
	return ts
}

// PartitionCount returns how many partitions topic has.
func PartitionCount(t testing.TB, brokers []string, topic string) int {
	t.Helper()
	client := newClient(t, brokers)
	defer client.Close()
	ps, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	return len(ps)
}

// HighWaterMarks returns the offset the next record of each partition of
// topic will get.
func HighWaterMarks(t testing.TB, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	client := newClient(t, brokers)
	defer client.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		t.Fatalf("partitions of %s: %v", topic, err)
	}
	out := make(map[int32]int64, len(parts))
	for _, part := range parts {
		if out[part], err = client.GetOffset(topic, part, sarama.OffsetNewest); err != nil {
			t.Fatalf("%s/%d: newest offset: %v", topic, part, err)
		}
	}
	return out
}

func newClient(t testing.TB, brokers []string) sarama.Client {
	t.Helper()
	client, err := sarama.NewClient(brokers, kafkaclient.Config(clientID))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	return client
}
