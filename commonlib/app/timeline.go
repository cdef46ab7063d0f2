package app

import (
	"context"
	"fmt"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
)

// Timeline is where a service reads its part of a registration's timeline
// besides its own documents: its outbox and its consumed-events inbox.
type Timeline struct {
	Service string
	Outbox  *outbox.Outbox
	Inbox   *inbox.Inbox
	// Retention says what may be missing (Config.Retention).
	Retention string
}

// Written are the event-written steps of one aggregate: its events still in
// the outbox, each to be published to topic with the aggregate id as key.
func (tl Timeline) Written(ctx context.Context, topic, aggregateID string) ([]sagaview.Step, error) {
	service := tl.Service
	evts, err := tl.Outbox.ForAggregate(ctx, aggregateID)
	if err != nil {
		return nil, err
	}
	steps := make([]sagaview.Step, 0, len(evts))
	for _, e := range evts {
		steps = append(steps, sagaview.Step{
			Time: e.CreatedAt, Service: service, Kind: sagaview.KindEventWritten,
			Summary:   e.Type + " written to the outbox",
			EventType: e.Type, EventID: e.ID, Topic: topic, Key: e.AggregateID,
		})
	}
	return steps, nil
}

// Consumed are the event-consumed steps of the events consumed about
// subject (inbox.ConsumeOnce), and a duplicate-ignored step for each that
// was delivered again (at its last redelivery, with how many there were).
func (tl Timeline) Consumed(ctx context.Context, subject string) ([]sagaview.Step, error) {
	service := tl.Service
	recs, err := tl.Inbox.ForSubject(ctx, subject)
	if err != nil {
		return nil, err
	}
	var steps []sagaview.Step
	for _, r := range recs {
		s := sagaview.Step{
			Time: r.ConsumedAt, Service: service, Kind: sagaview.KindEventConsumed,
			Summary:   fmt.Sprintf("%s consumed from %s", r.EventType, r.Topic),
			EventType: r.EventType, EventID: r.EventID, Topic: r.Topic, Key: r.Key,
			Partition: &r.Partition, Offset: &r.Offset,
		}
		steps = append(steps, s)
		if r.Duplicates > 0 && r.LastDuplicateAt != nil {
			s.Time, s.Kind, s.Count = r.LastDuplicateAt.UTC(), sagaview.KindDuplicateIgnored, r.Duplicates
			s.Summary = fmt.Sprintf("%s delivered again %d time(s), ignored (consumed before)", r.EventType, r.Duplicates)
			steps = append(steps, s)
		}
	}
	return steps, nil
}

// Retention says what a timeline may be missing: the outbox and inbox
// records its retention settings have deleted.
func (c Config) Retention() string {
	return fmt.Sprintf("outbox events are kept %s (OUTBOX_RETENTION), consumed-event records %s (CONSUMED_EVENTS_RETENTION)",
		c.OutboxRetention, c.ConsumedEventsRetention)
}
