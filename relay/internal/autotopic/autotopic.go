// Package autotopic wraps the relays' producer so that every topic a batch
// goes to exists before it is sent: outbox topics (outbox.event.<type>) are
// named by the data, so no list can be created at start. This is what
// Debezium gets from a broker with auto.create.topics.enable; the
// platform's clients never rely on auto-creation (kafkaclient), so
// outbox-relay creates them itself, with the broker's default partition
// count and replication factor (kafkaclient.EnsureTopics).
//
// It does not create topics for anything but sends through it.
package autotopic

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// ensureTimeout bounds topic creation before one send.
const ensureTimeout = 15 * time.Second

// Producer is a sarama.SyncProducer that creates missing topics first.
type Producer struct {
	sarama.SyncProducer
	ensure func(ctx context.Context, topics []string) error

	mu    sync.Mutex
	known map[string]bool
}

// New wraps p; ensure creates the topics it is given that do not exist
// (kafkaclient.EnsureTopics bound to the brokers).
func New(p sarama.SyncProducer, ensure func(ctx context.Context, topics []string) error) *Producer {
	return &Producer{SyncProducer: p, ensure: ensure, known: map[string]bool{}}
}

// SendMessage creates msg's topic if needed, then sends it.
func (p *Producer) SendMessage(msg *sarama.ProducerMessage) (int32, int64, error) {
	if err := p.prepare([]*sarama.ProducerMessage{msg}); err != nil {
		return -1, -1, err
	}
	part, off, err := p.SyncProducer.SendMessage(msg)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		p.mu.Lock()
		delete(p.known, msg.Topic)
		p.mu.Unlock()
	}
	return part, off, err
}

// SendMessages creates the batch's missing topics, then sends it. A
// creation failure fails the whole batch, which the relay retries.
func (p *Producer) SendMessages(msgs []*sarama.ProducerMessage) error {
	if err := p.prepare(msgs); err != nil {
		return err
	}
	err := p.SyncProducer.SendMessages(msgs)
	p.forget(err)
	return err
}

func (p *Producer) prepare(msgs []*sarama.ProducerMessage) error {
	p.mu.Lock()
	var missing []string
	seen := map[string]bool{}
	for _, m := range msgs {
		if !p.known[m.Topic] && !seen[m.Topic] {
			seen[m.Topic] = true
			missing = append(missing, m.Topic)
		}
	}
	p.mu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), ensureTimeout)
	defer cancel()
	if err := p.ensure(ctx, missing); err != nil {
		return err
	}
	p.mu.Lock()
	for _, t := range missing {
		p.known[t] = true
	}
	p.mu.Unlock()
	return nil
}

// forget drops the topics a batch found missing (deleted since), so the
// next attempt creates them again.
func (p *Producer) forget(err error) {
	var errs sarama.ProducerErrors
	if !errors.As(err, &errs) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range errs {
		if errors.Is(e.Err, sarama.ErrUnknownTopicOrPartition) && e.Msg != nil {
			delete(p.known, e.Msg.Topic)
		}
	}
}
