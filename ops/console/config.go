package console

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/ops/deadletter"
)

// Config is the console's configuration, from the environment.
type Config struct {
	// Addr is where the console listens (CONSOLE_ADDR).
	Addr string
	// AllowWrite lets a console listening beyond loopback replay and fail
	// (CONSOLE_ALLOW_WRITE=true); see ReadOnly.
	AllowWrite bool
	// AllowedHosts are the names besides loopback ones that requests may
	// be addressed to (CONSOLE_ALLOWED_HOSTS, comma-separated): the
	// console's name where it is reached by one; see hostGuard.
	AllowedHosts []string
	Brokers      []string
	// CustomerURL and PaymentURL are the services' addresses, without
	// their base paths.
	CustomerURL, PaymentURL string
	// DLTTopic is the dead-letter topic.
	DLTTopic string
	// Retention is the consumers' CONSUMED_EVENTS_RETENTION: replaying a
	// record older than that needs force (the consumers may have
	// forgotten they handled it).
	Retention time.Duration
	// UpstreamTimeout bounds each call to a service or to Kafka
	// (CONSOLE_UPSTREAM_TIMEOUT).
	UpstreamTimeout time.Duration
	// ScanLimit bounds the records one search or lookup reads
	// (CONSOLE_SCAN_LIMIT).
	ScanLimit    int
	HTTPTimeouts httpapi.Timeouts
	LogLevel     slog.Level
}

// LoadConfig reads the console's variables through env.
func LoadConfig(env *envconfig.Env) Config {
	return Config{
		Addr:            env.Addr("CONSOLE_ADDR", "127.0.0.1:9080"),
		AllowWrite:      env.OneOf("CONSOLE_ALLOW_WRITE", "false", "true", "false") == "true",
		AllowedHosts:    strings.FieldsFunc(env.String("CONSOLE_ALLOWED_HOSTS", ""), func(r rune) bool { return r == ',' || r == ' ' }),
		Brokers:         envconfig.Value(env, "KAFKA_BROKERS", "localhost:9093", kafkaclient.ParseBrokers),
		CustomerURL:     envconfig.Value(env, "CUSTOMER_URL", "http://127.0.0.1:9990", parseServiceURL),
		PaymentURL:      envconfig.Value(env, "PAYMENT_URL", "http://127.0.0.1:9991", parseServiceURL),
		DLTTopic:        env.String("DLT_TOPIC", deadletter.Topic),
		Retention:       env.Duration("CONSUMED_EVENTS_RETENTION", 168*time.Hour),
		UpstreamTimeout: env.Duration("CONSOLE_UPSTREAM_TIMEOUT", 5*time.Second),
		ScanLimit:       env.Int("CONSOLE_SCAN_LIMIT", 5000, 100),
		HTTPTimeouts:    httpapi.LoadTimeouts(env),
		LogLevel:        env.Level("LOG_LEVEL", "info"),
	}
}

// parseServiceURL reads a service's address: http or https, a host, no
// query; a trailing slash is dropped.
func parseServiceURL(s string) (string, error) {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return "", errors.New("must be a URL such as http://127.0.0.1:9990")
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("must start with http:// or https://")
	case u.Host == "":
		return "", errors.New("must name a host")
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return "", errors.New("must have no query, fragment or user")
	}
	return strings.TrimSuffix(s, "/"), nil
}

// LogValue renders the effective configuration for the start-up log.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("CONSOLE_ADDR", c.Addr),
		slog.Bool("CONSOLE_ALLOW_WRITE", c.AllowWrite),
		slog.Any("CONSOLE_ALLOWED_HOSTS", c.AllowedHosts),
		slog.String("KAFKA_BROKERS", strings.Join(c.Brokers, ",")),
		slog.String("CUSTOMER_URL", c.CustomerURL),
		slog.String("PAYMENT_URL", c.PaymentURL),
		slog.String("DLT_TOPIC", c.DLTTopic),
		slog.Duration("CONSUMED_EVENTS_RETENTION", c.Retention),
		slog.Duration("CONSOLE_UPSTREAM_TIMEOUT", c.UpstreamTimeout),
		slog.Int("CONSOLE_SCAN_LIMIT", c.ScanLimit),
		slog.String("LOG_LEVEL", c.LogLevel.String()),
	)
}
