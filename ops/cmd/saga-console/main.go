// Command saga-console is the operators' web console of the registration
// saga: Kafka's topics, groups and records, the registrations and one
// customer's timeline across both services and Kafka, the dead-letter topic
// with replay, and the relays. `saga-console timeline CUSTOMER_ID` prints
// that timeline as a table and exits. See the README's "Console" section.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/lifecycle"
	"github.com/sagaoutbox/platform/ops/console"
	"github.com/sagaoutbox/platform/ops/kafkaview"
	"github.com/sagaoutbox/platform/ops/timeline"
)

const name = "saga-console"

const usage = `saga-console: the operators' console of the registration saga.

Usage:
  saga-console                        serve the console (CONSOLE_ADDR, default 127.0.0.1:9080)
  saga-console timeline CUSTOMER_ID   print the customer's merged timeline and exit
  saga-console -h

Environment: CONSOLE_ADDR, KAFKA_BROKERS, CUSTOMER_URL, PAYMENT_URL,
CONSOLE_ALLOW_WRITE, DLT_TOPIC, CONSUMED_EVENTS_RETENTION,
CONSOLE_UPSTREAM_TIMEOUT, CONSOLE_SCAN_LIMIT, LOG_LEVEL (see the README).
`

// errUsage is a command line saga-console does not understand (exit 2).
var errUsage = errors.New("usage")

// shutdownTimeout bounds the shutdown: requests in flight get that long.
const shutdownTimeout = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, errUsage):
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	case err != nil:
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
}

// run builds the console's parts in order and serves until ctx ends, or
// runs the timeline command.
func run(ctx context.Context, args []string, lookup func(string) (string, bool), stdout, stderr io.Writer) error {
	var customerID string
	switch {
	case len(args) == 0:
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help"):
		_, err := fmt.Fprint(stdout, usage)
		return err
	case len(args) == 2 && args[0] == "timeline" && args[1] != "":
		customerID = args[1]
	default:
		return errUsage
	}

	// -------------------------------------------------------------------------
	// Configuration

	env := envconfig.New(lookup)
	cfg := console.LoadConfig(env)
	if err := env.Err(); err != nil {
		return fmt.Errorf("bad configuration:\n%w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))

	// -------------------------------------------------------------------------
	// Kafka, dialed on first use; the services; the timeline over both

	kafka := console.NewKafkaConn(kafkaview.Config{Brokers: cfg.Brokers, Timeout: cfg.UpstreamTimeout, ClientID: name})
	defer kafka.Close()
	customer := console.NewService("customer-service", cfg.CustomerURL, "/customer-service", cfg.UpstreamTimeout)
	payment := console.NewService("payment-service", cfg.PaymentURL, "/payment-service", cfg.UpstreamTimeout)
	timelines := timeline.Builder{
		Sources:     []timeline.Source{customer.Source(), payment.Source()},
		Kafka:       kafka,
		DeadLetters: console.DeadLetters(kafka, cfg.DLTTopic, cfg.ScanLimit),
		ScanLimit:   cfg.ScanLimit,
		Log:         log,
	}

	if customerID != "" {
		return printTimeline(ctx, timelines, customerID, 3*cfg.UpstreamTimeout, stdout)
	}

	// -------------------------------------------------------------------------
	// HTTP: the page and its API

	log.Info("starting", "config", cfg)
	srv := console.New(cfg, console.Deps{Kafka: kafka, Customer: customer, Payment: payment, Timelines: timelines}, log)
	if err := srv.Listen(); err != nil {
		return err
	}

	// -------------------------------------------------------------------------
	// Serve until a signal or a failure; Kafka closes last (deferred)

	g := lifecycle.Group{Timeout: shutdownTimeout, Log: log}
	g.Add("http", srv.Run, srv.Shutdown)
	return g.Run(ctx)
}

// printTimeline is `saga-console timeline ID`: the timeline as a table.
func printTimeline(ctx context.Context, b timeline.Builder, id string, timeout time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tl, err := b.Build(ctx, id)
	if err != nil {
		return err
	}
	return timeline.Write(stdout, tl)
}
