package deadletter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
)

// clientID names the replayer to the brokers.
const clientID = "deadletter-replay"

// Options says how Replay treats the records it is given.
type Options struct {
	// DryRun produces nothing: Replay says what it would do.
	DryRun bool
	// Force replays records older than Retention anyway.
	Force bool
	// Retention is the consumers' CONSUMED_EVENTS_RETENTION: how long they
	// remember an event they consumed. A record whose Age is Retention or
	// more is refused unless Force, since the consumers may have forgotten
	// that they consumed it since (a redelivery that succeeded after the
	// fix), and would apply it twice. It must be positive unless Force.
	//
	// The Age of a replay dead-lettered again counts from that replay (the
	// router stamps the replayed record's timestamp): a replay that failed
	// proves the event was not consumed before it, so only a consumption
	// after it could be forgotten.
	Retention time.Duration
	// Now is the time ages are taken at, and the dlt-replayed-at header's
	// value (time.Now when zero).
	Now time.Time
}

// Result is what Replay did with one record.
type Result struct {
	Record Record
	// Topic, Partition and Offset are where the record was produced: its
	// original topic, and on a dry run the partition it would go to (-1
	// when that is not known: a null key is spread over partitions) and
	// Offset -1. Partition and Offset are -1 for a refused record.
	Topic     string
	Partition int32
	Offset    int64
	// Refused says why the record was not replayed; empty when it was (or
	// on a dry run would be).
	Refused string
}

// Replayer produces dead-lettered records back to their original topics.
type Replayer struct {
	client   sarama.Client
	producer sarama.SyncProducer
}

// NewReplayer connects an idempotent, acks=all producer configured exactly
// as the platform's relays (kafkaclient.ProducerConfig: murmur2 partitioner
// like Kafka's Java DefaultPartitioner, so a key lands on the partition the
// relays and Debezium put it on). timeout, when positive, bounds each
// connection attempt.
func NewReplayer(brokers []string, timeout time.Duration) (*Replayer, error) {
	if len(brokers) == 0 {
		return nil, errors.New("deadletter: no brokers")
	}
	cfg := kafkaclient.ProducerConfig(clientID)
	if timeout > 0 {
		cfg.Net.DialTimeout = min(cfg.Net.DialTimeout, timeout)
	}
	client, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, fmt.Errorf("cannot reach kafka at %s: %s", strings.Join(brokers, ","), oneLine(err))
	}
	producer, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("deadletter: producer: %w", err)
	}
	return &Replayer{client: client, producer: producer}, nil
}

// Close closes the producer and its connections.
func (r *Replayer) Close() error {
	return errors.Join(r.producer.Close(), r.client.Close())
}

// Replay produces each of recs to its OriginalTopic, in order: the original
// key, value and headers without any dlt-* header, then
// kafkaheader.DLTReplayedFromOffset (the dead-letter position: "N" when the
// dead-letter topic has one partition, "P:N" otherwise) and
// kafkaheader.DLTReplayedAt (o.Now), partitioned by the key as the relays
// partition (no explicit partition). A record without OriginalTopic, whose
// topic no longer exists, or older than o.Retention (unless o.Force) is
// refused, with the reason in its Result.
//
// It returns one Result per record. On a failure to produce (or ctx ending)
// it stops there and returns the results so far with the error; a send
// abandoned because ctx ended may still reach Kafka.
func (r *Replayer) Replay(ctx context.Context, recs []Record, o Options) ([]Result, error) {
	if o.Retention <= 0 && !o.Force {
		return nil, errors.New("deadletter: Options.Retention must be positive (the consumers' CONSUMED_EVENTS_RETENTION) unless Force is set")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	partitions := map[string]int{} // per topic; 0: it does not exist
	countPartitions := func(topic string) (int, error) {
		if n, ok := partitions[topic]; ok {
			return n, nil
		}
		// The producer's own view (sarama refreshes it for a topic it
		// does not know), so a dry run predicts what a replay does.
		ps, err := r.client.Partitions(topic)
		if err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
			return 0, fmt.Errorf("partitions of %s: %w", topic, err)
		}
		partitions[topic] = len(ps)
		return len(ps), nil
	}

	results := make([]Result, 0, len(recs))
	for _, rec := range recs {
		if err := ctx.Err(); err != nil {
			return results, err
		}
		res := Result{Record: rec, Topic: rec.OriginalTopic, Partition: -1, Offset: -1}
		switch {
		case rec.OriginalTopic == "":
			res.Refused = "no " + kafkaheader.DLTOriginalTopic + " header: the topic it came from is unknown"
		case !o.Force && rec.Age(o.Now) >= o.Retention:
			res.Refused = fmt.Sprintf("older than the consumers' dedup retention (%s): replaying could apply it twice; use -force", o.Retention)
		}
		if res.Refused != "" {
			results = append(results, res)
			continue
		}
		n, err := countPartitions(rec.OriginalTopic)
		if err != nil {
			return results, err
		}
		if n == 0 {
			res.Refused = fmt.Sprintf("its original topic %q does not exist", rec.OriginalTopic)
			results = append(results, res)
			continue
		}
		dltPartitions, err := countPartitions(cmp.Or(rec.Topic, Topic))
		if err != nil {
			return results, err
		}
		msg := replayMessage(rec, dltPartitions, o.Now)
		if o.DryRun {
			if rec.Key != nil {
				p, err := sarama.NewMurmur2Partitioner(msg.Topic).Partition(msg, int32(n))
				if err != nil {
					return results, fmt.Errorf("partition of DLT %s: %w", rec.Position(), err)
				}
				res.Partition = p
			}
			results = append(results, res)
			continue
		}
		if res.Partition, res.Offset, err = r.send(ctx, msg); err != nil {
			return results, fmt.Errorf("replay DLT %s to %s: %w", rec.Position(), rec.OriginalTopic, err)
		}
		results = append(results, res)
	}
	return results, nil
}

// replayMessage is rec as it goes back to its original topic.
func replayMessage(rec Record, dltPartitions int, now time.Time) *sarama.ProducerMessage {
	msg := &sarama.ProducerMessage{Topic: rec.OriginalTopic}
	if rec.Key != nil {
		msg.Key = sarama.ByteEncoder(rec.Key)
	}
	if rec.Value != nil {
		msg.Value = sarama.ByteEncoder(rec.Value)
	}
	for _, h := range rec.Headers {
		if !strings.HasPrefix(h.Key, kafkaheader.DLTPrefix) {
			msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
	}
	from := strconv.FormatInt(rec.Offset, 10)
	if dltPartitions != 1 {
		from = rec.Position().String()
	}
	msg.Headers = append(msg.Headers,
		sarama.RecordHeader{Key: []byte(kafkaheader.DLTReplayedFromOffset), Value: []byte(from)},
		sarama.RecordHeader{Key: []byte(kafkaheader.DLTReplayedAt), Value: []byte(now.UTC().Format(kafkaheader.TimeFormat))},
	)
	return msg
}

// send produces msg, giving up waiting when ctx ends: SendMessage itself
// cannot be cancelled.
func (r *Replayer) send(ctx context.Context, msg *sarama.ProducerMessage) (int32, int64, error) {
	type sent struct {
		partition int32
		offset    int64
		err       error
	}
	done := make(chan sent, 1)
	go func() {
		p, off, err := r.producer.SendMessage(msg)
		done <- sent{p, off, err}
	}()
	select {
	case s := <-done:
		return s.partition, s.offset, s.err
	case <-ctx.Done():
		return -1, -1, fmt.Errorf("abandoned, it may still be produced: %w", context.Cause(ctx))
	}
}

// oneLine flattens sarama's multi-line wrapped errors.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
