// Package kafkaview reads what a Kafka cluster holds (topics, partition offsets,
// consumer-group offsets and lag, the last records of a topic) through sarama,
// and renders it as aligned, greppable tables. It works against devkafka and any
// Kafka that speaks protocol 3.x.
//
// It only reads: it never creates topics (metadata requests disable
// auto-creation), joins groups or commits offsets.
package kafkaview

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
)

// ErrUnknownTopic is returned for a topic the cluster does not have.
var ErrUnknownTopic = errors.New("unknown topic")

// ErrUnknownPartition is returned for a partition the topic does not have.
var ErrUnknownPartition = errors.New("unknown partition")

// Config says where the cluster is and how long to wait for it.
type Config struct {
	// Brokers are bootstrap host:port addresses.
	Brokers []string
	// Timeout bounds connecting and each request, and how long Tail waits for
	// records it knows exist.
	Timeout time.Duration
	// Logger, if set, receives sarama's own log.
	Logger *log.Logger
	// ClientID names the client to the brokers ("kafkaview" when empty).
	ClientID string
}

// Client is a read-only view of one cluster.
type Client struct {
	cfg    Config
	client sarama.Client
	admin  sarama.ClusterAdmin
}

// Dial connects to the cluster and loads its metadata. It gives up after
// cfg.Timeout even if the network would keep it waiting longer.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errors.New("no brokers given")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Logger != nil {
		sarama.Logger = cfg.Logger
	}
	if cfg.ClientID == "" {
		cfg.ClientID = "kafkaview"
	}
	sc := saramaConfig(cfg)

	type result struct {
		c   sarama.Client
		err error
	}
	ch := make(chan result, 1)
	go func() {
		c, err := sarama.NewClient(cfg.Brokers, sc)
		ch <- result{c, err}
	}()
	timer := time.NewTimer(cfg.Timeout)
	defer timer.Stop()
	// A client that connects after Dial gave up is closed, not leaked
	// with its connections and metadata goroutine.
	abandon := func() {
		go func() {
			if r := <-ch; r.err == nil {
				r.c.Close()
			}
		}()
	}
	var r result
	select {
	case r = <-ch:
	case <-timer.C:
		abandon()
		return nil, fmt.Errorf("cannot reach kafka at %s: no answer within %s", strings.Join(cfg.Brokers, ","), cfg.Timeout)
	case <-ctx.Done():
		abandon()
		return nil, context.Cause(ctx)
	}
	if r.err != nil {
		msg := strings.TrimPrefix(oneLine(r.err), sarama.ErrOutOfBrokers.Error()+": ")
		return nil, fmt.Errorf("cannot reach kafka at %s: %s", strings.Join(cfg.Brokers, ","), msg)
	}
	admin, err := sarama.NewClusterAdminFromClient(r.c)
	if err != nil {
		r.c.Close()
		return nil, fmt.Errorf("cluster admin: %w", err)
	}
	return &Client{cfg: cfg, client: r.c, admin: admin}, nil
}

func saramaConfig(cfg Config) *sarama.Config {
	timeout := cfg.Timeout
	sc := sarama.NewConfig()
	sc.ClientID = cfg.ClientID
	sc.Version = sarama.V3_6_0_0
	sc.Net.DialTimeout = timeout
	sc.Net.ReadTimeout = timeout
	sc.Net.WriteTimeout = timeout
	// Looking at a topic must not create it.
	sc.Metadata.AllowAutoTopicCreation = false
	sc.Metadata.Retry.Max = 1
	sc.Metadata.Retry.Backoff = 250 * time.Millisecond
	sc.Admin.Timeout = timeout
	sc.Admin.Retry.Max = 1
	sc.Consumer.Return.Errors = true
	sc.Consumer.MaxWaitTime = 250 * time.Millisecond
	sc.Consumer.Offsets.AutoCommit.Enable = false
	return sc
}

// Close releases the connections.
func (c *Client) Close() error { return c.client.Close() }

// Partition is the offset range of one partition.
type Partition struct {
	Topic     string
	Partition int32
	// Oldest is the log start offset, the first offset still stored.
	Oldest int64
	// Newest is the high watermark: the offset the next record will get.
	Newest int64
}

// Messages is Newest-Oldest: exact for a plain log, an upper bound when
// compaction or transaction markers leave gaps.
func (p Partition) Messages() int64 { return p.Newest - p.Oldest }

// Partitions returns every partition of every topic, sorted by topic and
// partition. Internal topics (names starting with "__") are left out unless
// includeInternal.
func (c *Client) Partitions(ctx context.Context, includeInternal bool) ([]Partition, error) {
	if err := c.client.RefreshMetadata(); err != nil {
		return nil, fmt.Errorf("load metadata: %s", oneLine(err))
	}
	topics, err := c.client.Topics()
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	var out []Partition
	for _, t := range topics {
		if isInternal(t) && !includeInternal {
			continue
		}
		ps, err := c.topicPartitions(ctx, t)
		if err != nil {
			return nil, err
		}
		out = append(out, ps...)
	}
	slices.SortFunc(out, func(a, b Partition) int {
		return cmp.Or(strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// topicPartitions returns the offset ranges of topic's partitions.
func (c *Client) topicPartitions(ctx context.Context, topic string) ([]Partition, error) {
	ids, err := c.client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of %s: %w", topic, err)
	}
	slices.Sort(ids)
	out := make([]Partition, 0, len(ids))
	for _, p := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		oldest, err := c.client.GetOffset(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, fmt.Errorf("oldest offset of %s/%d: %w", topic, p, err)
		}
		newest, err := c.client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("newest offset of %s/%d: %w", topic, p, err)
		}
		out = append(out, Partition{Topic: topic, Partition: p, Oldest: oldest, Newest: newest})
	}
	return out, nil
}

// Group is a consumer group as the coordinator describes it.
type Group struct {
	Name string
	// State is Empty, Stable, PreparingRebalance, CompletingRebalance or Dead.
	State string
	// Protocol is the protocol type: "consumer" for Kafka consumers, empty for
	// groups that only ever committed offsets.
	Protocol string
	Members  int
}

// Groups returns every group, sorted by name.
func (c *Client) Groups(context.Context) ([]Group, error) {
	names, err := c.groupNames()
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, nil
	}
	descs, err := c.admin.DescribeConsumerGroups(names)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	out := make([]Group, 0, len(descs))
	for _, d := range descs {
		out = append(out, Group{Name: d.GroupId, State: d.State, Protocol: d.ProtocolType, Members: len(d.Members)})
	}
	slices.SortFunc(out, func(a, b Group) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

func (c *Client) groupNames() ([]string, error) {
	groups, err := c.admin.ListConsumerGroups()
	if err != nil {
		return nil, fmt.Errorf("list groups: %w", err)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	return names, nil
}

// GroupOffset is a group's committed offset for one partition.
type GroupOffset struct {
	Group     string
	Topic     string
	Partition int32
	// Committed is the offset the group resumes from.
	Committed int64
	// Newest is the partition's high watermark.
	Newest int64
}

// Lag is how many records the group has not consumed yet.
func (o GroupOffset) Lag() int64 { return o.Newest - o.Committed }

// GroupOffsets returns the committed offsets of every group, sorted by group,
// topic and partition. Partitions without a committed offset are left out, as
// are internal topics unless includeInternal. Offsets on topics that no longer
// exist get Newest -1.
func (c *Client) GroupOffsets(ctx context.Context, includeInternal bool) ([]GroupOffset, error) {
	names, err := c.groupNames()
	if err != nil {
		return nil, err
	}
	newest := map[string]map[int32]int64{}
	var out []GroupOffset
	for _, g := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		resp, err := c.admin.ListConsumerGroupOffsets(g, nil)
		if err != nil {
			return nil, fmt.Errorf("offsets of group %s: %w", g, err)
		}
		for topic, parts := range offsetBlocks(resp, g) {
			if isInternal(topic) && !includeInternal {
				continue
			}
			for p, b := range parts {
				if b == nil || b.Offset < 0 || !errors.Is(b.Err, sarama.ErrNoError) {
					continue
				}
				hw, err := c.highWatermark(newest, topic, p)
				if err != nil {
					return nil, err
				}
				out = append(out, GroupOffset{Group: g, Topic: topic, Partition: p, Committed: b.Offset, Newest: hw})
			}
		}
	}
	slices.SortFunc(out, func(a, b GroupOffset) int {
		return cmp.Or(strings.Compare(a.Group, b.Group), strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	return out, nil
}

// highWatermark returns the newest offset of topic/p, caching per call.
func (c *Client) highWatermark(cache map[string]map[int32]int64, topic string, p int32) (int64, error) {
	if hw, ok := cache[topic][p]; ok {
		return hw, nil
	}
	hw, err := c.client.GetOffset(topic, p, sarama.OffsetNewest)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		hw, err = -1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("newest offset of %s/%d: %w", topic, p, err)
	}
	if cache[topic] == nil {
		cache[topic] = map[int32]int64{}
	}
	cache[topic][p] = hw
	return hw, nil
}

// offsetBlocks hides the v8 (per-group) and older layouts of OffsetFetch responses.
func offsetBlocks(resp *sarama.OffsetFetchResponse, group string) map[string]map[int32]*sarama.OffsetFetchResponseBlock {
	if g := resp.GetGroup(group); g != nil {
		return g.Blocks
	}
	return resp.Blocks
}

// Header is one record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one consumed record. A nil Key or Value was null on the wire.
type Record struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp time.Time
	Key       []byte
	Headers   []Header
	Value     []byte
}

// TopicPartitions returns the offset range of each partition of topic,
// sorted by partition, or an error wrapping ErrUnknownTopic when the cluster
// has no such topic.
func (c *Client) TopicPartitions(ctx context.Context, topic string) ([]Partition, error) {
	if err := c.client.RefreshMetadata(topic); err != nil && !errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return nil, fmt.Errorf("load metadata: %s", oneLine(err))
	}
	topics, err := c.client.Topics()
	if err != nil {
		return nil, fmt.Errorf("list topics: %w", err)
	}
	if !slices.Contains(topics, topic) {
		return nil, fmt.Errorf("%w %q", ErrUnknownTopic, topic)
	}
	return c.topicPartitions(ctx, topic)
}

// ReadAll returns every record of topic, from each partition's log start
// to its high watermark as they were when ReadAll looked, sorted by
// partition then offset, with those partitions. Unlike Tail it never
// returns part of a topic as if it were all of it: it fails when ctx ends
// first, or when a partition that still owes records delivers none for
// Config.Timeout (a log ending in transaction markers does that too; the
// platform's producers are not transactional).
func (c *Client) ReadAll(ctx context.Context, topic string) ([]Record, []Partition, error) {
	return c.ReadRanges(ctx, topic, nil)
}

// ReadRanges is ReadAll of the offsets [from, to) that bound chooses in each
// partition (within its log start and high watermark; nil bound reads all):
// the newest records of a large topic, or the few a caller asks for.
func (c *Client) ReadRanges(ctx context.Context, topic string, bound func(Partition) (from, to int64)) ([]Record, []Partition, error) {
	all, err := c.TopicPartitions(ctx, topic)
	if err != nil {
		return nil, nil, err
	}
	parts := slices.Clone(all)
	if bound != nil {
		for i, p := range parts {
			from, to := bound(p)
			parts[i].Oldest, parts[i].Newest = max(from, p.Oldest), min(to, p.Newest)
		}
	}
	consumer, err := sarama.NewConsumerFromClient(c.client)
	if err != nil {
		return nil, nil, fmt.Errorf("consumer: %w", err)
	}
	defer consumer.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make([][]Record, len(parts))
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error // the first partition's failure; the others then stop
	)
	for i, p := range parts {
		if p.Messages() <= 0 {
			continue
		}
		wg.Go(func() {
			recs, err := c.readAll(ctx, consumer, p)
			if err != nil {
				once.Do(func() { first = err; cancel() })
			}
			got[i] = recs
		})
	}
	wg.Wait()
	if first != nil {
		return nil, nil, first
	}
	var recs []Record
	for _, g := range got {
		recs = append(recs, g...)
	}
	return recs, all, nil
}

// readAll consumes p from its log start up to its high watermark as it was
// when p was read.
func (c *Client) readAll(ctx context.Context, consumer sarama.Consumer, p Partition) ([]Record, error) {
	pc, err := consumer.ConsumePartition(p.Topic, p.Partition, p.Oldest)
	if err != nil {
		return nil, fmt.Errorf("read %s/%d from offset %d: %w", p.Topic, p.Partition, p.Oldest, err)
	}
	defer pc.AsyncClose()
	idle := time.NewTimer(c.cfg.Timeout)
	defer idle.Stop()
	out := make([]Record, 0, p.Messages())
	next := p.Oldest
	for {
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				return nil, fmt.Errorf("read %s/%d: consumer closed at offset %d of %d", p.Topic, p.Partition, next, p.Newest)
			}
			out = append(out, recordOf(m))
			next = m.Offset + 1
			if next >= p.Newest {
				return out, nil
			}
			idle.Reset(c.cfg.Timeout)
		case err, ok := <-pc.Errors():
			if ok {
				return nil, fmt.Errorf("read %s/%d: %w", p.Topic, p.Partition, err.Err)
			}
		case <-idle.C:
			return nil, fmt.Errorf("read %s/%d: no record for %s at offset %d (high watermark %d)", p.Topic, p.Partition, c.cfg.Timeout, next, p.Newest)
		case <-ctx.Done():
			return nil, fmt.Errorf("read %s/%d: stopped at offset %d of %d: %w", p.Topic, p.Partition, next, p.Newest, context.Cause(ctx))
		}
	}
}

// Tail returns the last n records of topic, oldest first. With partition < 0
// it takes the last n of each partition, orders them by timestamp (then
// partition and offset) and keeps the last n overall; otherwise the last n
// of that partition in offset order.
func (c *Client) Tail(ctx context.Context, topic string, n int, partition int32) ([]Record, error) {
	if n < 1 {
		return nil, nil
	}
	parts, err := c.TopicPartitions(ctx, topic)
	if err != nil {
		return nil, err
	}
	if partition >= 0 {
		i := slices.IndexFunc(parts, func(p Partition) bool { return p.Partition == partition })
		if i < 0 {
			return nil, fmt.Errorf("%w %d: topic %q has partitions 0-%d", ErrUnknownPartition, partition, topic, len(parts)-1)
		}
		parts = parts[i : i+1]
	}

	consumer, err := sarama.NewConsumerFromClient(c.client)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	defer consumer.Close()

	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	var (
		mu   sync.Mutex
		recs []Record
		errs []error
		wg   sync.WaitGroup
	)
	for _, p := range parts {
		if p.Messages() <= 0 {
			continue
		}
		wg.Go(func() {
			got, err := readRange(ctx, consumer, p, max(p.Oldest, p.Newest-int64(n)))
			mu.Lock()
			defer mu.Unlock()
			recs = append(recs, got...)
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b Record) int {
		if partition < 0 {
			if c := a.Timestamp.Compare(b.Timestamp); c != 0 {
				return c
			}
		}
		return cmp.Or(cmp.Compare(a.Partition, b.Partition), cmp.Compare(a.Offset, b.Offset))
	})
	if len(recs) > n {
		recs = recs[len(recs)-n:]
	}
	return recs, nil
}

// readRange consumes p from offset from up to its high watermark as it was
// when p was read. Records appended meanwhile are not waited for. If the
// context ends first (the end of the log was a transaction marker, or the
// broker is slow), readRange returns what it has, or an error if that is nothing.
func readRange(ctx context.Context, consumer sarama.Consumer, p Partition, from int64) ([]Record, error) {
	pc, err := consumer.ConsumePartition(p.Topic, p.Partition, from)
	if err != nil {
		return nil, fmt.Errorf("read %s/%d from offset %d: %w", p.Topic, p.Partition, from, err)
	}
	defer pc.AsyncClose()
	var out []Record
	for {
		select {
		case m, ok := <-pc.Messages():
			if !ok {
				return out, nil
			}
			out = append(out, recordOf(m))
			if m.Offset >= p.Newest-1 {
				return out, nil
			}
		case err, ok := <-pc.Errors():
			if ok {
				return out, fmt.Errorf("read %s/%d: %w", p.Topic, p.Partition, err.Err)
			}
		case <-ctx.Done():
			if len(out) == 0 {
				return nil, fmt.Errorf("read %s/%d: no records within the timeout (offsets %d-%d)", p.Topic, p.Partition, from, p.Newest-1)
			}
			return out, nil
		}
	}
}

func recordOf(m *sarama.ConsumerMessage) Record {
	r := Record{
		Topic:     m.Topic,
		Partition: m.Partition,
		Offset:    m.Offset,
		Timestamp: m.Timestamp,
		Key:       m.Key,
		Value:     m.Value,
	}
	for _, h := range m.Headers {
		if h != nil {
			r.Headers = append(r.Headers, Header{Key: string(h.Key), Value: h.Value})
		}
	}
	return r
}

func isInternal(topic string) bool { return strings.HasPrefix(topic, "__") }

// oneLine flattens sarama's multi-line wrapped errors.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
