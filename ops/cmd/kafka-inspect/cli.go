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
	"slices"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/ops/deadletter"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// defaultBrokers is used when neither -b nor KAFKA_BROKERS is set: devkafka's default address.
const defaultBrokers = "localhost:9093"

const usage = `kafka-inspect: look at the topics, records and consumer groups of a Kafka
cluster (devkafka or any Kafka speaking protocol 3.x) without Kafka-UI, and
replay dead-lettered records. Only "dlt replay" writes (to the records'
original topics); every other command only reads.

Usage:
  kafka-inspect [-b brokers] [-timeout 5s] [-v] topics [-all]
  kafka-inspect [-b brokers] [-timeout 5s] [-v] tail [-n 10] [-p partition] [-pretty] TOPIC
  kafka-inspect [-b brokers] [-timeout 5s] [-v] groups [-all]
  kafka-inspect [-b brokers] [-timeout 5s] [-v] dlt [-topic DLT] [filters] [-n N]
  kafka-inspect [-b brokers] [-timeout 5s] [-v] dlt replay (-offset P:N[,...] | filters | -all)
                [-topic DLT] [-dry-run] [-force] [-retention D]
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
  dlt     the dead-lettered records matching the filters, by partition and
          offset; columns PARTITION OFFSET (on the dead-letter topic) AGE (of
          the event: since its original timestamp, else since it was
          dead-lettered) DEAD-LETTERED (when) ORIGINAL (topic/partition@offset
          it was consumed from) GROUP EVENT-TYPE ATTEMPTS ERROR
  dlt replay
          produces the chosen records again to their original topic, with
          their key, value and headers (less the dlt-* ones, plus
          dlt-replayed-from-offset and dlt-replayed-at), partitioned by key
          as the relays do; prints one line per record: REPLAYED (with where
          it went), WOULD REPLAY (-dry-run) or REFUSED (with why). A record
          whose age is -retention or more is refused unless -force: the
          consumers may no longer remember having consumed it. Refuses to
          run without -offset, a filter or -all

Flags (before or after the command):
  -b brokers   comma-separated host:port list
               (default $KAFKA_BROKERS, else localhost:9093)
  -timeout d   give up on an unreachable broker or a slow answer after d (default 5s)
  -v           print the effective settings and sarama's log to stderr
  -all         topics, groups: include internal topics (names starting with "__");
               dlt replay: replay every record of the dead-letter topic
  -n N         tail: how many records (default 10); dlt: only the newest N
               matches (default all)
  -p P         tail: only partition P (default: all partitions)
  -pretty      tail: indent values that are JSON
  -topic T     dlt: the dead-letter topic (default DLT)
  -offset L    dlt replay: the records at these dead-letter positions, a
               comma-separated list of PARTITION:OFFSET (1:7,0:3), or of
               OFFSET alone when the topic has one partition
  -dry-run     dlt replay: say what would be replayed, produce nothing
  -force       dlt replay: replay records older than -retention too
  -retention D dlt replay: the consumers' dedup retention
               (default $CONSUMED_EVENTS_RETENTION, else 168h)
Filters (dlt, dlt replay; they combine):
  -original-topic T  consumed from topic T
  -event-type E      with eventType header E
  -error TEXT        whose error contains TEXT (any case)
  -key K             with key K
  -older-than D      whose age is at least D (a Go duration: 90m, 48h)
  -newer-than D      whose age is under D

Keys, header values and values are printed as they are when they are printable
UTF-8, Go-quoted otherwise (so each record stays on one line); <null> is a null
key or value, "-" an empty cell. Columns are separated by 2+ spaces.

Exit status: 0 on success, 1 on failure (broker unreachable, unknown topic)
and when dlt replay refused a record, 2 on a usage error.

Examples:
  kafka-inspect topics
  kafka-inspect -b 127.0.0.1:9093 tail -n 5 -pretty outbox.event.customer
  kafka-inspect tail -n 100 outbox.event.customer | grep eventType=CustomerPendingRegistrationEvent
  kafka-inspect dlt -error "customer not found" -newer-than 24h
  kafka-inspect dlt replay -offset 1:7 -dry-run
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
	name      string // help, topics, tail, groups, dlt, dlt replay
	opts      options
	brokers   []string
	all       bool
	n         int
	partition int
	pretty    bool
	topic     string
	dlt       dltOptions
}

// dltOptions are the flags of dlt and dlt replay.
type dltOptions struct {
	filter    deadletter.Filter
	offsets   string // -offset as given, parsed into filter.Positions
	dryRun    bool
	force     bool
	retention time.Duration
}

// defaultRetention is -retention's default without CONSUMED_EVENTS_RETENTION:
// the services' default (commonlib/app LoadConfig).
const defaultRetention = 168 * time.Hour

// replayOnly are the flags only dlt replay takes, listOnly those only dlt takes.
var (
	replayOnly = []string{"offset", "dry-run", "force", "retention", "all"}
	listOnly   = []string{"n"}
)

// parseCommand parses the arguments (without the program name). getenv
// looks up KAFKA_BROKERS (the default for -b) and CONSUMED_EVENTS_RETENTION
// (for -retention).
func parseCommand(args []string, getenv func(string) string) (command, error) {
	envBrokers := getenv("KAFKA_BROKERS")
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
		return command{}, usageErrorf("missing command: topics, tail, groups or dlt")
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
	case "dlt":
		cmd.n, cmd.topic = 0, deadletter.Topic
		f := &cmd.dlt.filter
		sub.StringVar(&cmd.topic, "topic", cmd.topic, "")
		sub.StringVar(&f.OriginalTopic, "original-topic", "", "")
		sub.StringVar(&f.EventType, "event-type", "", "")
		sub.StringVar(&f.ErrorContains, "error", "", "")
		sub.StringVar(&f.Key, "key", "", "")
		sub.DurationVar(&f.OlderThan, "older-than", 0, "")
		sub.DurationVar(&f.NewerThan, "newer-than", 0, "")
		sub.IntVar(&cmd.n, "n", cmd.n, "")
		sub.StringVar(&cmd.dlt.offsets, "offset", "", "")
		sub.BoolVar(&cmd.dlt.dryRun, "dry-run", false, "")
		sub.BoolVar(&cmd.dlt.force, "force", false, "")
		sub.DurationVar(&cmd.dlt.retention, "retention", 0, "")
		sub.BoolVar(&cmd.all, "all", false, "")
	default:
		return command{}, usageErrorf("unknown command %q: want topics, tail, groups or dlt", cmd.name)
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
	case "dlt":
		if err := cmd.checkDLT(sub, positional, getenv); err != nil {
			return command{}, err
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

// checkDLT completes and checks the flags of dlt and dlt replay.
func (c *command) checkDLT(fs *flag.FlagSet, positional []string, getenv func(string) string) error {
	switch {
	case len(positional) == 1 && positional[0] == "replay":
		c.name = "dlt replay"
	case len(positional) > 0:
		return usageErrorf("dlt: want no argument or replay, got %q", positional)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	wrong, where := replayOnly, "dlt replay"
	if c.name == "dlt replay" {
		wrong, where = listOnly, "dlt (not dlt replay)"
	}
	for _, name := range wrong {
		if set[name] {
			return usageErrorf("%s: -%s only applies to %s", c.name, name, where)
		}
	}
	f := &c.dlt.filter
	switch {
	case c.topic == "":
		return usageErrorf("%s: -topic must not be empty", c.name)
	case f.OlderThan < 0 || f.NewerThan < 0:
		return usageErrorf("%s: -older-than and -newer-than must not be negative", c.name)
	case c.n < 0:
		return usageErrorf("dlt: -n must not be negative, got %d", c.n)
	}
	if c.dlt.offsets != "" {
		ps, err := deadletter.ParsePositions(c.dlt.offsets)
		if err != nil {
			return usageErrorf("%s: -offset: %v", c.name, err)
		}
		f.Positions = ps
	}
	if c.name != "dlt replay" {
		return nil
	}
	switch {
	case c.all && !f.IsZero():
		return usageErrorf("dlt replay: -all replays every record: it does not combine with -offset or filters")
	case !c.all && f.IsZero():
		return usageErrorf("dlt replay: name the records to replay: -offset, a filter (-original-topic, -event-type, -error, -key, -older-than, -newer-than), or -all for every record")
	}
	if !set["retention"] {
		c.dlt.retention = defaultRetention
		if v := getenv("CONSUMED_EVENTS_RETENTION"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return usageErrorf("CONSUMED_EVENTS_RETENTION=%q: want a positive Go duration such as 168h", v)
			}
			c.dlt.retention = d
		}
	}
	if c.dlt.retention <= 0 {
		return usageErrorf("dlt replay: -retention must be positive, got %s", c.dlt.retention)
	}
	return nil
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

// exec runs the command, writing its output to stdout only once all of it is
// known (dlt replay writes what it did before an error, too).
func (c command) exec(ctx context.Context, stdout, stderr io.Writer) error {
	if c.name == "help" {
		_, err := io.WriteString(stdout, usage)
		return err
	}
	cfg := kafkaview.Config{Brokers: c.brokers, Timeout: c.opts.timeout, ClientID: "kafka-inspect"}
	if c.opts.verbose {
		fmt.Fprintf(stderr, "kafka-inspect: command=%s brokers=%s timeout=%s all=%t n=%d partition=%d pretty=%t topic=%q\n",
			c.name, strings.Join(c.brokers, ","), c.opts.timeout, c.all, c.n, c.partition, c.pretty, c.topic)
		if strings.HasPrefix(c.name, "dlt") {
			f := c.dlt.filter
			fmt.Fprintf(stderr, "kafka-inspect: original-topic=%q event-type=%q error=%q key=%q older-than=%s newer-than=%s offset=%q dry-run=%t force=%t retention=%s\n",
				f.OriginalTopic, f.EventType, f.ErrorContains, f.Key, f.OlderThan, f.NewerThan, c.dlt.offsets, c.dlt.dryRun, c.dlt.force, c.dlt.retention)
		}
		cfg.Logger = log.New(stderr, "[sarama] ", log.LstdFlags|log.Lmicroseconds)
	}
	client, err := kafkaview.Dial(ctx, cfg)
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
		if err := kafkaview.WriteTopics(&out, parts); err != nil {
			return err
		}
		out.WriteString("\n")
		if err := kafkaview.WriteGroupOffsets(&out, offs); err != nil {
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
		if err := kafkaview.WriteGroups(&out, groups); err != nil {
			return err
		}
		out.WriteString("\n")
		if err := kafkaview.WriteGroupOffsets(&out, offs); err != nil {
			return err
		}
	case "tail":
		recs, err := client.Tail(ctx, c.topic, c.n, int32(c.partition))
		if err != nil {
			return err
		}
		if err := kafkaview.WriteRecords(&out, recs, c.pretty); err != nil {
			return err
		}
	case "dlt":
		now := time.Now()
		recs, err := deadletter.List(ctx, client, c.topic, c.dlt.filter, now, c.n)
		if err != nil {
			return err
		}
		if err := deadletter.WriteRecords(&out, recs, now); err != nil {
			return err
		}
	case "dlt replay":
		err := c.replay(ctx, client, &out)
		if _, werr := out.WriteTo(stdout); werr != nil && err == nil {
			err = werr
		}
		return err
	}
	_, err = out.WriteTo(stdout)
	return err
}

// refusedError says dlt replay refused records; main exits 1 for it.
type refusedError struct{ refused, total int }

func (e *refusedError) Error() string {
	return fmt.Sprintf("dlt replay: %d of %d records refused", e.refused, e.total)
}

// replay runs dlt replay, writing a line per record to out.
func (c command) replay(ctx context.Context, client *kafkaview.Client, out io.Writer) error {
	f := c.dlt.filter
	parts, err := client.TopicPartitions(ctx, c.topic)
	if err != nil {
		return err
	}
	if len(parts) > 1 && hasBareOffset(c.dlt.offsets) {
		return usageErrorf("dlt replay: -offset %s: %s has %d partitions: name each record as PARTITION:OFFSET (see the PARTITION and OFFSET columns of kafka-inspect dlt)",
			c.dlt.offsets, c.topic, len(parts))
	}
	now := time.Now()
	recs, err := deadletter.List(ctx, client, c.topic, f, now, 0)
	if err != nil {
		return err
	}
	var missing []deadletter.Result
	for _, p := range f.Positions {
		if !slices.ContainsFunc(recs, func(r deadletter.Record) bool { return r.Position() == p }) {
			missing = append(missing, deadletter.Result{
				Record: deadletter.Record{Topic: c.topic, Partition: p.Partition, Offset: p.Offset}, Partition: -1, Offset: -1,
				Refused: "no such record on " + c.topic + " (" + holds(parts, p.Partition) + ")",
			})
		}
	}
	if len(recs) == 0 && len(missing) == 0 {
		fmt.Fprintf(out, "(no dead-lettered records match)\n")
		return nil
	}
	var results []deadletter.Result
	if len(recs) > 0 {
		r, err := deadletter.NewReplayer(c.brokers, c.opts.timeout)
		if err != nil {
			return err
		}
		defer r.Close()
		results, err = r.Replay(ctx, recs, deadletter.Options{DryRun: c.dlt.dryRun, Force: c.dlt.force, Retention: c.dlt.retention, Now: now})
		if werr := deadletter.WriteResults(out, append(results, missing...)); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			return err
		}
	} else if err := deadletter.WriteResults(out, missing); err != nil {
		return err
	}
	refused := len(missing)
	for _, res := range results {
		if res.Refused != "" {
			refused++
		}
	}
	if refused > 0 {
		return &refusedError{refused: refused, total: len(results) + len(missing)}
	}
	return nil
}

// hasBareOffset reports whether an -offset list has an entry without a
// partition.
func hasBareOffset(offsets string) bool {
	for e := range strings.SplitSeq(offsets, ",") {
		if strings.TrimSpace(e) != "" && !strings.Contains(e, ":") {
			return true
		}
	}
	return false
}

// holds says which offsets partition p of parts holds.
func holds(parts []kafkaview.Partition, p int32) string {
	for _, pt := range parts {
		if pt.Partition == p {
			if pt.Messages() <= 0 {
				return fmt.Sprintf("partition %d is empty", p)
			}
			return fmt.Sprintf("partition %d holds offsets %d-%d", p, pt.Oldest, pt.Newest-1)
		}
	}
	return fmt.Sprintf("it has no partition %d", p)
}
