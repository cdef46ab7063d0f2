package e2e

import (
	"time"

	"github.com/IBM/sarama"
)

// record is a Kafka record as a consumer sees it.
type record struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Headers   []string // "name=value", in order
}

func (r record) header(name string) string {
	for _, h := range r.Headers {
		if len(h) > len(name) && h[:len(name)+1] == name+"=" {
			return h[len(name)+1:]
		}
	}
	return ""
}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V3_6_0_0
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Partitioner = sarama.NewMurmur2Partitioner
	c.Metadata.AllowAutoTopicCreation = false
	return c
}

// records reads every record of topic, partition by partition.
func (p *platform) records(topic string) []record {
	p.t.Helper()
	client, err := sarama.NewClient([]string{p.kafkaAddr}, saramaConfig())
	if err != nil {
		p.t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		p.t.Fatal(err)
	}
	defer consumer.Close()
	parts, err := client.Partitions(topic)
	if err != nil {
		p.t.Fatalf("partitions of %s: %v", topic, err)
	}
	var out []record
	for _, part := range parts {
		newest, err := client.GetOffset(topic, part, sarama.OffsetNewest)
		if err != nil {
			p.t.Fatal(err)
		}
		oldest, err := client.GetOffset(topic, part, sarama.OffsetOldest)
		if err != nil {
			p.t.Fatal(err)
		}
		if newest <= oldest {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, part, oldest)
		if err != nil {
			p.t.Fatal(err)
		}
		for off := oldest; off < newest; {
			select {
			case m := <-pc.Messages():
				r := record{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value)}
				for _, h := range m.Headers {
					r.Headers = append(r.Headers, string(h.Key)+"="+string(h.Value))
				}
				out = append(out, r)
				off = m.Offset + 1
			case <-time.After(10 * time.Second):
				p.t.Fatalf("reading %s/%d: no record at offset %d", topic, part, off)
			}
		}
		pc.Close()
	}
	return out
}

// recordsOf keeps the records of one event type about one aggregate.
func recordsOf(rs []record, eventType, key string) []record {
	var out []record
	for _, r := range rs {
		if r.header("eventType") == eventType && (key == "" || r.Key == key) {
			out = append(out, r)
		}
	}
	return out
}

// produce publishes one record, as a relay or a misbehaving producer would.
func (p *platform) produce(topic, key, value string, headers ...string) {
	p.t.Helper()
	producer, err := sarama.NewSyncProducer([]string{p.kafkaAddr}, saramaConfig())
	if err != nil {
		p.t.Fatalf("producer: %v", err)
	}
	defer producer.Close()
	msg := &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.StringEncoder(value)}
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	if _, _, err := producer.SendMessage(msg); err != nil {
		p.t.Fatalf("produce to %s: %v", topic, err)
	}
}
