// Package router consumes outbox events from Kafka with a consumer group and
// hands each record to the handler of its eventType header (Config.Handlers).
//
// It gives at-least-once delivery: a record's offset is marked only after its
// handler succeeded, it was skipped as uninteresting, or it is safely on the
// dead-letter topic; marked offsets are committed periodically and once more
// at shutdown. Records of one partition are handled one at a time, in order;
// partitions are handled concurrently, so handlers must be safe for
// concurrent use. Failing records are retried with exponential backoff:
// errors that mean a dependency is down (Config.IsTransient) forever, other
// errors a bounded number of times, Permanent errors and records missing the
// routing headers not at all, before they go to the dead-letter topic with
// headers saying where they came from and why they failed.
//
// It does not deduplicate: a record can be delivered again after a crash, a
// rebalance or a relay re-snapshot, so handlers are wrapped in
// inbox.ConsumeOnce, which records the event id in their store transaction.
// It decodes payloads only when asked (JSON), and it does not replay the
// dead-letter topic (ops/deadletter and `kafka-inspect dlt replay` do).
package router

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/retry"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

// Defaults for the zero values of Config.
const (
	// DefaultMaxAttempts is Config.MaxAttempts's default.
	DefaultMaxAttempts = 3
	// DefaultBackoff is Config.Backoff's default.
	DefaultBackoff = 500 * time.Millisecond
	// DefaultMaxBackoff is Config.MaxBackoff's default.
	DefaultMaxBackoff = 30 * time.Second
	// DefaultHandlerTimeout is Config.HandlerTimeout's default.
	DefaultHandlerTimeout = 30 * time.Second
	// DefaultSessionTimeout is Config.SessionTimeout's default (sarama's
	// and the Java client's before Kafka 3.0).
	DefaultSessionTimeout = 10 * time.Second
)

// Header is one Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Message is a consumed record as a handler sees it.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Value     []byte
	// Headers are the record's headers in record order. Use Header to
	// look one up; never rely on positions.
	Headers []Header
	// EventID is the eventId header, or the id header when eventId is
	// absent: the key to deduplicate on.
	EventID string
	// EventType is the eventType header the record was routed on.
	EventType string
	// Timestamp is the record's timestamp. The relays set it to their
	// processing time, so it orders nothing.
	Timestamp time.Time
}

// Header returns the value of the last header named key, as Kafka's Java
// client's lastHeader does, and whether there is one.
func (m Message) Header(key string) ([]byte, bool) {
	for i := len(m.Headers) - 1; i >= 0; i-- {
		if m.Headers[i].Key == key {
			return m.Headers[i].Value, true
		}
	}
	return nil, false
}

// Handler handles one message. Returning nil marks the message consumed.
// An error is retried or dead-lettered as Config describes; wrap it with
// Permanent when retrying cannot help. ctx is not cancelled by the router's
// shutdown, only by Config.HandlerTimeout, so a handler can finish its
// transaction while the service stops.
type Handler func(ctx context.Context, m Message) error

// Config configures a Router.
type Config struct {
	// Brokers are the bootstrap brokers, host:port.
	Brokers []string
	// Group is the consumer group id; offsets are committed under it.
	Group string
	// ClientID identifies the consumer to the broker; Group when empty.
	ClientID string
	// Topics are consumed from their earliest offset when the group has
	// no committed offset.
	Topics []string
	// Handlers are the handlers of the event types this consumer handles,
	// by event type: at least one, none nil, no empty type. Records of
	// other types are marked consumed and logged at DEBUG.
	Handlers map[string]Handler
	// DeadLetterTopic receives records that cannot be handled ("DLT").
	DeadLetterTopic string
	// MaxAttempts is how many times a record whose handler fails is
	// tried before it is dead-lettered (DefaultMaxAttempts when zero).
	// Transient errors do not count.
	MaxAttempts int
	// Backoff is the first delay between attempts, doubled per attempt up
	// to MaxBackoff (DefaultBackoff and DefaultMaxBackoff when zero). It
	// also paces reconnecting to the broker and retrying the dead-letter
	// topic.
	Backoff, MaxBackoff time.Duration
	// IsTransient reports whether a handler error means a dependency is
	// down (the database, say). Such records are retried with backoff
	// until they succeed or the router stops, and are never
	// dead-lettered. Nil treats every error as non-transient.
	IsTransient func(error) bool
	// HandlerTimeout bounds one handler call (DefaultHandlerTimeout when
	// zero). Keep it well below sarama's rebalance timeout (60 s), since
	// a rebalance waits for in-flight handlers.
	HandlerTimeout time.Duration
	// SessionTimeout is the consumer group session timeout
	// (DefaultSessionTimeout when zero); heartbeats go every third of it.
	// The broker bounds it (group.min.session.timeout.ms, 6 s by default).
	SessionTimeout time.Duration
	// InstanceID, when set, makes the consumer a static member of its
	// group (group.instance.id, KIP-345): a consumer that starts with the
	// instance id of one that died without leaving (kill -9) takes over
	// its partitions at once, instead of waiting for its session to time
	// out. A static member does not leave its group when Run returns, so
	// its partitions wait for its successor or its session timeout. Two
	// running consumers must never share an instance id (the broker fences
	// the older). Empty: a dynamic member, which leaves when Run returns.
	InstanceID string
	// Observer, when set, is told each record's outcome, each handler
	// call's duration and each partition's lag (metrics.Metrics is one).
	Observer Observer
}

// Observer is told what the router does with records, for metrics. Its
// methods are called concurrently, one partition per goroutine.
type Observer interface {
	// Consumed reports a record's outcome: OutcomeHandled,
	// OutcomeDuplicate (a handler said so with SetOutcome), OutcomeIgnored
	// (no handler for its type), OutcomeDeadLettered, or OutcomeRetried
	// once per failed attempt that is retried.
	Consumed(topic, eventType, outcome string)
	// HandlerDuration reports how long one handler call took.
	HandlerDuration(topic, eventType string, d time.Duration)
	// Lag reports how many records of the partition are behind its
	// high-water mark once a record of it is done with.
	Lag(topic string, partition int32, lag int64)
}

// Outcomes reported to Observer.Consumed.
const (
	OutcomeHandled      = "handled"
	OutcomeDuplicate    = "duplicate"
	OutcomeIgnored      = "ignored"
	OutcomeDeadLettered = "dead_lettered"
	OutcomeRetried      = "retried"
)

// SetOutcome lets a handler (or middleware such as inbox.ConsumeOnce) name
// the outcome its nil error stands for, such as OutcomeDuplicate; the
// router reports OutcomeHandled otherwise. Outside a router's handler call
// it does nothing.
func SetOutcome(ctx context.Context, outcome string) {
	if o, ok := ctx.Value(outcomeKey{}).(*string); ok {
		*o = outcome
	}
}

type outcomeKey struct{}

// observer is Config.Observer or one that does nothing.
func observer(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}

type nopObserver struct{}

func (nopObserver) Consumed(string, string, string)               {}
func (nopObserver) HandlerDuration(string, string, time.Duration) {}
func (nopObserver) Lag(string, int32, int64)                      {}

// Router consumes Config.Topics as a member of Config.Group and dispatches
// each record to the Handler of its event type.
type Router struct {
	cfg      Config
	producer sarama.SyncProducer
	log      *slog.Logger
	sarama   *sarama.Config

	running   atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once

	failingSince atomic.Int64 // unix nanoseconds; 0 while consuming
	offsetResets atomic.Int64
	obs          Observer
}

// New checks cfg, fills in defaults and returns a Router that dead-letters
// through producer (which should be a kafkaclient producer; the caller keeps
// and closes it after Run returns). A nil log discards.
func New(cfg Config, producer sarama.SyncProducer, log *slog.Logger) (*Router, error) {
	if producer == nil {
		return nil, errors.New("router: nil producer")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	sc := saramaConfig(cfg)
	if err := sc.Validate(); err != nil {
		return nil, fmt.Errorf("router: sarama config: %w", err)
	}
	return &Router{
		cfg:      cfg,
		producer: producer,
		log:      log.With("group", cfg.Group),
		sarama:   sc,
		ready:    make(chan struct{}),
		obs:      observer(cfg.Observer),
	}, nil
}

func withDefaults(cfg Config) (Config, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return cfg, errors.New("router: no brokers")
	case cfg.Group == "":
		return cfg, errors.New("router: no consumer group")
	case len(cfg.Topics) == 0:
		return cfg, errors.New("router: no topics")
	case len(cfg.Handlers) == 0:
		return cfg, errors.New("router: no handlers")
	case cfg.DeadLetterTopic == "":
		return cfg, errors.New("router: no dead-letter topic")
	case slices.Contains(cfg.Topics, cfg.DeadLetterTopic):
		return cfg, fmt.Errorf("router: dead-letter topic %q is also consumed", cfg.DeadLetterTopic)
	case slices.Contains(cfg.Topics, ""):
		return cfg, errors.New("router: empty topic name")
	case cfg.MaxAttempts < 0:
		return cfg, fmt.Errorf("router: max attempts %d is negative", cfg.MaxAttempts)
	case cfg.Backoff < 0, cfg.MaxBackoff < 0, cfg.HandlerTimeout < 0, cfg.SessionTimeout < 0:
		return cfg, errors.New("router: negative duration")
	case !validInstanceID(cfg.InstanceID):
		return cfg, fmt.Errorf("router: instance id %q: want at most 249 of a-z, A-Z, 0-9, '.', '_' and '-'", cfg.InstanceID)
	}
	for _, t := range slices.Sorted(maps.Keys(cfg.Handlers)) {
		switch {
		case t == "":
			return cfg, errors.New("router: empty event type")
		case cfg.Handlers[t] == nil:
			return cfg, fmt.Errorf("router: nil handler for %q", t)
		}
	}
	cfg.Brokers = slices.Clone(cfg.Brokers)
	cfg.Topics = slices.Clone(cfg.Topics)
	cfg.Handlers = maps.Clone(cfg.Handlers)
	if cfg.ClientID == "" {
		cfg.ClientID = cfg.Group
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.Backoff)
	}
	if cfg.MaxBackoff < cfg.Backoff {
		return cfg, fmt.Errorf("router: max backoff %v is below backoff %v", cfg.MaxBackoff, cfg.Backoff)
	}
	if cfg.HandlerTimeout == 0 {
		cfg.HandlerTimeout = DefaultHandlerTimeout
	}
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = DefaultSessionTimeout
	}
	return cfg, nil
}

func saramaConfig(cfg Config) *sarama.Config {
	c := kafkaclient.Config(cfg.ClientID)
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = true
	c.Consumer.Offsets.AutoCommit.Interval = time.Second
	c.Consumer.Group.Session.Timeout = cfg.SessionTimeout
	c.Consumer.Group.InstanceId = cfg.InstanceID
	c.Consumer.Group.Heartbeat.Interval = cfg.SessionTimeout / 3
	c.Consumer.Group.Rebalance.Retry.Backoff = min(cfg.Backoff, 2*time.Second)
	// A rebalance waits for in-flight handlers, and a JoinGroup response
	// can take the whole rebalance timeout to arrive: the read timeout
	// must not cut it short (the Java client does the same).
	c.Consumer.Group.Rebalance.Timeout = max(60*time.Second, cfg.HandlerTimeout+10*time.Second)
	c.Net.ReadTimeout = max(c.Net.ReadTimeout, c.Consumer.Group.Rebalance.Timeout+5*time.Second)
	return c
}

// validInstanceID reports whether id is empty or a group.instance.id Kafka
// accepts: what it allows in topic names.
func validInstanceID(id string) bool {
	if len(id) > 249 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Ready is closed once the router has joined its group for the first time
// and is about to consume its assignment (which is empty when the group has
// more members than partitions).
func (r *Router) Ready() <-chan struct{} {
	return r.ready
}

// FailingSince is when the router started failing to consume (the broker
// unreachable, a topic missing, the group unjoinable) without a session
// being set up since; zero while it consumes or has not failed.
func (r *Router) FailingSince() time.Time {
	if ns := r.failingSince.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Time{}
}

func (r *Router) noteFailure() {
	r.failingSince.CompareAndSwap(0, time.Now().UnixNano())
}

// Run makes sure Config.Topics and Config.DeadLetterTopic exist (creating
// them with the broker's defaults), joins the group and consumes until ctx
// ends, rejoining after every rebalance. While the broker is unreachable it
// keeps retrying with backoff, logging at WARN. When ctx ends it lets the
// in-flight handler of each partition finish, commits the marked offsets,
// leaves the group (a static member only closes its connections) and
// returns nil. It returns an error only for a second call.
func (r *Router) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("router: run called twice")
	}
	r.log.Info("router starting", "brokers", r.cfg.Brokers, "topics", r.cfg.Topics,
		"interesting", slices.Sorted(maps.Keys(r.cfg.Handlers)), "dead_letter_topic", r.cfg.DeadLetterTopic, "client_id", r.cfg.ClientID,
		"max_attempts", r.cfg.MaxAttempts, "backoff", r.cfg.Backoff, "max_backoff", r.cfg.MaxBackoff,
		"handler_timeout", r.cfg.HandlerTimeout, "session_timeout", r.cfg.SessionTimeout, "instance_id", r.cfg.InstanceID)

	if !r.retry(ctx, "create topics", func() error { return r.ensureTopics(ctx) }) {
		return nil
	}
	var group sarama.ConsumerGroup
	if !r.retry(ctx, "join consumer group", func() error {
		var err error
		group, err = sarama.NewConsumerGroup(r.cfg.Brokers, r.cfg.Group, r.sarama)
		return err
	}) {
		return nil
	}
	errsDone := make(chan struct{})
	go func() {
		defer close(errsDone)
		for err := range group.Errors() {
			r.log.Warn("consumer group error", "err", err)
		}
	}()

	h := &groupHandler{r: r}
	for failures := 0; ctx.Err() == nil; {
		h.setUp.Store(false)
		err := group.Consume(ctx, r.cfg.Topics, h)
		if ctx.Err() != nil {
			break
		}
		if h.setUp.Load() {
			failures = 0
		}
		if err == nil {
			continue // rebalance: rejoin
		}
		failures++
		r.noteFailure()
		d := retry.Backoff(failures, r.cfg.Backoff, r.cfg.MaxBackoff)
		r.log.Warn("consumer group session failed, rejoining", "attempt", failures, "retry_in", d, "err", err)
		retry.Sleep(ctx, d)
		// A broker that lost its data comes back without the topics, and
		// the group cannot consume until they exist again (sarama reports
		// that in more than one shape, so check after every failure).
		if err := r.ensureTopics(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("re-create missing topics", "err", err)
		}
	}
	if err := group.Close(); err != nil {
		r.log.Warn("close consumer group", "err", err)
	}
	<-errsDone
	r.log.Info("router stopped")
	return nil
}

// ensureTopics creates whichever of the consumed topics and the
// dead-letter topic are missing.
func (r *Router) ensureTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	return kafkaclient.EnsureTopics(ctx, r.cfg.Brokers, append(slices.Clone(r.cfg.Topics), r.cfg.DeadLetterTopic))
}

// retry calls fn until it succeeds, logging failures at WARN and backing
// off, and reports false if ctx ended first.
func (r *Router) retry(ctx context.Context, what string, fn func() error) bool {
	return retry.Until(ctx, r.cfg.Backoff, r.cfg.MaxBackoff, fn, func(attempt int, d time.Duration, err error) {
		r.noteFailure()
		r.log.Warn("kafka unavailable, retrying", "op", what, "attempt", attempt, "retry_in", d, "err", err)
	})
}

// groupHandler is the sarama side of a Router.
type groupHandler struct {
	r     *Router
	setUp atomic.Bool
}

func (h *groupHandler) Setup(sess sarama.ConsumerGroupSession) error {
	h.setUp.Store(true)
	h.r.failingSince.Store(0)
	h.r.log.Info("partitions assigned", "generation", sess.GenerationID(), "claims", sess.Claims())
	h.r.warnOffsetsPastEnd(sess.Claims())
	h.r.readyOnce.Do(func() { close(h.r.ready) })
	return nil
}

func (h *groupHandler) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	h.r.log.Info("partitions released", "generation", sess.GenerationID())
	return nil
}

func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	ctx := sess.Context()
	for {
		select {
		case <-ctx.Done():
			return nil
		case msg, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			if ctx.Err() != nil {
				return nil // not started: it is redelivered to the next owner
			}
			if h.r.process(ctx, msg) {
				sess.MarkMessage(msg, "")
			}
			h.r.obs.Lag(msg.Topic, msg.Partition, claim.HighWaterMarkOffset()-msg.Offset-1)
		}
	}
}

// process handles msg and reports whether it may be marked consumed: false
// only when ctx (the group session) ended before msg was handled or
// dead-lettered, so that the partition's next owner gets it again.
func (r *Router) process(ctx context.Context, msg *sarama.ConsumerMessage) bool {
	m := toMessage(msg)
	ctx, span := r.startSpan(ctx, m)
	defer span.End()
	log := r.log.With("topic", m.Topic, "partition", m.Partition, "offset", m.Offset,
		"event_type", m.EventType, "event_id", m.EventID)
	log = log.With(tracing.LogAttrs(span.SpanContext())...)
	if reason := missingHeaders(m); reason != "" {
		return r.deadLetter(ctx, log, m, reason, 0)
	}
	h, ok := r.cfg.Handlers[m.EventType]
	if !ok {
		log.Debug("skipping uninteresting event")
		span.SetAttributes(OutcomeAttribute.String(OutcomeIgnored))
		r.obs.Consumed(m.Topic, m.EventType, OutcomeIgnored)
		return true
	}
	failures := 0
	for attempt := 1; ; attempt++ {
		outcome := OutcomeHandled
		start := time.Now()
		err := r.call(context.WithValue(ctx, outcomeKey{}, &outcome), log, h, m)
		r.obs.HandlerDuration(m.Topic, m.EventType, time.Since(start))
		if err == nil {
			if attempt > 1 {
				log.Info("event handled after retries", "attempts", attempt)
			}
			span.SetAttributes(OutcomeAttribute.String(outcome))
			r.obs.Consumed(m.Topic, m.EventType, outcome)
			return true
		}
		var p *panicError
		transient := !errors.As(err, &p) && !IsPermanent(err) && r.cfg.IsTransient != nil && r.cfg.IsTransient(err)
		switch {
		case IsPermanent(err):
			return r.deadLetter(ctx, log, m, err.Error(), attempt)
		case !transient:
			failures++
			if failures >= r.cfg.MaxAttempts {
				return r.deadLetter(ctx, log, m, err.Error(), attempt)
			}
		}
		r.obs.Consumed(m.Topic, m.EventType, OutcomeRetried)
		d := retry.Backoff(attempt, r.cfg.Backoff, r.cfg.MaxBackoff)
		log.Warn("handler failed, retrying", "attempt", attempt, "transient", transient, "retry_in", d, "err", err)
		if !retry.Sleep(ctx, d) {
			log.Info("stopping retries: partition released; the event will be redelivered", "attempts", attempt)
			return false
		}
	}
}

// startSpan starts the consumer span of m: a child of the span whose
// context the record's traceparent header carries (a new trace without
// one), so the handler's outbox events carry the trace on.
func (r *Router) startSpan(ctx context.Context, m Message) (context.Context, trace.Span) {
	if tp, ok := m.Header(kafkaheader.Traceparent); ok {
		ctx = tracing.WithTraceparent(ctx, string(tp))
	}
	return tracing.Tracer().Start(ctx, m.Topic+" process",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemKafka,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(m.Topic),
			semconv.MessagingDestinationPartitionID(strconv.Itoa(int(m.Partition))),
			semconv.MessagingKafkaOffset(int(m.Offset)),
			semconv.MessagingConsumerGroupName(r.cfg.Group),
			semconv.MessagingMessageID(m.EventID),
			semconv.MessagingKafkaMessageKey(string(m.Key)),
			EventTypeAttribute.String(m.EventType),
		))
}

// EventTypeAttribute is the span attribute naming a record's eventType
// header; messaging semantic conventions have none for it.
const EventTypeAttribute = attribute.Key("messaging.message.event_type")

// OutcomeAttribute is the span attribute holding a record's outcome
// (OutcomeHandled, OutcomeDuplicate, ...).
const OutcomeAttribute = attribute.Key("outbox.consumer.outcome")

// call runs h on a context that outlives ctx's cancellation, so shutdown
// does not abort a handler half-way, and turns a panic into an error.
func (r *Router) call(ctx context.Context, log *slog.Logger, h Handler, m Message) (err error) {
	hctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.cfg.HandlerTimeout)
	defer cancel()
	defer func() {
		if v := recover(); v != nil {
			log.Error("handler panicked", "panic", v, "stack", string(debug.Stack()))
			err = &panicError{value: v}
		}
	}()
	return h(hctx, m)
}

// panicError is a recovered handler panic: never transient.
type panicError struct{ value any }

func (e *panicError) Error() string { return fmt.Sprintf("handler panicked: %v", e.value) }

func missingHeaders(m Message) string {
	switch {
	case m.EventType == "" && m.EventID == "":
		return fmt.Sprintf("missing headers %s and %s (or %s)", kafkaheader.EventType, kafkaheader.EventID, kafkaheader.ID)
	case m.EventType == "":
		return "missing header " + kafkaheader.EventType
	case m.EventID == "":
		return fmt.Sprintf("missing header %s (or %s)", kafkaheader.EventID, kafkaheader.ID)
	}
	return ""
}

// dltHeaders are the headers deadLetter sets; copies already on the record
// (a record replayed from the dead-letter topic) are replaced. The replay
// headers (kafkaheader.DLTReplayedFromOffset, DLTReplayedAt) are not among
// them: a replay that fails again keeps saying where it was replayed from.
var dltHeaders = []string{
	kafkaheader.DLTOriginalTopic, kafkaheader.DLTOriginalPartition, kafkaheader.DLTOriginalOffset,
	kafkaheader.DLTOriginalTimestamp, kafkaheader.DLTOriginalGroup, kafkaheader.DLTError, kafkaheader.DLTAttempts,
}

// deadLetter produces m to the dead-letter topic, retrying with backoff
// until it is stored, and reports false if ctx ended first.
func (r *Router) deadLetter(ctx context.Context, log *slog.Logger, m Message, reason string, attempts int) bool {
	span := trace.SpanFromContext(ctx)
	span.SetAttributes(OutcomeAttribute.String(OutcomeDeadLettered))
	span.SetStatus(codes.Error, "dead-lettered: "+reason)
	pm := &sarama.ProducerMessage{Topic: r.cfg.DeadLetterTopic, Value: sarama.ByteEncoder(m.Value)}
	if m.Key != nil {
		pm.Key = sarama.ByteEncoder(m.Key)
	}
	for _, h := range m.Headers {
		if !slices.Contains(dltHeaders, h.Key) {
			pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(h.Key), Value: h.Value})
		}
	}
	for i, v := range []string{
		m.Topic, strconv.FormatInt(int64(m.Partition), 10), strconv.FormatInt(m.Offset, 10),
		m.Timestamp.UTC().Format(kafkaheader.TimeFormat), r.cfg.Group, reason, strconv.Itoa(attempts),
	} {
		pm.Headers = append(pm.Headers, sarama.RecordHeader{Key: []byte(dltHeaders[i]), Value: []byte(v)})
	}

	for try := 1; ; try++ {
		// SendMessage cannot be cancelled and may retry for a while; do
		// not let it hold up shutdown. An abandoned send that succeeds
		// later only duplicates the record on the dead-letter topic.
		sent := make(chan error, 1)
		go func() {
			_, _, err := r.producer.SendMessage(pm)
			sent <- err
		}()
		var err error
		select {
		case err = <-sent:
		case <-ctx.Done():
			log.Warn("stopping dead-letter attempts: partition released; the event will be redelivered", "reason", reason)
			return false
		}
		if err == nil {
			r.obs.Consumed(m.Topic, m.EventType, OutcomeDeadLettered)
			log.Error("event dead-lettered", "dead_letter_topic", r.cfg.DeadLetterTopic, "reason", reason, "attempts", attempts)
			return true
		}
		d := retry.Backoff(try, r.cfg.Backoff, r.cfg.MaxBackoff)
		log.Warn("cannot dead-letter event, retrying", "attempt", try, "retry_in", d, "reason", reason, "err", err)
		if !retry.Sleep(ctx, d) {
			log.Warn("stopping dead-letter attempts: partition released; the event will be redelivered", "reason", reason)
			return false
		}
	}
}

func toMessage(msg *sarama.ConsumerMessage) Message {
	m := Message{
		Topic:     msg.Topic,
		Partition: msg.Partition,
		Offset:    msg.Offset,
		Key:       msg.Key,
		Value:     msg.Value,
		Timestamp: msg.Timestamp,
		Headers:   make([]Header, 0, len(msg.Headers)),
	}
	for _, h := range msg.Headers {
		if h != nil {
			m.Headers = append(m.Headers, Header{Key: string(h.Key), Value: h.Value})
		}
	}
	if v, ok := m.Header(kafkaheader.EventType); ok {
		m.EventType = string(v)
	}
	if v, ok := m.Header(kafkaheader.EventID); ok && len(v) > 0 {
		m.EventID = string(v)
	} else if v, ok := m.Header(kafkaheader.ID); ok {
		m.EventID = string(v)
	}
	return m
}

// Permanent marks err as one that retrying cannot fix (a payload that does
// not decode, a rule the event breaks): the router dead-letters the record at
// once. It takes precedence over Config.IsTransient. Permanent(nil) is nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanentError{err: err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}

type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }
