// Command payment-service decides the authorization fee of customer
// registrations and reverts it for registrations that dead-locked. See the
// README for its configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/money"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/payment/internal/messaging"
	"github.com/sagaoutbox/platform/payment/internal/mongostore"
	"github.com/sagaoutbox/platform/payment/internal/payment"
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

func run(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) error {
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
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("payment settings", "AUTHORIZATION_FEE", fee.String(), "COMPANY_NAME", payee.Name, "COMPANY_BANK_NAME", payee.BankName)

	spec := app.Spec{
		Config:           cfg,
		Database:         mongostore.Database,
		OutboxCollection: mongostore.OutboxCollection,
		BasePath:         web.BasePath,
		Group:            "paymentConsumerGroup1",
		Consume:          []string{customerevents.Topic},
		Produce:          []string{paymentevents.Topic},
		Connector:        debezium.Connector,
		Build: func(d app.Deps) (app.Parts, error) {
			store := mongostore.New(d.Store, d.DB)
			svc := payment.NewService(store, fee, payee, mongotx.Now, uuid.NewString)
			return app.Parts{
				EnsureIndexes: store.EnsureIndexes,
				Routes:        func(g *echo.Group) { web.Routes(g, svc) },
				Handlers:      messaging.New(svc, d.Inbox, d.Store, d.Log).Routes(),
			}, nil
		},
	}
	return app.Run(ctx, spec, log)
}

func parseFee(s string) (money.Cents, error) {
	c, err := money.Parse(s)
	if err == nil && c <= 0 {
		err = fmt.Errorf("must be positive")
	}
	return c, err
}
