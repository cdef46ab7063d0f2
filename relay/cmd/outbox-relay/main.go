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
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/IBM/sarama"
	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
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

// testRoutes is set only by test builds (build tag outboxrelay_e2e) to add
// routes that seed the embedded store; production builds leave it nil.
var testRoutes func(e *echo.Echo, store *mongotx.Client)

func run(ctx context.Context, lookup func(string) (string, bool), stderr io.Writer) error {
	cfg, err := loadConfig(lookup)
	if err != nil {
		return fmt.Errorf("%w:\n%w", errConfig, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	log.Info("starting", "config", cfg)
	if cfg.Unauthenticated() {
		log.Warn("CONNECT_ALLOW_UNAUTHENTICATED=true: the Kafka Connect REST API listens beyond loopback without authentication; anyone who reaches " + cfg.ConnectAddr + " can reconfigure or delete connectors")
	}

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

	// The worker runs (and answers) while Kafka is still being waited for.
	workerCtx, stopWorker := context.WithCancel(context.Background())
	defer stopWorker()
	workerDone := make(chan error, 1)
	go func() { workerDone <- w.Run(workerCtx) }()

	producerCtx, stopProducer := context.WithCancel(context.Background())
	defer stopProducer()
	producerCh := make(chan sarama.SyncProducer, 1)
	go func() {
		p, err := kafkaclient.WaitSyncProducer(producerCtx, cfg.Brokers, name, log.With("component", "kafka"))
		if err != nil {
			return // shutting down before the broker ever answered
		}
		producerCh <- p
		w.SetProducer(autotopic.New(p, func(ctx context.Context, topics []string) error {
			return kafkaclient.EnsureTopics(ctx, cfg.Brokers, topics)
		}))
	}()

	e := connectapi.New(w, connectapi.Options{
		Info:        serverInfo(),
		Health:      store.Ping,
		Log:         log.With("component", "http"),
		Credentials: cfg.Credentials,
	})
	if testRoutes != nil {
		testRoutes(e, store)
	}
	srv := httpapi.NewServer(e, cfg.HTTPTimeouts)
	httpDone := make(chan error, 1)
	go func() { httpDone <- srv.Serve(ln) }()
	log.Info("kafka connect REST API listening", "addr", ln.Addr().String(), "worker_id", w.ID())

	select {
	case <-ctx.Done():
	case err := <-httpDone:
		log.Error("http server stopped", "err", err)
	}
	log.Info("shutting down")
	deadline, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(deadline); err != nil {
		log.Error("http shutdown", "err", err)
	}
	stopProducer()
	stopWorker() // stops the relays: each checkpoints and releases its lease
	select {
	case <-workerDone:
	case <-deadline.Done():
		log.Error("shutdown deadline passed", "waiting_for", "relays")
	}
	select {
	case p := <-producerCh:
		if err := p.Close(); err != nil {
			log.Error("close producer", "err", err)
		}
	default:
	}
	log.Info("stopped")
	return nil
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
