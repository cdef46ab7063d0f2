package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/jobs"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		spec string
		ok   bool
	}{
		{"0 1 0 * * ?", true},
		{"*/5 * * * * *", true},
		{"@every 1m", true},
		{"0 1 0 * *", false},
		{"nonsense", false},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			if _, err := jobs.ParseSpec(tt.spec); (err == nil) != tt.ok {
				t.Fatalf("ParseSpec(%q) error = %v, want ok=%v", tt.spec, err, tt.ok)
			}
		})
	}
}

func TestJobsRunRecoverAndStop(t *testing.T) {
	s := jobs.New(slog.New(slog.NewTextHandler(io.Discard, nil)))
	var runs, failing atomic.Int32
	s.Every("count", 20*time.Millisecond, func(context.Context) error { runs.Add(1); return nil })
	s.Every("fail", 20*time.Millisecond, func(context.Context) error { failing.Add(1); panic("boom") })
	if err := s.Cron("cron", "* * * * * *", func(context.Context) error { return errors.New("x") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Cron("bad", "every day", nil); err == nil {
		t.Fatal("a bad spec was accepted")
	}
	s.Start()
	time.Sleep(150 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if runs.Load() < 3 || failing.Load() < 3 {
		t.Fatalf("runs = %d, panicking runs = %d; want at least 3 each (a panic must not stop the schedule)", runs.Load(), failing.Load())
	}
	after := runs.Load()
	time.Sleep(60 * time.Millisecond)
	if runs.Load() != after {
		t.Fatal("jobs kept running after Stop")
	}
}
