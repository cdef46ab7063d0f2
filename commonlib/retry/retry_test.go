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

func TestSleepUntil(t *testing.T) {
	down := errors.New("down")
	// okFrom is the first probe call that succeeds; 0 means none does.
	// block makes every call wait for its context to end.
	tests := []struct {
		name       string
		d, every   time.Duration
		nilProbe   bool
		okFrom     int
		block      bool
		cancelIn   time.Duration
		wantProbed bool
		wantOK     bool
		minCalls   int
		maxCalls   int
		minWait    time.Duration
		maxWait    time.Duration
	}{
		{name: "no probe waits the full time", d: 60 * time.Millisecond, every: 10 * time.Millisecond, nilProbe: true,
			wantOK: true, minWait: 60 * time.Millisecond, maxWait: time.Second},
		{name: "short wait is not probed", d: 20 * time.Millisecond, every: 20 * time.Millisecond, okFrom: 1,
			wantOK: true, minWait: 20 * time.Millisecond, maxWait: time.Second},
		{name: "probe ends a long wait", d: time.Minute, every: 10 * time.Millisecond, okFrom: 3,
			wantProbed: true, wantOK: true, minCalls: 3, maxCalls: 3, minWait: 30 * time.Millisecond, maxWait: 5 * time.Second},
		{name: "failing probe waits the full time, once per interval", d: 100 * time.Millisecond, every: 20 * time.Millisecond,
			wantOK: true, minCalls: 1, maxCalls: 4, minWait: 100 * time.Millisecond, maxWait: time.Second},
		{name: "hanging probe is bounded by its interval", d: 100 * time.Millisecond, every: 20 * time.Millisecond, block: true,
			wantOK: true, minCalls: 1, maxCalls: 4, minWait: 100 * time.Millisecond, maxWait: time.Second},
		{name: "context ends the wait", d: time.Minute, every: 10 * time.Millisecond, cancelIn: 50 * time.Millisecond,
			maxCalls: 5, minWait: 50 * time.Millisecond, maxWait: 5 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.cancelIn > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tt.cancelIn)
				defer cancel()
			}
			calls := 0
			var longest time.Duration
			probe := func(pctx context.Context) error {
				calls++
				if dl, ok := pctx.Deadline(); ok {
					longest = max(longest, time.Until(dl))
				}
				if tt.block {
					<-pctx.Done()
					return pctx.Err()
				}
				if tt.okFrom > 0 && calls >= tt.okFrom {
					return nil
				}
				return down
			}
			if tt.nilProbe {
				probe = nil
			}
			start := time.Now()
			probed, ok := retry.SleepUntil(ctx, tt.d, tt.every, probe)
			waited := time.Since(start)
			if probed != tt.wantProbed || ok != tt.wantOK {
				t.Errorf("SleepUntil = (probed %v, ok %v), want (%v, %v)", probed, ok, tt.wantProbed, tt.wantOK)
			}
			if calls < tt.minCalls || calls > tt.maxCalls {
				t.Errorf("probe calls = %d, want %d to %d", calls, tt.minCalls, tt.maxCalls)
			}
			if waited < tt.minWait || waited > tt.maxWait {
				t.Errorf("waited %v, want %v to %v", waited, tt.minWait, tt.maxWait)
			}
			if longest > tt.every {
				t.Errorf("longest probe deadline %v, want at most %v", longest, tt.every)
			}
		})
	}
}
