package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// builtinConnector is the CONNECTOR_FILE value that names the registration
// shipped in debezium/connector.json (embedded in the binary).
const builtinConnector = "builtin"

// config is outbox-relay's configuration, from the environment.
type config struct {
	MongoURI        string
	DataDir         string
	Brokers         []string
	ConnectAddr     string
	ConnectorFile   string
	Connector       *worker.Connector // registered at start; nil for none
	RelayDatabase   string
	LeaseTTL        time.Duration
	FailAfter       time.Duration
	LogLevel        slog.Level
	ShutdownTimeout time.Duration
}

// loadConfig reads every variable and reports every bad one at once, each
// error naming its variable.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	env := envconfig.New(lookup)
	cfg := config{
		MongoURI:        envconfig.Value(env, "MONGODB_URI", "", mongotx.ParseURI),
		DataDir:         env.String("DATA_DIR", "./.data"),
		Brokers:         envconfig.Value(env, "KAFKA_BROKERS", "localhost:9093", kafkaclient.ParseBrokers),
		ConnectAddr:     env.Addr("CONNECT_ADDR", ":8083"),
		ConnectorFile:   env.String("CONNECTOR_FILE", ""),
		Connector:       envconfig.Value(env, "CONNECTOR_FILE", "", readConnectorFile),
		RelayDatabase:   envconfig.Value(env, "RELAY_DATABASE", "outbox-relay", parseDatabase),
		LeaseTTL:        envconfig.Value(env, "LEASE_TTL", "10s", parseLeaseTTL),
		FailAfter:       env.Duration("FAIL_AFTER", time.Minute),
		LogLevel:        env.Level("LOG_LEVEL", "info"),
		ShutdownTimeout: env.Duration("SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	return cfg, env.Err()
}

// StoreDir is where the embedded store lives when MONGODB_URI is unset.
func (c config) StoreDir() string { return filepath.Join(c.DataDir, "outbox-relay") }

// LogValue renders the effective configuration for the start-up log, the
// MongoDB URI's password masked.
func (c config) LogValue() slog.Value {
	connector := "(none: waits for PUT /connectors/{name}/config)"
	if c.Connector != nil {
		connector = c.ConnectorFile + " (" + c.Connector.Name + ")"
	}
	store := mongotx.RedactURI(c.MongoURI)
	if c.MongoURI == "" {
		store = "(embedded store in " + c.StoreDir() + ")"
	}
	return slog.GroupValue(
		slog.String("MONGODB_URI", store),
		slog.String("KAFKA_BROKERS", strings.Join(c.Brokers, ",")),
		slog.String("CONNECT_ADDR", c.ConnectAddr),
		slog.String("CONNECTOR_FILE", connector),
		slog.String("RELAY_DATABASE", c.RelayDatabase),
		slog.Duration("LEASE_TTL", c.LeaseTTL),
		slog.Duration("FAIL_AFTER", c.FailAfter),
		slog.String("LOG_LEVEL", c.LogLevel.String()),
		slog.Duration("SHUTDOWN_TIMEOUT", c.ShutdownTimeout),
	)
}

var databaseName = regexp.MustCompile(`^[^/\\. "$]{1,63}$`)

func parseDatabase(s string) (string, error) {
	if !databaseName.MatchString(s) {
		return s, errors.New(`must be a MongoDB database name (1-63 characters, none of / \ . " $ or space)`)
	}
	return s, nil
}

func parseLeaseTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil && d < 300*time.Millisecond {
		err = errors.New("must be at least 300ms")
	}
	return d, err
}

// readConnectorFile reads a registration, {"name": …, "config": {…}} as
// scripts/register-connector.sh sends it, and checks it as a PUT would.
// "" means none; "builtin" the shipped debezium/connector.json.
func readConnectorFile(path string) (*worker.Connector, error) {
	var data []byte
	switch path {
	case "":
		return nil, nil
	case builtinConnector:
		data = debezium.Connector
	default:
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	var reg struct {
		Name   string                     `json:"name"`
		Config map[string]json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		return nil, fmt.Errorf("not a connector registration: %w", err)
	}
	if reg.Name == "" || reg.Config == nil {
		return nil, errors.New(`not a connector registration: want {"name": …, "config": {…}}`)
	}
	c := worker.Connector{Name: reg.Name, Config: make(map[string]string, len(reg.Config))}
	for k, raw := range reg.Config {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			s = string(raw) // numbers and booleans, as Connect reads them
		}
		c.Config[k] = s
	}
	if _, ok := c.Config["name"]; !ok {
		c.Config["name"] = c.Name
	}
	if _, err := worker.Validate(c); err != nil {
		return nil, err
	}
	return &c, nil
}
