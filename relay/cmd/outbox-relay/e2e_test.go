package main

// End-to-end: the outbox-relay and devkafka binaries as separate processes,
// configured by the real scripts/register-connector.sh. Skipped with -short.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// repoRoot is the workspace root, from this package's directory.
const repoRoot = "../../.."

const connectorName = "eventual-consistency-poc-connector"

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds outbox-relay (with the test-only seeding route) and
// devkafka once per test binary.
func binaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped with -short")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("end-to-end test needs %s (scripts/register-connector.sh uses it): %v", tool, err)
		}
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "outbox-relay-e2e-")
		if buildErr != nil {
			return
		}
		buildErr = proctest.Build(binDir, "-tags", "outboxrelay_e2e", "./relay/cmd/outbox-relay", "./devkafka/cmd/devkafka")
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// childEnv is the environment without the variables the binaries read, so
// a developer's shell does not leak into the test.
func childEnv(extra ...string) []string {
	owned := []string{"MONGODB_URI=", "KAFKA_BROKERS=", "CONNECT_ADDR=", "CONNECT_BASIC_AUTH_FILE=", "CONNECT_ALLOW_UNAUTHENTICATED=",
		"CONNECTOR_FILE=", "RELAY_DATABASE=", "RELAY_ALLOWED_DATABASES=",
		"LEASE_TTL=", "FAIL_AFTER=", "LOG_LEVEL=", "DATA_DIR=", "DEVKAFKA_", "CONNECT_URL=", "TIMEOUT="}
	return proctest.Environ(owned, extra...)
}

// start runs one of the binaries built by binaries.
func start(t *testing.T, bin, name string, env ...string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, filepath.Join(bin, name), childEnv(env...))
}

// script runs scripts/register-connector.sh and returns its exit status
// and combined output.
func script(t *testing.T, connectURL, connectorFile string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot, "scripts", "register-connector.sh"))
	cmd.Env = childEnv("CONNECT_URL="+connectURL, "CONNECTOR_FILE="+connectorFile, "TIMEOUT=30")
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("register-connector.sh did not finish:\n%s", out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// waitRecords waits until topic, which the relay creates, holds at least n
// records, and returns them.
func waitRecords(t *testing.T, broker, topic string, n int) []*sarama.ConsumerMessage {
	t.Helper()
	var records []*sarama.ConsumerMessage
	proctest.Eventually(t, 10*time.Second, fmt.Sprintf("%d records on %s", n, topic), func() error {
		var err error
		if records, err = kafkatest.Records([]string{broker}, topic); err != nil {
			return err
		}
		if len(records) < n {
			return fmt.Errorf("%d records", len(records))
		}
		return nil
	})
	return records
}

// TestOutboxRelayBinary: devkafka and outbox-relay as processes;
// scripts/register-connector.sh registers debezium/connector.json and
// sees the connector RUNNING; an outbox insert reaches Kafka as Debezium
// would publish it; a refused setting makes the script fail with
// Connect's error text; a restarted outbox-relay keeps the registration
// and resumes without publishing anything twice.
func TestOutboxRelayBinary(t *testing.T) {
	bin := binaries(t)
	kafkaAddr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	connectURL := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	kafkaData, relayData := t.TempDir(), t.TempDir()

	devkafka := start(t, bin, "devkafka", "DATA_DIR="+kafkaData, "DEVKAFKA_ADDR="+kafkaAddr)
	proctest.Eventually(t, 20*time.Second, "devkafka listens", func() error {
		if !strings.Contains(devkafka.Output(), "devkafka listening") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	relayEnv := []string{
		"DATA_DIR=" + relayData,
		"KAFKA_BROKERS=" + kafkaAddr,
		"CONNECT_ADDR=" + strings.TrimPrefix(connectURL, "http://"),
		"LEASE_TTL=1s",
		"LOG_LEVEL=debug",
	}
	relay := start(t, bin, "outbox-relay", relayEnv...)

	began := time.Now()
	code, out := script(t, connectURL, filepath.Join(repoRoot, "debezium", "connector.json"))
	t.Logf("register-connector.sh took %v:\n%s", time.Since(began).Round(time.Millisecond), out)
	if code != 0 || !strings.Contains(out, "connector "+connectorName+" is RUNNING with 2 task(s)") {
		t.Fatalf("register-connector.sh exited %d, want 0 and RUNNING:\n%s", code, out)
	}

	seed := func(aggregateID string, seq int) string {
		t.Helper()
		body := fmt.Sprintf(`{"aggregateType":"customer","aggregateId":%q,"type":"CustomerUpdated","payload":{"customerId":%q,"seq":%d}}`, aggregateID, aggregateID, seq)
		status, resp := proctest.HTTP(t, "POST", connectURL+"/_test/outbox/customers-db/customer-events", body)
		if status != http.StatusCreated {
			t.Fatalf("seed: %d %s", status, resp)
		}
		var r struct{ ID string }
		_ = json.Unmarshal([]byte(resp), &r)
		return r.ID
	}
	first := seed("c-1", 1)
	records := waitRecords(t, kafkaAddr, "outbox.event.customer", 1)
	m := records[0]
	headers := kafkatest.HeaderStrings(m)
	wantHeaders := []string{"id=" + first, "eventType=CustomerUpdated", "eventId=" + first, "traceparent="} // null: no span in the test route
	if string(m.Key) != "c-1" || string(m.Value) != `{"customerId":"c-1","seq":1}` || !slices.Equal(headers, wantHeaders) {
		t.Errorf("record = key %q value %s headers %q; want key c-1, value {\"customerId\":\"c-1\",\"seq\":1}, headers %q",
			m.Key, m.Value, headers, wantHeaders)
	}

	t.Run("refused setting", func(t *testing.T) {
		var reg map[string]any
		data, err := os.ReadFile(filepath.Join(repoRoot, "debezium", "connector.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(data, &reg); err != nil {
			t.Fatal(err)
		}
		reg["config"].(map[string]any)["key.converter"] = "org.apache.kafka.connect.json.JsonConverter"
		file := filepath.Join(t.TempDir(), "refused.json")
		data, _ = json.Marshal(reg)
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		code, out := script(t, connectURL, file)
		want := "Kafka Connect rejected the connector (HTTP 400): Connector configuration is invalid and contains the following 1 error(s):"
		if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, "key.converter") {
			t.Errorf("register-connector.sh exited %d, want 1 with %q naming key.converter:\n%s", code, want, out)
		}
		// The refused update left the running configuration alone.
		_, cfg := proctest.HTTP(t, "GET", connectURL+"/connectors/"+connectorName+"/config", "")
		if !strings.Contains(cfg, `"key.converter":"org.apache.kafka.connect.storage.StringConverter"`) {
			t.Errorf("config after a refused update = %s", cfg)
		}
	})

	parent := t
	t.Run("restart keeps the registration", func(t *testing.T) {
		relay.Stop(t)
		relay = start(parent, bin, "outbox-relay", relayEnv...) // runs on after this subtest
		proctest.Eventually(t, 20*time.Second, "the restarted relay answers", func() error {
			_, err := http.Get(connectURL + "/")
			return err
		})
		status, body := proctest.HTTP(t, "GET", connectURL+"/connectors", "")
		if status != 200 || strings.TrimSpace(body) != `["`+connectorName+`"]` {
			t.Errorf("GET /connectors after restart = %d %s, want [%q]", status, body, connectorName)
		}
		proctest.Eventually(t, 20*time.Second, "the connector RUNNING again", func() error {
			_, body := proctest.HTTP(t, "GET", connectURL+"/connectors/"+connectorName+"/status", "")
			if strings.Count(body, `"RUNNING"`) != 3 {
				return fmt.Errorf("status %s", body)
			}
			return nil
		})
		seed("c-2", 1)
		waitRecords(t, kafkaAddr, "outbox.event.customer", 2)
		time.Sleep(300 * time.Millisecond)
		if records = kafkatest.ReadTopic(t, []string{kafkaAddr}, "outbox.event.customer"); len(records) != 2 {
			t.Errorf("records after the restart = %d, want 2 (resumed, nothing published twice)", len(records))
		}
	})

	t.Run("delete", func(t *testing.T) {
		if status, body := proctest.HTTP(t, "DELETE", connectURL+"/connectors/"+connectorName, ""); status != http.StatusNoContent {
			t.Errorf("DELETE = %d %s, want 204", status, body)
		}
		if status, body := proctest.HTTP(t, "GET", connectURL+"/connectors/"+connectorName+"/status", ""); status != 404 || !strings.Contains(body, `"error_code":404`) {
			t.Errorf("status after delete = %d %s, want 404", status, body)
		}
	})
}

// TestOutboxRelayBadConfig: a bad environment stops the binary at once
// with exit status 2, naming every bad variable; so does a REST API that
// would listen beyond loopback without authentication.
func TestOutboxRelayBadConfig(t *testing.T) {
	bin := binaries(t)
	tests := []struct {
		name string
		env  []string
		want []string
	}{
		{"bad values", []string{"LEASE_TTL=1ms", "CONNECT_ADDR=8083", "CONNECTOR_FILE=/nonexistent.json"},
			[]string{"bad configuration", "LEASE_TTL", "CONNECT_ADDR", "CONNECTOR_FILE"}},
		{"every interface without authentication", []string{fmt.Sprintf("CONNECT_ADDR=:%d", proctest.FreePort(t))},
			[]string{"bad configuration", "CONNECT_ADDR", "CONNECT_BASIC_AUTH_FILE", "CONNECT_ALLOW_UNAUTHENTICATED"}},
		{"a database outside the allowed ones", []string{"CONNECTOR_FILE=builtin", "RELAY_ALLOWED_DATABASES=customers-db"},
			[]string{"bad configuration", "CONNECTOR_FILE", "payments-db", "RELAY_ALLOWED_DATABASES"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd := exec.Command(filepath.Join(bin, "outbox-relay"))
			cmd.Env = childEnv(append(tt.env, "DATA_DIR="+t.TempDir())...)
			out, err := runWithin(t, cmd, 30*time.Second)
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != 2 {
				t.Fatalf("exit = %v, want status 2\n%s", err, out)
			}
			for _, v := range tt.want {
				if !strings.Contains(string(out), v) {
					t.Errorf("output does not name %s:\n%s", v, out)
				}
			}
		})
	}
}

// runWithin runs cmd to its end, killing it after d: a binary that starts
// instead of refusing must fail the test, not hang it.
func runWithin(t *testing.T, cmd *exec.Cmd, d time.Duration) ([]byte, error) {
	t.Helper()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.Bytes(), err
	case <-time.After(d):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("still running after %v, want it to refuse to start:\n%s", d, out.String())
		return nil, nil
	}
}
