package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
)

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := loadConfig(envconfig.Map(nil))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"mongodb uri", cfg.MongoURI, ""},
		{"store dir", cfg.StoreDir(), filepath.Join(".data", "outbox-relay")},
		{"brokers", strings.Join(cfg.Brokers, ","), "localhost:9093"},
		{"connect addr", cfg.ConnectAddr, ":8083"},
		{"connector", cfg.Connector == nil, true},
		{"relay database", cfg.RelayDatabase, "outbox-relay"},
		{"lease ttl", cfg.LeaseTTL, 10 * time.Second},
		{"fail after", cfg.FailAfter, time.Minute},
		{"shutdown timeout", cfg.ShutdownTimeout, 20 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %v, want %v", tt.got, tt.want)
			}
		})
	}
}

// TestLoadConfigErrors: every bad variable is named, all at once.
func TestLoadConfigErrors(t *testing.T) {
	dir := t.TempDir()
	refused := filepath.Join(dir, "refused.json")
	if err := os.WriteFile(refused, []byte(`{"name":"c","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"uri scheme", map[string]string{"MONGODB_URI": "http://x"}, []string{"MONGODB_URI", "mongodb://"}},
		{"brokers", map[string]string{"KAFKA_BROKERS": "nohost"}, []string{"KAFKA_BROKERS"}},
		{"addr", map[string]string{"CONNECT_ADDR": "8083"}, []string{"CONNECT_ADDR"}},
		{"lease", map[string]string{"LEASE_TTL": "100ms"}, []string{"LEASE_TTL", "300ms"}},
		{"relay database", map[string]string{"RELAY_DATABASE": "a.b"}, []string{"RELAY_DATABASE"}},
		{"connector file missing", map[string]string{"CONNECTOR_FILE": filepath.Join(dir, "nope.json")}, []string{"CONNECTOR_FILE", "no such file"}},
		{"connector file refused", map[string]string{"CONNECTOR_FILE": refused}, []string{"CONNECTOR_FILE", "connector.class", "PostgresConnector"}},
		{"level", map[string]string{"LOG_LEVEL": "loud"}, []string{"LOG_LEVEL"}},
		{"several", map[string]string{"LEASE_TTL": "x", "FAIL_AFTER": "-1s"}, []string{"LEASE_TTL", "FAIL_AFTER"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(envconfig.Map(tt.env))
			if err == nil {
				t.Fatalf("loadConfig(%v) = nil error", tt.env)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBuiltinConnector(t *testing.T) {
	cfg, err := loadConfig(envconfig.Map(map[string]string{"CONNECTOR_FILE": "builtin"}))
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Connector; c == nil || c.Name != "eventual-consistency-poc-connector" || c.Config["name"] != c.Name || c.Config["tasks.max"] != "1" {
		t.Errorf("builtin connector = %+v", c)
	}
}
