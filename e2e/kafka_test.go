package e2e

import (
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
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

// records reads every record of topic, partition by partition.
func (p *platform) records(topic string) []record {
	p.t.Helper()
	var out []record
	for _, m := range kafkatest.ReadTopic(p.t, []string{p.kafkaAddr}, topic) {
		out = append(out, record{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value), Headers: kafkatest.HeaderStrings(m)})
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

// produce publishes one record, as a relay or a misbehaving producer would;
// headers are name, value pairs.
func (p *platform) produce(topic, key, value string, headers ...string) {
	p.t.Helper()
	kafkatest.Produce(p.t, []string{p.kafkaAddr}, topic, key, value, headers...)
}
