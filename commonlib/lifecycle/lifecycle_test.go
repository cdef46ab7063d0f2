package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/lifecycle"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// journal records what the actors of a test did, in order.
type journal struct {
	mu     sync.Mutex
	events []string
}

func (j *journal) note(e string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.events = append(j.events, e)
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.events)
}

// untilStopped is an actor that runs until its context ends and notes when
// it does.
func untilStopped(j *journal, name string, started chan<- string) func(context.Context) error {
	return func(ctx context.Context) error {
		started <- name
		<-ctx.Done()
		j.note("cancelled " + name)
		return nil
	}
}

func noteStop(j *journal, name string) func(context.Context) error {
	return func(context.Context) error {
		j.note("stop " + name)
		return nil
	}
}

// TestStopsInReverseOrder: ending the context stops every actor, the last
// added first, each finished before the next is asked, and Run returns nil.
func TestStopsInReverseOrder(t *testing.T) {
	var j journal
	started := make(chan string, 3)
	var g lifecycle.Group
	g.Add("store", untilStopped(&j, "store", started), nil)
	g.Add("consumers", untilStopped(&j, "consumers", started), nil)
	g.Add("http", untilStopped(&j, "http", started), noteStop(&j, "http"))

	stop := proctest.Go(t, "Run", g.Run)
	for range 3 {
		<-started
	}
	stop()
	want := []string{"stop http", "cancelled http", "cancelled consumers", "cancelled store"}
	if got := j.all(); !slices.Equal(got, want) {
		t.Errorf("events = %q, want %q", got, want)
	}
}

// TestFirstReturnStopsAll: an actor that returns, with an error or
// without, stops the others in reverse order, and Run returns its error.
func TestFirstReturnStopsAll(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		err     error
		wantErr string
	}{
		{"an error", boom, "boom"},
		{"no error", nil, "relay stopped on its own"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var j journal
			started := make(chan string, 2)
			var logs proctest.Buffer
			g := lifecycle.Group{Log: slog.New(slog.NewTextHandler(&logs, nil))}
			g.Add("producer", untilStopped(&j, "producer", started), nil)
			g.Add("relay", func(context.Context) error {
				<-started // the producer runs
				j.note("relay returns")
				return tt.err
			}, noteStop(&j, "relay"))
			g.Add("http", untilStopped(&j, "http", started), noteStop(&j, "http"))

			err := g.Run(context.Background())
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("Run = %v, want %s", err, tt.wantErr)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("Run = %v, want the actor's error itself", err)
			}
			want := []string{"relay returns", "stop http", "cancelled http", "stop relay", "cancelled producer"}
			if got := j.all(); !slices.Equal(got, want) {
				t.Errorf("events = %q, want %q", got, want)
			}
			// Logged or returned, not both: the log says which part
			// failed, the error is Run's.
			if !strings.Contains(logs.String(), `msg="a component failed; shutting down" component=relay`) {
				t.Errorf("log does not say the relay failed:\n%s", logs.String())
			}
			if tt.err != nil && strings.Contains(logs.String(), tt.err.Error()) {
				t.Errorf("log shows the error Run returns:\n%s", logs.String())
			}
		})
	}
}

// TestShutdownDeadline: an actor that does not stop holds the shutdown up
// to the deadline, not longer, and the next actors are still stopped.
func TestShutdownDeadline(t *testing.T) {
	var j journal
	started := make(chan string, 2)
	var logs proctest.Buffer
	g := lifecycle.Group{Timeout: 200 * time.Millisecond, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	g.Add("store", untilStopped(&j, "store", started), nil)
	stuck := make(chan struct{})
	defer close(stuck)
	g.Add("stuck", func(context.Context) error {
		started <- "stuck"
		<-stuck
		return nil
	}, nil)

	stop := proctest.Go(t, "Run", g.Run)
	<-started
	<-started
	begin := time.Now()
	stop()
	if took := time.Since(begin); took < 200*time.Millisecond || took > 5*time.Second {
		t.Errorf("Run returned after %v, want it soon after the 200ms deadline", took)
	}
	// Past the deadline the store is still stopped, though no longer
	// waited for.
	proctest.EventuallyEvery(t, 5*time.Second, time.Millisecond, "the store stopped after the stuck actor", func() error {
		if events := j.all(); !slices.Contains(events, "cancelled store") {
			return fmt.Errorf("events %q", events)
		}
		return nil
	})
	if !strings.Contains(logs.String(), `msg="shutdown deadline passed" waiting_for=stuck`) {
		t.Errorf("log does not name the actor waited for:\n%s", logs.String())
	}
}

// TestShutdownErrorsAreLogged: errors while stopping are logged, not
// returned: the shutdown was asked for and went on.
func TestShutdownErrorsAreLogged(t *testing.T) {
	var logs proctest.Buffer
	g := lifecycle.Group{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	started := make(chan struct{})
	g.Add("producer", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		return errors.New("close producer: broken pipe")
	}, nil)
	g.Add("http", func(ctx context.Context) error { <-ctx.Done(); return nil },
		func(context.Context) error { return errors.New("shutdown timed out") })
	stop := proctest.Go(t, "Run", g.Run)
	<-started
	stop()
	for _, want := range []string{
		`msg="stop failed" component=http err="shutdown timed out"`,
		`msg="stopped with an error" component=producer err="close producer: broken pipe"`,
	} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not say %s:\n%s", want, logs.String())
		}
	}
}

func TestActorWithoutRun(t *testing.T) {
	var g lifecycle.Group
	g.Add("nothing", nil, nil)
	if err := g.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "nothing") {
		t.Fatalf("Run = %v, want an error naming the actor", err)
	}
}
