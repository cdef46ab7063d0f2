// Package kafkatest writes and reads records and group offsets with sarama,
// configured the way the platform's services are (Kafka 3.6 protocol,
// idempotent producer, acks=all), for tests that run against devkafka.
package kafkatest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Message is a record to produce into an explicit partition.
type Message struct {
	Topic     string
	Partition int32
	Key       string
	Headers   [][2]string
	Value     string
	Timestamp time.Time
}

// Config is the sarama configuration of the test clients.
func Config() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "devkafka-test"
	c.Version = sarama.V3_6_0_0
	c.Net.DialTimeout = 5 * time.Second
	c.Net.ReadTimeout = 5 * time.Second
	c.Net.WriteTimeout = 5 * time.Second
	c.Metadata.Retry.Max = 3
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.MaxOpenRequests = 1
	c.Producer.Return.Successes = true
	c.Producer.Partitioner = sarama.NewManualPartitioner
	c.Consumer.Return.Errors = true
	c.Consumer.MaxWaitTime = 100 * time.Millisecond
	return c
}

// Client connects to addr and closes at cleanup.
func Client(t testing.TB, addr string) sarama.Client {
	t.Helper()
	c, err := sarama.NewClient([]string{addr}, Config())
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Produce sends msgs in order and returns the offset each one got.
func Produce(t testing.TB, addr string, msgs []Message) []int64 {
	t.Helper()
	p, err := sarama.NewSyncProducer([]string{addr}, Config())
	if err != nil {
		t.Fatalf("producer: %v", err)
	}
	defer p.Close()
	offsets := make([]int64, len(msgs))
	for i, m := range msgs {
		pm := &sarama.ProducerMessage{
			Topic:     m.Topic,
			Partition: m.Partition,
			Key:       sarama.StringEncoder(m.Key),
			Value:     sarama.StringEncoder(m.Value),
			Timestamp: m.Timestamp,
		}
		for _, h := range m.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		part, off, err := p.SendMessage(pm)
		if err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		if part != m.Partition {
			t.Fatalf("produce %d: landed in partition %d, want %d", i, part, m.Partition)
		}
		offsets[i] = off
	}
	return offsets
}

// Commit commits next-offsets for group as a consumer outside any group
// generation does (an OffsetCommit with generation -1, which creates the group).
//
// It does not use sarama's OffsetManager: that first fetches the group's
// offsets, and kfake answers an OffsetFetch for a group it has never seen with
// GROUP_ID_NOT_FOUND where Kafka answers "no offset".
func Commit(t testing.TB, addr, group, topic string, next map[int32]int64) {
	t.Helper()
	conf := Config()
	c := Client(t, addr)
	coord, err := c.Coordinator(group)
	if err != nil {
		t.Fatalf("coordinator of %s: %v", group, err)
	}
	req := sarama.NewOffsetCommitRequest(conf, group)
	for p, off := range next {
		req.AddBlock(topic, p, off, 0, "")
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		t.Fatalf("commit %s: %v", group, err)
	}
	for p := range next {
		if kerr := resp.Errors[topic][p]; !errors.Is(kerr, sarama.ErrNoError) {
			t.Fatalf("commit %s/%s/%d: %v", group, topic, p, kerr)
		}
	}
	got := Committed(t, addr, group, topic, keys(next))
	for p, want := range next {
		if got[p] != want {
			t.Fatalf("committed offset of %s/%s/%d: got %d, want %d", group, topic, p, got[p], want)
		}
	}
}

// Committed fetches group's committed offsets (-1 if none) for partitions of topic.
func Committed(t testing.TB, addr, group, topic string, partitions []int32) map[int32]int64 {
	t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{addr}, Config())
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	defer admin.Close()
	resp, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: partitions})
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	out := map[int32]int64{}
	for _, p := range partitions {
		out[p] = -1
		if b := resp.GetBlock(topic, p); b != nil {
			out[p] = b.Offset
		}
	}
	return out
}

// Record is a consumed record, flattened for comparisons.
type Record struct {
	Partition int32
	Offset    int64
	Key       string
	Headers   [][2]string
	Value     string
}

// ReadAll consumes every record of topic/partition up to its high watermark.
func ReadAll(t testing.TB, addr, topic string, partition int32) []Record {
	t.Helper()
	c := Client(t, addr)
	newest, err := c.GetOffset(topic, partition, sarama.OffsetNewest)
	if err != nil {
		t.Fatalf("newest offset of %s/%d: %v", topic, partition, err)
	}
	oldest, err := c.GetOffset(topic, partition, sarama.OffsetOldest)
	if err != nil {
		t.Fatalf("oldest offset of %s/%d: %v", topic, partition, err)
	}
	if newest == oldest {
		return nil
	}
	cons, err := sarama.NewConsumerFromClient(c)
	if err != nil {
		t.Fatalf("consumer: %v", err)
	}
	defer cons.Close()
	pc, err := cons.ConsumePartition(topic, partition, oldest)
	if err != nil {
		t.Fatalf("consume %s/%d: %v", topic, partition, err)
	}
	defer pc.Close()
	var out []Record
	timeout := time.After(10 * time.Second)
	for {
		select {
		case m := <-pc.Messages():
			r := Record{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value)}
			for _, h := range m.Headers {
				r.Headers = append(r.Headers, [2]string{string(h.Key), string(h.Value)})
			}
			out = append(out, r)
			if m.Offset >= newest-1 {
				return out
			}
		case err := <-pc.Errors():
			t.Fatalf("consume %s/%d: %v", topic, partition, err)
		case <-timeout:
			t.Fatalf("consume %s/%d: got %d records, want up to offset %d", topic, partition, len(out), newest-1)
		}
	}
}

func keys(m map[int32]int64) []int32 {
	var ks []int32
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
