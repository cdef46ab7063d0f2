package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/devkafka/internal/inspect"
)

// defaultBrokers is used when neither -b nor KAFKA_BROKERS is set: devkafka's default address.
const defaultBrokers = "localhost:9093"

const usage = `kafka-inspect: look at the topics, records and consumer groups of a Kafka
cluster (devkafka or any Kafka speaking protocol 3.x) without Kafka-UI. Read-only.

Usage:
  kafka-inspect [-b brokers] [-timeout 5s] [-v] topics [-all]
  kafka-inspect [-b brokers] [-timeout 5s] [-v] tail [-n 10] [-p partition] [-pretty] TOPIC
  kafka-inspect [-b brokers] [-timeout 5s] [-v] groups [-all]
  kafka-inspect -h

Commands:
  topics  one row per partition: OLDEST (log start offset), NEWEST (high
          watermark: the offset the next record gets) and MESSAGES
          (NEWEST-OLDEST); then every consumer group's COMMITTED offset per
          partition with NEWEST and LAG (NEWEST-COMMITTED)
  tail    the last N records of TOPIC, oldest first: merged across partitions
          by timestamp, or of one partition by offset with -p; columns
          PARTITION OFFSET TIMESTAMP (RFC 3339, UTC, ms) KEY HEADERS (k=v in
          record order) VALUE (raw bytes)
  groups  consumer groups with STATE, PROTOCOL and MEMBERS; then their
          committed offsets and lag as in topics

Flags (before or after the command):
  -b brokers   comma-separated host:port list
               (default $KAFKA_BROKERS, else localhost:9093)
  -timeout d   give up on an unreachable broker or a slow answer after d (default 5s)
  -v           print the effective settings and sarama's log to stderr
  -all         topics, groups: include internal topics (names starting with "__")
  -n N         tail: how many records (default 10)
  -p P         tail: only partition P (default: all partitions)
  -pretty      tail: indent values that are JSON

Keys, header values and values are printed as they are when they are printable
UTF-8, Go-quoted otherwise (so each record stays on one line); <null> is a null
key or value, "-" an empty HEADERS cell. Columns are separated by 2+ spaces.

Exit status: 0 on success, 1 on failure (broker unreachable, unknown topic),
2 on a usage error.

Examples:
  kafka-inspect topics
  kafka-inspect -b 127.0.0.1:9093 tail -n 5 -pretty outbox.event.customer
  kafka-inspect tail -n 100 outbox.event.customer | grep eventType=CustomerPendingRegistrationEvent
`

// usageError is a bad command line; main exits with status 2 for it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg + " (see kafka-inspect -h)" }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// options are the flags every command accepts.
type options struct {
	brokers string
	timeout time.Duration
	verbose bool
}

// command is a parsed command line.
type command struct {
	name      string // help, topics, tail, groups
	opts      options
	brokers   []string
	all       bool
	n         int
	partition int
	pretty    bool
	topic     string
}

// parseCommand parses the arguments (without the program name). envBrokers is
// $KAFKA_BROKERS, the default for -b.
func parseCommand(args []string, envBrokers string) (command, error) {
	opts := options{brokers: defaultBrokers, timeout: 5 * time.Second}
	if envBrokers != "" {
		opts.brokers = envBrokers
	}
	fs := newFlagSet("kafka-inspect", &opts)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return command{name: "help"}, nil
		}
		return command{}, usageErrorf("%v", err)
	}
	if fs.NArg() == 0 {
		return command{}, usageErrorf("missing command: topics, tail or groups")
	}

	cmd := command{name: fs.Arg(0), n: 10, partition: -1}
	sub := newFlagSet(cmd.name, &opts)
	switch cmd.name {
	case "help":
		return command{name: "help"}, nil
	case "topics", "groups":
		sub.BoolVar(&cmd.all, "all", false, "")
	case "tail":
		sub.IntVar(&cmd.n, "n", cmd.n, "")
		sub.IntVar(&cmd.partition, "p", cmd.partition, "")
		sub.BoolVar(&cmd.pretty, "pretty", false, "")
	default:
		return command{}, usageErrorf("unknown command %q: want topics, tail or groups", cmd.name)
	}
	positional, err := parseInterspersed(sub, fs.Args()[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return command{name: "help"}, nil
		}
		return command{}, usageErrorf("%s: %v", cmd.name, err)
	}

	switch cmd.name {
	case "tail":
		if len(positional) != 1 {
			return command{}, usageErrorf("tail: want exactly one TOPIC, got %d arguments", len(positional))
		}
		cmd.topic = positional[0]
		if cmd.n < 1 {
			return command{}, usageErrorf("tail: -n must be at least 1, got %d", cmd.n)
		}
		if cmd.partition < -1 {
			return command{}, usageErrorf("tail: -p must be a partition number, got %d", cmd.partition)
		}
	default:
		if len(positional) > 0 {
			return command{}, usageErrorf("%s takes no arguments, got %q", cmd.name, positional)
		}
	}

	if opts.timeout <= 0 {
		return command{}, usageErrorf("-timeout must be positive, got %s", opts.timeout)
	}
	brokers, err := parseBrokers(opts.brokers)
	if err != nil {
		source := "-b"
		if envBrokers != "" && opts.brokers == envBrokers {
			source = "KAFKA_BROKERS"
		}
		return command{}, usageErrorf("%s=%q: %v", source, opts.brokers, err)
	}
	cmd.opts, cmd.brokers = opts, brokers
	return cmd, nil
}

func newFlagSet(name string, opts *options) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&opts.brokers, "b", opts.brokers, "")
	fs.DurationVar(&opts.timeout, "timeout", opts.timeout, "")
	fs.BoolVar(&opts.verbose, "v", opts.verbose, "")
	return fs
}

// parseInterspersed parses flags that may come after positional arguments
// (tail TOPIC -n 5), as the flag package stops at the first non-flag.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return positional, nil
		}
		positional = append(positional, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// parseBrokers splits a comma-separated host:port list.
func parseBrokers(s string) ([]string, error) {
	var out []string
	for _, b := range strings.Split(s, ",") {
		b = strings.TrimSpace(b)
		if b == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(b); err != nil {
			return nil, fmt.Errorf("%q is not host:port", b)
		}
		out = append(out, b)
	}
	if len(out) == 0 {
		return nil, errors.New("no broker addresses")
	}
	return out, nil
}

// exec runs the command, writing its output to stdout only once all of it is known.
func (c command) exec(ctx context.Context, stdout, stderr io.Writer) error {
	if c.name == "help" {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	cfg := inspect.Config{Brokers: c.brokers, Timeout: c.opts.timeout}
	if c.opts.verbose {
		fmt.Fprintf(stderr, "kafka-inspect: command=%s brokers=%s timeout=%s all=%t n=%d partition=%d pretty=%t topic=%q\n",
			c.name, strings.Join(c.brokers, ","), c.opts.timeout, c.all, c.n, c.partition, c.pretty, c.topic)
		cfg.Logger = log.New(stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	}
	client, err := inspect.Dial(ctx, cfg)
	if err != nil {
		return err
	}
	defer client.Close()

	var out bytes.Buffer
	switch c.name {
	case "topics":
		parts, err := client.Partitions(ctx, c.all)
		if err != nil {
			return err
		}
		offs, err := client.GroupOffsets(ctx, c.all)
		if err != nil {
			return err
		}
		if err := inspect.WriteTopics(&out, parts); err != nil {
			return err
		}
		out.WriteString("\n")
		if err := inspect.WriteGroupOffsets(&out, offs); err != nil {
			return err
		}
	case "groups":
		groups, err := client.Groups(ctx)
		if err != nil {
			return err
		}
		offs, err := client.GroupOffsets(ctx, c.all)
		if err != nil {
			return err
		}
		if err := inspect.WriteGroups(&out, groups); err != nil {
			return err
		}
		out.WriteString("\n")
		if err := inspect.WriteGroupOffsets(&out, offs); err != nil {
			return err
		}
	case "tail":
		recs, err := client.Tail(ctx, c.topic, c.n, int32(c.partition))
		if err != nil {
			return err
		}
		if err := inspect.WriteRecords(&out, recs, c.pretty); err != nil {
			return err
		}
	}
	_, err = out.WriteTo(stdout)
	return err
}
