package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestOutboxRelayMetrics: after two outbox events relayed, outbox-relay's
// GET /metrics counts them published, shows the leases held and the
// Connect API's requests by route, next to the runtime's metrics.
func TestOutboxRelayMetrics(t *testing.T) {
	bin := binaries(t)
	kafkaAddr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	connectURL := fmt.Sprintf("http://127.0.0.1:%d", proctest.FreePort(t))
	devkafka := start(t, bin, "devkafka", "DATA_DIR="+t.TempDir(), "DEVKAFKA_ADDR="+kafkaAddr)
	proctest.Eventually(t, 20*time.Second, "devkafka listens", func() error {
		if !strings.Contains(devkafka.Output(), "devkafka listening") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	start(t, bin, "outbox-relay", "DATA_DIR="+t.TempDir(), "KAFKA_BROKERS="+kafkaAddr,
		"CONNECT_ADDR="+strings.TrimPrefix(connectURL, "http://"), "LEASE_TTL=1s", "LOG_LEVEL=debug")
	if code, out := script(t, connectURL, filepath.Join(repoRoot, "debezium", "connector.json")); code != 0 {
		t.Fatalf("register-connector.sh exited %d:\n%s", code, out)
	}
	for i := 1; i <= 2; i++ {
		body := fmt.Sprintf(`{"aggregateType":"customer","aggregateId":"c-%d","type":"CustomerUpdated","payload":{"seq":%d}}`, i, i)
		if status, resp := proctest.HTTP(t, "POST", connectURL+"/_test/outbox/customers-db/customer-events", body); status != http.StatusCreated {
			t.Fatalf("seed: %d %s", status, resp)
		}
	}
	waitRecords(t, kafkaAddr, "outbox.event.customer", 2)

	want := map[string]float64{
		`saga_relay_records_published_total{connector="` + connectorName + `",database="customers-db"}`: 2,
		`saga_relay_lease_held{connector="` + connectorName + `",database="customers-db"}`:              1,
		`saga_relay_kafka_retries_total{connector="` + connectorName + `",database="customers-db"}`:     0,
	}
	var got map[string]float64
	proctest.Eventually(t, 10*time.Second, "metrics settle", func() error {
		status, body := proctest.HTTP(t, "GET", connectURL+"/metrics", "")
		if status != http.StatusOK {
			return fmt.Errorf("GET /metrics: status %d: %s", status, body)
		}
		got = parseMetrics(t, body)
		for k, w := range want {
			if v, ok := got[k]; !ok || v != w {
				return fmt.Errorf("%s = %v (present %t), want %v", k, v, ok, w)
			}
		}
		return nil
	})
	for _, k := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if _, ok := got[k]; !ok {
			t.Errorf("%s missing", k)
		}
	}
	routed := false
	for k, v := range got {
		if strings.HasPrefix(k, "saga_http_requests_total{") && strings.Contains(k, `route="/connectors/:name/status"`) && v > 0 {
			routed = true
		}
	}
	if !routed {
		t.Errorf("no saga_http_requests_total for route /connectors/:name/status (the script polls it)")
	}
}

// parseMetrics reads the Prometheus text format into series → value.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if i < 0 || err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}
