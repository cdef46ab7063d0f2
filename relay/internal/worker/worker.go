package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/relay"
)

// Store keeps the accepted registrations where every worker of the
// cluster reads them.
type Store interface {
	// List returns every registration, sorted by name.
	List(ctx context.Context) ([]Connector, error)
	// Get returns one registration or ErrNotFound.
	Get(ctx context.Context, name string) (Connector, error)
	// Put creates or replaces a registration and reports whether it was
	// created.
	Put(ctx context.Context, c Connector) (bool, error)
	// Delete removes a registration or returns ErrNotFound.
	Delete(ctx context.Context, name string) error
}

// Connect and Connect-like task and connector states.
const (
	StateRunning    = "RUNNING"
	StateFailed     = "FAILED"
	StateUnassigned = "UNASSIGNED"
	StateRestarting = "RESTARTING"
)

// Defaults of Options.
const (
	DefaultReconcileInterval = 2 * time.Second
	DefaultFailAfter         = time.Minute
)

// stopTimeout bounds how long stopping one relay may take: its batch in
// flight, its last checkpoint and the lease release.
const stopTimeout = 30 * time.Second

// Options configures a Worker.
type Options struct {
	// ID names this worker in statuses and is its relays' lease holder id;
	// it must be unique among the processes sharing the store.
	ID string
	// Store keeps the registrations.
	Store Store
	// Client is the MongoDB (or embedded) store the relays follow.
	Client *mongotx.Client
	// Policy decides which databases registrations may follow; every
	// registration is checked against it when stored and when started.
	// The zero Policy allows none.
	Policy Policy
	// LeaseTTL is the relays' lease TTL (relay.Options.LeaseTTL).
	LeaseTTL time.Duration
	// Probe checks cheaply whether Kafka answers (relay.Options.Probe);
	// nil: the relays retry failed batches after their backoff only.
	Probe func(context.Context) error
	// FailAfter is how long a task may keep failing (store or Kafka errors
	// without a recovery) before its status says FAILED.
	FailAfter time.Duration
	// ReconcileInterval is how often the store is read for registrations
	// changed by other workers.
	ReconcileInterval time.Duration
	// Log receives the worker's and its relays' logs.
	Log *slog.Logger
}

// Worker runs the registered connectors. Create it with New, start Run,
// and hand it the producer with SetProducer once Kafka answers.
type Worker struct {
	opts    Options
	log     *slog.Logger
	started time.Time

	base    context.Context // parent of every relay's context
	stopAll context.CancelFunc
	kick    chan struct{}

	// reconcileMu serialises changes to runs (reconcile, restart, stop).
	reconcileMu sync.Mutex

	mu       sync.Mutex
	producer sarama.SyncProducer
	runs     map[string]*run
	broken   map[string]string // connector -> last start error logged
}

// run is one connector being relayed: one task per database.
type run struct {
	connector Connector
	config    relay.Config
	tasks     []*task
}

// task is one database's relay.
type task struct {
	database string
	relay    *relay.Relay
	cancel   context.CancelFunc
	done     chan struct{}
}

// New returns a worker; it starts nothing.
func New(opts Options) (*Worker, error) {
	if opts.ID == "" || opts.Store == nil || opts.Client == nil {
		return nil, errors.New("worker: id, store and client are required")
	}
	if opts.FailAfter <= 0 {
		opts.FailAfter = DefaultFailAfter
	}
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = DefaultReconcileInterval
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	base, stopAll := context.WithCancel(context.Background())
	return &Worker{
		opts:    opts,
		log:     opts.Log,
		started: time.Now(),
		base:    base,
		stopAll: stopAll,
		kick:    make(chan struct{}, 1),
		runs:    map[string]*run{},
		broken:  map[string]string{},
	}, nil
}

// ID returns the worker id.
func (w *Worker) ID() string { return w.opts.ID }

// SetProducer hands over the producer every relay shares and starts the
// registered connectors. The worker does not close it.
func (w *Worker) SetProducer(p sarama.SyncProducer) {
	w.mu.Lock()
	w.producer = p
	w.mu.Unlock()
	w.poke()
}

func (w *Worker) poke() {
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// Run keeps the running relays in line with the store until ctx ends, then
// stops them all (each releases its lease).
func (w *Worker) Run(ctx context.Context) error {
	t := time.NewTicker(w.opts.ReconcileInterval)
	defer t.Stop()
	for {
		if err := w.reconcile(ctx); err != nil && ctx.Err() == nil {
			w.log.Warn("worker: cannot read the registered connectors; retrying", "err", err, "every", w.opts.ReconcileInterval)
		}
		select {
		case <-ctx.Done():
			w.stop()
			return nil
		case <-t.C:
		case <-w.kick:
		}
	}
}

// stop stops every relay, waiting for each to release its lease.
func (w *Worker) stop() {
	w.reconcileMu.Lock()
	defer w.reconcileMu.Unlock()
	w.stopAll()
	w.mu.Lock()
	runs := w.runs
	w.runs = map[string]*run{}
	w.mu.Unlock()
	for _, r := range runs {
		w.stopRun(r)
	}
}

// reconcile starts the registered connectors that do not run, restarts
// those whose configuration changed and stops those no longer registered.
func (w *Worker) reconcile(ctx context.Context) error {
	w.reconcileMu.Lock()
	defer w.reconcileMu.Unlock()
	if w.base.Err() != nil {
		return nil
	}
	stored, err := w.opts.Store.List(ctx)
	if err != nil {
		return err
	}
	want := make(map[string]Connector, len(stored))
	for _, c := range stored {
		want[c.Name] = c
	}
	w.mu.Lock()
	producer := w.producer
	var stale []*run
	for name, r := range w.runs {
		if c, ok := want[name]; !ok || !maps.Equal(c.Config, r.connector.Config) {
			stale = append(stale, r)
			delete(w.runs, name)
		}
	}
	w.mu.Unlock()
	for _, r := range stale {
		w.log.Info("worker: stopping connector", "connector", r.connector.Name)
		w.stopRun(r)
	}
	if producer == nil {
		return nil // nothing runs before Kafka answered
	}
	for _, c := range stored {
		w.mu.Lock()
		_, running := w.runs[c.Name]
		w.mu.Unlock()
		if running {
			continue
		}
		r, err := w.startRun(c, producer)
		w.mu.Lock()
		if err != nil {
			// Only a registration written around Validate gets here:
			// by hand, by another version of outbox-relay, or under
			// another process's (or an earlier) Policy.
			if w.broken[c.Name] != err.Error() {
				w.log.Error("worker: connector not started", "connector", c.Name, "err", err)
				w.broken[c.Name] = err.Error()
			}
		} else {
			delete(w.broken, c.Name)
			w.runs[c.Name] = r
		}
		w.mu.Unlock()
	}
	return nil
}

func (w *Worker) startRun(c Connector, producer sarama.SyncProducer) (*run, error) {
	cfg, err := w.opts.Policy.Validate(c)
	if err != nil {
		return nil, err
	}
	r := &run{connector: c, config: cfg}
	for _, db := range cfg.Databases {
		t, err := w.startTask(cfg, db, producer)
		if err != nil {
			w.stopRun(r)
			return nil, err
		}
		r.tasks = append(r.tasks, t)
	}
	w.log.Info("worker: connector started", "connector", c.Name, "databases", cfg.Databases)
	return r, nil
}

func (w *Worker) startTask(cfg relay.Config, database string, producer sarama.SyncProducer) (*task, error) {
	rel, err := relay.New(w.opts.Client, relay.Options{
		Config:   cfg,
		Database: database,
		Producer: producer,
		Holder:   w.opts.ID,
		LeaseTTL: w.opts.LeaseTTL,
		Probe:    w.opts.Probe,
		Log:      w.log.With("connector", cfg.Name),
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(w.base)
	t := &task{database: database, relay: rel, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		if err := rel.Run(ctx); err != nil {
			w.log.Error("worker: relay stopped", "connector", cfg.Name, "database", database, "err", err)
		}
	}()
	return t, nil
}

func (w *Worker) stopRun(r *run) {
	for _, t := range r.tasks {
		t.cancel()
	}
	for _, t := range r.tasks {
		w.waitTask(r.connector.Name, t)
	}
}

func (w *Worker) waitTask(name string, t *task) {
	select {
	case <-t.done:
	case <-time.After(stopTimeout):
		w.log.Error("worker: relay did not stop in time; its lease expires on its own", "connector", name, "database", t.database, "waited", stopTimeout)
	}
}

// Put validates and stores a registration, then starts (or restarts) it
// on this worker; other workers pick it up within ReconcileInterval. A
// missing "name" setting is set to name, as Connect does.
func (w *Worker) Put(ctx context.Context, name string, config map[string]string) (Connector, bool, error) {
	c := Connector{Name: name, Config: maps.Clone(config)}
	if c.Config == nil {
		c.Config = map[string]string{}
	}
	if _, ok := c.Config["name"]; !ok {
		c.Config["name"] = name
	}
	if _, err := w.opts.Policy.Validate(c); err != nil {
		return Connector{}, false, err
	}
	created, err := w.opts.Store.Put(ctx, c)
	if err != nil {
		return Connector{}, false, err
	}
	if created {
		w.log.Info("worker: connector created", "connector", name)
	} else {
		w.log.Info("worker: connector configuration updated", "connector", name)
	}
	if err := w.reconcile(ctx); err != nil {
		w.log.Warn("worker: connector stored but not started yet", "connector", name, "err", err)
	}
	return c, created, nil
}

// Get returns a registration or ErrNotFound.
func (w *Worker) Get(ctx context.Context, name string) (Connector, error) {
	return w.opts.Store.Get(ctx, name)
}

// List returns every registration, sorted by name.
func (w *Worker) List(ctx context.Context) ([]Connector, error) {
	return w.opts.Store.List(ctx)
}

// Delete removes a registration and stops its relays here (releasing
// their leases); other workers stop theirs within ReconcileInterval. The
// stored positions stay, like Connect's offsets: registering the same name
// again resumes where it stopped.
func (w *Worker) Delete(ctx context.Context, name string) error {
	if err := w.opts.Store.Delete(ctx, name); err != nil {
		return err
	}
	w.log.Info("worker: connector deleted", "connector", name)
	if err := w.reconcile(ctx); err != nil {
		w.log.Warn("worker: connector deleted but its relays not stopped yet", "connector", name, "err", err)
	}
	return nil
}

// Restart restarts the connector's relays on this worker: all of them, or
// with onlyFailed those whose status is FAILED. It returns the restarted
// task ids. A restarted relay starts over: it waits for its lease and
// resumes from the stored position.
func (w *Worker) Restart(ctx context.Context, name string, onlyFailed bool) ([]int, error) {
	if _, err := w.opts.Store.Get(ctx, name); err != nil {
		return nil, err
	}
	w.reconcileMu.Lock()
	defer w.reconcileMu.Unlock()
	w.mu.Lock()
	r := w.runs[name]
	producer := w.producer
	w.mu.Unlock()
	if r == nil {
		return nil, nil // not running here yet: nothing to restart
	}
	var restarted []int
	for i, t := range r.tasks {
		if onlyFailed && w.taskStatus(t).State != StateFailed {
			continue
		}
		t.cancel()
		w.waitTask(name, t)
		nt, err := w.startTask(r.config, t.database, producer)
		if err != nil {
			return restarted, fmt.Errorf("restart task %d: %w", i, err)
		}
		w.mu.Lock()
		r.tasks[i] = nt
		w.mu.Unlock()
		restarted = append(restarted, i)
	}
	w.log.Info("worker: connector restarted", "connector", name, "tasks", restarted)
	return restarted, nil
}

// State is the state of a connector or of one of its tasks, as Connect
// reports it.
type State struct {
	State    string
	WorkerID string
	// Trace explains a FAILED state.
	Trace string
}

// TaskState is one task's State: ID is the database's index in
// database.include.list.
type TaskState struct {
	ID       int
	Database string
	State
}

// Status is a connector's status as this worker sees it.
type Status struct {
	Name      string
	Connector State
	Tasks     []TaskState
}

// Status reports a registered connector's state: the connector is RUNNING
// on this worker; each task (database) is
//
//   - RUNNING on the worker holding its lease: this one while it relays,
//     or the holder its relay saw last while it waits as a standby;
//   - FAILED, with a trace, when its relay here has kept failing (store or
//     Kafka errors without a recovery) for longer than FailAfter, or when
//     Kafka has not answered for that long since the worker started;
//   - UNASSIGNED otherwise: not started here yet (Kafka has not answered),
//     or nobody holds the lease at the moment.
func (w *Worker) Status(ctx context.Context, name string) (Status, error) {
	c, err := w.opts.Store.Get(ctx, name)
	if err != nil {
		return Status{}, err
	}
	st := Status{Name: name, Connector: State{State: StateRunning, WorkerID: w.opts.ID}}
	cfg, verr := w.opts.Policy.Validate(c)
	if verr != nil {
		st.Connector = State{State: StateFailed, WorkerID: w.opts.ID, Trace: verr.Error()}
		return st, nil
	}
	w.mu.Lock()
	var tasks []*task
	if r := w.runs[name]; r != nil && slices.Equal(r.config.Databases, cfg.Databases) {
		tasks = slices.Clone(r.tasks)
	}
	producerReady := w.producer != nil
	w.mu.Unlock()
	for i, db := range cfg.Databases {
		ts := TaskState{ID: i, Database: db}
		switch {
		case tasks != nil:
			ts.State = w.taskStatus(tasks[i])
		case !producerReady && time.Since(w.started) > w.opts.FailAfter:
			ts.State = State{State: StateFailed, WorkerID: w.opts.ID, Trace: fmt.Sprintf(
				"no Kafka producer: the brokers have not answered since the worker started at %s (see the worker's log)",
				w.started.UTC().Format(time.RFC3339))}
		default:
			ts.State = State{State: StateUnassigned, WorkerID: w.opts.ID}
		}
		st.Tasks = append(st.Tasks, ts)
	}
	return st, nil
}

// taskStatus derives a running task's state from its relay's Stats.
func (w *Worker) taskStatus(t *task) State {
	s := t.relay.Stats()
	switch {
	case !s.FailingSince.IsZero() && time.Since(s.FailingSince) > w.opts.FailAfter:
		return State{State: StateFailed, WorkerID: w.opts.ID, Trace: fmt.Sprintf(
			"outbox relay of database %s failing since %s: %s",
			t.database, s.FailingSince.UTC().Format(time.RFC3339), s.LastError)}
	case s.Leader:
		return State{State: StateRunning, WorkerID: w.opts.ID}
	case s.Holder != "":
		return State{State: StateRunning, WorkerID: s.Holder}
	default:
		return State{State: StateUnassigned, WorkerID: w.opts.ID}
	}
}

// RunningRelay is one relay the worker runs: a task of a connector.
type RunningRelay struct {
	Connector string
	Database  string
	Relay     *relay.Relay
}

// Relays lists the relays running now, for metrics read at scrape time.
func (w *Worker) Relays() []RunningRelay {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []RunningRelay
	for _, name := range slices.Sorted(maps.Keys(w.runs)) {
		for _, t := range w.runs[name].tasks {
			out = append(out, RunningRelay{Connector: name, Database: t.database, Relay: t.relay})
		}
	}
	return out
}
