// Package jobs runs periodic background jobs: cron expressions with a seconds
// field (the blueprint's "0 1 0 * * ?") and fixed intervals.
//
// A run that is still going when its next one is due is skipped, a panic in a
// job is recovered and logged, and Stop waits for running jobs. It does not
// coordinate replicas: a job must be safe to run on every replica at once.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/robfig/cron/v3"
)

var parser = cron.NewParser(cron.Second | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSpec checks a six-field cron expression (seconds first).
func ParseSpec(spec string) (string, error) {
	if _, err := parser.Parse(spec); err != nil {
		return spec, fmt.Errorf("not a six-field cron expression: %w", err)
	}
	return spec, nil
}

// Scheduler runs jobs until stopped.
type Scheduler struct {
	cron   *cron.Cron
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
}

// New returns a stopped scheduler.
func New(log *slog.Logger) *Scheduler {
	ctx, cancel := context.WithCancel(context.Background())
	return &Scheduler{
		cron:   cron.New(cron.WithParser(parser), cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger))),
		log:    log,
		ctx:    ctx,
		cancel: cancel,
	}
}

// Cron runs fn on a cron schedule.
func (s *Scheduler) Cron(name, spec string, fn func(context.Context) error) error {
	if _, err := s.cron.AddFunc(spec, s.wrap(name, fn)); err != nil {
		return fmt.Errorf("job %s: %w", name, err)
	}
	return nil
}

// Every runs fn every interval, the first time one interval after Start.
func (s *Scheduler) Every(name string, interval time.Duration, fn func(context.Context) error) {
	s.cron.Schedule(every(interval), cron.FuncJob(s.wrap(name, fn)))
}

// every is an exact interval; cron.Every rounds up to whole seconds.
type every time.Duration

func (e every) Next(t time.Time) time.Time { return t.Add(time.Duration(e)) }

func (s *Scheduler) wrap(name string, fn func(context.Context) error) func() {
	return func() {
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("job panicked", "job", name, "panic", fmt.Sprint(r))
			}
		}()
		start := time.Now()
		if err := fn(s.ctx); err != nil {
			s.log.Error("job failed", "job", name, "err", err)
			return
		}
		s.log.Debug("job done", "job", name, "took", time.Since(start))
	}
}

// Start starts running jobs in the background.
func (s *Scheduler) Start() { s.cron.Start() }

// Stop stops scheduling, cancels the context of running jobs and waits for
// them until ctx ends.
func (s *Scheduler) Stop(ctx context.Context) error {
	done := s.cron.Stop()
	s.cancel()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs still running: %w", ctx.Err())
	}
}
