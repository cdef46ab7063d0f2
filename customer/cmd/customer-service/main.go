// Command customer-service registers customers: it starts the registration
// saga, follows payment-service's answers and fails registrations that
// dead-locked. See the README for its configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/lifecycle"
	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/messaging"
	"github.com/sagaoutbox/platform/customer/internal/mongostore"
	"github.com/sagaoutbox/platform/customer/internal/sagametrics"
	"github.com/sagaoutbox/platform/customer/internal/web"
	"github.com/sagaoutbox/platform/debezium"
)

const name = "customer-service"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// run builds the service's parts in order and runs them until ctx ends or
// one fails; they stop in the reverse order.
func run(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) error {
	// -------------------------------------------------------------------------
	// Configuration

	env := envconfig.New(lookup)
	cfg := app.LoadConfig(env, name, "127.0.0.1:9990", messaging.Interesting)
	deadLockTimeout := env.Duration("DEADLOCK_TIMEOUT", 5*time.Minute)
	deadLockCheck := env.Duration("DEADLOCK_CHECK_INTERVAL", 50*time.Second)
	if err := env.Err(); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	log := app.NewLogger(cfg, stderr)
	log.Info("starting", "config", cfg)
	stopTracing, err := app.StartTracing(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopTracing() // last: the spans of the shutdown are flushed too
	log.Info("saga settings", "DEADLOCK_TIMEOUT", deadLockTimeout, "DEADLOCK_CHECK_INTERVAL", deadLockCheck)
	spec := app.Spec{
		Config:    cfg,
		Database:  mongostore.Database,
		BasePath:  web.BasePath,
		Group:     "customerConsumerGroup1",
		Consume:   []string{paymentevents.Topic},
		Produce:   []string{customerevents.Topic},
		Connector: debezium.Connector,
		MapError:  web.MapError,
		Metrics:   metrics.New(), // served at GET /metrics
	}

	// -------------------------------------------------------------------------
	// Store: customers, their outbox and the consumed-events inbox

	client, err := app.OpenStore(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer app.CloseStore(client, log)
	db := client.Database(spec.Database)
	in, out := inbox.Open(db), outbox.Open(db, mongostore.OutboxCollection)
	store := mongostore.New(client, db)
	if err := in.EnsureIndexes(ctx); err != nil {
		return err
	}
	if err := store.EnsureIndexes(ctx); err != nil {
		return err
	}

	// -------------------------------------------------------------------------
	// Core, on the store counting the saga's steps

	counted, err := sagametrics.New(store, spec.Metrics, store.CountPending)
	if err != nil {
		return err
	}
	svc := customer.NewService(counted, deadLockTimeout, mongotx.Now, uuid.NewString)

	// -------------------------------------------------------------------------
	// Kafka: the producer, connected once the broker answers; the relay and
	// the consumers wait for it

	producer := app.NewProducer(spec, log)
	var rel *app.Relay // none with OUTBOX_RELAY=off: Debezium relays the outbox
	if cfg.Relay == app.RelayEmbedded {
		if rel, err = app.NewRelay(spec, client, producer, log); err != nil {
			return err
		}
	}
	consumers, err := app.NewConsumers(spec, client, producer, messaging.New(svc, in, client, log).Routes(), log)
	if err != nil {
		return err
	}

	// -------------------------------------------------------------------------
	// Jobs: the retention cleanups and the dead-lock detection

	sched, err := app.NewJobs(cfg, in, out, rel, log)
	if err != nil {
		return err
	}
	sched.Every("dead-lock-detection", deadLockCheck, func(ctx context.Context) error {
		n, err := svc.DetectDeadLocks(ctx)
		if n > 0 {
			log.Warn("registration dead-locks failed", "count", n, "timeout", deadLockTimeout)
		}
		return err
	})

	// -------------------------------------------------------------------------
	// HTTP: the customer API, /health, /outbox and /metrics; it answers while Kafka is
	// still awaited

	api := app.NewAPI(spec, client, out, rel, consumers, log)
	web.Routes(api.Group, svc, app.Timeline{Service: name, Outbox: out, Inbox: in, Retention: cfg.Retention()})
	if err := api.Listen(); err != nil {
		return err
	}

	// -------------------------------------------------------------------------
	// Run until a signal or the first failure, then stop in reverse: HTTP,
	// consumers, jobs, relay, producer; the store closes last (deferred)

	g := lifecycle.Group{Timeout: cfg.ShutdownTimeout, Log: log}
	g.Add("producer", producer.Run, nil)
	if rel != nil {
		g.Add("relay", rel.Run, nil)
	}
	g.Add("jobs", sched.Run, sched.Stop)
	g.Add("consumers", consumers.Run, nil)
	g.Add("http", api.Run, api.Shutdown)
	return g.Run(ctx)
}
