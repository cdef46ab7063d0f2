package relay

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"

	"github.com/sagaoutbox/platform/debezium"
)

// shippedConfig is the relay's view of debezium/connector.json.
func shippedConfig(t *testing.T) Config {
	t.Helper()
	cfg, err := ParseConnector(debezium.Connector)
	if err != nil {
		t.Fatalf("ParseConnector(shipped connector) = %v", err)
	}
	return cfg
}

func mustOID(t *testing.T, hex string) primitive.ObjectID {
	t.Helper()
	oid, err := primitive.ObjectIDFromHex(hex)
	if err != nil {
		t.Fatal(err)
	}
	return oid
}

func mustDec(t *testing.T, s string) primitive.Decimal128 {
	t.Helper()
	d, err := primitive.ParseDecimal128(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func marshal(t *testing.T, doc bson.D) bson.Raw {
	t.Helper()
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type header struct{ key, value string }

func headersOf(m *sarama.ProducerMessage) []header {
	out := make([]header, 0, len(m.Headers))
	for _, h := range m.Headers {
		v := string(h.Value)
		if h.Value == nil {
			v = "<null>"
		}
		out = append(out, header{string(h.Key), v})
	}
	return out
}

func encoded(t *testing.T, e sarama.Encoder) []byte {
	t.Helper()
	if e == nil {
		return nil
	}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRecordGolden covers every row of the contract: each routable document
// becomes exactly the topic, key, headers and value bytes Debezium emits.
func TestRecordGolden(t *testing.T) {
	cfg := shippedConfig(t)
	const oidHex = "650f1c2ab3d4e5f60718293a"
	oid := mustOID(t, oidHex)
	created := time.Date(2024, 1, 2, 3, 4, 5, 678e6, time.UTC)
	now := time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC)

	allTypes := bson.D{
		{Key: "zeta", Value: "first field stays first"},
		{Key: "customerId", Value: oid},
		{Key: "registeredAt", Value: primitive.NewDateTimeFromTime(created)},
		{Key: "ts", Value: primitive.Timestamp{T: uint32(created.Unix()), I: 7}},
		{Key: "amount", Value: mustDec(t, "10.50")},
		{Key: "bigAmount", Value: mustDec(t, "1E+3")},
		{Key: "tiny", Value: mustDec(t, "0.0000001")},
		{Key: "small_dec", Value: mustDec(t, "0.000001")},
		{Key: "negZero", Value: mustDec(t, "-0")},
		{Key: "count", Value: int32(42)},
		{Key: "big", Value: int64(9007199254740993)},
		{Key: "two", Value: 2.0},
		{Key: "tenth", Value: 0.1},
		{Key: "huge", Value: 1e20},
		{Key: "small", Value: 1e-5},
		{Key: "million", Value: 1234567.0},
		{Key: "tenMillion", Value: 1e7},
		{Key: "milli", Value: 0.001},
		{Key: "belowMilli", Value: 0.000999},
		{Key: "negZeroD", Value: math.Copysign(0, -1)},
		{Key: "third", Value: 1.0 / 3},
		{Key: "neg", Value: -2.5},
		{Key: "maxD", Value: math.MaxFloat64},
		{Key: "minD", Value: math.SmallestNonzeroFloat64},
		{Key: "nan", Value: math.NaN()},
		{Key: "inf", Value: math.Inf(-1)},
		{Key: "blob", Value: primitive.Binary{Data: []byte("hello\x00\xff")}},
		{Key: "uuid", Value: primitive.Binary{Subtype: 4, Data: []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}}},
		{Key: "nothing", Value: nil},
		{Key: "active", Value: true},
		{Key: "text", Value: "quote\" backslash\\ slash/ nl\n tab\t cr\r bs\b ff\f ctl\x01\x1f del\x7f html<>& é € 😀 \u2028"},
		{Key: "address", Value: bson.D{{Key: "street", Value: "Main"}, {Key: "zip", Value: int32(1234)}, {Key: "geo", Value: bson.D{{Key: "lat", Value: 1.5}, {Key: "lng", Value: -0.25}}}}},
		{Key: "tags", Value: bson.A{"a", "b"}},
		{Key: "scores", Value: bson.A{int32(1), int32(2)}},
		{Key: "longs", Value: bson.A{int64(9007199254740993)}},
		{Key: "ratios", Value: bson.A{2.0, 0.5}},
		{Key: "flags", Value: bson.A{true, false}},
		{Key: "ids", Value: bson.A{oid, oid}},
		{Key: "prices", Value: bson.A{mustDec(t, "10.50"), mustDec(t, "0.1")}},
		{Key: "empty", Value: bson.A{}},
		{Key: "nulls", Value: bson.A{nil, nil}},
		{Key: "lines", Value: bson.A{
			bson.D{{Key: "sku", Value: "A"}, {Key: "qty", Value: int32(1)}},
			bson.D{{Key: "qty", Value: int32(2)}, {Key: "note", Value: "x"}},
		}},
		{Key: "pattern", Value: primitive.Regex{Pattern: "^a.*", Options: "mi"}},
		{Key: "code", Value: primitive.JavaScript("function(){}")},
		{Key: "min", Value: primitive.MinKey{}},
		{Key: "symbol", Value: primitive.Symbol("s")},
		{Key: "undefined", Value: primitive.Undefined{}},
	}

	// event builds an outbox document as outbox.Append writes it, with
	// extra top-level fields that must not reach the value.
	const tp = "00-4bf92f3577b34da6a1a2b3c4d5e6f708-00f067aa0ba902b7-01"
	event := func(id any, aggType, aggID any, payload any) bson.D {
		return bson.D{
			{Key: "_id", Value: id},
			{Key: "aggregateType", Value: aggType},
			{Key: "aggregateId", Value: aggID},
			{Key: "type", Value: "CustomerPendingRegistrationEvent"},
			{Key: "payload", Value: payload},
			{Key: "createdAt", Value: primitive.NewDateTimeFromTime(created)},
			{Key: "traceparent", Value: tp},
			{Key: "_class", Value: "com.example.Outbox"},
		}
	}
	const uuid = "3f2b8c1e-2a4d-4c6e-9f10-1a2b3c4d5e6f"

	tests := []struct {
		name        string
		doc         bson.D
		wantTopic   string
		wantKey     []byte
		wantHeaders []header
		golden      string
	}{
		{
			name:      "uuid id, string key, every payload type",
			doc:       event(uuid, "customer", "c-42", allTypes),
			wantTopic: "outbox.event.customer",
			wantKey:   []byte("c-42"),
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
			golden: "all-types.json",
		},
		{
			name: "plain customer event",
			doc: event(uuid, "customer", "c-42", bson.D{
				{Key: "customerId", Value: "c-42"},
				{Key: "name", Value: "Ada"},
				{Key: "registeredAt", Value: primitive.NewDateTimeFromTime(created)},
			}),
			wantTopic: "outbox.event.customer",
			wantKey:   []byte("c-42"),
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
			golden: "customer-registered.json",
		},
		{
			name:      "objectid id and key become 24-char lowercase hex",
			doc:       event(oid, "payment", oid, bson.D{{Key: "customerId", Value: oid}}),
			wantTopic: "outbox.event.payment",
			wantKey:   []byte(oidHex),
			wantHeaders: []header{
				{"id", oidHex}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", oidHex}, {"traceparent", tp},
			},
			golden: "objectid-event.json",
		},
		{
			name:      "topic keeps the aggregate type's case",
			doc:       event(uuid, "CustomerVIP", "c-42", bson.D{{Key: "customerId", Value: "c-42"}}),
			wantTopic: "outbox.event.CustomerVIP",
			wantKey:   []byte("c-42"),
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
			golden: "",
		},
		{
			name:      "numeric keys render like Java's toString",
			doc:       event(int64(7), "customer", int64(42), bson.D{{Key: "customerId", Value: "c-42"}}),
			wantTopic: "outbox.event.customer",
			wantKey:   []byte("42"),
			wantHeaders: []header{
				{"id", "7"}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", "7"}, {"traceparent", tp},
			},
		},
		{
			name:      "null key stays null",
			doc:       event(uuid, "customer", nil, bson.D{{Key: "customerId", Value: "c-42"}}),
			wantTopic: "outbox.event.customer",
			wantKey:   nil,
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
		},
		{
			name:      "string payload is emitted as a JSON string, not parsed",
			doc:       event(uuid, "customer", "c-42", `{"orderId":"o-1","total":2.5}`),
			wantTopic: "outbox.event.customer",
			wantKey:   []byte("c-42"),
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
			golden: "string-payload.json",
		},
		{
			name:      "null payload is the JSON null",
			doc:       event(uuid, "customer", "c-42", nil),
			wantTopic: "outbox.event.customer",
			wantKey:   []byte("c-42"),
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
			golden: "null-payload.json",
		},
		{
			name: "arrays of documents take the union of their fields",
			doc: event(uuid, "customer", "c-42", bson.D{{Key: "items", Value: bson.A{
				bson.D{{Key: "a", Value: int32(1)}, {Key: "b", Value: bson.D{{Key: "c", Value: "x"}}}},
				bson.D{{Key: "b", Value: bson.D{{Key: "c", Value: "y"}}}, {Key: "d", Value: bson.A{int32(1)}}},
				bson.D{{Key: "a", Value: int32(3)}},
			}}}),
			wantTopic: "outbox.event.customer",
			wantKey:   []byte("c-42"),
			wantHeaders: []header{
				{"id", uuid}, {"eventType", "CustomerPendingRegistrationEvent"}, {"eventId", uuid}, {"traceparent", tp},
			},
			golden: "array-of-documents.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Record(cfg, marshal(t, tt.doc), now)
			if err != nil {
				t.Fatalf("Record() error = %v", err)
			}
			if msg.Topic != tt.wantTopic {
				t.Errorf("topic = %q, want %q", msg.Topic, tt.wantTopic)
			}
			if got := encoded(t, msg.Key); !bytes.Equal(got, tt.wantKey) || (got == nil) != (tt.wantKey == nil) {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
			if tt.wantKey == nil && msg.Key != nil {
				t.Errorf("key encoder = %#v, want nil", msg.Key)
			}
			gotHeaders := headersOf(msg)
			if len(gotHeaders) != len(tt.wantHeaders) {
				t.Fatalf("headers = %q, want %q", gotHeaders, tt.wantHeaders)
			}
			for i := range gotHeaders {
				if gotHeaders[i] != tt.wantHeaders[i] {
					t.Errorf("header %d = %q, want %q", i, gotHeaders[i], tt.wantHeaders[i])
				}
			}
			if !msg.Timestamp.Equal(now) {
				t.Errorf("timestamp = %v, want %v (processing time)", msg.Timestamp, now)
			}
			if tt.golden != "" {
				want := golden(t, tt.golden)
				if got := encoded(t, msg.Value); !bytes.Equal(got, want) {
					t.Errorf("value mismatch with testdata/%s\n got: %s\nwant: %s", tt.golden, got, want)
				}
			}
		})
	}
}

// edited returns doc without its field drop ("": none) and with the values
// of set for the fields set names, in doc's order: a valid outbox document
// made invalid in one way.
func edited(doc bson.D, drop string, set ...bson.E) bson.D {
	out := bson.D{}
	for _, e := range doc {
		if e.Key == drop {
			continue
		}
		for _, s := range set {
			if s.Key == e.Key {
				e.Value = s.Value
			}
		}
		out = append(out, e)
	}
	return out
}

// TestRecordUnroutable lists documents Debezium would fail its task on: the
// relay must report them as *UnroutableError so they get parked.
func TestRecordUnroutable(t *testing.T) {
	cfg := shippedConfig(t)
	base := func(drop string, set ...bson.E) bson.D {
		return edited(bson.D{
			{Key: "_id", Value: "e-1"},
			{Key: "aggregateType", Value: "customer"},
			{Key: "aggregateId", Value: "c-1"},
			{Key: "type", Value: "CustomerCreated"},
			{Key: "traceparent", Value: nil},
			{Key: "payload", Value: bson.D{{Key: "x", Value: int32(1)}}},
		}, drop, set...)
	}
	// arrayPayload is an event whose payload has the array "xs" of elems.
	arrayPayload := func(elems ...any) bson.D {
		return base("", bson.E{Key: "payload", Value: bson.D{{Key: "xs", Value: bson.A(elems)}}})
	}
	tests := []struct {
		name       string
		doc        bson.D
		wantReason string
	}{
		{"missing payload", base("payload"), `no payload field "payload"`},
		{"missing aggregateType", base("aggregateType"), `no "aggregateType" field`},
		{"missing traceparent (Debezium fails on a placed field the document lacks)", base("traceparent"), `no field "traceparent" for the traceparent header`},
		{"numeric aggregateType", base("", bson.E{Key: "aggregateType", Value: int32(3)}), `"aggregateType" is a int32, not a string`},
		{"null aggregateType", base("", bson.E{Key: "aggregateType", Value: nil}), `"aggregateType" is null`},
		{"document aggregateType", base("", bson.E{Key: "aggregateType", Value: bson.D{{Key: "a", Value: "b"}}}), `not a string`},
		{"aggregateType that is no topic name", base("", bson.E{Key: "aggregateType", Value: "big customer"}), "not a legal Kafka topic name"},
		{"missing aggregateId", base("aggregateId"), `no key field "aggregateId"`},
		{"missing type header field", base("type"), `no field "type" for the eventType header`},
		{"mixed-type array in the payload", base("", bson.E{Key: "payload", Value: bson.D{{Key: "xs", Value: bson.A{int32(1), "two"}}}}), "not a homogenous array"},
		{"mixed-type array outside the payload", append(base(""), bson.E{Key: "trace", Value: bson.A{int32(1), 2.0}}), "not a homogenous array"},
		{"array of dates", base("", bson.E{Key: "payload", Value: bson.D{{Key: "ds", Value: bson.A{primitive.DateTime(1)}}}}), "cannot convert"},
		// MongoDataConverter, Debezium 2.4.2 (unchanged up to 3.0): see
		// TestRecordArrays for the arrays it converts.
		{"null first in an array field, then a number", arrayPayload(bson.D{{Key: "n", Value: nil}}, bson.D{{Key: "n", Value: int32(1)}}), `field "n": invalid Java object for schema type string`},
		{"null first in an array field, then a document", arrayPayload(bson.D{{Key: "n", Value: nil}}, bson.D{{Key: "n", Value: bson.D{{Key: "y", Value: int32(1)}}}}), `"n" is a string in the schema, not a document`},
		{"null first in an array field, then an array", arrayPayload(bson.D{{Key: "n", Value: nil}}, bson.D{{Key: "n", Value: bson.A{int32(1)}}}), `field "n": invalid Java object for schema type string`},
		{"null between two types in an array field", arrayPayload(bson.D{{Key: "n", Value: nil}}, bson.D{{Key: "n", Value: int32(1)}}, bson.D{{Key: "n", Value: "x"}}), `"n" is not the same type for all documents`},
		{"a document and a number in one array", arrayPayload(bson.D{{Key: "a", Value: int32(1)}}, int32(5)), "not a homogenous array"},
		{"field only ever an empty array next to others", arrayPayload(bson.D{{Key: "sku", Value: "A"}, {Key: "tags", Value: bson.A{}}}), `"tags" is not a valid field name`},
		{"field only ever an empty document next to others", arrayPayload(bson.D{{Key: "a", Value: bson.D{}}, {Key: "b", Value: int32(1)}}, bson.D{{Key: "b", Value: int32(2)}}), `failed to find field "a" in schema`},
		{"empty document, then two shapes", arrayPayload(bson.D{{Key: "a", Value: bson.D{}}}, bson.D{{Key: "a", Value: bson.D{{Key: "b", Value: int32(1)}}}}, bson.D{{Key: "a", Value: bson.D{{Key: "c", Value: int32(2)}}}}), `"c" is not a valid field name`},
		{"null, then an empty and a filled document", arrayPayload(bson.D{{Key: "a", Value: nil}}, bson.D{{Key: "a", Value: bson.D{}}}, bson.D{{Key: "a", Value: bson.D{{Key: "b", Value: int32(1)}}}}), `"a" is a string in the schema, not a document`},
		{"empty then mixed-type array field", arrayPayload(bson.D{{Key: "t", Value: bson.A{}}}, bson.D{{Key: "t", Value: bson.A{int32(1), "x"}}}), `"t" is not a homogenous array`},
		{"matrix with an empty row", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{int32(1)}, bson.A{}}}}}), "empty array among arrays"},
		{"matrix starting with an empty row", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{}, bson.A{int32(1)}}}}}), "empty array among arrays"},
		{"matrix rows of different types", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{int32(1)}, bson.A{"a"}}}}}), "invalid Java object for schema type int32"},
		{"matrix of nulls, then numbers", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{nil}, bson.A{int32(1)}}}}}), "invalid Java object for schema type string"},
		{"mixed-type matrix row", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{int32(1), "a"}}}}}), `"m" is not a homogenous array`},
		{"matrix and a number", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{int32(1)}, int32(2)}}}}), `"m" is not a homogenous array`},
		{"matrix of dates", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{primitive.DateTime(1)}}}}}), "cannot convert"},
		{"matrix of documents with a field only in a later row", base("", bson.E{Key: "payload", Value: bson.D{{Key: "m", Value: bson.A{bson.A{bson.D{{Key: "a", Value: int32(1)}}}, bson.A{bson.D{{Key: "b", Value: int32(2)}}}}}}}), `"b" is not a valid field name`},
		{"empty matrix row in a later array element", arrayPayload(bson.D{{Key: "m", Value: bson.A{bson.A{int32(1)}}}}, bson.D{{Key: "m", Value: bson.A{bson.A{}}}}), "empty array among arrays"},
		{"array of regexes", base("", bson.E{Key: "payload", Value: bson.D{{Key: "r", Value: bson.A{primitive.Regex{Pattern: "a"}}}}}), "cannot build a schema"},
		{"documents of one array disagree on a type", base("", bson.E{Key: "payload", Value: bson.D{{Key: "ls", Value: bson.A{bson.D{{Key: "q", Value: int32(1)}}, bson.D{{Key: "q", Value: "1"}}}}}}), "not the same type"},
		{"nested document shapes differ inside an array", base("", bson.E{Key: "payload", Value: bson.D{{Key: "ls", Value: bson.A{bson.D{{Key: "q", Value: bson.D{{Key: "a", Value: int32(1)}}}}, bson.D{{Key: "q", Value: bson.D{{Key: "b", Value: int32(1)}}}}}}}}), "not a valid field name"},
		{"document key", base("", bson.E{Key: "aggregateId", Value: bson.D{{Key: "a", Value: "b"}}}), "StringConverter"},
		{"date header value", base("", bson.E{Key: "type", Value: primitive.DateTime(0)}), "does not render"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Record(cfg, marshal(t, tt.doc), time.Now())
			var ue *UnroutableError
			if !errors.As(err, &ue) {
				t.Fatalf("Record() = %v, %v; want an *UnroutableError", msg, err)
			}
			if !strings.Contains(ue.Reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", ue.Reason, tt.wantReason)
			}
		})
	}
}

// TestRecordArrays pins what MongoDataConverter (Debezium 2.4.2, the same
// up to 3.0) makes of arrays: documents whose fields are null in some
// elements (DBZ-6760), arrays of arrays (DBZ-2569) and empty documents or
// arrays in fields other elements fill (DBZ-5434). The golden values were
// produced by running Debezium's converter itself on these documents.
func TestRecordArrays(t *testing.T) {
	cfg := shippedConfig(t)
	doc := func(payload bson.D) bson.Raw {
		return marshal(t, bson.D{
			{Key: "_id", Value: "e-1"},
			{Key: "aggregateType", Value: "customer"},
			{Key: "aggregateId", Value: "c-1"},
			{Key: "type", Value: "CustomerCreated"},
			{Key: "traceparent", Value: nil},
			{Key: "payload", Value: payload},
		})
	}
	a := func(elems ...any) bson.A { return append(bson.A{}, elems...) } // bson.A(nil) would be null
	d := func(kv ...any) bson.D {
		out := bson.D{}
		for i := 0; i < len(kv); i += 2 {
			out = append(out, bson.E{Key: kv[i].(string), Value: kv[i+1]})
		}
		return out
	}
	one, two, three := int32(1), int32(2), int32(3)
	tests := []struct {
		name    string
		payload bson.D
		golden  string
	}{
		{
			name: "field null in the first element, a string later (DBZ-6760)",
			payload: d("additionalContacts", a(
				d("firstName", "John", "lastName", "Doe", "comment", nil),
				d("firstName", "Jane", "lastName", "Doe", "comment", "A comment"))),
			golden: "array-null-then-string.json",
		},
		{
			name:    "field with a value first, null later",
			payload: d("xs", a(d("n", one), d("n", nil), d("n", two))),
			golden:  "array-value-then-null.json",
		},
		{
			name:    "matrix (DBZ-2569)",
			payload: d("matrix", a(a(one, two, three), a(int32(4), int32(5), int32(6)), a(int32(7), int32(8), int32(9)))),
			golden:  "matrix.json",
		},
		{
			name: "matrix of documents (DBZ-2569)",
			payload: d("matrix_complex", a(
				a(d("k3", "v111", "k4", a(one, two, three)), d("k3", "v211", "k4", a(int32(4), int32(5), int32(6)))),
				a(d("k3", "v112", "k4", a(int32(7), int32(8))), d("k3", "v212", "k4", a(int32(8)))))),
			golden: "matrix-of-documents.json",
		},
		{
			name:    "matrix of documents takes the fields of its first row",
			payload: d("m", a(a(d("a", one), d("b", "x")), a(d("a", two)))),
			golden:  "matrix-of-documents-union.json",
		},
		{
			name:    "matrix with a row of nulls after the first",
			payload: d("m", a(a(one), a(nil))),
			golden:  "matrix-null-row.json",
		},
		{
			name:    "array of matrices",
			payload: d("cube", a(a(a(one, two)), a(a(three)))),
			golden:  "cube.json",
		},
		{
			name:    "empty document, then a filled one (DBZ-5434)",
			payload: d("f1", d("f2", a(d("f3", d()), d("f3", d("f5", int32(5)))))),
			golden:  "array-empty-document-then-filled.json",
		},
		{
			name:    "empty array, then one of documents (DBZ-5434)",
			payload: d("f1", d("f2", a(d("f3", a()), d("f3", a(d("f5", int32(5))))))),
			golden:  "array-empty-array-then-filled.json",
		},
		{
			name:    "empty array, then one of numbers",
			payload: d("lines", a(d("t", a()), d("t", a(one, two)))),
			golden:  "array-empty-array-then-numbers.json",
		},
		{
			name:    "only empty arrays (DBZ-5434)",
			payload: d("f1", d("f2", a(d("f3", a()), d("f3", a())))),
			golden:  "array-only-empty-arrays.json",
		},
		{
			name:    "only empty documents",
			payload: d("f2", a(d("f3", d()), d("f3", d()))),
			golden:  "array-only-empty-documents.json",
		},
		{
			name:    "later element's array of another type loses those values",
			payload: d("lines", a(d("t", a(one)), d("t", a(two, "x")))),
			golden:  "array-later-mixed-array.json",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, err := Record(cfg, doc(tt.payload), time.Now())
			if err != nil {
				t.Fatalf("Record() error = %v", err)
			}
			want := bytes.TrimSpace(golden(t, tt.golden))
			if got := encoded(t, msg.Value); !bytes.Equal(got, want) {
				t.Errorf("value mismatch with testdata/%s\n got: %s\nwant: %s", tt.golden, got, want)
			}
		})
	}
}

// TestRecordSettings covers settings the shipped connector leaves at their
// defaults: a timestamp field, tombstones, topic regex and the key fallback.
func TestRecordSettings(t *testing.T) {
	shipped := shippedConfig(t)
	doc := func(extra ...bson.E) bson.Raw {
		d := bson.D{
			{Key: "_id", Value: "e-1"},
			{Key: "aggregateType", Value: "customer"},
			{Key: "aggregateId", Value: "c-1"},
			{Key: "type", Value: "CustomerCreated"},
			{Key: "traceparent", Value: nil},
			{Key: "payload", Value: "  "},
			{Key: "at", Value: int64(1700000000123)},
		}
		return marshal(t, append(d, extra...))
	}
	now := time.Unix(1800000000, 0)
	tests := []struct {
		name      string
		edit      func(*Config)
		doc       bson.Raw
		wantTopic string
		wantKey   string
		wantValue string // "<null>" for a null value
		wantTime  time.Time
	}{
		{
			name:      "shipped settings keep a blank string payload",
			edit:      func(*Config) {},
			doc:       doc(),
			wantTopic: "outbox.event.customer", wantKey: "c-1", wantValue: `"  "`, wantTime: now,
		},
		{
			name:      "tombstone on empty payload",
			edit:      func(c *Config) { c.TombstoneOnEmptyPayload = true },
			doc:       doc(),
			wantTopic: "outbox.event.customer", wantKey: "c-1", wantValue: "<null>", wantTime: now,
		},
		{
			name:      "timestamp field overrides the processing time",
			edit:      func(c *Config) { c.TimestampField = "at" },
			doc:       doc(),
			wantTopic: "outbox.event.customer", wantKey: "c-1", wantValue: `"  "`, wantTime: time.UnixMilli(1700000000123),
		},
		{
			name: "topic regex and Java replacement",
			edit: func(c *Config) {
				c.TopicRegex = mustRegexp(t, `(?<kind>cust)(omer)`)
				c.TopicReplacement = `events.${kind}.$2\-x`
			},
			doc:       doc(),
			wantTopic: "events.cust.omer-x", wantKey: "c-1", wantValue: `"  "`, wantTime: now,
		},
		{
			name: "route regex ending in an open \\Q quote",
			edit: func(c *Config) {
				c.TopicRegex = mustRegexp(t, `\Qcustomer`)
				c.TopicReplacement = "outbox.customers"
			},
			doc:       doc(),
			wantTopic: "outbox.customers", wantKey: "c-1", wantValue: `"  "`, wantTime: now,
		},
		{
			name:      "unset key field reads aggregateid",
			edit:      func(c *Config) { c.KeyField = "" },
			doc:       doc(bson.E{Key: "aggregateid", Value: "fallback"}),
			wantTopic: "outbox.event.customer", wantKey: "fallback", wantValue: `"  "`, wantTime: now,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shipped
			tt.edit(&cfg)
			msg, err := Record(cfg, tt.doc, now)
			if err != nil {
				t.Fatalf("Record() error = %v", err)
			}
			if msg.Topic != tt.wantTopic {
				t.Errorf("topic = %q, want %q", msg.Topic, tt.wantTopic)
			}
			if got := string(encoded(t, msg.Key)); got != tt.wantKey {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
			got := "<null>"
			if msg.Value != nil {
				got = string(encoded(t, msg.Value))
			}
			if got != tt.wantValue {
				t.Errorf("value = %s, want %s", got, tt.wantValue)
			}
			if !msg.Timestamp.Equal(tt.wantTime) {
				t.Errorf("timestamp = %v, want %v", msg.Timestamp, tt.wantTime)
			}
		})
	}
}

// TestRecordKey pins EventRouterDelegate.defineRecordKey (Debezium 2.4.2):
// the key is the key field's value, null included, with no fallback; an
// unset collection.field.event.key means table.field.event.key's default,
// aggregateid.
func TestRecordKey(t *testing.T) {
	shipped := shippedConfig(t)
	const oidHex = "650f1c2ab3d4e5f60718293a"
	event := func(extra ...bson.E) bson.Raw {
		d := bson.D{
			{Key: "_id", Value: "e-1"},
			{Key: "aggregateType", Value: "customer"},
			{Key: "type", Value: "CustomerCreated"},
			{Key: "traceparent", Value: nil},
			{Key: "payload", Value: bson.D{}},
		}
		return marshal(t, append(d, extra...))
	}
	tests := []struct {
		name     string
		keyField string
		doc      bson.Raw
		wantKey  []byte // nil: a null key
	}{
		{"configured key field", "aggregateId", event(bson.E{Key: "aggregateId", Value: "c-1"}), []byte("c-1")},
		{"configured key field null, no fallback to aggregateid", "aggregateId", event(bson.E{Key: "aggregateId", Value: nil}, bson.E{Key: "aggregateid", Value: "other"}), nil},
		{"unset key field reads aggregateid", "", event(bson.E{Key: "aggregateId", Value: "c-1"}, bson.E{Key: "aggregateid", Value: mustOID(t, oidHex)}), []byte(oidHex)},
		{"unset key field, aggregateid null", "", event(bson.E{Key: "aggregateid", Value: nil}), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shipped
			cfg.KeyField = tt.keyField
			msg, err := Record(cfg, tt.doc, time.Now())
			if err != nil {
				t.Fatalf("Record() error = %v", err)
			}
			got := encoded(t, msg.Key)
			if !bytes.Equal(got, tt.wantKey) || (got == nil) != (tt.wantKey == nil) {
				t.Errorf("key = %q, want %q", got, tt.wantKey)
			}
		})
	}
}

// TestRecordUnroutableSettings lists documents Debezium fails on, or the
// relay will not route by a guess, under settings other than the shipped.
func TestRecordUnroutableSettings(t *testing.T) {
	shipped := shippedConfig(t)
	event := func(aggregateType string, extra ...bson.E) bson.Raw {
		d := bson.D{
			{Key: "_id", Value: "e-1"},
			{Key: "aggregateType", Value: aggregateType},
			{Key: "aggregateId", Value: "c-1"},
			{Key: "type", Value: "CustomerCreated"},
			{Key: "traceparent", Value: nil},
			{Key: "payload", Value: bson.D{}},
		}
		return marshal(t, append(d, extra...))
	}
	prefixRoute := func(c *Config) {
		c.TopicRegex = mustRegexp(t, `(\w+).*`)
		c.TopicReplacement = "$1"
	}
	tests := []struct {
		name       string
		edit       func(*Config)
		doc        bson.Raw
		wantReason string
	}{
		// Struct.get("aggregateid") throws: "not a valid field name".
		{"unset key field and no aggregateid", func(c *Config) { c.KeyField = "" }, event("customer"), `no key field "aggregateid"`},
		// Java's '.' stops at \r, so the regex does not match and the raw
		// value is no topic; Go's '.' would match and route to "customer".
		{"route value with a carriage return", prefixRoute, event("customer\rx"), "only printable ASCII is routed"},
		{"route value with U+2028", prefixRoute, event("customer\u2028x"), "only printable ASCII is routed"},
		{"route value beyond ASCII", prefixRoute, event("customerÉ"), "only printable ASCII is routed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := shipped
			tt.edit(&cfg)
			msg, err := Record(cfg, tt.doc, time.Now())
			var ue *UnroutableError
			if !errors.As(err, &ue) {
				t.Fatalf("Record() = %v, %v; want an *UnroutableError", msg, err)
			}
			if !strings.Contains(ue.Reason, tt.wantReason) {
				t.Errorf("reason = %q, want it to contain %q", ue.Reason, tt.wantReason)
			}
		})
	}
}
