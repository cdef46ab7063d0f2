package relay

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkatest"
)

// TestMurmur2PartitionerMatchesJava checks that the partitioner the relay's
// producer must use puts every key where Debezium's Java producer does.
func TestMurmur2PartitionerMatchesJava(t *testing.T) {
	keys := []string{
		"c-42", "650f1c2ab3d4e5f60718293a", "3f2b8c1e-2a4d-4c6e-9f10-1a2b3c4d5e6f",
		"21", "foobar", "abc", "a-little-bit-longer-string", "", "ü-ключ-鍵",
	}
	for _, key := range keys {
		for _, n := range []int32{1, 3, 7, 12, 50} {
			t.Run(fmt.Sprintf("%q/%d", key, n), func(t *testing.T) {
				p := sarama.NewMurmur2Partitioner("outbox.event.customer")
				got, err := p.Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, n)
				if err != nil {
					t.Fatal(err)
				}
				if want := kafkatest.JavaPartition([]byte(key), n); got != want {
					t.Errorf("partition = %d, want %d (Java DefaultPartitioner)", got, want)
				}
			})
		}
	}
}
