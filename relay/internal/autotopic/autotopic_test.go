package autotopic_test

import (
	"context"
	"slices"
	"testing"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/relay/internal/autotopic"
)

// TestCreatesTopicsOnce: the first batch to a topic creates it (the
// platform's producer never auto-creates), later ones do not ask again.
func TestCreatesTopicsOnce(t *testing.T) {
	addrs := kafkatest.Start(t).ListenAddrs()
	p := kafkatest.Producer(t, addrs)
	var asked [][]string
	ap := autotopic.New(p, func(ctx context.Context, topics []string) error {
		asked = append(asked, topics)
		return kafkaclient.EnsureTopics(ctx, addrs, topics)
	})
	batch := func(topics ...string) []*sarama.ProducerMessage {
		var msgs []*sarama.ProducerMessage
		for _, topic := range topics {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("k"), Value: sarama.StringEncoder("v")})
		}
		return msgs
	}
	if err := ap.SendMessages(batch("outbox.event.a", "outbox.event.b", "outbox.event.a")); err != nil {
		t.Fatalf("first batch: %v", err)
	}
	if err := ap.SendMessages(batch("outbox.event.b")); err != nil {
		t.Fatalf("second batch: %v", err)
	}
	if _, _, err := ap.SendMessage(batch("outbox.event.c")[0]); err != nil {
		t.Fatalf("single message: %v", err)
	}
	want := [][]string{{"outbox.event.a", "outbox.event.b"}, {"outbox.event.c"}}
	if !slices.EqualFunc(asked, want, slices.Equal) {
		t.Errorf("topics asked for = %q, want %q", asked, want)
	}
}
