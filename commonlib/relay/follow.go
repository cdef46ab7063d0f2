package relay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/retry"
)

// relayLoop follows the change stream, restarting it with backoff, until
// ctx ends.
func (r *Relay) relayLoop(ctx context.Context) {
	failures := 0
	for {
		progressed, err := r.follow(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("relay: change stream ended")
		}
		if progressed {
			failures = 0
		}
		failures++
		backoff := retry.Backoff(failures, r.opts.RetryBackoff, r.opts.MaxBackoff)
		r.noteError(err)
		r.count(func(s *Stats) { s.StreamRestarts++ })
		r.log.Warn("change stream failed, restarting from the stored position", "err", err, "backoff", backoff)
		if !retry.Sleep(ctx, backoff) {
			return
		}
	}
}

// changeEvent is the part of a change stream event the relay reads (the
// fields lungo produces too).
type changeEvent struct {
	OperationType string `bson:"operationType"`
	NS            struct {
		DB   string `bson:"db"`
		Coll string `bson:"coll"`
	} `bson:"ns"`
	DocumentKey  bson.Raw `bson:"documentKey"`
	FullDocument bson.Raw `bson:"fullDocument"`
}

// pipeline filters server-side on MongoDB; lungo ignores it, so every event
// is filtered again in Go.
func pipeline() bson.A {
	return bson.A{bson.D{{Key: "$match", Value: bson.D{
		{Key: "operationType", Value: bson.D{{Key: "$in", Value: bson.A{"insert", "update", "replace", "delete", "invalidate"}}}},
	}}}}
}

// follow runs one change stream until it fails. It reports whether any
// batch was handled, so Run can reset its backoff.
func (r *Relay) follow(ctx context.Context) (bool, error) {
	defer r.storeUnstored(ctx)
	pos, err := r.loadPosition(ctx)
	if err != nil {
		return false, err
	}
	r.pos = pos

	var stream lungo.IChangeStream
	if pos.ResumeToken != nil && !r.fresh {
		stream, err = r.db.Watch(ctx, pipeline(), options.ChangeStream().SetResumeAfter(pos.ResumeToken))
		if err != nil {
			if !mongotx.IsHistoryLost(err) {
				return false, fmt.Errorf("relay: resume change stream: %w", err)
			}
			r.historyLost(err)
			stream = nil
		}
	}
	if stream == nil {
		// Open the stream before sweeping: whatever commits during the
		// sweep is in one or the other (or both).
		stream, err = r.db.Watch(ctx, pipeline())
		if err != nil {
			return false, fmt.Errorf("relay: open change stream: %w", err)
		}
		defer closeStream(stream)
		if err := r.sweep(ctx); err != nil {
			return false, err
		}
		r.fresh = false
		// On lungo the token is nil until the first event; the position
		// write below is such an event and the next batch stores its token.
		if err := r.storePosition(ctx, stream.ResumeToken()); err != nil {
			return true, err
		}
	} else {
		defer closeStream(stream)
	}
	r.noteHealthy()

	progressed := false
	for {
		if !stream.Next(ctx) {
			err := stream.Err()
			if ctx.Err() != nil {
				return progressed, nil
			}
			if mongotx.IsHistoryLost(err) {
				r.historyLost(err)
				return progressed, fmt.Errorf("relay: change stream fell behind: %w", err)
			}
			if err == nil {
				err = errors.New("closed by the store")
			}
			return progressed, fmt.Errorf("relay: change stream: %w", err)
		}
		events := make([]changeEvent, 0, r.opts.BatchSize)
		for {
			var ev changeEvent
			if err := stream.Decode(&ev); err != nil {
				return progressed, fmt.Errorf("relay: decode change event: %w", err)
			}
			events = append(events, ev)
			if len(events) >= r.opts.BatchSize || !stream.TryNext(ctx) {
				break
			}
		}
		invalidated, err := r.handleBatch(ctx, events, stream.ResumeToken())
		if err != nil {
			return progressed, err
		}
		progressed = true
		if invalidated {
			r.historyLost(errors.New("change stream invalidated"))
			return progressed, errors.New("relay: change stream invalidated")
		}
	}
}

func closeStream(s lungo.IChangeStream) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

func (r *Relay) historyLost(err error) {
	r.fresh = true
	r.count(func(s *Stats) { s.HistoryLost++ })
	r.log.Warn("the stored position has left the change history; sweeping the outbox collections (duplicates follow)", "err", err)
}

// handleBatch publishes the outbox inserts among events and stores token
// after Kafka acknowledged them. It reports an invalidate event.
func (r *Relay) handleBatch(ctx context.Context, events []changeEvent, token bson.Raw) (bool, error) {
	var b batch
	now := time.Now()
	// databaseChanged: an event of the followed database outside the
	// relay's own collections, routed or not (see positionInterval);
	// routedSeen: an insert, update or replace in a routed collection (see
	// checkpointInterval).
	routedSeen, databaseChanged, invalidated := false, false, false
	for _, ev := range events {
		if ev.OperationType == "invalidate" {
			invalidated = true
			break
		}
		if ev.NS.DB != r.opts.Database || ev.NS.Coll == PositionCollection || ev.NS.Coll == ParkedCollection || ev.NS.Coll == LeaseCollection {
			continue
		}
		databaseChanged = true
		if !r.routed(ev.NS.Coll) {
			continue
		}
		switch ev.OperationType {
		case "insert":
			routedSeen = true
			r.add(&b, ev.NS.Coll, ev.FullDocument, now)
		case "update", "replace":
			routedSeen = true
			r.count(func(s *Stats) { s.Dropped++ })
			level := slog.LevelWarn
			if r.cfg.InvalidOperationBehavior == "error" {
				level = slog.LevelError
			}
			r.log.Log(ctx, level, "unexpected "+ev.OperationType+" of an outbox document dropped",
				"collection", ev.NS.Coll, "document_key", ev.DocumentKey.String())
		}
		// Deletes (retention) are dropped silently.
	}
	since := time.Since(r.lastStore)
	store := !invalidated && token != nil && (r.pos.ResumeToken == nil ||
		routedSeen && since >= checkpointInterval || databaseChanged && since >= positionInterval)
	if !store && len(b.msgs) == 0 && len(b.parks) == 0 {
		return invalidated, nil
	}
	if err := r.publish(ctx, b); err != nil {
		return invalidated, err
	}
	if !store {
		if routedSeen && !invalidated && token != nil {
			r.unstored = token
		}
		return invalidated, nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	return invalidated, r.storePosition(sctx, token)
}
