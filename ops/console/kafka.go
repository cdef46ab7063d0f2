package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/validation"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// KafkaConn is the console's connection to the cluster, dialed on first use
// and again after a failed dial, so that the console starts, and serves its
// other pages, while Kafka is down. Once connected, sarama reconnects to
// brokers by itself.
type KafkaConn struct {
	cfg kafkaview.Config
	mu  sync.Mutex
	c   *kafkaview.Client
}

// NewKafkaConn returns a connection to the cluster cfg describes, not yet
// dialed.
func NewKafkaConn(cfg kafkaview.Config) *KafkaConn { return &KafkaConn{cfg: cfg} }

// Client returns the connected client, dialing it if need be.
func (k *KafkaConn) Client(ctx context.Context) (*kafkaview.Client, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c != nil {
		return k.c, nil
	}
	c, err := kafkaview.Dial(ctx, k.cfg)
	if err != nil {
		return nil, &KafkaError{err: err}
	}
	k.c = c
	return c, nil
}

// Brokers are the bootstrap addresses.
func (k *KafkaConn) Brokers() []string { return k.cfg.Brokers }

// Find is kafkaview.Client.Find on the connected client (a timeline.Finder).
func (k *KafkaConn) Find(ctx context.Context, topic string, key []byte, header, value string, since time.Time, scanLimit int) (kafkaview.Record, bool, error) {
	c, err := k.Client(ctx)
	if err != nil {
		return kafkaview.Record{}, false, err
	}
	return c.Find(ctx, topic, key, header, value, since, scanLimit)
}

// Close closes the client, if it was dialed.
func (k *KafkaConn) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c == nil {
		return nil
	}
	err := k.c.Close()
	k.c = nil
	return err
}

// KafkaError is Kafka not answering as asked. Its text is kafkaview's,
// which names the brokers and the partition, never more.
type KafkaError struct{ err error }

func (e *KafkaError) Error() string { return e.err.Error() }
func (e *KafkaError) Unwrap() error { return e.err }

// kafkaErr wraps what a kafkaview call returned: an unknown topic is the
// caller's 404, the rest Kafka's 502.
func kafkaErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kafkaview.ErrUnknownTopic):
		return problem(http.StatusNotFound, "TOPIC_NOT_FOUND", "no such topic")
	case errors.Is(err, context.Canceled):
		return err
	}
	var ke *KafkaError
	if errors.As(err, &ke) {
		return err
	}
	return &KafkaError{err: err}
}

// topicView is a topic on the topics page.
type topicView struct {
	Name       string          `json:"name"`
	Messages   int64           `json:"messages"`
	Partitions []partitionView `json:"partitions"`
}

type partitionView struct {
	Partition int32 `json:"partition"`
	Oldest    int64 `json:"oldest"`
	Newest    int64 `json:"newest"`
	Messages  int64 `json:"messages"`
}

// toTopics groups partitions (sorted by topic) by topic.
func toTopics(parts []kafkaview.Partition) []topicView {
	out := []topicView{}
	for _, p := range parts {
		if len(out) == 0 || out[len(out)-1].Name != p.Topic {
			out = append(out, topicView{Name: p.Topic})
		}
		t := &out[len(out)-1]
		t.Partitions = append(t.Partitions, partitionView{Partition: p.Partition, Oldest: p.Oldest, Newest: p.Newest, Messages: p.Messages()})
		t.Messages += p.Messages()
	}
	return out
}

// groupView is a consumer group with its committed offsets.
type groupView struct {
	Name     string       `json:"name"`
	State    string       `json:"state"`
	Protocol string       `json:"protocol"`
	Members  int          `json:"members"`
	Lag      int64        `json:"lag"`
	Offsets  []offsetView `json:"offsets"`
}

type offsetView struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	// Newest and Lag are null when the topic no longer exists.
	Newest *int64 `json:"newest"`
	Lag    *int64 `json:"lag"`
}

func toGroups(groups []kafkaview.Group, offs []kafkaview.GroupOffset) []groupView {
	out := make([]groupView, 0, len(groups))
	index := map[string]int{}
	for _, g := range groups {
		index[g.Name] = len(out)
		out = append(out, groupView{Name: g.Name, State: g.State, Protocol: g.Protocol, Members: g.Members, Offsets: []offsetView{}})
	}
	for _, o := range offs {
		i, ok := index[o.Group]
		if !ok {
			index[o.Group] = len(out)
			i = len(out)
			out = append(out, groupView{Name: o.Group, Offsets: []offsetView{}})
		}
		v := offsetView{Topic: o.Topic, Partition: o.Partition, Committed: o.Committed}
		if o.Newest >= 0 {
			newest, lag := o.Newest, o.Lag()
			v.Newest, v.Lag = &newest, &lag
			out[i].Lag += lag
		}
		out[i].Offsets = append(out[i].Offsets, v)
	}
	return out
}

func (s *Server) topics(c echo.Context) error {
	ctx, cancel := s.upstream(c)
	defer cancel()
	kc, err := s.kafka.Client(ctx)
	if err != nil {
		return err
	}
	parts, err := kc.Partitions(ctx, c.QueryParam("internal") == "true")
	if err != nil {
		return kafkaErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"topics": toTopics(parts)})
}

func (s *Server) groups(c echo.Context) error {
	ctx, cancel := s.upstream(c)
	defer cancel()
	kc, err := s.kafka.Client(ctx)
	if err != nil {
		return err
	}
	groups, err := kc.Groups(ctx)
	if err != nil {
		return kafkaErr(err)
	}
	offs, err := kc.GroupOffsets(ctx, false)
	if err != nil {
		return kafkaErr(err)
	}
	return c.JSON(http.StatusOK, map[string]any{"groups": toGroups(groups, offs)})
}

// Page sizes of the records page.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

// recordsQuery is what GET /api/topics/:topic/records asks for.
type recordsQuery struct {
	Before map[int32]int64
	Limit  int
	// Key matches the record key exactly; Header and Value a header.
	Key           string
	Header, Value string
}

func (q recordsQuery) match() func(kafkaview.Record) bool {
	if q.Key == "" && q.Header == "" {
		return nil
	}
	return func(r kafkaview.Record) bool {
		if q.Key != "" && string(r.Key) != q.Key {
			return false
		}
		if q.Header != "" {
			v, ok := r.HeaderValue(q.Header)
			return ok && string(v) == q.Value
		}
		return true
	}
}

// parseRecordsQuery reads limit, before ("0:12,1:40", as next gave it),
// key, and header ("eventId=…": a header's name and value).
func parseRecordsQuery(c echo.Context) (recordsQuery, error) {
	var errs validation.Errors
	q := recordsQuery{Limit: defaultPageSize, Key: c.QueryParam("key")}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			errs.Add("limit", "must be a whole number from 1 to %d", maxPageSize)
		} else {
			q.Limit = n
		}
	}
	if v := c.QueryParam("before"); v != "" {
		b, err := parseCursor(v)
		if err != nil {
			errs.Add("before", "must be the next value of a previous page")
		} else {
			q.Before = b
		}
	}
	if v := c.QueryParam("header"); v != "" {
		name, value, ok := strings.Cut(v, "=")
		if !ok || strings.TrimSpace(name) == "" {
			errs.Add("header", "must be name=value, such as eventType=PaymentAuthorizedEvent")
		} else {
			q.Header, q.Value = strings.TrimSpace(name), value
		}
	}
	return q, errs.Err()
}

// parseCursor reads "PARTITION:OFFSET,…".
func parseCursor(s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for entry := range strings.SplitSeq(s, ",") {
		ps, os, ok := strings.Cut(entry, ":")
		p, err1 := strconv.ParseInt(ps, 10, 32)
		o, err2 := strconv.ParseInt(os, 10, 64)
		if !ok || err1 != nil || err2 != nil || p < 0 || o < 0 {
			return nil, fmt.Errorf("bad cursor entry %q", entry)
		}
		out[int32(p)] = o
	}
	return out, nil
}

// formatCursor writes a cursor as parseCursor reads it, by partition.
func formatCursor(m map[int32]int64) string {
	if m == nil {
		return ""
	}
	keys := make([]int32, 0, len(m))
	for p := range m {
		keys = append(keys, p)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, p := range keys {
		parts[i] = fmt.Sprintf("%d:%d", p, m[p])
	}
	return strings.Join(parts, ",")
}

func (s *Server) records(c echo.Context) error {
	topic := c.Param("topic")
	q, err := parseRecordsQuery(c)
	if err != nil {
		return err
	}
	// A search may read many records: it gets more time than one call.
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*s.cfg.UpstreamTimeout)
	defer cancel()
	kc, err := s.kafka.Client(ctx)
	if err != nil {
		return err
	}
	page, err := kc.Page(ctx, topic, q.Before, q.Limit, q.match(), s.cfg.ScanLimit)
	if err != nil {
		return kafkaErr(err)
	}
	views := make([]recordView, len(page.Records))
	for i, r := range page.Records {
		views[i] = toRecordView(r.Topic, r.Partition, r.Offset, r.Timestamp, r.Key, r.Value, r.Headers)
	}
	return c.JSON(http.StatusOK, map[string]any{
		"topic": topic, "records": views, "next": formatCursor(page.Next),
		"scanned": page.Scanned, "limited": page.Limited, "scanLimit": s.cfg.ScanLimit,
	})
}

// maxShownValue is how much of a record's value the page shows.
const maxShownValue = 64 << 10

// recordView is a record as the page shows it. Bytes that are not UTF-8
// are shown Go-quoted (binary is set); a null is null.
type recordView struct {
	Topic     string       `json:"topic"`
	Partition int32        `json:"partition"`
	Offset    int64        `json:"offset"`
	Timestamp time.Time    `json:"timestamp"`
	Key       *string      `json:"key"`
	Headers   []headerView `json:"headers"`
	Value     *string      `json:"value"`
	// JSON says Value is a JSON document, indented; Truncated that it was
	// cut at maxShownValue bytes; Size is its full size.
	JSON      bool `json:"json"`
	Truncated bool `json:"truncated"`
	Size      int  `json:"size"`
}

type headerView struct {
	Key   string  `json:"key"`
	Value *string `json:"value"`
}

func toRecordView(topic string, partition int32, offset int64, ts time.Time, key, value []byte, headers []kafkaview.Header) recordView {
	v := recordView{Topic: topic, Partition: partition, Offset: offset, Timestamp: ts, Key: text(key), Size: len(value), Headers: []headerView{}}
	for _, h := range headers {
		v.Headers = append(v.Headers, headerView{Key: *text([]byte(h.Key)), Value: text(h.Value)})
	}
	v.Value, v.JSON, v.Truncated = showValue(value)
	return v
}

// text renders bytes for the page: as they are when UTF-8, Go-quoted
// otherwise; nil for a null.
func text(b []byte) *string {
	if b == nil {
		return nil
	}
	s := string(b)
	if !utf8.Valid(b) {
		s = strconv.Quote(s)
	}
	return &s
}

// showValue is a record value for the page: indented when it is JSON,
// cut at maxShownValue bytes.
func showValue(b []byte) (s *string, isJSON, truncated bool) {
	if b == nil {
		return nil, false, false
	}
	if len(b) > maxShownValue {
		b, truncated = b[:maxShownValue], true
	}
	if !truncated && json.Valid(b) {
		var buf bytes.Buffer
		if json.Indent(&buf, b, "", "  ") == nil {
			out := buf.String()
			return &out, true, false
		}
	}
	if truncated {
		// Do not cut a UTF-8 sequence in two.
		for len(b) > 0 && !utf8.Valid(b) && len(b) > maxShownValue-4 {
			b = b[:len(b)-1]
		}
	}
	return text(b), false, truncated
}
