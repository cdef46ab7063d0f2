package relay

import (
	"fmt"
	"testing"

	"github.com/IBM/sarama"
)

// javaMurmur2 transliterates org.apache.kafka.common.utils.Utils.murmur2
// with Java's signed 32-bit ints (>>> is an unsigned shift), independently
// of sarama's uint32 implementation.
func javaMurmur2(data []byte) int32 {
	length := int32(len(data))
	const seed = int32(-1756908916) // 0x9747b28c
	const m = int32(0x5bd1e995)
	const r = 24
	urs := func(x int32, n uint) int32 { return int32(uint32(x) >> n) }
	h := seed ^ length
	length4 := length / 4
	for i := int32(0); i < length4; i++ {
		i4 := i * 4
		k := int32(data[i4]) + int32(data[i4+1])<<8 + int32(data[i4+2])<<16 + int32(data[i4+3])<<24
		k *= m
		k ^= urs(k, r)
		k *= m
		h *= m
		h ^= k
	}
	tail := length &^ 3
	switch length % 4 {
	case 3:
		h ^= int32(data[tail+2]) << 16
		fallthrough
	case 2:
		h ^= int32(data[tail+1]) << 8
		fallthrough
	case 1:
		h ^= int32(data[tail])
		h *= m
	}
	h ^= urs(h, 13)
	h *= m
	h ^= urs(h, 15)
	return h
}

// javaPartition is the Java producer's keyed partition choice
// (BuiltInPartitioner.partitionForKey): toPositive(murmur2(key)) % n.
func javaPartition(key []byte, n int32) int32 {
	return (javaMurmur2(key) & 0x7fffffff) % n
}

// TestMurmur2MatchesKafka checks the independent murmur2 against Kafka's own
// vectors (clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java,
// testMurmur2).
func TestMurmur2MatchesKafka(t *testing.T) {
	tests := []struct {
		in   string
		want int32
	}{
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := javaMurmur2([]byte(tt.in)); got != tt.want {
				t.Errorf("murmur2(%q) = %d, want %d", tt.in, got, tt.want)
			}
		})
	}
}

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
				if want := javaPartition([]byte(key), n); got != want {
					t.Errorf("partition = %d, want %d (Java DefaultPartitioner)", got, want)
				}
			})
		}
	}
	t.Run("foobar over 10 partitions", func(t *testing.T) {
		// toPositive(-790332482) = 1357151166; 1357151166 % 10 = 6.
		if got := javaPartition([]byte("foobar"), 10); got != 6 {
			t.Errorf("partition = %d, want 6", got)
		}
	})
}
