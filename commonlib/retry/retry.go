// Package retry holds the two pieces every retry loop of the platform uses:
// exponential backoff and a sleep that ends with its context.
//
// Until loops for callers that retry everything until it works; the others
// loop themselves with Backoff and Sleep, deciding what is worth retrying.
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
