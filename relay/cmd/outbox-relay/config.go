package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/relay/internal/configstore"
	"github.com/sagaoutbox/platform/relay/internal/connectapi"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// builtinConnector is the CONNECTOR_FILE value that names the registration
// shipped in debezium/connector.json (embedded in the binary).
const builtinConnector = "builtin"

// defaultConnectAddr keeps the REST API on this machine: without
// CONNECT_BASIC_AUTH_FILE anyone who reaches it can reconfigure the relay.
const defaultConnectAddr = "127.0.0.1:8083"

// config is outbox-relay's configuration, from the environment.
type config struct {
	MongoURI      string
	DataDir       string
	Brokers       []string
	ConnectAddr   string
	HTTPTimeouts  httpapi.Timeouts
	BasicAuthFile string
	Credentials   *connectapi.Credentials // nil: no authentication
	// AllowUnauthenticated is the opt-out that lets CONNECT_ADDR listen
	// beyond loopback without credentials.
	AllowUnauthenticated bool
	ConnectorFile        string
	Connector            *worker.Connector // registered at start; nil for none
	RelayDatabase        string
	// AllowedDatabases are the only databases a registration may follow.
	AllowedDatabases []string
	LeaseTTL         time.Duration
	FailAfter        time.Duration
	LogLevel         slog.Level
	ShutdownTimeout  time.Duration
}

// loadConfig reads every variable and reports every bad one at once, each
// error naming its variable.
func loadConfig(lookup func(string) (string, bool)) (config, error) {
	env := envconfig.New(lookup)
	cfg := config{
		MongoURI:             envconfig.Value(env, "MONGODB_URI", "", mongotx.ParseURI),
		DataDir:              env.String("DATA_DIR", "./.data"),
		Brokers:              envconfig.Value(env, "KAFKA_BROKERS", "localhost:9093", kafkaclient.ParseBrokers),
		ConnectAddr:          env.Addr("CONNECT_ADDR", defaultConnectAddr),
		HTTPTimeouts:         httpapi.LoadTimeouts(env),
		BasicAuthFile:        env.String("CONNECT_BASIC_AUTH_FILE", ""),
		Credentials:          envconfig.Value(env, "CONNECT_BASIC_AUTH_FILE", "", readCredentials),
		AllowUnauthenticated: env.OneOf("CONNECT_ALLOW_UNAUTHENTICATED", "false", "true", "false") == "true",
		ConnectorFile:        env.String("CONNECTOR_FILE", ""),
		Connector:            envconfig.Value(env, "CONNECTOR_FILE", "", readConnectorFile),
		RelayDatabase:        envconfig.Value(env, "RELAY_DATABASE", "outbox-relay", parseDatabase),
		AllowedDatabases:     envconfig.Value(env, "RELAY_ALLOWED_DATABASES", shippedDatabases(), parseDatabases),
		LeaseTTL:             envconfig.Value(env, "LEASE_TTL", "10s", parseLeaseTTL),
		FailAfter:            env.Duration("FAIL_AFTER", time.Minute),
		LogLevel:             env.Level("LOG_LEVEL", "info"),
		ShutdownTimeout:      env.Duration("SHUTDOWN_TIMEOUT", 20*time.Second),
	}
	errs := []error{env.Err()}
	if slices.ContainsFunc(cfg.AllowedDatabases, func(db string) bool { return strings.EqualFold(db, cfg.RelayDatabase) }) {
		errs = append(errs, fmt.Errorf("RELAY_ALLOWED_DATABASES names %s, the RELAY_DATABASE: outbox-relay's own database, where it stores the connector registrations, is never relayed", cfg.RelayDatabase))
	}
	if _, _, err := net.SplitHostPort(cfg.ConnectAddr); err == nil && cfg.BasicAuthFile == "" && !cfg.AllowUnauthenticated && !loopback(cfg.ConnectAddr) {
		errs = append(errs, fmt.Errorf("CONNECT_ADDR=%q listens beyond this machine without authentication, so anyone who reaches it could reconfigure or delete connectors: "+
			"set CONNECT_BASIC_AUTH_FILE to a file of user:password lines, listen on loopback (the default %s), "+
			"or, behind a network that lets only trusted callers in, set CONNECT_ALLOW_UNAUTHENTICATED=true", cfg.ConnectAddr, defaultConnectAddr))
	}
	if cfg.Connector != nil {
		if _, err := cfg.Policy().Validate(*cfg.Connector); err != nil {
			errs = append(errs, fmt.Errorf("CONNECTOR_FILE=%q: %w", cfg.ConnectorFile, err))
		}
	}
	return cfg, errors.Join(errs...)
}

// Policy is what registrations may follow: the allowed databases, never
// the relay's own.
func (c config) Policy() worker.Policy {
	return worker.Policy{AllowedDatabases: c.AllowedDatabases, OwnDatabase: c.RelayDatabase, OwnCollection: configstore.Collection}
}

// Unauthenticated reports whether the REST API listens beyond loopback
// without authentication (allowed only by CONNECT_ALLOW_UNAUTHENTICATED).
func (c config) Unauthenticated() bool {
	return c.Credentials == nil && !loopback(c.ConnectAddr)
}

// loopback reports whether a listen address only accepts connections from
// this machine. A host name other than localhost counts as not loopback,
// and so does an empty host (every interface).
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
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
	auth := "(none)"
	if c.Credentials != nil {
		auth = fmt.Sprintf("%s (%d users)", c.BasicAuthFile, c.Credentials.Users())
	}
	return slog.GroupValue(
		slog.String("MONGODB_URI", store),
		slog.String("KAFKA_BROKERS", strings.Join(c.Brokers, ",")),
		slog.String("CONNECT_ADDR", c.ConnectAddr),
		slog.Duration("HTTP_READ_TIMEOUT", c.HTTPTimeouts.Read),
		slog.Duration("HTTP_WRITE_TIMEOUT", c.HTTPTimeouts.Write),
		slog.Duration("HTTP_IDLE_TIMEOUT", c.HTTPTimeouts.Idle),
		slog.String("CONNECT_BASIC_AUTH_FILE", auth),
		slog.Bool("CONNECT_ALLOW_UNAUTHENTICATED", c.AllowUnauthenticated),
		slog.String("CONNECTOR_FILE", connector),
		slog.String("RELAY_DATABASE", c.RelayDatabase),
		slog.String("RELAY_ALLOWED_DATABASES", strings.Join(c.AllowedDatabases, ",")),
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

// parseDatabases reads RELAY_ALLOWED_DATABASES: literal names, since
// database.include.list must name databases literally too.
func parseDatabases(s string) ([]string, error) {
	var out []string
	for _, db := range strings.Split(s, ",") {
		if db = strings.TrimSpace(db); db == "" {
			continue
		}
		if _, err := parseDatabase(db); err != nil {
			return nil, fmt.Errorf("%q: %w", db, err)
		}
		out = append(out, db)
	}
	if len(out) == 0 {
		return nil, errors.New("must name at least one database, comma-separated")
	}
	return out, nil
}

// shippedDatabases is RELAY_ALLOWED_DATABASES' default: the databases of
// the shipped registration (debezium/connector.json), so that it runs as
// it is and nothing else does unless whoever starts outbox-relay says so.
func shippedDatabases() string {
	var reg struct {
		Config struct {
			Databases string `json:"database.include.list"`
		} `json:"config"`
	}
	_ = json.Unmarshal(debezium.Connector, &reg) // tested: TestLoadConfigDefaults
	return reg.Config.Databases
}

// readCredentials reads CONNECT_BASIC_AUTH_FILE; "" means none.
func readCredentials(path string) (*connectapi.Credentials, error) {
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return connectapi.ParseCredentials(f)
}

func parseLeaseTTL(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err == nil && d < 300*time.Millisecond {
		err = errors.New("must be at least 300ms")
	}
	return d, err
}

// readConnectorFile reads a registration, {"name": …, "config": {…}} as
// scripts/register-connector.sh sends it, its values read by
// worker.DecodeConfig as a PUT's are; loadConfig then checks it as a PUT
// would. "" means none; "builtin" the shipped debezium/connector.json.
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
	config, err := worker.DecodeConfig(reg.Config)
	if err != nil {
		return nil, err
	}
	c := worker.Connector{Name: reg.Name, Config: config}
	if _, ok := c.Config["name"]; !ok {
		c.Config["name"] = c.Name
	}
	return &c, nil
}
