package console

import (
	"cmp"
	"context"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/ops/deadletter"
	"github.com/sagaoutbox/platform/ops/timeline"
)

// Sizes of the dead-letter page and of one replay.
const (
	defaultDLTLimit = 100
	maxDLTLimit     = 1000
	maxReplay       = 100
)

// deadLetterView is a dead-lettered record as the page shows it.
type deadLetterView struct {
	recordView
	OriginalTopic     string     `json:"originalTopic"`
	OriginalPartition int32      `json:"originalPartition"`
	OriginalOffset    int64      `json:"originalOffset"`
	OriginalTimestamp *time.Time `json:"originalTimestamp,omitempty"`
	Group             string     `json:"group"`
	EventType         string     `json:"eventType"`
	EventID           string     `json:"eventId"`
	Error             string     `json:"error"`
	Attempts          int        `json:"attempts"`
	AgeSeconds        float64    `json:"ageSeconds"`
	// PastRetention says replaying it needs force.
	PastRetention bool `json:"pastRetention"`
	// ReplayedFrom is, for a replay that failed again, where on the
	// dead-letter topic it was replayed from ("0:7").
	ReplayedFrom string `json:"replayedFrom,omitempty"`
}

func (s *Server) toDeadLetterView(r deadletter.Record, now time.Time) deadLetterView {
	v := deadLetterView{
		recordView:    toRecordView(r.Topic, r.Partition, r.Offset, r.Timestamp, r.Key, r.Value, r.Headers),
		OriginalTopic: r.OriginalTopic, OriginalPartition: r.OriginalPartition, OriginalOffset: r.OriginalOffset,
		Group: r.Group, EventType: r.EventType, EventID: r.EventID, Error: r.Error, Attempts: r.Attempts,
		AgeSeconds:    r.Age(now).Seconds(),
		PastRetention: r.Age(now) >= s.cfg.Retention,
	}
	if !r.OriginalTimestamp.IsZero() {
		t := r.OriginalTimestamp
		v.OriginalTimestamp = &t
	}
	if r.ReplayedFromOffset != nil {
		v.ReplayedFrom = deadletter.Position{Partition: r.ReplayedFromPartition, Offset: *r.ReplayedFromOffset}.String()
	}
	return v
}

// parseDLTFilter reads originalTopic, eventType, error, key, olderThan,
// newerThan and limit.
func parseDLTFilter(c echo.Context) (deadletter.Filter, int, error) {
	var errs validation.Errors
	f := deadletter.Filter{
		OriginalTopic: c.QueryParam("originalTopic"), EventType: c.QueryParam("eventType"),
		ErrorContains: c.QueryParam("error"), Key: c.QueryParam("key"),
	}
	duration := func(name string) time.Duration {
		v := c.QueryParam(name)
		if v == "" {
			return 0
		}
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			errs.Add(name, "must be a duration such as 90s, 5m or 24h")
		}
		return d
	}
	f.OlderThan, f.NewerThan = duration("olderThan"), duration("newerThan")
	limit := defaultDLTLimit
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxDLTLimit {
			errs.Add("limit", "must be a whole number from 1 to %d", maxDLTLimit)
		}
		limit = n
	}
	return f, limit, errs.Err()
}

// listDLT is GET /api/dlt: the matching records, newest first.
func (s *Server) listDLT(c echo.Context) error {
	f, limit, err := parseDLTFilter(c)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*s.cfg.UpstreamTimeout)
	defer cancel()
	kc, err := s.kafka.Client(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	f.Newest = int64(s.cfg.ScanLimit) // one look costs at most that per partition
	recs, err := deadletter.List(ctx, kc, s.cfg.DLTTopic, f, now, limit+1)
	if err != nil {
		return kafkaErr(err)
	}
	more := len(recs) > limit
	newestFirst(recs)
	recs = recs[:min(len(recs), limit)]
	views := make([]deadLetterView, len(recs))
	for i, r := range recs {
		views[i] = s.toDeadLetterView(r, now)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"topic": s.cfg.DLTTopic, "records": views, "limit": limit, "more": more,
		"retentionSeconds": s.cfg.Retention.Seconds(),
	})
}

func newestFirst(recs []deadletter.Record) {
	slices.SortStableFunc(recs, func(a, b deadletter.Record) int {
		return cmp.Or(b.Timestamp.Compare(a.Timestamp), cmp.Compare(b.Partition, a.Partition), cmp.Compare(b.Offset, a.Offset))
	})
}

// replayRequest is POST /api/dlt/replay's body.
type replayRequest struct {
	Records []struct {
		Partition *int32 `json:"partition"`
		Offset    *int64 `json:"offset"`
	} `json:"records"`
	DryRun bool `json:"dryRun"`
	Force  bool `json:"force"`
}

// replayResult is the outcome for one record.
type replayResult struct {
	// Partition and Offset are the record's on the dead-letter topic.
	Partition int32 `json:"partition"`
	Offset    int64 `json:"offset"`
	// Topic, ToPartition and ToOffset are where it was replayed to
	// (ToOffset -1 on a dry run, ToPartition -1 when unknown).
	Topic       string `json:"topic,omitempty"`
	ToPartition int32  `json:"toPartition"`
	ToOffset    int64  `json:"toOffset"`
	DryRun      bool   `json:"dryRun"`
	// Refused says why it was not replayed.
	Refused string `json:"refused,omitempty"`
}

// replay is POST /api/dlt/replay: the chosen records back to their
// original topics, or what would happen with dryRun.
func (s *Server) replay(c echo.Context) error {
	var req replayRequest
	if err := httpapi.DecodeJSON(c, &req); err != nil {
		return err
	}
	var errs validation.Errors
	if len(req.Records) == 0 || len(req.Records) > maxReplay {
		errs.Add("records", "must list 1 to %d records", maxReplay)
	}
	var at []deadletter.Position
	for i, r := range req.Records {
		if r.Partition == nil || *r.Partition < 0 || r.Offset == nil || *r.Offset < 0 {
			errs.Add("records["+strconv.Itoa(i)+"]", "must have a partition and an offset, both >= 0")
			continue
		}
		at = append(at, deadletter.Position{Partition: *r.Partition, Offset: *r.Offset})
	}
	if err := errs.Err(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*s.cfg.UpstreamTimeout)
	defer cancel()
	kc, err := s.kafka.Client(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	recs, err := deadletter.List(ctx, kc, s.cfg.DLTTopic, deadletter.Filter{Positions: at}, now, 0)
	if err != nil {
		return kafkaErr(err)
	}
	var out []replayResult
	for _, p := range at {
		if !slices.ContainsFunc(recs, func(r deadletter.Record) bool { return r.Position() == p }) {
			out = append(out, replayResult{Partition: p.Partition, Offset: p.Offset, ToPartition: -1, ToOffset: -1, DryRun: req.DryRun,
				Refused: "no record at this position of " + s.cfg.DLTTopic})
		}
	}
	if len(recs) > 0 {
		r, err := deadletter.NewReplayer(s.kafka.Brokers(), s.cfg.UpstreamTimeout)
		if err != nil {
			return &KafkaError{err: err}
		}
		defer r.Close()
		// Its own time: reading the records may have used up ctx's.
		rctx, rcancel := context.WithTimeout(c.Request().Context(), 3*s.cfg.UpstreamTimeout)
		defer rcancel()
		results, err := r.Replay(rctx, recs, deadletter.Options{DryRun: req.DryRun, Force: req.Force, Retention: s.cfg.Retention, Now: now})
		for _, res := range results {
			out = append(out, replayResult{
				Partition: res.Record.Partition, Offset: res.Record.Offset, Topic: res.Topic,
				ToPartition: res.Partition, ToOffset: res.Offset, DryRun: req.DryRun, Refused: res.Refused,
			})
		}
		if err != nil {
			s.log.Warn("replay failed", "records", len(recs), "replayed", len(results), "err", err)
			if len(results) == 0 {
				return &KafkaError{err: err}
			}
			// Some were replayed: say which, and that the rest failed.
			for _, rec := range recs[len(results):] {
				out = append(out, replayResult{Partition: rec.Partition, Offset: rec.Offset, Topic: rec.OriginalTopic, ToPartition: -1, ToOffset: -1,
					DryRun: req.DryRun, Refused: "not confirmed by kafka: it may have been produced; replaying again is safe (consumers dedupe)"})
			}
		}
		if !req.DryRun {
			for _, res := range results {
				if res.Refused == "" {
					s.log.Info("replayed", "dlt", res.Record.Position().String(), "topic", res.Topic, "partition", res.Partition, "offset", res.Offset)
				}
			}
		}
	}
	// In the order asked.
	slices.SortStableFunc(out, func(a, b replayResult) int {
		return cmp.Compare(slices.Index(at, deadletter.Position{Partition: a.Partition, Offset: a.Offset}),
			slices.Index(at, deadletter.Position{Partition: b.Partition, Offset: b.Offset}))
	})
	return c.JSON(http.StatusOK, map[string]any{"results": out})
}

// DeadLetters returns the timeline's dead letters: the records of the
// dead-letter topic keyed by one of keys, among the newest scanLimit of
// each partition.
func DeadLetters(kafka *KafkaConn, topic string, scanLimit int) timeline.DeadLetters {
	return func(ctx context.Context, keys []string) ([]timeline.DeadLetter, error) {
		kc, err := kafka.Client(ctx)
		if err != nil {
			return nil, err
		}
		recs, err := deadletter.List(ctx, kc, topic, deadletter.Filter{Newest: int64(scanLimit)}, time.Now(), 0)
		if err != nil {
			return nil, err
		}
		var out []timeline.DeadLetter
		for _, r := range recs {
			if r.Key == nil || !slices.Contains(keys, string(r.Key)) {
				continue
			}
			out = append(out, timeline.DeadLetter{
				Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Time: r.Timestamp, Key: string(r.Key),
				OriginalTopic: r.OriginalTopic, OriginalPartition: r.OriginalPartition, OriginalOffset: r.OriginalOffset,
				Group: r.Group, EventType: r.EventType, EventID: r.EventID, Error: r.Error,
			})
		}
		return out, nil
	}
}
