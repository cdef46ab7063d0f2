// Package deadletter is the one place the platform's dead-letter topic is
// read and replayed: List decodes the records commonlib/router dead-lettered
// (their dlt-* headers say where each came from, when, in which consumer
// group and why) and filters them; a Replayer produces chosen ones back to
// their original topic, keyed and partitioned exactly as the relays publish
// them, so that the consumers handle them again once the cause is fixed.
//
// Replaying is safe because the consumers deduplicate on the eventId header
// (commonlib/inbox): an event that was in fact consumed since is
// acknowledged without effect. That holds only while the consumers still
// keep its consumed-event record, CONSUMED_EVENTS_RETENTION after they
// consumed it, which is why Replay refuses events older than
// Options.Retention unless forced.
//
// It does not decide what to replay, nor fix the cause: an operator does,
// through kafka-inspect dlt (ops/cmd/kafka-inspect) or saga-console. It
// never deletes or compacts the dead-letter topic: a replayed record stays
// there, and the replayed copy says where it came from
// (kafkaheader.DLTReplayedFromOffset, DLTReplayedAt).
package deadletter

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// Topic is the default dead-letter topic: the blueprint's name, which both
// services' routers write to.
const Topic = "DLT"

// Record is one dead-lettered record, decoded from its headers.
type Record struct {
	// Topic is the dead-letter topic the record was read from (Topic when
	// List was given none).
	Topic string
	// Partition, Offset and Timestamp are the dead-letter record's own:
	// Timestamp is when it was dead-lettered.
	Partition int32
	Offset    int64
	Timestamp time.Time
	// Key and Value are the original record's (nil: null).
	Key, Value []byte
	// Headers are all the record's headers in record order: the original
	// ones, then the dlt-* ones the router added.
	Headers []kafkaview.Header
	// OriginalTopic, OriginalPartition and OriginalOffset say where the
	// record was consumed from; OriginalTopic is empty, and the others -1,
	// when the header is absent or unreadable.
	OriginalTopic     string
	OriginalPartition int32
	OriginalOffset    int64
	// OriginalTimestamp is the original record's timestamp: zero when
	// absent (records dead-lettered before the router wrote it).
	OriginalTimestamp time.Time
	// Group is the consumer group that gave up on the record, EventType
	// and EventID its eventType and eventId (else id) headers, Error why
	// it was dead-lettered.
	Group, EventType, EventID, Error string
	// Attempts is how many times the handler was called (0 when the record
	// could not be routed, or the header is absent).
	Attempts int
	// ReplayedFromOffset is set when this record is itself a replay that
	// failed again: the offset on the dead-letter topic it was replayed
	// from, in partition ReplayedFromPartition, at ReplayedAt.
	ReplayedFromOffset    *int64
	ReplayedFromPartition int32
	ReplayedAt            time.Time
}

// Age is how old the event is: from OriginalTimestamp when known, else from
// Timestamp. A timestamp in the future (clock skew) is age zero.
func (r Record) Age(now time.Time) time.Duration {
	from := r.Timestamp
	if !r.OriginalTimestamp.IsZero() {
		from = r.OriginalTimestamp
	}
	return max(now.Sub(from), 0)
}

// Position returns where the record is on the dead-letter topic.
func (r Record) Position() Position { return Position{Partition: r.Partition, Offset: r.Offset} }

// Header returns the value of the last header named key, as the router
// (and Kafka's Java client's lastHeader) reads headers, and whether there
// is one.
func (r Record) Header(key string) ([]byte, bool) {
	for i := len(r.Headers) - 1; i >= 0; i-- {
		if r.Headers[i].Key == key {
			return r.Headers[i].Value, true
		}
	}
	return nil, false
}

// Decode reads a record of the dead-letter topic. Headers it cannot read
// leave their fields at the values Record documents for "absent".
func Decode(kr kafkaview.Record) Record {
	r := Record{
		Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp,
		Key: kr.Key, Value: kr.Value, Headers: kr.Headers,
		OriginalPartition: -1, OriginalOffset: -1,
	}
	str := func(key string) string { v, _ := r.Header(key); return string(v) }
	r.OriginalTopic = str(kafkaheader.DLTOriginalTopic)
	if p, err := strconv.ParseInt(str(kafkaheader.DLTOriginalPartition), 10, 32); err == nil && p >= 0 {
		r.OriginalPartition = int32(p)
	}
	if o, err := strconv.ParseInt(str(kafkaheader.DLTOriginalOffset), 10, 64); err == nil && o >= 0 {
		r.OriginalOffset = o
	}
	r.OriginalTimestamp = parseTime(str(kafkaheader.DLTOriginalTimestamp))
	r.Group = str(kafkaheader.DLTOriginalGroup)
	r.EventType = str(kafkaheader.EventType)
	if r.EventID = str(kafkaheader.EventID); r.EventID == "" {
		r.EventID = str(kafkaheader.ID)
	}
	r.Error = str(kafkaheader.DLTError)
	if n, err := strconv.Atoi(str(kafkaheader.DLTAttempts)); err == nil && n >= 0 {
		r.Attempts = n
	}
	if v, ok := r.Header(kafkaheader.DLTReplayedFromOffset); ok {
		if ps, err := ParsePositions(string(v)); err == nil && len(ps) == 1 {
			off := ps[0].Offset
			r.ReplayedFromOffset, r.ReplayedFromPartition = &off, ps[0].Partition
		}
		r.ReplayedAt = parseTime(str(kafkaheader.DLTReplayedAt))
	}
	return r
}

// parseTime reads a header timestamp (kafkaheader.TimeFormat, or any RFC
// 3339 time); zero when s is not one.
func parseTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

// Filter selects dead-letter records; its zero value selects all.
type Filter struct {
	// OriginalTopic and EventType match exactly, ErrorContains is a
	// case-insensitive substring of Error, Key matches the key exactly.
	// Empty: any.
	OriginalTopic, EventType, ErrorContains, Key string
	// OlderThan keeps records whose Age is at least OlderThan, NewerThan
	// those whose Age is below NewerThan. Zero: no bound.
	OlderThan, NewerThan time.Duration
	// Positions are dead-letter positions to keep; empty: all. Only the
	// offsets they span are read.
	Positions []Position
	// Newest, when positive, reads only the newest Newest records of each
	// partition: a bound on what one look at a large dead-letter topic
	// costs. Zero reads the whole topic.
	Newest int64
}

// bound is the offset range of partition p that f needs read.
func (f Filter) bound(p kafkaview.Partition) (from, to int64) {
	from, to = p.Oldest, p.Newest
	if f.Newest > 0 {
		from = max(from, to-f.Newest)
	}
	if len(f.Positions) > 0 {
		lo, hi := int64(-1), int64(-1)
		for _, pos := range f.Positions {
			if pos.Partition == p.Partition {
				if lo < 0 || pos.Offset < lo {
					lo = pos.Offset
				}
				hi = max(hi, pos.Offset+1)
			}
		}
		if lo < 0 {
			return to, to // none asked for here
		}
		from, to = max(from, lo), min(to, hi)
	}
	return from, to
}

// IsZero reports whether f selects every record.
func (f Filter) IsZero() bool {
	return f.OriginalTopic == "" && f.EventType == "" && f.ErrorContains == "" && f.Key == "" &&
		f.OlderThan == 0 && f.NewerThan == 0 && len(f.Positions) == 0
}

// Match reports whether r passes every condition of f, ages taken at now.
func (f Filter) Match(r Record, now time.Time) bool {
	switch {
	case f.OriginalTopic != "" && r.OriginalTopic != f.OriginalTopic,
		f.EventType != "" && r.EventType != f.EventType,
		f.ErrorContains != "" && !strings.Contains(strings.ToLower(r.Error), strings.ToLower(f.ErrorContains)),
		f.Key != "" && string(r.Key) != f.Key,
		f.OlderThan > 0 && r.Age(now) < f.OlderThan,
		f.NewerThan > 0 && r.Age(now) >= f.NewerThan,
		len(f.Positions) > 0 && !slices.Contains(f.Positions, r.Position()):
		return false
	}
	return true
}

// Position is a record's place on the dead-letter topic.
type Position struct {
	Partition int32
	Offset    int64
}

// String is "PARTITION:OFFSET", which ParsePositions reads back.
func (p Position) String() string { return fmt.Sprintf("%d:%d", p.Partition, p.Offset) }

// ParsePositions reads a comma-separated list of dead-letter positions:
// "7" or "7,9,12" are offsets of partition 0 (the only partition of a
// one-partition topic), "1:7,0:3" name the partition too; both forms may be
// mixed. Spaces around entries are ignored, repeated positions kept once.
func ParsePositions(s string) ([]Position, error) {
	var out []Position
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return nil, fmt.Errorf("positions %q: empty entry", s)
		}
		var p Position
		off := entry
		if part, rest, ok := strings.Cut(entry, ":"); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(part), 10, 32)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("position %q: partition is not a number >= 0", entry)
			}
			p.Partition, off = int32(n), rest
		}
		n, err := strconv.ParseInt(strings.TrimSpace(off), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("position %q: offset is not a number >= 0", entry)
		}
		p.Offset = n
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no positions")
	}
	return out, nil
}

// List reads the whole dead-letter topic (every partition, from its log
// start to its high watermark as they were when List looked; ctx and the
// client's Timeout bound the read, and a read cut short is an error, never
// a shorter list) and returns the records matching f at now (time.Now when
// zero), by partition then offset. With limit > 0 it keeps the newest limit
// matches (by dead-letter timestamp), still in that order; limit <= 0 keeps
// all. An empty topic is Topic.
func List(ctx context.Context, c *kafkaview.Client, topic string, f Filter, now time.Time, limit int) ([]Record, error) {
	topic = cmp.Or(topic, Topic)
	if now.IsZero() {
		now = time.Now()
	}
	krs, _, err := c.ReadRanges(ctx, topic, f.bound)
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, kr := range krs {
		if r := Decode(kr); f.Match(r, now) {
			out = append(out, r)
		}
	}
	byPosition := func(a, b Record) int {
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	}
	if limit > 0 && len(out) > limit {
		slices.SortStableFunc(out, func(a, b Record) int { return cmp.Or(a.Timestamp.Compare(b.Timestamp), byPosition(a, b)) })
		out = out[len(out)-limit:]
	}
	slices.SortFunc(out, byPosition)
	return out, nil
}
