// Command outbox-relay relays the transactional outbox to Kafka without a
// JVM: the project's Go relay (commonlib/relay) behind the part of Kafka
// Connect's REST API that scripts/register-connector.sh uses, so the same
// script and the same debezium/connector.json configure it. Records are
// the ones Debezium's MongoDB connector with the MongoEventRouter would
// publish.
//
// It follows every database of the registered connector's
// database.include.list, one relay per database sharing one producer.
// Several outbox-relay processes may run against one MongoDB: registrations
// are stored there and shared, and a lease per database lets exactly one
// process relay it.
//
// Whoever can call the REST API decides what is published where, so it
// listens on loopback by default; on any other address it needs HTTP Basic
// credentials (CONNECT_BASIC_AUTH_FILE) or the explicit opt-out
// CONNECT_ALLOW_UNAUTHENTICATED=true. Whatever a caller sends, a
// registration may follow only the databases named at start
// (RELAY_ALLOWED_DATABASES), never the relay's own, and may not carry
// credentials. See the README for the configuration.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/lifecycle"
	"github.com/sagaoutbox/platform/commonlib/metrics"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/relay/internal/autotopic"
	"github.com/sagaoutbox/platform/relay/internal/configstore"
	"github.com/sagaoutbox/platform/relay/internal/connectapi"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

const name = "outbox-relay"

// errConfig marks a bad configuration: exit status 2.
var errConfig = errors.New("bad configuration")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.LookupEnv, os.Stderr); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		if errors.Is(err, errConfig) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// run builds the relay's parts in order and runs them until ctx ends or one
// fails; they stop in the reverse order.
func run(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) error {
	// -------------------------------------------------------------------------
	// Configuration

	cfg, err := loadConfig(lookup)
	if err != nil {
		return fmt.Errorf("%w:\n%w", errConfig, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "config", cfg)
	if cfg.Unauthenticated() {
		log.Warn("CONNECT_ALLOW_UNAUTHENTICATED=true: the Kafka Connect REST API listens beyond loopback without authentication; anyone who reaches " + cfg.ConnectAddr + " can reconfigure or delete connectors")
	}

	// -------------------------------------------------------------------------
	// Store: the relayed databases and the registrations

	store, err := mongotx.Open(ctx, mongotx.Options{URI: cfg.MongoURI, Dir: cfg.StoreDir()})
	if err != nil {
		return err
	}
	defer func() {
		if err := store.Close(context.Background()); err != nil {
			log.Error("close store", "err", err)
		}
	}()
	if store.Embedded() {
		log.Warn("MONGODB_URI is unset: embedded store in " + cfg.StoreDir() + ". Only this process can write to it, so there is no outbox to relay: it is for tests and demos of the REST API")
	}

	// -------------------------------------------------------------------------
	// Worker: one relay per followed database; named after the REST API's
	// address, so that address is bound first

	ln, err := net.Listen("tcp", cfg.ConnectAddr)
	if err != nil {
		return fmt.Errorf("listen on CONNECT_ADDR %s: %w", cfg.ConnectAddr, err)
	}
	w, err := worker.New(worker.Options{
		ID:        workerID(ln.Addr()),
		Store:     configstore.New(store.Database(cfg.RelayDatabase)),
		Client:    store,
		Policy:    cfg.Policy(),
		LeaseTTL:  cfg.LeaseTTL,
		FailAfter: cfg.FailAfter,
		Probe:     func(ctx context.Context) error { return kafkaclient.Ping(ctx, cfg.Brokers) },
		Log:       log,
	})
	if err != nil {
		_ = ln.Close()
		return err
	}
	if c := cfg.Connector; c != nil {
		if _, _, err := w.Put(ctx, c.Name, c.Config); err != nil {
			_ = ln.Close()
			return fmt.Errorf("register CONNECTOR_FILE %s: %w", cfg.ConnectorFile, err)
		}
	}

	// -------------------------------------------------------------------------
	// HTTP: the Kafka Connect REST API and GET /metrics; it answers while
	// Kafka is still awaited

	e := connectapi.New(w, connectapi.Options{
		Info:        serverInfo(),
		Health:      store.Ping,
		Log:         log.With("component", "http"),
		Credentials: cfg.Credentials,
	})
	testRoutes(e, store) // none outside the end-to-end test's build
	m := metrics.New()
	err = m.Register(metrics.RelayCollector(func() []metrics.RelaySource {
		var out []metrics.RelaySource
		for _, r := range w.Relays() {
			out = append(out, metrics.RelaySource{Connector: r.Connector, Database: r.Database, Relay: r.Relay})
		}
		return out
	}))
	if err != nil {
		_ = ln.Close()
		return fmt.Errorf("metrics: %w", err)
	}
	e.Use(m.HTTPMiddleware)
	// Behind the REST API's Basic authentication when that is on
	// (Prometheus's scrape config has basic_auth).
	e.GET("/metrics", echo.WrapHandler(m.Handler()))
	srv := httpapi.NewServer(e, cfg.HTTPTimeouts)
	log.Info("kafka connect REST API listening", "addr", ln.Addr().String(), "worker_id", w.ID())

	// -------------------------------------------------------------------------
	// Run until a signal or the first failure, then stop in reverse: HTTP,
	// the relays (each checkpoints and releases its lease), the producer;
	// the store closes last (deferred)

	g := lifecycle.Group{Timeout: cfg.ShutdownTimeout, Log: log}
	g.Add("producer", producerFor(w, cfg.Brokers, log), nil)
	g.Add("relays", w.Run, nil)
	g.Add("http", func(context.Context) error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("http server stopped: %w", err)
		}
		return nil
	}, srv.Shutdown)
	return g.Run(ctx)
}

// producerFor runs the relays' producer: it connects once a broker answers,
// hands the producer to w (creating missing topics as records need them)
// and closes it when ctx ends.
func producerFor(w *worker.Worker, brokers []string, log *slog.Logger) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		p, err := kafkaclient.WaitSyncProducer(ctx, brokers, name, log.With("component", "kafka"))
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped before the broker ever answered
			}
			return err
		}
		w.SetProducer(autotopic.New(p, func(ctx context.Context, topics []string) error {
			return kafkaclient.EnsureTopics(ctx, brokers, topics)
		}))
		<-ctx.Done()
		if err := p.Close(); err != nil {
			return fmt.Errorf("close producer: %w", err)
		}
		return nil
	}
}

// workerID names this process like a Connect worker (host:port), plus a
// random part: it is also the relays' lease holder id, which must differ
// from a crashed predecessor's.
func workerID(addr net.Addr) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	port := "0"
	if tcp, ok := addr.(*net.TCPAddr); ok {
		port = fmt.Sprint(tcp.Port)
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s:%s-%s", host, port, hex.EncodeToString(b))
}

// serverInfo is GET /'s body: outbox-relay's build, not a Kafka version.
func serverInfo() connectapi.ServerInfo {
	info := connectapi.ServerInfo{Version: name + " (devel)"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if v := bi.Main.Version; v != "" {
		info.Version = name + " " + v
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			info.Commit = s.Value
		}
	}
	return info
}
