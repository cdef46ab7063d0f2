package app

import (
	"context"
	"log/slog"
	"time"

	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/jobs"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/relay"
)

// Jobs is the service's job scheduler, with the retention cleanups
// scheduled; a service adds its own jobs before Run. Its Stop (the
// scheduler's) waits for the running jobs.
type Jobs struct {
	*jobs.Scheduler
}

// NewJobs returns the scheduler with the retention jobs: consumed-event
// records and published outbox events. rel is the embedded relay, nil with
// Debezium's.
func NewJobs(cfg Config, in *inbox.Inbox, out *outbox.Outbox, rel *Relay, log *slog.Logger) (*Jobs, error) {
	s := jobs.New(log.With("component", "jobs"))
	if err := scheduleCleanups(s, cfg, in, out, rel, log); err != nil {
		return nil, err
	}
	return &Jobs{Scheduler: s}, nil
}

// Run runs the jobs until ctx ends.
func (j *Jobs) Run(ctx context.Context) error {
	j.Start()
	<-ctx.Done()
	return nil
}

// scheduleCleanups adds the retention jobs: consumed-event records and
// published outbox events. With the embedded relay the outbox purge never
// passes what the relay has published (nothing before the relay runs); with
// Debezium it goes by age alone.
func scheduleCleanups(s *jobs.Scheduler, cfg Config, in *inbox.Inbox, out *outbox.Outbox, rel *Relay, log *slog.Logger) error {
	err := s.Cron("consumed-events-cleanup", cfg.ConsumedEventsCleanupCron, func(ctx context.Context) error {
		n, err := in.Cleanup(ctx, time.Now().Add(-cfg.ConsumedEventsRetention))
		if err == nil {
			log.Info("consumed events cleaned up", "deleted", n, "retention", cfg.ConsumedEventsRetention)
		}
		return err
	})
	if err != nil {
		return err
	}
	return s.Cron("outbox-cleanup", cfg.OutboxCleanupCron, func(ctx context.Context) error {
		var published *time.Time
		if cfg.Relay == RelayEmbedded {
			r := rel.running()
			if r == nil {
				return nil // nothing published yet
			}
			t, err := r.PublishedThrough(ctx)
			if err != nil {
				return err
			}
			published = &t
		}
		before := purgeBefore(time.Now(), cfg.OutboxRetention, published)
		n, err := out.Purge(ctx, before)
		if err == nil && n > 0 {
			log.Info("published outbox events purged", "deleted", n, "before", before)
		}
		return err
	})
}

// purgeBefore is the creation time before which outbox events may be
// deleted: older than the retention and, when the relay's progress is known,
// older than what it has published by relay.CommitMargin, because an event
// created before a published one may commit (and be published) after it.
func purgeBefore(now time.Time, retention time.Duration, published *time.Time) time.Time {
	before := now.Add(-retention)
	if published != nil {
		if limit := published.Add(-relay.CommitMargin); limit.Before(before) {
			before = limit
		}
	}
	return before
}
