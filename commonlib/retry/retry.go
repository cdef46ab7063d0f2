// Package retry holds the two pieces every retry loop of the platform uses:
// exponential backoff and a sleep that ends with its context.
//
// It does not loop itself: each caller decides what is worth retrying.
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
