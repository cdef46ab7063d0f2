package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/devkafka/internal/kafkatest"
	"github.com/sagaoutbox/platform/devkafka/internal/proctest"
)

// devkafkaBin is the devkafka binary built once for this package's tests.
var devkafkaBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "devkafka-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins, err := proctest.Build(dir, "devkafka")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	devkafkaBin = bins["devkafka"]
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBadConfigExits proves that every invalid variable stops devkafka at
// start with exit status 2 and a message naming the variable.
func TestBadConfigExits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
		wantErr  []string
	}{
		{"addr not host:port", []string{"DEVKAFKA_ADDR=nonsense"}, nil, 2, []string{"DEVKAFKA_ADDR", "nonsense"}},
		{"addr port out of range", []string{"DEVKAFKA_ADDR=127.0.0.1:70000"}, nil, 2, []string{"DEVKAFKA_ADDR", "70000"}},
		{"addr wildcard without advertised", []string{"DEVKAFKA_ADDR=0.0.0.0:9093"}, nil, 2, []string{"DEVKAFKA_ADDR", "DEVKAFKA_ADVERTISED_ADDR"}},
		{"partitions zero", []string{"DEVKAFKA_PARTITIONS=0"}, nil, 2, []string{"DEVKAFKA_PARTITIONS", "between 1 and 1000"}},
		{"partitions not a number", []string{"DEVKAFKA_PARTITIONS=three"}, nil, 2, []string{"DEVKAFKA_PARTITIONS", "three"}},
		{"sync writes not a bool", []string{"DEVKAFKA_SYNC_WRITES=maybe"}, nil, 2, []string{"DEVKAFKA_SYNC_WRITES", "maybe"}},
		{"log level unknown", []string{"LOG_LEVEL=loud"}, nil, 2, []string{"LOG_LEVEL", "loud"}},
		{"all problems at once", []string{"DEVKAFKA_ADDR=nonsense", "DEVKAFKA_PARTITIONS=0"}, nil, 2, []string{"DEVKAFKA_ADDR", "DEVKAFKA_PARTITIONS"}},
		{"unexpected argument", nil, []string{"--port=1"}, 2, []string{"no arguments", "devkafka -h"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := proctest.Env(append([]string{"DATA_DIR=" + t.TempDir()}, tc.env...)...)
			res := proctest.Run(t, 10*time.Second, env, devkafkaBin, tc.args...)
			if res.Code != tc.wantCode {
				t.Fatalf("exit code: got %d, want %d\nstderr: %s", res.Code, tc.wantCode, res.Stderr)
			}
			for _, w := range tc.wantErr {
				if !strings.Contains(res.Stderr, w) {
					t.Errorf("stderr: got %q, want it to contain %q", res.Stderr, w)
				}
			}
			if lines := strings.Count(strings.TrimSpace(res.Stderr), "\n") + 1; lines != 1 {
				t.Errorf("stderr: got %d lines, want 1: %q", lines, res.Stderr)
			}
		})
	}
}

// TestHelp proves -h prints the environment variables and exits 0.
func TestHelp(t *testing.T) {
	t.Parallel()
	res := proctest.Run(t, 10*time.Second, proctest.Env(), devkafkaBin, "-h")
	if res.Code != 0 {
		t.Fatalf("exit code: got %d, want 0\nstderr: %s", res.Code, res.Stderr)
	}
	for _, w := range []string{"DEVKAFKA_ADDR", "DEVKAFKA_ADVERTISED_ADDR", "DATA_DIR", "DEVKAFKA_PARTITIONS", "DEVKAFKA_SYNC_WRITES", "LOG_LEVEL"} {
		if !strings.Contains(res.Stdout, w) {
			t.Errorf("help: want %q in\n%s", w, res.Stdout)
		}
	}
}

// TestAdvertisedAddress proves clients are told to dial the configured host
// with the bound port, and that the ready line says so.
func TestAdvertisedAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		addr     string
		wantHost string
	}{
		{"ipv4 loopback", "127.0.0.1:0", "127.0.0.1"},
		{"host name", "localhost:0", "localhost"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			dk := proctest.StartDevkafka(t, devkafkaBin, proctest.Env("DEVKAFKA_ADDR="+tc.addr, "DATA_DIR="+data))
			host, port, err := net.SplitHostPort(dk.Addr)
			if err != nil || host != tc.wantHost || port == "0" {
				t.Fatalf("ready line address: got %q, want %s:<bound port>", dk.Addr, tc.wantHost)
			}
			if want := filepath.Join(data, "kafka"); dk.DataDir != want {
				t.Errorf("ready line data dir: got %q, want %q", dk.DataDir, want)
			}
			c := kafkatest.Client(t, dk.Addr)
			var got []string
			for _, b := range c.Brokers() {
				got = append(got, b.Addr())
			}
			if want := []string{dk.Addr}; !slices.Equal(got, want) {
				t.Errorf("brokers in metadata: got %q, want %q", got, want)
			}
			if code := dk.Stop(t, syscall.SIGINT); code != 0 {
				t.Errorf("exit code after SIGINT: got %d, want 0\nstderr:\n%s", code, dk.Stderr())
			}
		})
	}
}

// TestRestartKeepsState proves that topics (with their partition count),
// records (keys, headers, values, offsets) and committed group offsets
// survive a SIGTERM and a restart on the same data directory and port, with
// and without per-batch fsync, and that offsets continue where they stopped.
func TestRestartKeepsState(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		syncWrites string
		partitions string
	}{
		{"page cache writes", "false", "3"},
		{"sync writes", "true", "4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := t.TempDir()
			env := []string{"DATA_DIR=" + data, "DEVKAFKA_SYNC_WRITES=" + tc.syncWrites, "DEVKAFKA_PARTITIONS=" + tc.partitions}
			dk := proctest.StartDevkafka(t, devkafkaBin, proctest.Env(append(env, "DEVKAFKA_ADDR=127.0.0.1:0")...))

			const topic, group = "outbox.event.customer", "payment-service"
			base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			var msgs []kafkatest.Message
			for i := range 7 {
				id := fmt.Sprintf("evt-%d", i)
				msgs = append(msgs, kafkatest.Message{
					Topic:     topic,
					Partition: int32(i % 3),
					Key:       fmt.Sprintf("cust-%d", i%3),
					Headers:   [][2]string{{"id", id}, {"eventType", "CustomerCreated"}, {"eventId", id}},
					Value:     fmt.Sprintf(`{"customerId":"cust-%d","n":%d}`, i%3, i),
					Timestamp: base.Add(time.Duration(i) * time.Second),
				})
			}
			offsets := kafkatest.Produce(t, dk.Addr, msgs)
			kafkatest.Commit(t, dk.Addr, group, topic, map[int32]int64{0: 2, 1: 1})
			before := map[int32][]kafkatest.Record{}
			for p := range int32(3) {
				before[p] = kafkatest.ReadAll(t, dk.Addr, topic, p)
			}

			if code := dk.Stop(t, syscall.SIGTERM); code != 0 {
				t.Fatalf("exit code after SIGTERM: got %d, want 0\nstderr:\n%s", code, dk.Stderr())
			}
			if !strings.Contains(dk.Stderr(), "state written and flushed") {
				t.Errorf("stderr: want the shutdown to report the flush, got:\n%s", dk.Stderr())
			}

			// Same directory, same port: what a developer does after Ctrl-C.
			dk2 := proctest.StartDevkafka(t, devkafkaBin, proctest.Env(append(env, "DEVKAFKA_ADDR="+dk.Addr)...))
			if dk2.Addr != dk.Addr {
				t.Fatalf("restarted on %s, want %s", dk2.Addr, dk.Addr)
			}
			c := kafkatest.Client(t, dk2.Addr)
			topics, err := c.Topics()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(topics, topic) {
				t.Fatalf("topics after restart: got %q, want %q among them", topics, topic)
			}
			parts, err := c.Partitions(topic)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := len(parts), atoi(t, tc.partitions); got != want {
				t.Errorf("partitions after restart: got %d, want %d (DEVKAFKA_PARTITIONS at creation)", got, want)
			}
			for p := range int32(3) {
				after := kafkatest.ReadAll(t, dk2.Addr, topic, p)
				if g, w := fmt.Sprint(after), fmt.Sprint(before[p]); g != w {
					t.Errorf("records of partition %d after restart:\ngot  %s\nwant %s", p, g, w)
				}
			}
			if g, w := fmt.Sprint(before[0][1]), fmt.Sprintf("{0 %d cust-0 [[id evt-3] [eventType CustomerCreated] [eventId evt-3]] %s}", offsets[3], msgs[3].Value); g != w {
				t.Errorf("record 3 before restart: got %s, want %s", g, w)
			}
			committed := kafkatest.Committed(t, dk2.Addr, group, topic, []int32{0, 1, 2})
			if want := map[int32]int64{0: 2, 1: 1, 2: -1}; fmt.Sprint(committed) != fmt.Sprint(want) {
				t.Errorf("committed offsets after restart: got %v, want %v", committed, want)
			}

			// New records continue the log instead of reusing offsets.
			next := kafkatest.Produce(t, dk2.Addr, []kafkatest.Message{{Topic: topic, Partition: 0, Key: "cust-0", Value: "after-restart"}})
			if want := offsets[6] + 1; next[0] != want {
				t.Errorf("offset of first record after restart: got %d, want %d", next[0], want)
			}
			if code := dk2.Stop(t, syscall.SIGTERM); code != 0 {
				t.Errorf("exit code after second SIGTERM: got %d, want 0\nstderr:\n%s", code, dk2.Stderr())
			}
		})
	}
}

// TestCrashKeepsData proves that a SIGKILL (no shutdown code runs) loses
// neither a topic auto-created since the last clean shutdown nor its records
// or committed offsets, and that the log continues cleanly afterwards. Without
// the auto-create hook in internal/broker, kfake lost such topics (kfake
// writes topics.json only on Close) and left their segment files behind.
func TestCrashKeepsData(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	env := []string{"DATA_DIR=" + data}
	dk := proctest.StartDevkafka(t, devkafkaBin, proctest.Env(append(env, "DEVKAFKA_ADDR=127.0.0.1:0")...))
	// One clean restart first, so the crash hits a broker that loaded state.
	kafkatest.Produce(t, dk.Addr, []kafkatest.Message{{Topic: "old", Partition: 0, Key: "k", Value: "old-0"}})
	if code := dk.Stop(t, syscall.SIGTERM); code != 0 {
		t.Fatalf("exit code after SIGTERM: got %d, want 0", code)
	}
	dk = proctest.StartDevkafka(t, devkafkaBin, proctest.Env(append(env, "DEVKAFKA_ADDR="+dk.Addr)...))
	kafkatest.Produce(t, dk.Addr, []kafkatest.Message{
		{Topic: "old", Partition: 0, Key: "k", Value: "old-1"},
		{Topic: "new", Partition: 1, Key: "k", Headers: [][2]string{{"eventType", "X"}}, Value: "new-0"},
		{Topic: "new", Partition: 1, Key: "k", Value: "new-1"},
	})
	kafkatest.Commit(t, dk.Addr, "g", "new", map[int32]int64{1: 1})
	if code := dk.Stop(t, syscall.SIGKILL); code != -1 {
		t.Fatalf("exit code after SIGKILL: got %d, want -1 (killed)", code)
	}

	dk = proctest.StartDevkafka(t, devkafkaBin, proctest.Env(append(env, "DEVKAFKA_ADDR="+dk.Addr)...))
	kafkatest.Produce(t, dk.Addr, []kafkatest.Message{{Topic: "new", Partition: 1, Key: "k", Value: "new-2"}})
	tests := []struct {
		name      string
		topic     string
		partition int32
		want      string
	}{
		{"topic from before the clean restart", "old", 0, "[{0 0 k [] old-0} {0 1 k [] old-1}]"},
		{"topic auto-created after it", "new", 1, "[{1 0 k [[eventType X]] new-0} {1 1 k [] new-1} {1 2 k [] new-2}]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fmt.Sprint(kafkatest.ReadAll(t, dk.Addr, tc.topic, tc.partition))
			if got != tc.want {
				t.Errorf("records of %s/%d after kill -9:\ngot  %s\nwant %s", tc.topic, tc.partition, got, tc.want)
			}
		})
	}
	if got := kafkatest.Committed(t, dk.Addr, "g", "new", []int32{1}); got[1] != 1 {
		t.Errorf("committed offset of g/new/1 after kill -9: got %d, want 1", got[1])
	}
}

// TestDataDirLocked proves a second devkafka on the same data directory
// refuses to start instead of corrupting the first one's files.
func TestDataDirLocked(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	dk := proctest.StartDevkafka(t, devkafkaBin, proctest.Env("DEVKAFKA_ADDR=127.0.0.1:0", "DATA_DIR="+data))
	res := proctest.Run(t, 10*time.Second, proctest.Env("DEVKAFKA_ADDR=127.0.0.1:0", "DATA_DIR="+data), devkafkaBin)
	if res.Code != 1 {
		t.Errorf("second instance exit code: got %d, want 1\nstderr: %s", res.Code, res.Stderr)
	}
	if want := "in use by another devkafka"; !strings.Contains(res.Stderr, want) {
		t.Errorf("second instance stderr: got %q, want it to contain %q", res.Stderr, want)
	}
	if code := dk.Stop(t, syscall.SIGTERM); code != 0 {
		t.Errorf("first instance exit code: got %d, want 0", code)
	}
}

// TestAddrInUse proves a taken port is a clear start-up error, not a hang.
func TestAddrInUse(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	res := proctest.Run(t, 10*time.Second, proctest.Env("DEVKAFKA_ADDR="+ln.Addr().String(), "DATA_DIR="+t.TempDir()), devkafkaBin)
	if res.Code != 1 || !strings.Contains(res.Stderr, "address already in use") || !strings.Contains(res.Stderr, ln.Addr().String()) {
		t.Errorf("got exit %d, stderr %q; want exit 1 and an 'address already in use' error naming %s", res.Code, res.Stderr, ln.Addr())
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatal(err)
	}
	return n
}
