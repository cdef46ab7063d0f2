package relay

import (
	"testing"
	"time"

	"github.com/IBM/sarama"
)

func TestScratchSendDuration(t *testing.T) {
	addrs, ln := startOutageCluster(t)
	cfg := producerConfig()
	cfg.Producer.Retry.Max = 2
	cfg.Metadata.Retry.Max = 1
	cfg.Metadata.Retry.Backoff = 20 * time.Millisecond
	producer, err := sarama.NewSyncProducer(addrs, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	ln.setDown(true)
	for i := 0; i < 4; i++ {
		start := time.Now()
		err := producer.SendMessages([]*sarama.ProducerMessage{{Topic: testTopic, Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder("v")}})
		t.Logf("send %d: %v after %v, refused %d", i, err != nil, time.Since(start), ln.refused.Load())
	}
}
