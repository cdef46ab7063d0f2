package kafkatest

// JavaPartition is where Kafka's Java producer (so Debezium) puts a record
// with key among n partitions (BuiltInPartitioner.partitionForKey):
// toPositive(murmur2(key)) % n. It is computed independently of sarama, so
// that tests can check the partitioner the platform's producers use.
func JavaPartition(key []byte, n int32) int32 {
	return (javaMurmur2(key) & 0x7fffffff) % n
}

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
