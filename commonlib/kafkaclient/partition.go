package kafkaclient

// Partition is the partition among n that the platform's producers (sarama's
// murmur2 partitioner, see ProducerConfig) and Kafka's Java client (so
// Debezium) choose for a record with key: toPositive(murmur2(key)) % n. It
// lets a reader go straight to the one partition that holds an aggregate's
// events. A nil key has no partition of its own (producers spread such
// records), nor has a topic without partitions: Partition returns -1 for
// both.
func Partition(key []byte, n int32) int32 {
	if key == nil || n <= 0 {
		return -1
	}
	return int32(murmur2(key)&0x7fffffff) % n
}

// murmur2 is org.apache.kafka.common.utils.Utils.murmur2 on unsigned
// integers (Java's >>> is Go's >> on uint32).
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	length := uint32(len(data))
	h := seed ^ length
	for i := 0; i+4 <= len(data); i += 4 {
		k := uint32(data[i]) | uint32(data[i+1])<<8 | uint32(data[i+2])<<16 | uint32(data[i+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	tail := data[len(data)&^3:]
	switch len(tail) {
	case 3:
		h ^= uint32(tail[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(tail[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(tail[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}
