package broker_test

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/devkafka/internal/broker"
	"github.com/sagaoutbox/platform/devkafka/internal/kafkatest"
)

func start(t *testing.T) *broker.Server {
	t.Helper()
	s, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), Partitions: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

// TestOffsetFetchUnknownGroup proves that fetching the offsets of a group the
// broker has never seen answers "no offset" (-1, no error) like Kafka, for
// every OffsetFetch version sarama picks, instead of kfake's GROUP_ID_NOT_FOUND.
func TestOffsetFetchUnknownGroup(t *testing.T) {
	t.Parallel()
	s := start(t)
	kafkatest.Produce(t, s.Addr(), []kafkatest.Message{{Topic: "t", Partition: 1, Key: "k", Value: "v"}})
	tests := []struct {
		name    string
		version sarama.KafkaVersion // decides the OffsetFetch version
	}{
		{"offset fetch v4", sarama.V2_0_0_0},
		{"offset fetch v5", sarama.V2_1_0_0},
		{"offset fetch v7", sarama.V2_5_0_0},
		{"offset fetch v8", sarama.V3_6_0_0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conf := kafkatest.Config()
			conf.Version = tc.version
			admin, err := sarama.NewClusterAdmin([]string{s.Addr()}, conf)
			if err != nil {
				t.Fatal(err)
			}
			defer admin.Close()
			resp, err := admin.ListConsumerGroupOffsets("never-seen-"+tc.name, map[string][]int32{"t": {0, 1}})
			if err != nil {
				t.Fatalf("got error %v, want offsets -1", err)
			}
			for _, p := range []int32{0, 1} {
				b := resp.GetBlock("t", p)
				if b == nil {
					t.Fatalf("partition %d: got no block, want offset -1", p)
				}
				if b.Offset != -1 || !errors.Is(b.Err, sarama.ErrNoError) {
					t.Errorf("partition %d: got offset %d err %v, want -1 and no error", p, b.Offset, b.Err)
				}
			}
		})
	}
}

// TestOffsetManagerNewGroup proves sarama's OffsetManager, which fetches
// before it commits, works for a brand-new group, and that known groups still
// go through kfake (the commit is read back).
func TestOffsetManagerNewGroup(t *testing.T) {
	t.Parallel()
	s := start(t)
	kafkatest.Produce(t, s.Addr(), []kafkatest.Message{
		{Topic: "orders", Partition: 0, Key: "a", Value: "1"},
		{Topic: "orders", Partition: 0, Key: "a", Value: "2"},
	})
	c := kafkatest.Client(t, s.Addr())
	om, err := sarama.NewOffsetManagerFromClient("fresh-group", c)
	if err != nil {
		t.Fatal(err)
	}
	pom, err := om.ManagePartition("orders", 0)
	if err != nil {
		t.Fatalf("manage partition of a new group: got %v, want no error", err)
	}
	if next, _ := pom.NextOffset(); next != sarama.OffsetNewest {
		t.Errorf("next offset of a new group: got %d, want %d (Consumer.Offsets.Initial)", next, sarama.OffsetNewest)
	}
	pom.MarkOffset(2, "")
	om.Commit()
	if err := pom.Close(); err != nil {
		t.Fatal(err)
	}
	if err := om.Close(); err != nil {
		t.Fatal(err)
	}
	if got := kafkatest.Committed(t, s.Addr(), "fresh-group", "orders", []int32{0}); got[0] != 2 {
		t.Errorf("committed offset: got %d, want 2", got[0])
	}
}

// TestStartErrors proves bad settings fail Start with a reason.
func TestStartErrors(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tests := []struct {
		name string
		cfg  broker.Config
		want string
	}{
		{"port taken", broker.Config{Addr: taken.Addr().String(), Partitions: 1}, "address already in use"},
		{"wildcard without advertised address", broker.Config{Addr: "0.0.0.0:0", Partitions: 1}, "listens on all interfaces"},
		{"no partitions", broker.Config{Addr: "127.0.0.1:0", Partitions: 0}, "partitions must be at least 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DataDir = t.TempDir()
			s, err := broker.Start(tc.cfg)
			if err == nil {
				s.Close(context.Background())
				t.Fatalf("got no error, want one containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestAdvertisedAddress proves the address in metadata is the configured one.
func TestAdvertisedAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		addr       string
		advertised string
		want       func(bound net.Addr) string
	}{
		{"defaults to addr with the bound port", "127.0.0.1:0", "", func(b net.Addr) string { return b.String() }},
		{"explicit advertised address on a wildcard bind", "0.0.0.0:0", "devkafka.test:19093", func(net.Addr) string { return "devkafka.test:19093" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := broker.Start(broker.Config{Addr: tc.addr, AdvertisedAddr: tc.advertised, DataDir: t.TempDir(), Partitions: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close(context.Background())
			want := tc.want(s.BoundAddr())
			if s.Addr() != want {
				t.Errorf("Addr: got %q, want %q", s.Addr(), want)
			}
			// Ask the broker itself, bootstrapping through the bound port.
			_, port, _ := net.SplitHostPort(s.BoundAddr().String())
			b := sarama.NewBroker(net.JoinHostPort("127.0.0.1", port))
			if err := b.Open(kafkatest.Config()); err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			md, err := b.GetMetadata(&sarama.MetadataRequest{Version: 7})
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Brokers) != 1 || md.Brokers[0].Addr() != want {
				var got []string
				for _, mb := range md.Brokers {
					got = append(got, mb.Addr())
				}
				t.Errorf("brokers in metadata: got %q, want [%q]", got, want)
			}
		})
	}
}

// TestLostLogDropsItsOffsets: when the records of a partition are gone (its
// data deleted under a running broker) but the group state survived, the
// committed offsets past the log end are dropped at start, so consumers
// reset to the earliest offset instead of skipping the records produced
// after the restart.
func TestLostLogDropsItsOffsets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []kafkatest.Message
	for range 5 {
		msgs = append(msgs, kafkatest.Message{Topic: "t", Partition: 0, Key: "k", Value: "v"})
	}
	kafkatest.Produce(t, s.Addr(), msgs)
	kafkatest.Commit(t, s.Addr(), "g", "t", map[int32]int64{0: 5})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "LOCK" {
			if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	s = start2(t, dir)
	got := kafkatest.Committed(t, s.Addr(), "g", "t", []int32{0})
	if got[0] != -1 {
		t.Fatalf("committed offset after the log was lost = %d, want -1 (none: consumers reset to the earliest)", got[0])
	}
}

func start2(t *testing.T, dir string) *broker.Server {
	t.Helper()
	s, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

// TestDataFilesArePrivate proves every file the broker keeps (segments,
// indexes, state, lock) is 0600 and every directory 0700, as the services'
// stores are, also for a data directory an earlier version left 0644/0755.
func TestDataFilesArePrivate(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string)
	}{
		{"new data dir", func(*testing.T, string) {}},
		{"data dir of an earlier version", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "old-topic-0"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "old-topic-0", "leftover"), []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(filepath.Join(dir, "old-topic-0", "leftover"), 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "kafka")
			tc.prepare(t, dir)
			s, err := broker.Start(broker.Config{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 2})
			if err != nil {
				t.Fatal(err)
			}
			kafkatest.Produce(t, s.Addr(), []kafkatest.Message{{Topic: "orders", Partition: 1, Key: "k", Value: "v"}})
			if err := s.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			files := 0
			err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				info, err := d.Info()
				if err != nil {
					return err
				}
				want := fs.FileMode(0o600)
				if d.IsDir() {
					want = 0o700
				} else {
					files++
				}
				if got := info.Mode().Perm(); got&^want != 0 {
					t.Errorf("%s: mode %v, want at most %v", path, got, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if files < 3 {
				t.Errorf("found %d files in %s: did the broker write its data there?", files, dir)
			}
		})
	}
}
