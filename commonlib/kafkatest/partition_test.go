package kafkatest

import "testing"

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

func TestJavaPartition(t *testing.T) {
	// toPositive(-790332482) = 1357151166; 1357151166 % 10 = 6.
	if got := JavaPartition([]byte("foobar"), 10); got != 6 {
		t.Errorf("JavaPartition(foobar, 10) = %d, want 6", got)
	}
}
