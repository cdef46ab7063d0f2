package kafkaclient_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
)

// TestPartitionAgreesWithProducers checks Partition against the partitioner
// the platform's producers use (sarama's murmur2) and against the Java
// client's choice (kafkatest.JavaPartition, computed independently), on
// Kafka's murmur2 vectors, UUIDs such as aggregate ids, and random keys of
// every length up to 40 bytes (all four tails of murmur2).
func TestPartitionAgreesWithProducers(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	inputs := [][]byte{{}, []byte("2b6cfca3-2d36-4bb1-a280-5d61eaee136f"), []byte("c3678675-50ff-43b4-b026-3321e4fceffb")}
	for _, k := range keys {
		inputs = append(inputs, []byte(k))
	}
	for n := range 41 {
		for range 5 {
			k := make([]byte, n)
			for i := range k {
				k[i] = byte(rnd.UintN(256))
			}
			inputs = append(inputs, k)
		}
	}
	for _, parts := range []int32{1, 3, 7, 10, 64} {
		p := sarama.NewMurmur2Partitioner("outbox.event.customer")
		for _, key := range inputs {
			t.Run(fmt.Sprintf("%d/%x", parts, key), func(t *testing.T) {
				want, err := p.Partition(&sarama.ProducerMessage{Key: sarama.ByteEncoder(key)}, parts)
				if err != nil {
					t.Fatal(err)
				}
				if got := kafkaclient.Partition(key, parts); got != want {
					t.Errorf("Partition(%x, %d) = %d, sarama's murmur2 partitioner says %d", key, parts, got, want)
				}
				if java := kafkatest.JavaPartition(key, parts); java != want {
					t.Errorf("JavaPartition(%x, %d) = %d, sarama says %d", key, parts, java, want)
				}
			})
		}
	}
}

func TestPartitionWithoutKeyOrPartitions(t *testing.T) {
	tests := []struct {
		name string
		key  []byte
		n    int32
	}{
		{"nil key", nil, 3},
		{"no partitions", []byte("k"), 0},
		{"negative count", []byte("k"), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := kafkaclient.Partition(tt.key, tt.n); got != -1 {
				t.Errorf("Partition(%q, %d) = %d, want -1", tt.key, tt.n, got)
			}
		})
	}
}
