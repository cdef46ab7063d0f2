package relay

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"
)

// UnroutableError reports an outbox document that cannot become a Kafka
// record. Debezium would fail its whole task on such a document; the relay
// parks it instead (see Relay) and goes on.
type UnroutableError struct {
	// Reason says what is wrong with the document.
	Reason string
}

func (e *UnroutableError) Error() string { return "unroutable outbox document: " + e.Reason }

func unroutable(format string, args ...any) error {
	return &UnroutableError{Reason: fmt.Sprintf(format, args...)}
}

// Record converts one outbox document into the Kafka record Debezium's
// MongoEventRouter would produce with cfg, stamped with now (Debezium's
// processing time) unless cfg.TimestampField is set:
//
//   - topic: route.topic.replacement applied to the route.by.field value
//     (outbox.event.<aggregateType>, case kept);
//   - key: the event key field as StringConverter writes it (an ObjectId as
//     its 24-char hex, numbers in Java's rendering);
//   - value: the payload alone as compact JSON, converted like
//     MongoDataConverter + JsonConverter (schemas disabled): ObjectId -> hex
//     string, date and BSON timestamp -> epoch millis, int32/int64 ->
//     number, double -> Java's Double.toString, Decimal128 -> string,
//     binary -> base64, null -> null, field order kept, arrays of one
//     element type (arrays of documents take the union of their fields,
//     missing ones are null; arrays of arrays take the element schema of
//     their first inner array; see subSchema);
//   - headers: "id" = the event id, then the placements in order, values
//     raw UTF-8 like SimpleHeaderConverter.
//
// A payload that is a string is emitted as a JSON string: MongoEventRouter
// does not forward collection.expand.json.payload to the event router
// delegate, so Debezium 2.4 never parses JSON text held in a string.
//
// Every document Debezium would fail on (no payload, no or non-string route
// field, no key field, mixed-type arrays, arrays of dates, …) yields an
// *UnroutableError, and so does a route value that is not printable ASCII
// (see routeTopic).
// Any other error means cfg is not one the relay implements.
func Record(cfg Config, doc bson.Raw, now time.Time) (*sarama.ProducerMessage, error) {
	cfg = cfg.withDefaults()
	if !cfg.ExpandJSONPayload {
		return nil, errors.New("relay: collection.expand.json.payload=false is not supported")
	}
	// Validate walks nested documents too, so the accessors below cannot
	// meet truncated values.
	if err := doc.Validate(); err != nil {
		return nil, unroutable("malformed document: %v", err)
	}
	entries, err := documentEntries(doc)
	if err != nil {
		return nil, unroutable("malformed document: %v", err)
	}

	// MongoEventRouter.buildNewAfterSchema / buildNewAfterStruct.
	after := &schema{kind: kindStruct}
	for _, e := range entries {
		if cfg.TimestampField != "" && e.key == cfg.TimestampField {
			if err := after.add(e.key, &schema{kind: kindTimestamp}); err != nil {
				return nil, unroutable("%v", err)
			}
			continue
		}
		if err := addFieldSchema(e, after); err != nil {
			return nil, unroutable("%v", err)
		}
	}
	event := newStruct(after)
	for _, e := range entries {
		if cfg.TimestampField != "" && e.key == cfg.TimestampField {
			if e.val.Type != bson.TypeInt64 {
				return nil, unroutable("timestamp field %q is a BSON %s, not an int64 of epoch milliseconds", e.key, e.val.Type)
			}
			if err := event.put(e.key, millis(e.val.Int64())); err != nil {
				return nil, unroutable("%v", err)
			}
			continue
		}
		if err := convertField(e, event, after); err != nil {
			return nil, unroutable("%v", err)
		}
	}

	// EventRouterDelegate.apply.
	payloadSchema := after.field(cfg.PayloadField)
	if payloadSchema == nil {
		return nil, unroutable("no payload field %q", cfg.PayloadField)
	}
	payload := event.values[cfg.PayloadField]

	msg := &sarama.ProducerMessage{Timestamp: now}
	if cfg.TimestampField != "" {
		if after.field(cfg.TimestampField) == nil {
			return nil, unroutable("no timestamp field %q", cfg.TimestampField)
		}
		ms, _ := event.values[cfg.TimestampField].(millis)
		msg.Timestamp = time.UnixMilli(int64(ms))
	}

	idSchema := after.field(cfg.IDField)
	if idSchema == nil {
		return nil, unroutable("no event id field %q", cfg.IDField)
	}
	id, err := headerValue(cfg.IDField, idSchema, event.values[cfg.IDField])
	if err != nil {
		return nil, err
	}
	msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(headerID), Value: id})
	for _, p := range cfg.Placements {
		s := after.field(p.Field)
		if s == nil {
			return nil, unroutable("no field %q for the %s header", p.Field, p.Alias)
		}
		v, err := headerValue(p.Field, s, event.values[p.Field])
		if err != nil {
			return nil, err
		}
		msg.Headers = append(msg.Headers, sarama.RecordHeader{Key: []byte(javaString(p.Alias)), Value: v})
	}

	routeSchema := after.field(cfg.RouteByField)
	if routeSchema == nil {
		return nil, unroutable("no %q field to route by", cfg.RouteByField)
	}
	if routeSchema.kind != kindString {
		return nil, unroutable("%q is a %s, not a string", cfg.RouteByField, routeSchema.kind)
	}
	route, _ := event.values[cfg.RouteByField].(string)
	if event.values[cfg.RouteByField] == nil {
		return nil, unroutable("%q is null", cfg.RouteByField)
	}
	msg.Topic, err = routeTopic(cfg, route)
	if err != nil {
		return nil, err
	}

	key, err := recordKey(cfg, after, event)
	if err != nil {
		return nil, err
	}
	if key != nil {
		msg.Key = sarama.ByteEncoder(key)
	}

	if cfg.TombstoneOnEmptyPayload && isEmptyPayload(payload) {
		return msg, nil // null value
	}
	msg.Value = sarama.ByteEncoder(appendJSON(nil, payloadSchema, payload))
	return msg, nil
}

const headerID = "id"

// routeTopic applies RegexRouter: when the route value matches the regex as
// a whole, its first match is replaced; otherwise the value is the topic.
//
// Go's regexp evaluates the Java pattern, which checkJavaRegex made sure
// both engines read alike on printable ASCII. Other characters (control
// characters, line terminators, anything beyond ASCII) are where they part:
// Java's '.' and '$' treat \r, U+0085, U+2028 and U+2029 as line
// terminators, its \b and \p classes follow another Unicode version, its
// (?i) folds ASCII only. Such a value is parked rather than routed by a
// guess; it could not name a topic by itself anyway.
func routeTopic(cfg Config, route string) (string, error) {
	route = javaString(route)
	if i := strings.IndexFunc(route, func(r rune) bool { return r < 0x20 || r > 0x7e }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(route[i:])
		return "", unroutable("%q holds %U, which Java's and Go's regular expressions may route differently (only printable ASCII is routed)", route, r)
	}
	full, err := fullMatch(cfg.TopicRegex)
	if err != nil {
		return "", fmt.Errorf("relay: route.topic.regex: %w", err)
	}
	topic := route
	if full.MatchString(route) {
		topic, err = javaReplaceFirst(cfg.TopicRegex, route, cfg.TopicReplacement)
		if err != nil {
			return "", fmt.Errorf("relay: route.topic.replacement: %w", err)
		}
	}
	if !validTopic(topic) {
		return "", unroutable("%q routes to %q, which is not a legal Kafka topic name", route, topic)
	}
	return topic, nil
}

var legalTopic = regexp.MustCompile(`\A[a-zA-Z0-9._-]+\z`)

// validTopic applies Kafka's topic name rules; the Java producer rejects
// other names, which fails the Debezium task.
func validTopic(t string) bool {
	return len(t) <= 249 && t != "." && t != ".." && legalTopic.MatchString(t)
}

// recordKey is EventRouterDelegate.defineRecordKey + StringConverter. The
// key is the key field's value, whatever it is: a null value is a null key,
// with no fallback to another field, and a document without the field fails
// (Struct.get throws "not a valid field name"). The key field is never
// unset: MongoEventRouter forwards collection.field.event.key only when it
// is set, and the delegate's table.field.event.key defaults to aggregateid.
func recordKey(cfg Config, after *schema, event *structValue) ([]byte, error) {
	s := after.field(cfg.KeyField)
	if s == nil {
		return nil, unroutable("no key field %q", cfg.KeyField)
	}
	v := event.values[cfg.KeyField]
	if v == nil {
		return nil, nil
	}
	text, ok := scalarText(v)
	if !ok {
		return nil, unroutable("key field %q is a %s, which StringConverter would render as a Java object description", cfg.KeyField, s.kind)
	}
	return []byte(text), nil
}

// headerValue is SimpleHeaderConverter.fromConnectHeader for the scalar
// values outbox headers carry.
func headerValue(field string, s *schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	text, ok := scalarText(v)
	if !ok {
		return nil, unroutable("header field %q is a %s, which the relay does not render as a header", field, s.kind)
	}
	return []byte(text), nil
}

// scalarText renders strings, numbers and booleans the way Java's toString
// does; other values have no rendering the relay reproduces.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return javaString(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case float64:
		return javaDouble(x), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// isEmptyPayload is EventRouterDelegate's
// payload == null || payload.toString().trim().isEmpty().
func isEmptyPayload(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && strings.TrimFunc(s, func(r rune) bool { return r <= ' ' }) == ""
}
