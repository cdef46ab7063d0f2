// Command kafka-inspect prints the topics, partition offsets, consumer-group
// lag and last records of a Kafka cluster as aligned, greppable tables: a
// terminal replacement for Kafka-UI that works against devkafka and any Kafka.
// It also lists the dead-letter topic's records and replays them to their
// original topics (package ops/deadletter): that is the only command that
// writes. Run `kafka-inspect -h` for usage.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err == nil {
		return
	}
	fmt.Fprintf(os.Stderr, "kafka-inspect: %v\n", err)
	var uerr *usageError
	if errors.As(err, &uerr) {
		os.Exit(2)
	}
	os.Exit(1)
}

func run(ctx context.Context) error {
	cmd, err := parseCommand(os.Args[1:], os.Getenv)
	if err != nil {
		return err
	}
	return cmd.exec(ctx, os.Stdout, os.Stderr)
}
