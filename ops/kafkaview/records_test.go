package kafkaview_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// seeded starts a broker with topic (3 partitions) holding n records keyed
// key-0 … key-(n-1) with headers seq=i and kind=even|odd, timestamped one
// second apart from base, and returns a client of it.
func seeded(t *testing.T, topic string, n int, base time.Time) *kafkaview.Client {
	t.Helper()
	cluster := kafkatest.Start(t, kfake.SeedTopics(kafkatest.Partitions, topic))
	brokers := cluster.ListenAddrs()
	p := kafkatest.Producer(t, brokers)
	for i := range n {
		kind := "even"
		if i%2 == 1 {
			kind = "odd"
		}
		_, _, err := p.SendMessage(&sarama.ProducerMessage{
			Topic:     topic,
			Key:       sarama.StringEncoder(fmt.Sprintf("key-%d", i%7)),
			Value:     sarama.StringEncoder(fmt.Sprintf(`{"i":%d}`, i)),
			Headers:   kafkatest.Headers("seq", fmt.Sprint(i), "kind", kind),
			Timestamp: base.Add(time.Duration(i) * time.Second),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	c, err := kafkaview.Dial(context.Background(), kafkaview.Config{Brokers: brokers, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func seqs(recs []kafkaview.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		v, _ := r.HeaderValue("seq")
		out[i] = string(v)
	}
	return out
}

func descending(from, to int) []string {
	var out []string
	for i := from; i >= to; i-- {
		out = append(out, fmt.Sprint(i))
	}
	return out
}

// TestPage pages through a topic newest first, across partitions, and
// ends with no cursor.
func TestPage(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := seeded(t, "t", 23, base)

	var all []string
	var before map[int32]int64
	for page := 0; ; page++ {
		got, err := c.Page(ctx, "t", before, 10, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		if page < 2 && len(got.Records) != 10 || page == 2 && len(got.Records) != 3 {
			t.Fatalf("page %d has %d records", page, len(got.Records))
		}
		if got.Limited || got.Scanned != len(got.Records) {
			t.Errorf("page %d: limited %v, scanned %d, want not limited and %d scanned", page, got.Limited, got.Scanned, len(got.Records))
		}
		all = append(all, seqs(got.Records)...)
		if got.Next == nil {
			break
		}
		if page == 2 {
			t.Fatalf("a cursor after the last page: %v", got.Next)
		}
		before = got.Next
	}
	if want := descending(22, 0); !slices.Equal(all, want) {
		t.Errorf("records over all pages = %v, want %v", all, want)
	}
}

// TestPageSearch matches by header within a scan bound and says when the
// bound cut the page short.
func TestPageSearch(t *testing.T) {
	ctx := context.Background()
	c := seeded(t, "t", 30, time.Now().Add(-time.Hour))
	odd := func(r kafkaview.Record) bool { v, _ := r.HeaderValue("kind"); return string(v) == "odd" }

	tests := []struct {
		name        string
		n, limit    int
		want        []string
		wantLimited bool
		wantNext    bool
	}{
		{name: "page full before the bound", n: 3, limit: 100, want: []string{"29", "27", "25"}, wantNext: true},
		{name: "bound reached first", n: 10, limit: 6, want: []string{"29", "27", "25"}, wantLimited: true, wantNext: true},
		{name: "whole topic", n: 50, limit: 100, want: []string{"29", "27", "25", "23", "21", "19", "17", "15", "13", "11", "9", "7", "5", "3", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := c.Page(ctx, "t", nil, tt.n, odd, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seqs(got.Records), tt.want) || got.Limited != tt.wantLimited || (got.Next != nil) != tt.wantNext {
				t.Errorf("got %v limited=%v next=%v, want %v limited=%v next=%v", seqs(got.Records), got.Limited, got.Next, tt.want, tt.wantLimited, tt.wantNext)
			}
		})
	}

	t.Run("cursor of one partition reads only it", func(t *testing.T) {
		got, err := c.Page(ctx, "t", map[int32]int64{1: 1 << 40}, 100, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range got.Records {
			if r.Partition != 1 {
				t.Fatalf("record of partition %d", r.Partition)
			}
		}
		if len(got.Records) == 0 {
			t.Error("no records of partition 1")
		}
	})
	t.Run("unknown topic", func(t *testing.T) {
		_, err := c.Page(ctx, "nope", nil, 10, nil, 0)
		if err == nil || !strings.Contains(err.Error(), "unknown topic") {
			t.Errorf("err = %v, want unknown topic", err)
		}
	})
}

// TestFind locates a record by key and header in the key's partition only,
// from a timestamp on.
func TestFind(t *testing.T) {
	ctx := context.Background()
	base := time.Now().Add(-time.Hour).Truncate(time.Millisecond)
	c := seeded(t, "t", 30, base)

	tests := []struct {
		name      string
		key, seq  string
		since     time.Time
		wantFound bool
	}{
		{name: "found", key: "key-3", seq: "17", since: base, wantFound: true},
		{name: "found since shortly before", key: "key-3", seq: "17", since: base.Add(16 * time.Second), wantFound: true},
		{name: "since after it", key: "key-3", seq: "17", since: base.Add(18 * time.Second)},
		{name: "since after everything", key: "key-3", seq: "17", since: base.Add(time.Hour)},
		{name: "other key", key: "key-4", seq: "17", since: base},
		{name: "no such header value", key: "key-3", seq: "99", since: base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, ok, err := c.Find(ctx, "t", []byte(tt.key), "seq", tt.seq, tt.since, 0)
			if err != nil {
				t.Fatal(err)
			}
			if ok != tt.wantFound {
				t.Fatalf("found = %v, want %v", ok, tt.wantFound)
			}
			if !ok {
				return
			}
			if string(r.Key) != tt.key || r.Partition != kafkaclient.Partition([]byte(tt.key), kafkatest.Partitions) || !r.Timestamp.Equal(base.Add(17*time.Second)) {
				t.Errorf("found %s/%d@%d key %s at %s", r.Topic, r.Partition, r.Offset, r.Key, r.Timestamp)
			}
		})
	}
	t.Run("scan bound", func(t *testing.T) {
		_, ok, err := c.Find(ctx, "t", []byte("key-3"), "seq", "24", base, 2)
		if err != nil || ok {
			t.Errorf("found = %v, err = %v; want not found within 2 records", ok, err)
		}
	})
}
