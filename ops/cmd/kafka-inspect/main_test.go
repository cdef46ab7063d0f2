package main

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// bins are the devkafka and kafka-inspect binaries built once for this
// package: the tests run kafka-inspect against a real devkafka process.
var bins map[string]string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kafka-inspect-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := proctest.Build(dir, "./devkafka/cmd/devkafka", "./ops/cmd/kafka-inspect"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	bins = map[string]string{"devkafka": filepath.Join(dir, "devkafka"), "kafka-inspect": filepath.Join(dir, "kafka-inspect")}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// ownedEnv are the variables the binaries read: children never inherit them
// from the developer's shell, they only get what a test passes.
var ownedEnv = []string{"DEVKAFKA_", "DATA_DIR=", "LOG_LEVEL=", "KAFKA_BROKERS=", "CONSUMED_EVENTS_RETENTION="}

// testEnv is the test's environment without ownedEnv, plus extra (KEY=VALUE).
func testEnv(extra ...string) []string { return proctest.Environ(ownedEnv, extra...) }

func runInspect(t *testing.T, env []string, args ...string) proctest.Result {
	t.Helper()
	return proctest.Run(t, 20*time.Second, testEnv(env...), bins["kafka-inspect"], args...)
}

// readyLine is what devkafka prints on stdout once it accepts connections.
var readyLine = regexp.MustCompile(`(?m)^devkafka listening on (\S+) \(data in (.+)\)$`)

// devkafka is a running devkafka process; the test's end stops it (SIGTERM).
type devkafka struct {
	*proctest.Proc
	// Addr is the advertised address from its ready line.
	Addr string
}

// startDevkafka starts devkafka with env and waits up to 15 s for its ready
// line, failing the test if it exits first.
func startDevkafka(t *testing.T, env []string) *devkafka {
	t.Helper()
	d := &devkafka{Proc: proctest.Start(t, bins["devkafka"], env)}
	proctest.Eventually(t, 15*time.Second, "devkafka's ready line", func() error {
		if m := readyLine.FindStringSubmatch(d.Output()); m != nil {
			d.Addr = m[1]
			return nil
		}
		if d.Exited() {
			t.Fatalf("devkafka exited (%d) before it was ready:\n%s", d.ExitCode(), d.Output())
		}
		return errors.New("not ready yet")
	})
	return d
}

// message is a record to produce into an explicit partition.
type message struct {
	Topic     string
	Partition int32
	Key       string
	Headers   [][2]string
	Value     string
	Timestamp time.Time
}

// produce sends msgs in order, each into its partition, with the
// platform's producer settings but for the partitioner, and with topics
// auto-created by the broker, and returns the offset each one got.
func produce(t *testing.T, addr string, msgs []message) []int64 {
	t.Helper()
	p := kafkatest.Producer(t, []string{addr}, func(c *sarama.Config) {
		c.Producer.Partitioner = sarama.NewManualPartitioner
		c.Metadata.AllowAutoTopicCreation = true
	})
	offsets := make([]int64, len(msgs))
	for i, m := range msgs {
		pm := &sarama.ProducerMessage{
			Topic: m.Topic, Partition: m.Partition, Key: sarama.StringEncoder(m.Key), Value: sarama.StringEncoder(m.Value), Timestamp: m.Timestamp,
		}
		for _, h := range m.Headers {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h[0]), Value: []byte(h[1])})
		}
		part, off, err := p.SendMessage(pm)
		if err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		if part != m.Partition {
			t.Fatalf("produce %d: landed in partition %d, want %d", i, part, m.Partition)
		}
		offsets[i] = off
	}
	return offsets
}

// commit commits next-offsets for group as a consumer outside any group
// generation does (an OffsetCommit with generation -1, which creates the
// group), and checks the group's committed offsets then are next.
//
// It does not use sarama's OffsetManager: that first fetches the group's
// offsets, and kfake answers an OffsetFetch for a group it has never seen
// with GROUP_ID_NOT_FOUND where Kafka answers "no offset".
func commit(t *testing.T, addr, group, topic string, next map[int32]int64) {
	t.Helper()
	conf := kafkaclient.Config("kafka-inspect-test")
	c, err := sarama.NewClient([]string{addr}, conf)
	if err != nil {
		t.Fatalf("connect to %s: %v", addr, err)
	}
	defer c.Close()
	coord, err := c.Coordinator(group)
	if err != nil {
		t.Fatalf("coordinator of %s: %v", group, err)
	}
	req := sarama.NewOffsetCommitRequest(conf, group)
	for p, off := range next {
		req.AddBlock(topic, p, off, 0, "")
	}
	resp, err := coord.CommitOffset(req)
	if err != nil {
		t.Fatalf("commit %s: %v", group, err)
	}
	for p := range next {
		if kerr := resp.Errors[topic][p]; !errors.Is(kerr, sarama.ErrNoError) {
			t.Fatalf("commit %s/%s/%d: %v", group, topic, p, kerr)
		}
	}
	admin, err := sarama.NewClusterAdminFromClient(c)
	if err != nil {
		t.Fatalf("admin: %v", err)
	}
	got, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: slices.Sorted(maps.Keys(next))})
	if err != nil {
		t.Fatalf("fetch offsets of %s: %v", group, err)
	}
	for p, want := range next {
		if b := got.GetBlock(topic, p); b == nil || b.Offset != want {
			t.Fatalf("committed offset of %s/%s/%d: got %+v, want %d", group, topic, p, b, want)
		}
	}
}

// rows splits output into lines of whitespace-separated fields.
func rows(out string) [][]string {
	var rs [][]string
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 0 {
			rs = append(rs, f)
		}
	}
	return rs
}

// hasRow reports whether some row starts with want's fields.
func hasRow(out string, want ...string) bool {
	for _, r := range rows(out) {
		if len(r) >= len(want) && slices.Equal(r[:len(want)], want) {
			return true
		}
	}
	return false
}

// TestUsage proves -h documents every command and usage errors exit 2 with
// one line naming the problem.
func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		{"help flag", []string{"-h"}, 0, []string{"topics", "tail", "groups", "KAFKA_BROKERS", "-pretty", "Exit status"}, ""},
		{"help command", []string{"help"}, 0, []string{"Usage:"}, ""},
		{"help after command", []string{"tail", "-h"}, 0, []string{"Usage:"}, ""},
		{"no command", nil, 2, nil, "missing command"},
		{"unknown command", []string{"describe"}, 2, nil, `unknown command "describe"`},
		{"tail without topic", []string{"tail"}, 2, nil, "want exactly one TOPIC"},
		{"tail with zero records", []string{"tail", "-n", "0", "t"}, 2, nil, "-n must be at least 1"},
		{"unknown flag", []string{"topics", "-x"}, 2, nil, "flag provided but not defined: -x"},
		{"bad broker address", []string{"-b", "nohostport", "topics"}, 2, nil, `-b="nohostport"`},
		{"bad timeout", []string{"-timeout", "0s", "topics"}, 2, nil, "-timeout must be positive"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runInspect(t, nil, tc.args...)
			if res.Code != tc.wantCode {
				t.Fatalf("exit code: got %d, want %d\nstderr: %s", res.Code, tc.wantCode, res.Stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(res.Stdout, w) {
					t.Errorf("stdout: want %q in\n%s", w, res.Stdout)
				}
			}
			if tc.wantStderr != "" {
				if !strings.Contains(res.Stderr, tc.wantStderr) || strings.Count(res.Stderr, "\n") != 1 {
					t.Errorf("stderr: got %q, want one line containing %q", res.Stderr, tc.wantStderr)
				}
			}
		})
	}
}

// TestUnreachableBroker proves a closed port or an unresolvable host fails
// within the timeout with exit 1 and one line naming the address.
func TestUnreachableBroker(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	tests := []struct {
		name       string
		args       []string
		env        []string
		wantStderr []string
	}{
		{"closed port via -b", []string{"-b", closed, "topics"}, nil, []string{"cannot reach kafka at " + closed, "connection refused"}},
		{"closed port via KAFKA_BROKERS", []string{"tail", "x"}, []string{"KAFKA_BROKERS=" + closed}, []string{"cannot reach kafka at " + closed}},
		{"unresolvable host", []string{"-b", "no-such-host.invalid:9093", "groups"}, nil, []string{"cannot reach kafka at no-such-host.invalid:9093"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res := runInspect(t, tc.env, tc.args...)
			if res.Code != 1 {
				t.Errorf("exit code: got %d, want 1", res.Code)
			}
			if res.Duration > 6*time.Second {
				t.Errorf("took %s, want under the 5s timeout (plus start-up)", res.Duration)
			}
			if strings.Count(res.Stderr, "\n") != 1 || !strings.HasPrefix(res.Stderr, "kafka-inspect: ") {
				t.Errorf("stderr: got %q, want one line starting with kafka-inspect:", res.Stderr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr: got %q, want it to contain %q", res.Stderr, w)
				}
			}
			if res.Stdout != "" {
				t.Errorf("stdout: got %q, want nothing", res.Stdout)
			}
		})
	}
}

// TestAgainstDevkafka proves topics, groups and tail report the offsets,
// lag, keys, headers and values of records produced with sarama, that
// KAFKA_BROKERS is honoured, and that inspecting never creates a topic. It
// also restarts devkafka and checks kafka-inspect sees the same state.
func TestAgainstDevkafka(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	dk := startDevkafka(t, testEnv("DEVKAFKA_ADDR=127.0.0.1:0", "DATA_DIR="+data))

	const topic = "outbox.event.customer"
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	type rec struct {
		partition int32
		key, id   string
		typ       string
		value     string
		at        time.Duration
	}
	recs := []rec{ // partition 0 gets 3 records, 2 gets 2, 1 none; timestamps interleave
		{0, "c-1", "e-1", "CustomerPendingRegistrationEvent", `{"customerId":"c-1","name":"Ada"}`, 0},
		{2, "c-2", "e-2", "CustomerPendingRegistrationEvent", `{"customerId":"c-2","name":"Bob"}`, 1},
		{0, "c-1", "e-3", "CustomerRegisteredEvent", `{"customerId":"c-1"}`, 2},
		{2, "c-2", "e-4", "CustomerRegistrationFailedEvent", `{"customerId":"c-2","reason":"limit"}`, 3},
		{0, "c-1", "e-5", "CustomerCreditReservedEvent", `{"customerId":"c-1","amount":"10.50"}`, 4},
	}
	var msgs []message
	for _, r := range recs {
		msgs = append(msgs, message{
			Topic: topic, Partition: r.partition, Key: r.key, Value: r.value,
			Headers:   [][2]string{{"id", r.id}, {"eventType", r.typ}, {"eventId", r.id}},
			Timestamp: base.Add(r.at * time.Second),
		})
	}
	produce(t, dk.Addr, msgs)
	produce(t, dk.Addr, []message{{Topic: "binary", Partition: 0, Key: "k\t1", Value: "line1\nline2", Timestamp: base}})
	commit(t, dk.Addr, "payment-service", topic, map[int32]int64{0: 2, 2: 2})

	b := []string{"-b", dk.Addr}
	ts := func(s int) string {
		return base.Add(time.Duration(s) * time.Second).Format("2006-01-02T15:04:05.000Z07:00")
	}
	hdr := func(id, typ string) []string { return []string{"id=" + id, "eventType=" + typ, "eventId=" + id} }
	row := func(parts ...any) []string {
		var out []string
		for _, p := range parts {
			switch v := p.(type) {
			case []string:
				out = append(out, v...)
			default:
				out = append(out, fmt.Sprint(v))
			}
		}
		return out
	}

	type check struct {
		name     string
		env      []string
		args     []string
		wantCode int
		wantRows [][]string // rows that must appear (prefix match on fields)
		wantNoRs [][]string // rows that must not appear
		wantNot  []string   // substrings that must not appear in stdout
		wantOut  string     // substring of stdout
		wantErr  string     // substring of stderr
		order    []string   // substrings that must appear in this order
		custom   func(t *testing.T, stdout string)
	}
	checks := []check{
		{
			name: "topics lists partitions, offsets and lag",
			args: append(b, "topics"),
			wantRows: [][]string{
				{"TOPIC", "PARTITION", "OLDEST", "NEWEST", "MESSAGES"},
				{topic, "0", "0", "3", "3"},
				{topic, "1", "0", "0", "0"},
				{topic, "2", "0", "2", "2"},
				{"binary", "0", "0", "1", "1"},
				{"GROUP", "TOPIC", "PARTITION", "COMMITTED", "NEWEST", "LAG"},
				{"payment-service", topic, "0", "2", "3", "1"},
				{"payment-service", topic, "2", "2", "2", "0"},
			},
			wantNoRs: [][]string{{"payment-service", topic, "1"}}, // never committed
		},
		{
			name:     "brokers from KAFKA_BROKERS",
			env:      []string{"KAFKA_BROKERS=" + dk.Addr},
			args:     []string{"topics"},
			wantRows: [][]string{{topic, "0", "0", "3", "3"}},
		},
		{
			name: "groups lists state and offsets",
			args: append(b, "groups"),
			wantRows: [][]string{
				{"GROUP", "STATE", "PROTOCOL", "MEMBERS"},
				{"payment-service", "Empty", "-", "0"},
				{"payment-service", topic, "0", "2", "3", "1"},
			},
		},
		{
			name: "tail of one partition in offset order",
			args: append(b, "tail", "-n", "2", "-p", "0", topic),
			wantRows: [][]string{
				{"PARTITION", "OFFSET", "TIMESTAMP", "KEY", "HEADERS", "VALUE"},
				row(0, 1, ts(2), "c-1", hdr("e-3", "CustomerRegisteredEvent"), recs[2].value),
				row(0, 2, ts(4), "c-1", hdr("e-5", "CustomerCreditReservedEvent"), recs[4].value),
			},
			wantNot: []string{"e-1", "e-2"},
		},
		{
			name: "tail across partitions by timestamp",
			args: append(b, "tail", "-n", "4", topic),
			wantRows: [][]string{
				row(2, 0, ts(1), "c-2", hdr("e-2", "CustomerPendingRegistrationEvent"), recs[1].value),
				row(0, 1, ts(2), "c-1", hdr("e-3", "CustomerRegisteredEvent"), recs[2].value),
				row(2, 1, ts(3), "c-2", hdr("e-4", "CustomerRegistrationFailedEvent"), recs[3].value),
				row(0, 2, ts(4), "c-1", hdr("e-5", "CustomerCreditReservedEvent"), recs[4].value),
			},
			wantNot: []string{"e-1 "},
			order:   []string{"e-2", "e-3", "e-4", "e-5"},
		},
		{
			name:    "tail flags after the topic",
			args:    append(b, "tail", topic, "-n", "1"),
			wantOut: "eventId=e-5",
			wantNot: []string{"e-4"},
		},
		{
			name: "tail pretty-prints JSON values in the VALUE column",
			args: append(b, "tail", "-n", "1", "-pretty", topic),
			wantRows: [][]string{
				row(0, 2, ts(4), "c-1", hdr("e-5", "CustomerCreditReservedEvent"), "{"),
				{`"customerId":`, `"c-1",`},
				{`"amount":`, `"10.50"`},
				{"}"},
			},
			custom: func(t *testing.T, out string) {
				lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
				if len(lines) != 5 {
					t.Fatalf("got %d lines, want header, record and 3 more JSON lines:\n%s", len(lines), out)
				}
				col := strings.Index(lines[0], "VALUE")
				if got := strings.Index(lines[1], "{"); got != col {
					t.Errorf("record line: JSON starts at column %d, want %d (VALUE):\n%s", got, col, out)
				}
				for i, want := range []int{col + 2, col + 2, col} {
					l := lines[i+2]
					if got := len(l) - len(strings.TrimLeft(l, " ")); got != want {
						t.Errorf("JSON line %d is indented %d, want %d (under VALUE):\n%s", i+2, got, want, out)
					}
				}
			},
		},
		{
			name:     "tail quotes keys and values that would break the line",
			args:     append(b, "tail", "binary"),
			wantRows: [][]string{row(0, 0, ts(0), `"k\t1"`, "-", `"line1\nline2"`)},
		},
		{
			name:     "tail of an unknown topic fails",
			args:     append(b, "tail", "no.such.topic"),
			wantCode: 1,
			wantErr:  `unknown topic "no.such.topic"`,
		},
		{
			name:     "tail of an unknown partition fails",
			args:     append(b, "tail", "-p", "7", topic),
			wantCode: 1,
			wantErr:  "unknown partition 7: topic \"outbox.event.customer\" has partitions 0-2",
		},
		{
			name:    "inspecting did not create the unknown topic",
			args:    append(b, "topics"),
			wantNot: []string{"no.such.topic"},
		},
	}
	run := func(t *testing.T, c check) {
		res := runInspect(t, c.env, c.args...)
		if res.Code != c.wantCode {
			t.Fatalf("exit code: got %d, want %d\nstdout:\n%s\nstderr:\n%s", res.Code, c.wantCode, res.Stdout, res.Stderr)
		}
		for _, w := range c.wantRows {
			if !hasRow(res.Stdout, w...) {
				t.Errorf("want a row starting %q in\n%s", w, res.Stdout)
			}
		}
		for _, w := range c.wantNoRs {
			if hasRow(res.Stdout, w...) {
				t.Errorf("want no row starting %q in\n%s", w, res.Stdout)
			}
		}
		for _, n := range c.wantNot {
			if strings.Contains(res.Stdout, n) {
				t.Errorf("want no %q in\n%s", n, res.Stdout)
			}
		}
		if !strings.Contains(res.Stdout, c.wantOut) {
			t.Errorf("want %q in\n%s", c.wantOut, res.Stdout)
		}
		if !strings.Contains(res.Stderr, c.wantErr) {
			t.Errorf("stderr: got %q, want it to contain %q", res.Stderr, c.wantErr)
		}
		if c.wantErr != "" && strings.Count(res.Stderr, "\n") != 1 {
			t.Errorf("stderr: got %q, want one line", res.Stderr)
		}
		if len(c.order) > 0 {
			pat := regexp.MustCompile(`(?s)` + strings.Join(quoteAll(c.order), ".*"))
			if !pat.MatchString(res.Stdout) {
				t.Errorf("want %q in this order in\n%s", c.order, res.Stdout)
			}
		}
		if c.custom != nil {
			c.custom(t, res.Stdout)
		}
		if testing.Verbose() {
			t.Logf("kafka-inspect %s\n%s", strings.Join(c.args, " "), res.Stdout)
		}
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) { run(t, c) })
	}

	// The same answers after a restart on the same data directory.
	dk.Stop(t)
	if code := dk.ExitCode(); code != 0 {
		t.Fatalf("devkafka exit code: got %d, want 0", code)
	}
	startDevkafka(t, testEnv("DEVKAFKA_ADDR="+dk.Addr, "DATA_DIR="+data))
	for _, c := range checks {
		if c.name == "topics lists partitions, offsets and lag" || c.name == "tail across partitions by timestamp" {
			t.Run("after restart/"+c.name, func(t *testing.T) { run(t, c) })
		}
	}
}

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = regexp.QuoteMeta(s)
	}
	return out
}
