// Command customer-service registers customers: it starts the registration
// saga, follows payment-service's answers and fails registrations that
// dead-locked. See the README for its configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/jobs"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/messaging"
	"github.com/sagaoutbox/platform/customer/internal/mongostore"
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

func run(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) error {
	env := envconfig.New(lookup)
	cfg := app.LoadConfig(env, name, "127.0.0.1:9990", messaging.Interesting)
	deadLockTimeout := env.Duration("DEADLOCK_TIMEOUT", 5*time.Minute)
	deadLockCheck := env.Duration("DEADLOCK_CHECK_INTERVAL", 50*time.Second)
	if err := env.Err(); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("saga settings", "DEADLOCK_TIMEOUT", deadLockTimeout, "DEADLOCK_CHECK_INTERVAL", deadLockCheck)

	spec := app.Spec{
		Config:           cfg,
		Database:         mongostore.Database,
		OutboxCollection: mongostore.OutboxCollection,
		BasePath:         web.BasePath,
		Group:            "customerConsumerGroup1",
		Consume:          []string{paymentevents.Topic},
		Produce:          []string{customerevents.Topic},
		Connector:        debezium.Connector,
		MapError:         web.MapError,
		Build: func(d app.Deps) (app.Parts, error) {
			store := mongostore.New(d.Store, d.DB)
			svc := customer.NewService(store, mongotx.Now, uuid.NewString)
			return app.Parts{
				EnsureIndexes: store.EnsureIndexes,
				Routes:        func(g *echo.Group) { web.Routes(g, svc) },
				Handlers:      messaging.New(svc, d.Inbox, d.Store, d.Log).Routes(),
				Jobs: func(s *jobs.Scheduler) error {
					s.Every("dead-lock-detection", deadLockCheck, func(ctx context.Context) error {
						n, err := svc.DetectDeadLocks(ctx, deadLockTimeout)
						if n > 0 {
							d.Log.Warn("registration dead-locks failed", "count", n, "timeout", deadLockTimeout)
						}
						return err
					})
					return nil
				},
			}, nil
		},
	}
	return app.Run(ctx, spec, log)
}
