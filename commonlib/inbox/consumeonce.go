package inbox

import (
	"context"
	"errors"
	"log/slog"

	"github.com/sagaoutbox/platform/commonlib/router"
)

// Transactor runs fn in a transaction (mongotx.Client does), joining the
// transaction of ctx if there is one.
type Transactor interface {
	Transact(ctx context.Context, fn func(ctx context.Context) error) error
}

// ConsumeOnce is router middleware that makes a handler consume each event
// once. The handler runs in a transaction of tx that first records the event
// id (Record), so the record commits with the handler's writes or not at all:
// the store methods the handler calls join that transaction. A handler that
// fails leaves no record and its event is handled again when it is retried or
// redelivered; an event consumed before runs nothing and is acknowledged,
// logged at INFO and reported to the router as router.OutcomeDuplicate. Any other error, the handler's included, is returned as it
// is, for the router's retry and dead-letter policy.
//
// subject says what an event is about for this service, to record with it
// (Consumed.Subject); nil records the record key.
//
// Wrap it around the handler, inside whatever maps the handler's errors to
// outcomes: an error mapped to success outside ConsumeOnce acknowledges the
// event with the transaction rolled back, so nothing of it is written.
func ConsumeOnce(in *Inbox, tx Transactor, subject func(router.Message) string, log *slog.Logger) func(router.Handler) router.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if subject == nil {
		subject = func(m router.Message) string { return string(m.Key) }
	}
	return func(next router.Handler) router.Handler {
		return func(ctx context.Context, m router.Message) error {
			err := tx.Transact(ctx, func(ctx context.Context) error {
				c := Consumed{EventID: m.EventID, EventType: m.EventType, Subject: subject(m), Key: string(m.Key),
					Topic: m.Topic, Partition: m.Partition, Offset: m.Offset}
				if err := in.Record(ctx, c); err != nil {
					return err
				}
				return next(ctx, m)
			})
			if errors.Is(err, ErrDuplicate) {
				router.SetOutcome(ctx, router.OutcomeDuplicate)
				log.Info("event already consumed, skipped", "eventId", m.EventID, "eventType", m.EventType)
				if err := in.NoteDuplicate(ctx, m.EventID); err != nil {
					log.Warn("cannot count the skipped redelivery", "eventId", m.EventID, "err", err)
				}
				return nil
			}
			return err
		}
	}
}
