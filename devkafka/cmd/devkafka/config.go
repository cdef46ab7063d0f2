package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strconv"
	"strings"
)

// Defaults of the environment variables devkafka reads.
const (
	defaultAddr       = "127.0.0.1:9093"
	defaultDataDir    = "./.data"
	defaultPartitions = 3
	maxPartitions     = 1000
)

// config is devkafka's effective configuration, parsed once from the environment.
type config struct {
	Addr           string // DEVKAFKA_ADDR
	AdvertisedAddr string // DEVKAFKA_ADVERTISED_ADDR; empty: Addr
	DataDir        string // DATA_DIR
	Partitions     int    // DEVKAFKA_PARTITIONS
	SyncWrites     bool   // DEVKAFKA_SYNC_WRITES
	LogLevel       slog.Level
}

// KafkaDir is where the broker keeps its state: $DATA_DIR/kafka.
func (c config) KafkaDir() string { return filepath.Join(c.DataDir, "kafka") }

// configError lists every bad variable; main exits with status 2 for it.
type configError struct{ problems []string }

func (e *configError) Error() string {
	return "invalid configuration: " + strings.Join(e.problems, "; ")
}

// loadConfig reads the environment through getenv, applying defaults, and
// reports every invalid variable at once.
func loadConfig(getenv func(string) string) (config, error) {
	cfg := config{
		Addr:           defaultAddr,
		DataDir:        defaultDataDir,
		Partitions:     defaultPartitions,
		AdvertisedAddr: getenv("DEVKAFKA_ADVERTISED_ADDR"),
		LogLevel:       slog.LevelInfo,
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	if v := getenv("DEVKAFKA_ADDR"); v != "" {
		cfg.Addr = v
	}
	addrHost, addrPort, err := splitHostPort(cfg.Addr)
	if err != nil {
		bad("DEVKAFKA_ADDR=%q: %v (want host:port, e.g. %s)", cfg.Addr, err, defaultAddr)
	}
	if cfg.AdvertisedAddr != "" {
		if _, port, err := splitHostPort(cfg.AdvertisedAddr); err != nil {
			bad("DEVKAFKA_ADVERTISED_ADDR=%q: %v (want host:port clients can dial)", cfg.AdvertisedAddr, err)
		} else if port == 0 {
			bad("DEVKAFKA_ADVERTISED_ADDR=%q: port 0 cannot be dialed", cfg.AdvertisedAddr)
		} else if isWildcard(hostOf(cfg.AdvertisedAddr)) {
			bad("DEVKAFKA_ADVERTISED_ADDR=%q: clients cannot dial a wildcard address", cfg.AdvertisedAddr)
		}
	} else if err == nil && isWildcard(addrHost) {
		bad("DEVKAFKA_ADDR=%q listens on all interfaces, which clients cannot dial: use 127.0.0.1:%d, or set DEVKAFKA_ADVERTISED_ADDR to the host:port clients should use", cfg.Addr, addrPort)
	}

	if v := getenv("DATA_DIR"); v != "" {
		cfg.DataDir = v
	}

	if v := getenv("DEVKAFKA_PARTITIONS"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			bad("DEVKAFKA_PARTITIONS=%q: not a whole number", v)
		case n < 1 || n > maxPartitions:
			bad("DEVKAFKA_PARTITIONS=%d: must be between 1 and %d", n, maxPartitions)
		default:
			cfg.Partitions = n
		}
	}

	if v := getenv("DEVKAFKA_SYNC_WRITES"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			bad("DEVKAFKA_SYNC_WRITES=%q: want true or false", v)
		}
		cfg.SyncWrites = b
	}

	if v := getenv("LOG_LEVEL"); v != "" {
		switch strings.ToLower(v) {
		case "debug":
			cfg.LogLevel = slog.LevelDebug
		case "info":
			cfg.LogLevel = slog.LevelInfo
		case "warn", "warning":
			cfg.LogLevel = slog.LevelWarn
		case "error":
			cfg.LogLevel = slog.LevelError
		default:
			bad("LOG_LEVEL=%q: want debug, info, warn or error", v)
		}
	}

	if len(problems) > 0 {
		return config{}, &configError{problems: problems}
	}
	return cfg, nil
}

// splitHostPort is net.SplitHostPort plus a numeric port in range.
func splitHostPort(addr string) (host string, port int, err error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		var aerr *net.AddrError
		if errors.As(err, &aerr) {
			return "", 0, errors.New(aerr.Err)
		}
		return "", 0, err
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("port %q is not a number between 0 and 65535", p)
	}
	return host, port, nil
}

func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// isWildcard reports whether host means "all interfaces".
func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// logAttrs is the effective configuration as log attributes (nothing secret in it).
func (c config) logAttrs() []any {
	adv := c.AdvertisedAddr
	if adv == "" {
		adv = "(same as addr)"
	}
	return []any{
		"addr", c.Addr,
		"advertised_addr", adv,
		"data_dir", c.KafkaDir(),
		"partitions", c.Partitions,
		"sync_writes", c.SyncWrites,
		"log_level", c.LogLevel.String(),
	}
}
