package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/retry"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {4, 800 * time.Millisecond}, {5, time.Second}, {60, time.Second}}
	for _, tt := range tests {
		if got := retry.Backoff(tt.attempt, 100*time.Millisecond, time.Second); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempt, got, tt.want)
		}
	}
}

func TestSleep(t *testing.T) {
	if !retry.Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep with a live context did not wait the full time")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if retry.Sleep(ctx, time.Minute) || time.Since(start) > time.Second {
		t.Error("Sleep did not end with its context")
	}
}

func TestUntil(t *testing.T) {
	calls, failures := 0, 0
	ok := retry.Until(context.Background(), time.Millisecond, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return errors.New("not yet")
		}
		return nil
	}, func(attempt int, _ time.Duration, err error) {
		failures++
		if attempt != failures || err == nil {
			t.Errorf("failed(%d, %v) on failure %d", attempt, err, failures)
		}
	})
	if !ok || calls != 3 || failures != 2 {
		t.Fatalf("Until = %v after %d calls and %d failures, want true after 3 and 2", ok, calls, failures)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if retry.Until(ctx, time.Millisecond, 5*time.Millisecond, func() error { return errors.New("never") }, func(int, time.Duration, error) {}) {
		t.Fatal("Until reported success for a function that never succeeds")
	}
}
