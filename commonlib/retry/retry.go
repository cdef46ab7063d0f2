// Package retry holds the two pieces every retry loop of the platform uses:
// exponential backoff and a sleep that ends with its context.
//
// Until loops for callers that retry everything until it works; the others
// loop themselves with Backoff and Sleep, deciding what is worth retrying.
// SleepUntil is Sleep for a long backoff that a cheap probe may cut short,
// so a retry resumes soon after the failed dependency answers again while
// the expensive operation itself still backs off.
package retry

import (
	"context"
	"time"
)

// Backoff returns the delay before retry number attempt (1-based): base
// doubled per attempt, capped at ceiling.
func Backoff(attempt int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < ceiling; i++ {
		d *= 2
	}
	return min(d, ceiling)
}

// Sleep waits d or until ctx ends, and reports whether it waited the full d.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// SleepUntil waits d, or less when probe succeeds first. It calls probe
// once per interval, the first time one interval in, never two calls at
// once, each bounded by the next interval's start (and by d): a dependency
// that stays down costs at most one probe per interval. With a nil probe,
// or a d no longer than interval, it is Sleep. It reports whether probe
// ended the wait, and whether the wait ended before ctx did.
func SleepUntil(ctx context.Context, d, interval time.Duration, probe func(context.Context) error) (probed, ok bool) {
	if probe == nil || interval <= 0 || d <= interval {
		return false, Sleep(ctx, d)
	}
	start := time.Now()
	end := start.Add(d)
	for k := time.Duration(1); ; k++ {
		at := start.Add(k * interval)
		if !at.Before(end) {
			return false, Sleep(ctx, time.Until(end))
		}
		if !Sleep(ctx, time.Until(at)) {
			return false, false
		}
		deadline := at.Add(interval)
		if deadline.After(end) {
			deadline = end
		}
		pctx, cancel := context.WithDeadline(ctx, deadline)
		err := probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return false, false
		}
		if err == nil {
			return true, true
		}
		// A probe that overran its interval (it ignored its deadline) moves
		// the next one on rather than being followed by a burst.
		k = max(k, time.Since(start)/interval)
	}
}

// Until calls fn until it returns nil, backing off between attempts
// (Backoff(attempt, base, ceiling)) and telling failed(attempt, wait, err)
// about each failure. It reports false when ctx ended first.
func Until(ctx context.Context, base, ceiling time.Duration, fn func() error, failed func(attempt int, wait time.Duration, err error)) bool {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		err := fn()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			break
		}
		d := Backoff(attempt, base, ceiling)
		failed(attempt, d, err)
		Sleep(ctx, d)
	}
	return false
}
