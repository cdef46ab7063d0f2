package kafkaview

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
)

// DefaultScanLimit bounds how many records Page and Find read when their
// scanLimit is not positive.
const DefaultScanLimit = 10000

// maxChunk bounds how many records Page reads from one partition at a time.
const maxChunk = 500

// RecordPage is one page of a topic's records, newest first.
type RecordPage struct {
	// Records are the page's records, newest first: partitions merged by
	// timestamp, each partition in descending offset order.
	Records []Record
	// Next is the cursor of the older page, to pass to Page as before: per
	// partition, the offset below which it goes on. Nil when nothing older
	// is left.
	Next map[int32]int64
	// Scanned is how many records were read to fill the page (all of them
	// when there is no match function).
	Scanned int
	// Limited reports that the scan stopped after scanLimit records before
	// the page was full: older matches may remain, from Next on.
	Limited bool
}

// Page returns up to n records of topic, newest first, that match accepts
// (every record when match is nil). before is a cursor (RecordPage.Next):
// nil starts from the end of every partition; otherwise it holds every
// partition to read, each with the offset to read below (an offset beyond
// the partition's range is clamped to it). At most scanLimit records are
// read (DefaultScanLimit when not positive), so a search of a large topic
// stays bounded: RecordPage.Limited says when that cut the page short.
func (c *Client) Page(ctx context.Context, topic string, before map[int32]int64, n int, match func(Record) bool, scanLimit int) (RecordPage, error) {
	if n < 1 {
		return RecordPage{}, nil
	}
	if scanLimit <= 0 {
		scanLimit = DefaultScanLimit
	}
	parts, err := c.TopicPartitions(ctx, topic)
	if err != nil {
		return RecordPage{}, err
	}
	chunk := int64(min(n, maxChunk))
	if match != nil {
		chunk = int64(min(max(n, 100), scanLimit, maxChunk))
	}

	// Each partition is read backwards, a chunk at a time: buf holds the
	// chunk's records not taken yet (ascending), below is where the next
	// chunk ends, next the offset of the last record taken.
	type cursor struct {
		p           Partition
		buf         []Record
		below, next int64
		fetchErr    error
	}
	var cursors []*cursor
	for _, p := range parts {
		end := p.Newest
		if before != nil {
			b, ok := before[p.Partition]
			if !ok {
				continue
			}
			end = min(max(b, p.Oldest), p.Newest)
		}
		cursors = append(cursors, &cursor{p: p, below: end, next: end})
	}

	rc, err := c.reader()
	if err != nil {
		return RecordPage{}, err
	}
	defer rc.Close()

	// fill reads the next chunk of every partition that has none left
	// but older records, in parallel. A chunk may come back empty
	// (compaction leaves gaps): fill then reads further down.
	fill := func() error {
		var wg sync.WaitGroup
		for _, cur := range cursors {
			if len(cur.buf) > 0 || cur.below <= cur.p.Oldest {
				continue
			}
			wg.Go(func() {
				for len(cur.buf) == 0 && cur.below > cur.p.Oldest {
					from := max(cur.p.Oldest, cur.below-chunk)
					var got []Record
					err := c.scan(ctx, rc, topic, cur.p.Partition, from, cur.below, func(r Record) bool {
						got = append(got, r)
						return true
					})
					if err != nil {
						cur.fetchErr = err
						return
					}
					cur.buf, cur.below = got, from
				}
			})
		}
		wg.Wait()
		var errs []error
		for _, cur := range cursors {
			errs = append(errs, cur.fetchErr)
		}
		return errors.Join(errs...)
	}

	var page RecordPage
	for len(page.Records) < n && page.Scanned < scanLimit {
		if err := fill(); err != nil {
			return RecordPage{}, err
		}
		// The newest head among the partitions; ties go to the lower
		// partition, so pages are stable.
		var pick *cursor
		for _, cur := range cursors {
			if len(cur.buf) == 0 {
				continue
			}
			if pick == nil || cur.buf[len(cur.buf)-1].Timestamp.After(pick.buf[len(pick.buf)-1].Timestamp) {
				pick = cur
			}
		}
		if pick == nil {
			break // every partition is read to its oldest record
		}
		r := pick.buf[len(pick.buf)-1]
		pick.buf = pick.buf[:len(pick.buf)-1]
		pick.next = r.Offset
		page.Scanned++
		if match == nil || match(r) {
			page.Records = append(page.Records, r)
		}
	}

	// Records below next are left on a partition unless its buffer is
	// empty and nothing older is stored.
	older := false
	for _, cur := range cursors {
		if len(cur.buf) == 0 && cur.below <= cur.p.Oldest {
			cur.next = cur.p.Oldest
		}
		older = older || cur.next > cur.p.Oldest
	}
	if older {
		page.Next = make(map[int32]int64, len(cursors))
		for _, cur := range cursors {
			page.Next[cur.p.Partition] = cur.next
		}
	}
	page.Limited = len(page.Records) < n && page.Scanned >= scanLimit && page.Next != nil
	return page, nil
}

// Find returns the record of topic with key whose header named header has
// the value value, reading only the partition the platform's producers put
// key on (kafkaclient.Partition: murmur2, as Kafka's Java client and so
// Debezium), from the first record at or after since, at most scanLimit
// records (DefaultScanLimit when not positive). It is how an outbox event
// is found on Kafka: by its key (the aggregate id) and its id header (the
// event id), since shortly before the event was written. ok is false when
// no such record is there (yet).
func (c *Client) Find(ctx context.Context, topic string, key []byte, header, value string, since time.Time, scanLimit int) (rec Record, ok bool, err error) {
	if scanLimit <= 0 {
		scanLimit = DefaultScanLimit
	}
	parts, err := c.TopicPartitions(ctx, topic)
	if err != nil {
		return Record{}, false, err
	}
	p := kafkaclient.Partition(key, int32(len(parts)))
	if p < 0 {
		return Record{}, false, nil
	}
	i := slices.IndexFunc(parts, func(q Partition) bool { return q.Partition == p })
	if i < 0 {
		return Record{}, false, fmt.Errorf("%w %d of %s", ErrUnknownPartition, p, topic)
	}
	part := parts[i]
	from, err := c.client.GetOffset(topic, p, since.UnixMilli())
	if err != nil {
		return Record{}, false, fmt.Errorf("offset of %s/%d at %s: %w", topic, p, FormatTime(since), err)
	}
	if from < 0 {
		return Record{}, false, nil // no record at or after since
	}
	from = max(from, part.Oldest)
	to := min(part.Newest, from+int64(scanLimit))
	if from >= to {
		return Record{}, false, nil
	}

	rc, err := c.reader()
	if err != nil {
		return Record{}, false, err
	}
	defer rc.Close()
	err = c.scan(ctx, rc, topic, p, from, to, func(r Record) bool {
		if bytes.Equal(r.Key, key) && headerIs(r.Headers, header, value) {
			rec, ok = r, true
			return false
		}
		return true
	})
	if err != nil {
		return Record{}, false, err
	}
	return rec, ok, nil
}

// HeaderValue returns the value of r's first header named name, and whether
// there is one.
func (r Record) HeaderValue(name string) ([]byte, bool) {
	for _, h := range r.Headers {
		if h.Key == name {
			return h.Value, true
		}
	}
	return nil, false
}

func headerIs(hs []Header, name, value string) bool {
	for _, h := range hs {
		if h.Key == name && string(h.Value) == value {
			return true
		}
	}
	return false
}

// reader opens a client for the records Page and Find read, of its own and
// configured for them: the fetch that follows the last record wanted waits
// for new records at most readWait (the shared client's consumers wait
// longer), so closing a reader is quick and the shared client's requests
// never queue behind a waiting fetch on the same connection.
func (c *Client) reader() (sarama.Client, error) {
	sc := saramaConfig(c.cfg)
	sc.ClientID = c.cfg.ClientID + "-reader"
	sc.Consumer.MaxWaitTime = readWait
	rc, err := sarama.NewClient(c.cfg.Brokers, sc)
	if err != nil {
		return nil, fmt.Errorf("connect a reader: %s", oneLine(err))
	}
	return rc, nil
}

// readWait is how long a reader's fetch at the end of a partition waits
// for new records.
const readWait = 10 * time.Millisecond

// scan reads topic/p through rc from offset from and calls fn with each
// record below to, in offset order, until fn returns false or the
// partition reaches to. It fails when no record arrives for the client's
// timeout (the broker is slow, or the records below to were transaction
// markers) or ctx ends.
func (c *Client) scan(ctx context.Context, rc sarama.Client, topic string, p int32, from, to int64, fn func(Record) bool) error {
	if from >= to {
		return nil
	}
	consumer, err := sarama.NewConsumerFromClient(rc)
	if err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	defer consumer.Close()
	pc, err := consumer.ConsumePartition(topic, p, from)
	if err != nil {
		return fmt.Errorf("read %s/%d from offset %d: %w", topic, p, from, err)
	}
	defer pc.Close()
	idle := time.NewTimer(c.cfg.Timeout)
	defer idle.Stop()
	for {
		select {
		case m, ok := <-pc.Messages():
			if !ok || m.Offset >= to {
				return nil
			}
			if !fn(recordOf(m)) || m.Offset >= to-1 {
				return nil
			}
			idle.Reset(c.cfg.Timeout)
		case err, ok := <-pc.Errors():
			if ok {
				return fmt.Errorf("read %s/%d: %w", topic, p, err.Err)
			}
		case <-idle.C:
			return fmt.Errorf("read %s/%d: no record within %s (offsets %d-%d)", topic, p, c.cfg.Timeout, from, to-1)
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}
