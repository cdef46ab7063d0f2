// Package timeline merges everything known about one customer's
// registration into one timeline, oldest step first: each service's part
// (sagaview.Timeline, fetched by a Source), where on Kafka each event a
// service wrote was published (found by its key and id header), and the
// customer's records on the dead-letter topic. The console's timeline page
// and `saga-console timeline ID` both show it.
//
// A source or Kafka that does not answer makes the timeline partial, with
// a note saying what is missing; it never fails the whole. It does not
// speak HTTP itself (a Source's Fetch does) and it only reads.
package timeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// ServiceKafka is the Service of the steps only Kafka knows about: records
// on the dead-letter topic.
const ServiceKafka = "kafka"

// publishedBefore is how long before an event was written its record may
// carry a timestamp (clocks of the relay's host and the store's): Kafka is
// searched from then on.
const publishedBefore = time.Minute

// ErrUnknownCustomer is what a Source returns for a customer it does not
// know, and what Build returns when no source knows it.
var ErrUnknownCustomer = errors.New("unknown customer")

// Source is one service's part of a timeline.
type Source struct {
	// Service names the service in notes.
	Service string
	// Fetch returns the service's part, or ErrUnknownCustomer.
	Fetch func(ctx context.Context, customerID string) (sagaview.Timeline, error)
}

// Finder finds a record by key and header on a topic; kafkaview.Client is
// one.
type Finder interface {
	Find(ctx context.Context, topic string, key []byte, header, value string, since time.Time, scanLimit int) (kafkaview.Record, bool, error)
}

// DeadLetter is a record of the dead-letter topic, as the timeline shows it.
type DeadLetter struct {
	Topic     string
	Partition int32
	Offset    int64
	Time      time.Time
	Key       string
	// Where the record was consumed from, by which group, and why it
	// failed.
	OriginalTopic     string
	OriginalPartition int32
	OriginalOffset    int64
	Group             string
	EventType         string
	EventID           string
	Error             string
}

// DeadLetters returns the dead-letter records whose key is one of keys.
type DeadLetters func(ctx context.Context, keys []string) ([]DeadLetter, error)

// Timeline is a customer's merged timeline.
type Timeline struct {
	CustomerID string          `json:"customerId"`
	Steps      []sagaview.Step `json:"steps"`
	// Partial is set when a source, Kafka or the dead-letter topic did
	// not answer; Notes say which.
	Partial bool     `json:"partial"`
	Notes   []string `json:"notes,omitempty"`
	// Retention is what the services say may be missing (their retention
	// settings), one line per service.
	Retention []string `json:"retention,omitempty"`
}

// Builder builds timelines.
type Builder struct {
	// Sources are the services, in the order their steps are listed at
	// the same time.
	Sources []Source
	// Kafka finds where written events were published; nil: not looked up.
	Kafka Finder
	// DeadLetters lists the dead-letter records; nil: not looked up.
	DeadLetters DeadLetters
	// ScanLimit bounds the records read to find one event
	// (kafkaview.DefaultScanLimit when not positive).
	ScanLimit int
	// Log receives lookups that failed; nil discards.
	Log *slog.Logger
}

// Publication is where a written event is on Kafka.
type Publication struct {
	Found     bool
	Topic     string
	Partition int32
	Offset    int64
	Time      time.Time
}

// Build returns the timeline of customerID, or ErrUnknownCustomer when no
// source has a step for it and one of them says it does not know it.
func (b Builder) Build(ctx context.Context, customerID string) (Timeline, error) {
	log := b.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tl := Timeline{CustomerID: customerID}
	note := func(format string, args ...any) {
		tl.Partial = true
		tl.Notes = append(tl.Notes, fmt.Sprintf(format, args...))
	}

	// The services' parts, in parallel.
	parts := make([]sagaview.Timeline, len(b.Sources))
	errs := make([]error, len(b.Sources))
	var wg sync.WaitGroup
	for i, s := range b.Sources {
		wg.Go(func() { parts[i], errs[i] = s.Fetch(ctx, customerID) })
	}
	wg.Wait()
	unknown, steps := 0, 0
	var answered []sagaview.Timeline
	for i, s := range b.Sources {
		switch err := errs[i]; {
		case errors.Is(err, ErrUnknownCustomer):
			unknown++
			tl.Notes = append(tl.Notes, s.Service+" does not know this customer")
		case err != nil:
			log.Warn("timeline source failed", "service", s.Service, "customer", customerID, "err", err)
			note("%s did not answer (%s): its steps are missing", s.Service, cause(err))
		default:
			steps += len(parts[i].Steps)
			answered = append(answered, parts[i])
			if parts[i].Retention != "" {
				tl.Retention = append(tl.Retention, s.Service+": "+parts[i].Retention)
			}
		}
	}
	if steps == 0 && unknown > 0 {
		return Timeline{}, fmt.Errorf("%w %s", ErrUnknownCustomer, customerID)
	}

	published := b.publications(ctx, answered, log, note)
	var dead []DeadLetter
	if b.DeadLetters != nil {
		var err error
		if dead, err = b.DeadLetters(ctx, Keys(customerID, answered)); err != nil {
			log.Warn("timeline dead letters failed", "customer", customerID, "err", err)
			note("the dead-letter topic could not be read (%s): dead-lettered records are missing", cause(err))
		}
	}
	tl.Steps = Merge(answered, published, dead)
	return tl, nil
}

// publications finds the record of every written event, in parallel (a
// few at a time); an event absent from the map was not looked up.
func (b Builder) publications(ctx context.Context, parts []sagaview.Timeline, log *slog.Logger, note func(string, ...any)) map[string]Publication {
	if b.Kafka == nil {
		return nil
	}
	var written []sagaview.Step
	for _, p := range parts {
		for _, s := range p.Steps {
			if s.Kind == sagaview.KindEventWritten && s.Topic != "" && s.Key != "" && s.EventID != "" {
				written = append(written, s)
			}
		}
	}
	var (
		mu     sync.Mutex
		out    = make(map[string]Publication, len(written))
		failed error
		wg     sync.WaitGroup
		slots  = make(chan struct{}, 4)
	)
	for _, s := range written {
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			r, ok, err := b.Kafka.Find(ctx, s.Topic, []byte(s.Key), kafkaheader.ID, s.EventID, s.Time.Add(-publishedBefore), b.ScanLimit)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				log.Warn("timeline: finding an event on kafka failed", "topic", s.Topic, "event", s.EventID, "err", err)
				failed = err
				return
			}
			out[s.EventID] = Publication{Found: ok, Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp}
		})
	}
	wg.Wait()
	if failed != nil {
		note("kafka could not be searched (%s): some publications are missing", cause(failed))
	}
	return out
}

// Keys are the record keys of a customer's events: its id and the
// aggregate ids of the events the services wrote for it (payment-service's
// are keyed by the payment's id).
func Keys(customerID string, parts []sagaview.Timeline) []string {
	keys := []string{customerID}
	for _, p := range parts {
		for _, s := range p.Steps {
			if s.Kind == sagaview.KindEventWritten && s.Key != "" && !slices.Contains(keys, s.Key) {
				keys = append(keys, s.Key)
			}
		}
	}
	return keys
}

// Merge returns the steps of parts, an event-published step for each
// event-written one whose event was looked up in published (keyed by event
// id), and a dead-lettered step per dead letter, ordered by sagaview.Sort
// (an event's writing before its publication before its consumption, each
// service's steps in its own time order, then by time). An event found on
// Kafka is published no earlier than written, whatever the record's
// timestamp says (the relay's clock may be behind the store's); one not
// found is said to be so, at the time it was written.
func Merge(parts []sagaview.Timeline, published map[string]Publication, dead []DeadLetter) []sagaview.Step {
	var steps []sagaview.Step
	for _, p := range parts {
		for _, s := range p.Steps {
			steps = append(steps, s)
			if s.Kind != sagaview.KindEventWritten {
				continue
			}
			pub, ok := published[s.EventID]
			if !ok {
				continue
			}
			ps := sagaview.Step{
				Time: s.Time, Service: s.Service, Kind: sagaview.KindEventPublished,
				EventType: s.EventType, EventID: s.EventID, Topic: s.Topic, Key: s.Key,
				Summary: fmt.Sprintf("%s not found on Kafka yet (%s)", s.EventType, s.Topic),
			}
			if pub.Found {
				ps.Time = latest(s.Time, pub.Time)
				ps.Topic, ps.Partition, ps.Offset = pub.Topic, &pub.Partition, &pub.Offset
				ps.Summary = fmt.Sprintf("%s published to %s partition %d offset %d", s.EventType, pub.Topic, pub.Partition, pub.Offset)
			}
			steps = append(steps, ps)
		}
	}
	for _, d := range dead {
		what := d.EventType
		if what == "" {
			what = "a record"
		}
		summary := fmt.Sprintf("%s from %s partition %d offset %d dead-lettered", what, d.OriginalTopic, d.OriginalPartition, d.OriginalOffset)
		if d.Group != "" {
			summary += " by " + d.Group
		}
		if d.Error != "" {
			summary += ": " + d.Error
		}
		steps = append(steps, sagaview.Step{
			Time: d.Time, Service: ServiceKafka, Kind: sagaview.KindDeadLettered, Summary: summary,
			EventType: d.EventType, EventID: d.EventID, Topic: d.Topic, Key: d.Key,
			Partition: &d.Partition, Offset: &d.Offset,
		})
	}
	sagaview.Sort(steps)
	return steps
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// cause is a short form of err for a note: the deadline or cancellation
// when that was it, what the error's Cause method says when it has one (a
// service client's errors: without the service's name, which the note
// has), the error's text otherwise.
func cause(err error) string {
	var c interface{ Cause() string }
	switch {
	case errors.As(err, &c):
		return c.Cause()
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return err.Error()
}
