package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/debezium"
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
		{"connect addr: loopback, Connect's port", cfg.ConnectAddr, "127.0.0.1:8083"},
		{"no authentication", cfg.Credentials == nil, true},
		{"no opt-out", cfg.AllowUnauthenticated, false},
		{"connector", cfg.Connector == nil, true},
		{"relay database", cfg.RelayDatabase, "outbox-relay"},
		{"allowed databases: the shipped registration's", strings.Join(cfg.AllowedDatabases, ","), "customers-db,payments-db"},
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
	file := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	refused := file("refused.json", `{"name":"c","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector"}}`)
	withPassword := file("password.json", strings.Replace(string(debezium.Connector), `"tasks.max"`, `"mongodb.password": "`+secret+`", "tasks.max"`, 1))
	badCredentials := file("credentials", "alice "+secret+"\n")
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
		{"connector file with a password", map[string]string{"CONNECTOR_FILE": withPassword}, []string{"CONNECTOR_FILE", "mongodb.password is refused"}},
		{"connector file outside the allowed databases", map[string]string{"CONNECTOR_FILE": "builtin", "RELAY_ALLOWED_DATABASES": "customers-db"},
			[]string{"CONNECTOR_FILE", `"payments-db"`, "RELAY_ALLOWED_DATABASES"}},
		{"connector file naming the relay database", map[string]string{"CONNECTOR_FILE": "builtin", "RELAY_DATABASE": "payments-db", "RELAY_ALLOWED_DATABASES": "customers-db"},
			[]string{"CONNECTOR_FILE", "own database"}},
		{"allowed databases pattern", map[string]string{"RELAY_ALLOWED_DATABASES": "customers-db,orders.*"}, []string{"RELAY_ALLOWED_DATABASES", "orders.*"}},
		{"allowed databases, none", map[string]string{"RELAY_ALLOWED_DATABASES": " , "}, []string{"RELAY_ALLOWED_DATABASES", "at least one"}},
		{"allowed databases name the relay database", map[string]string{"RELAY_ALLOWED_DATABASES": "customers-db,Outbox-Relay"}, []string{"RELAY_ALLOWED_DATABASES", "RELAY_DATABASE", "never relayed"}},
		{"every interface without authentication", map[string]string{"CONNECT_ADDR": ":8083"}, []string{"CONNECT_ADDR", "CONNECT_BASIC_AUTH_FILE", "CONNECT_ALLOW_UNAUTHENTICATED=true"}},
		{"any address without authentication", map[string]string{"CONNECT_ADDR": "0.0.0.0:8083"}, []string{"CONNECT_ADDR", "CONNECT_BASIC_AUTH_FILE"}},
		{"a host name without authentication", map[string]string{"CONNECT_ADDR": "relay.internal:8083"}, []string{"CONNECT_ADDR", "CONNECT_BASIC_AUTH_FILE"}},
		{"opt-out not a boolean", map[string]string{"CONNECT_ADDR": ":8083", "CONNECT_ALLOW_UNAUTHENTICATED": "yes"}, []string{"CONNECT_ALLOW_UNAUTHENTICATED", "true, false"}},
		{"credentials file missing", map[string]string{"CONNECT_BASIC_AUTH_FILE": filepath.Join(dir, "nope")}, []string{"CONNECT_BASIC_AUTH_FILE", "no such file"}},
		{"credentials file malformed", map[string]string{"CONNECT_BASIC_AUTH_FILE": badCredentials}, []string{"CONNECT_BASIC_AUTH_FILE", "line 1", "user:password"}},
		{"credentials file empty", map[string]string{"CONNECT_BASIC_AUTH_FILE": file("empty", "\n")}, []string{"CONNECT_BASIC_AUTH_FILE", "no users"}},
		{"opt-out with a bad credentials file", map[string]string{"CONNECT_ADDR": ":8083", "CONNECT_BASIC_AUTH_FILE": badCredentials, "CONNECT_ALLOW_UNAUTHENTICATED": "true"}, []string{"CONNECT_BASIC_AUTH_FILE"}},
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
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes a password", err)
			}
		})
	}
}

// secret is a password in the tests' files; no error may quote it.
const secret = "s3cr3t-Pa55"

// TestLoadConfigListen: which listen addresses need authentication.
func TestLoadConfigListen(t *testing.T) {
	credentials := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(credentials, []byte("alice: "+secret+"\nbob: builder\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name            string
		env             map[string]string
		unauthenticated bool
		users           int
	}{
		{"loopback", map[string]string{"CONNECT_ADDR": "127.0.0.1:9083"}, false, 0},
		{"loopback range", map[string]string{"CONNECT_ADDR": "127.0.0.2:9083"}, false, 0},
		{"ipv6 loopback", map[string]string{"CONNECT_ADDR": "[::1]:9083"}, false, 0},
		{"localhost", map[string]string{"CONNECT_ADDR": "localhost:9083"}, false, 0},
		{"every interface with authentication", map[string]string{"CONNECT_ADDR": ":8083", "CONNECT_BASIC_AUTH_FILE": credentials}, false, 2},
		{"loopback with authentication", map[string]string{"CONNECT_BASIC_AUTH_FILE": credentials}, false, 2},
		{"every interface, opted out", map[string]string{"CONNECT_ADDR": "0.0.0.0:8083", "CONNECT_ALLOW_UNAUTHENTICATED": "true"}, true, 0},
		{"opted out but authenticated", map[string]string{"CONNECT_ADDR": "0.0.0.0:8083", "CONNECT_ALLOW_UNAUTHENTICATED": "true", "CONNECT_BASIC_AUTH_FILE": credentials}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfig(envconfig.Map(tt.env))
			if err != nil {
				t.Fatalf("loadConfig(%v) = %v, want no error", tt.env, err)
			}
			if got := cfg.Unauthenticated(); got != tt.unauthenticated {
				t.Errorf("Unauthenticated() = %v, want %v", got, tt.unauthenticated)
			}
			users := 0
			if cfg.Credentials != nil {
				users = cfg.Credentials.Users()
			}
			if users != tt.users {
				t.Errorf("users = %d, want %d", users, tt.users)
			}
			if logged := fmt.Sprint(cfg.LogValue()); strings.Contains(logged, secret) {
				t.Errorf("the start-up log shows a password: %s", logged)
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
