// Command payment-service decides the authorization fee of customer
// registrations and reverts it for registrations that dead-locked. See the
// README for its configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/lifecycle"
	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/payment/internal/messaging"
	"github.com/sagaoutbox/platform/payment/internal/mongostore"
	"github.com/sagaoutbox/platform/payment/internal/payment"
	"github.com/sagaoutbox/platform/payment/internal/sagametrics"
	"github.com/sagaoutbox/platform/payment/internal/web"
)

const name = "payment-service"

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
	cfg := app.LoadConfig(env, name, "127.0.0.1:9991", messaging.Interesting)
	fee := envconfig.Value(env, "AUTHORIZATION_FEE", "2", parseFee)
	payee := payment.Payee{
		Name:        env.String("COMPANY_NAME", "SOME-COMPANY"),
		BankAccount: env.String("COMPANY_BANK_ACCOUNT", "1234 5678 9101 1121"),
		BankName:    env.String("COMPANY_BANK_NAME", "SOME-BANK"),
	}
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
	log.Info("payment settings", "AUTHORIZATION_FEE", fee.String(), "COMPANY_NAME", payee.Name, "COMPANY_BANK_NAME", payee.BankName)
	spec := app.Spec{
		Config:    cfg,
		Database:  mongostore.Database,
		BasePath:  web.BasePath,
		Group:     "paymentConsumerGroup1",
		Consume:   []string{customerevents.Topic},
		Produce:   []string{paymentevents.Topic},
		Connector: debezium.Connector,
		Metrics:   metrics.New(), // served at GET /metrics
	}

	// -------------------------------------------------------------------------
	// Store: payments, their outbox and the consumed-events inbox

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
	// Core, on the store counting the decisions

	counted, err := sagametrics.New(store, spec.Metrics)
	if err != nil {
		return err
	}
	svc := payment.NewService(counted, fee, payee, mongotx.Now, uuid.NewString)

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
	// Jobs: the retention cleanups

	sched, err := app.NewJobs(cfg, in, out, rel, log)
	if err != nil {
		return err
	}

	// -------------------------------------------------------------------------
	// HTTP: the payment API, /health, /outbox and /metrics; it answers while Kafka is
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

func parseFee(s string) (money.Cents, error) {
	c, err := money.Parse(s)
	if err == nil && c <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return c, err
}
