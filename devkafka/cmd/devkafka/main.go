// Command devkafka is a development broker that speaks the Kafka wire protocol:
// franz-go's kfake with a data directory, so topics, records, committed offsets
// and consumer groups survive restarts. Any Kafka client (sarama, franz-go,
// librdkafka/kcat, Kafka-UI) can use it.
//
// devkafka is NOT for production and NOT a cluster: it is one node without
// replication, authentication or TLS; retention is not enforced unless a topic
// sets retention.ms or retention.bytes, so its data directory only grows; and
// its files are kfake's format, not Kafka's. See internal/broker for the
// details and the README for the crash (kill -9) behaviour.
//
// Configuration is read from the environment; run `devkafka -h` for the list.
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

	"github.com/sagaoutbox/platform/devkafka/internal/broker"
)

// shutdownTimeout bounds how long writing the state out on a signal may take.
const shutdownTimeout = 30 * time.Second

const usage = `devkafka: a development Kafka broker (franz-go kfake) whose topics, records,
committed offsets and consumer groups survive restarts. Single node, no auth,
not for production.

Usage:
  devkafka            run until SIGINT or SIGTERM, then write state and exit 0
  devkafka -h         show this help

Environment:
  DEVKAFKA_ADDR             host:port to bind and advertise (default 127.0.0.1:9093;
                            port 0 picks a free port)
  DEVKAFKA_ADVERTISED_ADDR  host:port told to clients, if not DEVKAFKA_ADDR
                            (needed when DEVKAFKA_ADDR is 0.0.0.0:port)
  DATA_DIR                  data root; the broker uses $DATA_DIR/kafka (default ./.data)
  DEVKAFKA_PARTITIONS       partitions of auto-created topics, 1-1000 (default 3)
  DEVKAFKA_SYNC_WRITES      fsync every batch: true|false (default false)
  LOG_LEVEL                 debug|info|warn|error (default info: kfake's own
                            warnings and errors; debug adds its detail lines)

Once it accepts connections it prints one line to stdout:
  devkafka listening on 127.0.0.1:9093 (data in .data/kafka)

Exit status: 0 after a clean shutdown, 1 on a runtime failure, 2 on bad
configuration or arguments.
`

func main() {
	err := run(context.Background())
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "devkafka: %v\n", err)
	var cerr *configError
	if errors.As(err, &cerr) || errors.Is(err, errUsage) {
		os.Exit(2)
	}
	os.Exit(1)
}

// errUsage marks bad command-line arguments.
var errUsage = errors.New("devkafka takes no arguments, only environment variables (see devkafka -h)")

func run(ctx context.Context) error {
	if help, err := parseArgs(os.Args[1:]); err != nil {
		return err
	} else if help {
		_, err := io.WriteString(os.Stdout, usage)
		return err
	}
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting devkafka", cfg.logAttrs()...)

	// Subscribe before starting so a signal during start-up is not lost.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	srv, err := broker.Start(broker.Config{
		Addr:           cfg.Addr,
		AdvertisedAddr: cfg.AdvertisedAddr,
		DataDir:        cfg.KafkaDir(),
		Partitions:     cfg.Partitions,
		SyncWrites:     cfg.SyncWrites,
		Logger:         log,
	})
	if err != nil {
		return fmt.Errorf("start broker: %w", err)
	}
	log.Info("broker ready", "advertised_addr", srv.Addr(), "bound_addr", srv.BoundAddr().String())
	fmt.Printf("devkafka listening on %s (data in %s)\n", srv.Addr(), cfg.KafkaDir())

	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case <-ctx.Done():
		log.Info("shutting down", "reason", context.Cause(ctx))
	}
	// A second signal gets the default behaviour: the process dies at once.
	signal.Stop(sigs)

	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	start := time.Now()
	if err := srv.Close(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	log.Info("stopped, state written and flushed", "data_dir", cfg.KafkaDir(), "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// parseArgs accepts only a request for help.
func parseArgs(args []string) (help bool, err error) {
	switch {
	case len(args) == 0:
		return false, nil
	case len(args) == 1 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help"):
		return true, nil
	default:
		return false, fmt.Errorf("%w: got %q", errUsage, args)
	}
}
