package kafkatest_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sagaoutbox/platform/commonlib/kafkatest"
)

// TestReadTopic: records produced with the kit's producer, to the partition
// Java's client would pick, read back in partition and offset order with
// their headers; the broker's topics, partitions and offsets agree.
func TestReadTopic(t *testing.T) {
	brokers := kafkatest.Start(t, kfake.SeedTopics(kafkatest.Partitions, "t")).ListenAddrs()
	p := kafkatest.Producer(t, brokers)
	keys := []string{"a", "b", "c", "d", "e", "a", "b"}
	for i, k := range keys {
		part, _, err := p.SendMessage(&sarama.ProducerMessage{Topic: "t", Key: sarama.StringEncoder(k), Value: sarama.StringEncoder(fmt.Sprint(i)),
			Headers: kafkatest.Headers("n", fmt.Sprint(i), "k", k)})
		if err != nil {
			t.Fatal(err)
		}
		if want := kafkatest.JavaPartition([]byte(k), kafkatest.Partitions); part != want {
			t.Errorf("key %s on partition %d, want %d (Java)", k, part, want)
		}
	}
	kafkatest.Produce(t, brokers, "t", "a", "last", "n", "last")

	recs := kafkatest.ReadTopic(t, brokers, "t")
	if len(recs) != len(keys)+1 {
		t.Fatalf("records = %d, want %d", len(recs), len(keys)+1)
	}
	ordered := slices.IsSortedFunc(recs, func(a, b *sarama.ConsumerMessage) int {
		if a.Partition != b.Partition {
			return int(a.Partition - b.Partition)
		}
		return int(a.Offset - b.Offset)
	})
	if !ordered {
		t.Errorf("records not in partition, offset order")
	}
	ends := kafkatest.HighWaterMarks(t, brokers, "t")
	var total int64
	for _, m := range recs {
		hs := kafkatest.HeaderStrings(m)
		if string(m.Value) == "last" {
			if want := []string{"n=last"}; !slices.Equal(hs, want) {
				t.Errorf("headers of the last record = %q, want %q", hs, want)
			}
			continue
		}
		if want := []string{"n=" + string(m.Value), "k=" + string(m.Key)}; !slices.Equal(hs, want) {
			t.Errorf("headers = %q, want %q", hs, want)
		}
	}
	for _, end := range ends {
		total += end
	}
	if total != int64(len(recs)) || len(ends) != kafkatest.Partitions {
		t.Errorf("high-water marks %v, want %d partitions summing to %d", ends, kafkatest.Partitions, len(recs))
	}
	if got := kafkatest.PartitionCount(t, brokers, "t"); got != kafkatest.Partitions {
		t.Errorf("PartitionCount = %d, want %d", got, kafkatest.Partitions)
	}
	if got, want := kafkatest.Topics(t, brokers), []string{"t"}; !slices.Equal(got, want) {
		t.Errorf("Topics = %q, want %q", got, want)
	}
}

func TestRecordsOfMissingTopic(t *testing.T) {
	brokers := kafkatest.Start(t).ListenAddrs()
	recs, err := kafkatest.Records(brokers, "missing")
	if !errors.Is(err, sarama.ErrUnknownTopicOrPartition) || recs != nil {
		t.Errorf("Records(missing) = %d records, %v; want none and ErrUnknownTopicOrPartition", len(recs), err)
	}
	if got := kafkatest.Topics(t, brokers); len(got) != 0 {
		t.Errorf("topics after reading a missing one = %q, want none (Records creates no topic)", got)
	}
}

func TestEmptyTopic(t *testing.T) {
	brokers := kafkatest.Start(t, kfake.SeedTopics(2, "empty")).ListenAddrs()
	if recs := kafkatest.ReadTopic(t, brokers, "empty"); len(recs) != 0 {
		t.Errorf("records of an empty topic = %d, want 0", len(recs))
	}
}
