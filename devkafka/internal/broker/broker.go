// Package broker runs devkafka: a single-node broker that speaks the Kafka wire
// protocol, built on franz-go's kfake, whose topics, records, committed offsets and
// consumer groups live in a data directory and survive restarts.
//
// It is for development and tests on machines without Kafka, Docker or a JVM.
// It is NOT:
//   - for production, or for data you cannot recreate: there is no replication,
//     no authentication or TLS (not enabled here), and the on-disk format is kfake's
//     own (segments hold Kafka record batches, state is JSON and append logs), not
//     Kafka's, so a real broker cannot read the directory;
//   - a cluster: one node, every partition has one replica and no followers;
//     acks=all means "written to this process";
//   - a faithful copy of Kafka: retention (retention.ms, retention.bytes) is only
//     enforced for topics that set it explicitly, so the data directory grows until
//     you delete it; without SyncWrites a power loss (not a process crash) can drop
//     the latest batches; after a crash (kill -9) kfake rebuilds partitions from
//     their segments, but group membership is not restored and consumers rejoin;
//     and kfake differs from Kafka in places, three of which this package
//     patches (see compat.go: auto-created topics were not durable until a
//     clean shutdown, and OffsetFetch for a new group failed; lostlog.go:
//     committed offsets could outlive the records they point past);
//   - safe to share: one process owns a data directory, enforced with a lock file
//     on Unix.
//
// The data directory is private to the user running the broker: its files are
// 0600 and its directories 0700, as the services' stores are (see
// restrictFileModes for how, since kfake creates them 0644).
package broker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Config is what [Start] needs. Parsing it from the environment is the caller's job.
type Config struct {
	// Addr is the host:port to bind. Port 0 binds a free port.
	Addr string
	// AdvertisedAddr is the host:port put in metadata responses, the address
	// clients connect to after bootstrapping. Empty means Addr's host with the
	// bound port; Addr's host must then be a concrete address, not 0.0.0.0 or ::.
	AdvertisedAddr string
	// DataDir holds the broker's state. It is created if missing.
	DataDir string
	// Partitions is the partition count of auto-created topics.
	Partitions int
	// SyncWrites fsyncs every produced batch and state entry.
	SyncWrites bool
	// Logger receives devkafka's and kfake's logs; nil discards them. kfake's
	// WARN and ERROR keep their level; its INFO and DEBUG lines (group
	// membership, session state, unparseable requests) arrive at DEBUG.
	Logger *slog.Logger
}

// Server is a running devkafka broker. Stop it with [Server.Close] so its state
// is written out.
type Server struct {
	cluster    *kfake.Cluster
	bound      net.Addr
	advertised string
	dataDir    string
	unlock     func() error
	restore    func() // the umask restrictFileModes narrowed

	closeOnce sync.Once
	closeErr  error
}

// Start binds cfg.Addr, loads the state in cfg.DataDir (if any) and serves the
// Kafka protocol until [Server.Close]. When Start returns without error the
// broker accepts connections.
func Start(cfg Config) (*Server, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Partitions < 1 {
		return nil, fmt.Errorf("partitions must be at least 1, got %d", cfg.Partitions)
	}
	if cfg.DataDir == "" {
		return nil, errors.New("data dir is empty")
	}
	restore := restrictFileModes()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		restore()
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	unlock, err := lockDir(cfg.DataDir)
	if err != nil {
		restore()
		return nil, err
	}
	if err := privateTree(cfg.DataDir); err != nil {
		_ = unlock()
		restore()
		return nil, fmt.Errorf("make data dir private: %w", err)
	}

	// kfake only takes a port and binds 127.0.0.1, and it advertises whatever
	// its listener's Addr() returns. Binding ourselves lets us take any host,
	// and wrapping the listener decides what clients are told to dial.
	var (
		bound      net.Addr
		advertised string
		listenErr  error
	)
	listen := func(network, _ string) (net.Listener, error) {
		ln, err := net.Listen(network, cfg.Addr)
		if err != nil {
			listenErr = err
			return nil, err
		}
		adv, err := advertisedAddr(cfg.Addr, cfg.AdvertisedAddr, ln.Addr())
		if err != nil {
			ln.Close()
			listenErr = err
			return nil, err
		}
		bound, advertised = ln.Addr(), adv
		return &advertisingListener{Listener: ln, addr: tcpAddrString(adv)}, nil
	}

	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listen),
		kfake.DataDir(cfg.DataDir),
		kfake.AllowAutoTopicCreation(),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.ClusterID("devkafka"),
		kfake.WithLogger(kfakeLogger{log: log.With("component", "kfake")}),
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		_ = unlock()
		restore()
		if listenErr != nil {
			return nil, listenErr
		}
		return nil, fmt.Errorf("start kfake in %s: %w", cfg.DataDir, err)
	}
	persistAutoCreatedTopics(cluster, log)
	answerUnknownGroupOffsetFetch(cluster)
	s := &Server{
		cluster:    cluster,
		bound:      bound,
		advertised: advertised,
		dataDir:    cfg.DataDir,
		unlock:     unlock,
		restore:    restore,
	}
	if err := s.waitAccepting(5 * time.Second); err != nil {
		_ = s.Close(context.Background())
		return nil, err
	}
	if err := dropOffsetsPastLogEnd(cluster, s.dialAddr(), log); err != nil {
		_ = s.Close(context.Background())
		return nil, err
	}
	return s, nil
}

// Addr returns the advertised host:port, the address clients should use.
func (s *Server) Addr() string { return s.advertised }

// BoundAddr returns the address the listener is bound to.
func (s *Server) BoundAddr() net.Addr { return s.bound }

// Close stops accepting connections, lets kfake write its state (topics, group
// log, partition snapshots, group sessions), then fsyncs every file in the
// data directory: kfake's Close only fsyncs its JSON state files and leaves
// segment files in the page cache unless SyncWrites is set. If ctx ends
// first, Close returns an error and the directory is as a crash leaves it,
// which kfake recovers from by replaying segments on the next start.
// Only the first call does anything.
func (s *Server) Close(ctx context.Context) error {
	s.closeOnce.Do(func() { s.closeErr = s.close(ctx) })
	return s.closeErr
}

func (s *Server) close(ctx context.Context) error {
	defer s.restore()
	done := make(chan struct{})
	go func() {
		s.cluster.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("kfake did not finish writing its state: %w", context.Cause(ctx))
	}
	err := syncTree(s.dataDir)
	if uerr := s.unlock(); uerr != nil {
		err = errors.Join(err, uerr)
	}
	if err != nil {
		return fmt.Errorf("flush data dir: %w", err)
	}
	return nil
}

// waitAccepting dials the bound address: kfake starts its accept loop just
// after NewCluster returns.
func (s *Server) waitAccepting(timeout time.Duration) error {
	addr := s.dialAddr()
	deadline := time.Now().Add(timeout)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("broker does not accept connections on %s: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dialAddr is the bound address as this process can dial it.
func (s *Server) dialAddr() string {
	if ta, ok := s.bound.(*net.TCPAddr); ok && ta.IP.IsUnspecified() {
		return net.JoinHostPort("127.0.0.1", strconv.Itoa(ta.Port))
	}
	return s.bound.String()
}

// advertisedAddr decides the host:port put in metadata.
func advertisedAddr(addr, advertised string, bound net.Addr) (string, error) {
	if advertised != "" {
		return advertised, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return "", fmt.Errorf("address %q listens on all interfaces; clients cannot dial that, so an advertised address is needed", addr)
	}
	_, port, err := net.SplitHostPort(bound.String())
	if err != nil {
		return "", err
	}
	return net.JoinHostPort(host, port), nil
}

// advertisingListener is a listener whose Addr is the address to advertise;
// kfake puts Addr().String() into Metadata and FindCoordinator responses.
type advertisingListener struct {
	net.Listener
	addr net.Addr
}

func (l *advertisingListener) Addr() net.Addr { return l.addr }

// tcpAddrString is a net.Addr for a host:port that may name a host rather than an IP.
type tcpAddrString string

func (a tcpAddrString) Network() string { return "tcp" }
func (a tcpAddrString) String() string  { return string(a) }

// privateTree makes what an earlier devkafka left in dir private: files
// 0600, directories 0700 (earlier versions created them 0644 and 0755).
func privateTree(dir string) error {
	return filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o600)
		switch {
		case d.IsDir():
			mode = 0o700
		case !d.Type().IsRegular():
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if info.Mode().Perm()&^mode == 0 {
			return nil
		}
		return os.Chmod(path, info.Mode().Perm()&mode)
	})
}

// syncTree fsyncs every regular file and directory under dir.
func syncTree(dir string) error {
	var errs []error
	walkErr := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if !d.Type().IsRegular() && !d.IsDir() {
			return nil
		}
		f, err := os.Open(path)
		if err != nil {
			errs = append(errs, err)
			return nil
		}
		if err := f.Sync(); err != nil && !d.IsDir() {
			// Some file systems refuse fsync on directories; files matter.
			errs = append(errs, fmt.Errorf("fsync %s: %w", path, err))
		}
		return f.Close()
	})
	return errors.Join(append(errs, walkErr)...)
}

// kfakeLogger forwards kfake's log lines to slog. kfake's INFO is chatty
// detail about consumer-group members, so it goes to DEBUG with its DEBUG.
type kfakeLogger struct{ log *slog.Logger }

func (l kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var lvl slog.Level
	switch level {
	case kfake.LogLevelError:
		lvl = slog.LevelError
	case kfake.LogLevelWarn:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelDebug
	}
	ctx := context.Background()
	if !l.log.Enabled(ctx, lvl) {
		return
	}
	l.log.Log(ctx, lvl, fmt.Sprintf(format, args...))
}
