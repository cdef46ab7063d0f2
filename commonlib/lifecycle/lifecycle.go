// Package lifecycle runs the long-lived parts of a process (an HTTP server,
// Kafka consumers, a relay, a job scheduler) as one group: the contract of
// oklog/run, ordered. The parts start in the order they were added; when the
// group's context ends, or as soon as one part returns, they are stopped in
// the reverse order, each waited for, within one shutdown deadline.
//
// It does not build, configure or restart anything, and it does not close
// what a main closes with defer (a store, after the group has stopped).
package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Group is an ordered set of actors. Add them, then call Run once. The zero
// value is an empty group that waits for its actors without a deadline and
// logs nothing.
type Group struct {
	// Timeout bounds the whole shutdown, from the moment it starts; zero
	// waits for every actor however long it takes.
	Timeout time.Duration
	// Log receives the shutdown's progress; nil discards.
	Log *slog.Logger

	actors []actor
}

type actor struct {
	name      string
	run, stop func(ctx context.Context) error
}

// Add appends an actor named name (the name its log lines carry).
//
// run runs the actor: Run calls it in a goroutine of its own with a context
// that ends when the actor is to stop, and run returns once the actor has
// stopped. An actor that returns before it was asked to, with an error or
// without, stops the whole group.
//
// stop, which may be nil, asks the actor to stop gracefully when ending
// run's context is not enough (an HTTP server's Shutdown). It is called
// first, with the shutdown deadline; then run's context ends.
func (g *Group) Add(name string, run, stop func(ctx context.Context) error) {
	g.actors = append(g.actors, actor{name: name, run: run, stop: stop})
}

// running is an actor Run started.
type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when run returned
	err    error         // run's result, once done is closed
}

// Run starts every actor, in the order added, and waits until ctx ends or an
// actor returns. It then stops the actors in the reverse order of Add: for
// each, stop (if any), the end of run's context, and a wait for run to
// return, before the next; once the shutdown deadline (Timeout) has passed
// it no longer waits. The actors' contexts carry ctx's values, not its
// cancellation, so that ending ctx stops them one at a time.
//
// Run returns nil when ctx ended the group, and otherwise the error of the
// actor that returned first (an error naming it when it returned nil). It
// logs, without returning them, what happens during the shutdown: an error of
// stop, an error an actor returns while it stops, a deadline passed. It logs
// that an actor failed without the error, which is Run's to return.
func (g *Group) Run(ctx context.Context) error {
	log := g.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	for _, a := range g.actors {
		if a.run == nil {
			return fmt.Errorf("lifecycle: actor %s has no run function", a.name)
		}
	}
	returned := make(chan int, len(g.actors))
	actors := make([]*running, len(g.actors))
	for i, a := range g.actors {
		actx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		r := &running{cancel: cancel, done: make(chan struct{})}
		actors[i] = r
		go func() {
			defer close(r.done)
			r.err = a.run(actx)
			returned <- i
		}()
	}

	failed := -1
	var err error
	select {
	case <-ctx.Done():
	case failed = <-returned:
		<-actors[failed].done
		if err = actors[failed].err; err == nil {
			err = fmt.Errorf("%s stopped on its own", g.actors[failed].name)
		}
		log.Error("a component failed; shutting down", "component", g.actors[failed].name)
	}

	log.Info("shutting down")
	deadline, cancel := g.deadline()
	defer cancel()
	for i := len(g.actors) - 1; i >= 0; i-- {
		a, r := g.actors[i], actors[i]
		if a.stop != nil {
			if err := a.stop(deadline); err != nil {
				log.Error("stop failed", "component", a.name, "err", err)
			}
		}
		r.cancel()
		if !r.wait(deadline) {
			log.Error("shutdown deadline passed", "waiting_for", a.name)
			continue
		}
		if r.err != nil && i != failed {
			log.Error("stopped with an error", "component", a.name, "err", r.err)
		}
	}
	log.Info("stopped")
	return err
}

// deadline is the shutdown's context: it ends Timeout from now, or never.
func (g *Group) deadline() (context.Context, context.CancelFunc) {
	if g.Timeout > 0 {
		return context.WithTimeout(context.Background(), g.Timeout)
	}
	return context.WithCancel(context.Background())
}

// wait waits for run to return and reports whether it did before ctx ended;
// an actor already stopped counts however late it is.
func (r *running) wait(ctx context.Context) bool {
	select {
	case <-r.done:
		return true
	default:
	}
	select {
	case <-r.done:
		return true
	case <-ctx.Done():
		return false
	}
}
