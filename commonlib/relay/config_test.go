package relay

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/sagaoutbox/platform/debezium"
)

// TestParseShippedConnector is the golden test: the registration Debezium
// is given parses, and yields the routing the contract describes.
func TestParseShippedConnector(t *testing.T) {
	cfg, err := ParseConnector(debezium.Connector)
	if err != nil {
		t.Fatalf("ParseConnector(debezium.Connector) error = %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"name", cfg.Name, "eventual-consistency-poc-connector"},
		{"topic prefix", cfg.TopicPrefix, "mongodb"},
		{"databases", cfg.Databases, []string{"customers-db", "payments-db"}},
		{"excluded", cfg.ExcludedCollections, []string{"customers-db.consumed-events", "payments-db.consumed-events"}},
		{"pattern", cfg.CollectionPattern.String(), `\A(?:.*events)\z`},
		{"route by", cfg.RouteByField, "aggregateType"},
		{"topic replacement", cfg.TopicReplacement, "outbox.event.${routedByValue}"},
		{"topic regex", cfg.TopicRegex.String(), "(?<routedByValue>.*)"},
		{"id field", cfg.IDField, "_id"},
		{"key field", cfg.KeyField, "aggregateId"},
		{"payload field", cfg.PayloadField, "payload"},
		{"timestamp field", cfg.TimestampField, ""},
		{"placements", cfg.Placements, []Placement{{"type", "header", "eventType"}, {"_id", "header", "eventId"}, {"traceparent", "header", "traceparent"}}},
		{"expand", cfg.ExpandJSONPayload, true},
		{"tombstones", cfg.TombstoneOnEmptyPayload, false},
		{"invalid operations", cfg.InvalidOperationBehavior, "warn"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
	t.Run("pattern is a whole-name match", func(t *testing.T) {
		for name, want := range map[string]bool{
			"mongodb.customers-db.customer-events": true,
			"mongodb.customers-db.consumed-events": true, // excluded by the list, not the pattern
			"mongodb.customers-db.customers":       false,
			"mongodb.customers-db.events-archive":  false,
		} {
			if got := cfg.CollectionPattern.MatchString(name); got != want {
				t.Errorf("pattern matches %q = %v, want %v", name, got, want)
			}
		}
	})
}

// shippedSettings returns the shipped config map to edit.
func shippedSettings(t *testing.T) map[string]any {
	t.Helper()
	var reg struct {
		Name   string         `json:"name"`
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(debezium.Connector, &reg); err != nil {
		t.Fatal(err)
	}
	reg.Config["name"] = reg.Name
	return reg.Config
}

// TestParseConnectorRefuses checks that every setting the relay would not
// honour is refused with an error naming the key and the value.
func TestParseConnectorRefuses(t *testing.T) {
	const tr = "transforms.outbox."
	tests := []struct {
		name    string
		edit    map[string]any // nil value deletes the key
		wantErr []string
	}{
		{"another connector", map[string]any{"connector.class": "io.debezium.connector.postgresql.PostgresConnector"}, []string{"connector.class", "PostgresConnector"}},
		{"json keys", map[string]any{"key.converter": "org.apache.kafka.connect.json.JsonConverter"}, []string{"key.converter", "JsonConverter"}},
		{"avro values", map[string]any{"value.converter": "io.confluent.connect.avro.AvroConverter"}, []string{"value.converter", "AvroConverter"}},
		{"value schemas enabled", map[string]any{"value.converter.schemas.enable": "true"}, []string{"value.converter.schemas.enable", `"true"`}},
		{"value schemas unset", map[string]any{"value.converter.schemas.enable": nil}, []string{"value.converter.schemas.enable is missing"}},
		{"json headers", map[string]any{"header.converter": "org.apache.kafka.connect.json.JsonConverter"}, []string{"header.converter", "JsonConverter"}},
		{"two transforms", map[string]any{"transforms": "outbox,unwrap"}, []string{"transforms", "outbox,unwrap"}},
		{"another transform type", map[string]any{tr + "type": "io.debezium.transforms.outbox.EventRouter"}, []string{tr + "type", "EventRouter"}},
		{"another predicate type", map[string]any{"predicates.isOutboxTable.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey"}, []string{"predicates.isOutboxTable.type", "HasHeaderKey"}},
		{"negated predicate", map[string]any{tr + "negate": "true"}, []string{tr + "negate", `"true"`}},
		{"pattern Go cannot run", map[string]any{"predicates.isOutboxTable.pattern": "(?<=x)events"}, []string{"predicates.isOutboxTable.pattern", "(?<=x)events"}},
		{"envelope placement", map[string]any{tr + "collection.fields.additional.placement": "type:envelope:eventType"}, []string{tr + "collection.fields.additional.placement", "type:envelope:eventType", "envelope"}},
		{"partition placement", map[string]any{tr + "collection.fields.additional.placement": "type:header:eventType,p:partition"}, []string{"partition"}},
		{"spaces in placements", map[string]any{tr + "collection.fields.additional.placement": "type:header:eventType, _id:header:eventId"}, []string{"whitespace"}},
		{"malformed placement", map[string]any{tr + "collection.fields.additional.placement": "type"}, []string{`"type"`, "field:location"}},
		{"unexpanded payload", map[string]any{tr + "collection.expand.json.payload": "false"}, []string{tr + "collection.expand.json.payload", `"false"`}},
		{"fatal on updates", map[string]any{tr + "table.op.invalid.behavior": "fatal"}, []string{tr + "table.op.invalid.behavior", `"fatal"`}},
		{"unknown invalid-operation behavior", map[string]any{tr + "table.op.invalid.behavior": "skip"}, []string{tr + "table.op.invalid.behavior", `"skip"`}},
		{"empty key field", map[string]any{tr + "collection.field.event.key": ""}, []string{tr + "collection.field.event.key", "empty"}},
		{"empty topic replacement", map[string]any{tr + "route.topic.replacement": ""}, []string{tr + "route.topic.replacement", "empty"}},
		// route.topic.regex values Go accepts and Java's Pattern rejects:
		// Field.isRegex and RegexRouter stop Debezium at start.
		{"python group syntax", map[string]any{tr + "route.topic.regex": "(?P<routedByValue>.*)"}, []string{tr + "route.topic.regex", "Java's Pattern rejects it", "(?P<name>"}},
		{"underscore in a group name", map[string]any{tr + "route.topic.regex": "(?<routed_by>.*)", tr + "route.topic.replacement": "x.${routed_by}"}, []string{"route.topic.regex", "Java's Pattern rejects it", "missing trailing '>'"}},
		{"group name starting with a digit", map[string]any{tr + "route.topic.regex": "(?<1st>.*)"}, []string{"route.topic.regex", "does not start with a Latin letter"}},
		{"group name used twice", map[string]any{tr + "route.topic.regex": "(?<v>cust.*)|(?<v>pay.*)"}, []string{"route.topic.regex", "<v> is already defined"}},
		{"count without a minimum", map[string]any{tr + "route.topic.regex": "(.{,40})"}, []string{"route.topic.regex", "illegal repetition"}},
		{"brace that starts no count", map[string]any{tr + "route.topic.regex": "${x}(.*)"}, []string{"route.topic.regex", "illegal repetition"}},
		{"unclosed count", map[string]any{tr + "route.topic.regex": "(.{2)"}, []string{"route.topic.regex", "unclosed counted closure"}},
		{"script property", map[string]any{tr + "route.topic.regex": `(\p{Greek}+)`}, []string{"route.topic.regex", "Greek"}},
		{"negated property Go's way", map[string]any{tr + "route.topic.regex": `(\p{^L}+)`}, []string{"route.topic.regex", "Java's Pattern rejects it"}},
		// Values both accept but read differently.
		{"POSIX class", map[string]any{tr + "route.topic.regex": "([[:alpha:]]+)"}, []string{"route.topic.regex", "Java nests a class"}},
		{"class intersection", map[string]any{tr + "route.topic.regex": "([a-z&&[^x]]+)"}, []string{"route.topic.regex", "intersection"}},
		{"ungreedy flag", map[string]any{tr + "route.topic.regex": "(?U)(.*)"}, []string{"route.topic.regex", "(?U)"}},
		{"octal escape", map[string]any{tr + "route.topic.regex": `(\12.*)`}, []string{"route.topic.regex", "octal"}},
		{"count with a leading zero", map[string]any{tr + "route.topic.regex": "(a{01})"}, []string{"route.topic.regex", "leading zero"}},
		{"vertical whitespace", map[string]any{tr + "route.topic.regex": `(\v?.*)`}, []string{"route.topic.regex", "vertical"}},
		{"grapheme boundary", map[string]any{tr + "route.topic.regex": `\b{g}(.*)`}, []string{"route.topic.regex", "grapheme"}},
		{"case-insensitive non-ASCII", map[string]any{tr + "route.topic.regex": "(?i)(k\u212a.*)"}, []string{"route.topic.regex", "case-insensitive"}},
		{"predicate pattern Java rejects", map[string]any{"predicates.isOutboxTable.pattern": "(?P<x>.*)events"}, []string{"predicates.isOutboxTable.pattern", "Java's Pattern rejects it"}},
		{"list entry Java rejects", map[string]any{"collection.exclude.list": "customers-db.{consumed}-events"}, []string{"customers-db.{consumed}-events", "illegal repetition"}},
		{"schema version field", map[string]any{tr + "collection.field.event.schema.version": "v"}, []string{tr + "collection.field.event.schema.version", `"v"`}},
		{"tracing", map[string]any{tr + "tracing.span.context.field": "ctx"}, []string{tr + "tracing.span.context.field"}},
		{"bad replacement", map[string]any{tr + "route.topic.replacement": "outbox.${nope}"}, []string{"route.topic.replacement", "nope"}},
		{"unknown key", map[string]any{"errors.tolerance": "all"}, []string{"errors.tolerance", `"all"`}},
		{"snapshot never", map[string]any{"snapshot.mode": "never"}, []string{"snapshot.mode", `"never"`}},
		{"no transforms", map[string]any{"transforms": nil, tr + "type": nil}, []string{"transforms is missing"}},
		{"inner name differs", map[string]any{"name": "other"}, []string{"name", `"other"`}},
		{"object value", map[string]any{"tasks.max": map[string]any{"n": 1}}, []string{"tasks.max"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := shippedSettings(t)
			for k, v := range tt.edit {
				if v == nil {
					delete(settings, k)
				} else {
					settings[k] = v
				}
			}
			name, _ := settings["name"].(string)
			if tt.name == "inner name differs" {
				name = "eventual-consistency-poc-connector"
			}
			data, err := json.Marshal(map[string]any{"name": name, "config": settings})
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseConnector(data)
			if err == nil {
				t.Fatalf("ParseConnector() error = nil, want one mentioning %q", tt.wantErr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("ParseConnector() error = %q, want it to mention %q", err, want)
				}
			}
		})
	}
}

// TestConfigErrorNamesSettings checks that refusals come as one
// *ConfigError whose problems name their settings, from ParseConnector and
// from the checks New makes of a Config built by hand.
func TestConfigErrorNamesSettings(t *testing.T) {
	const tr = "transforms.outbox."
	parse := func(edit map[string]any) func(*testing.T) error {
		return func(t *testing.T) error {
			settings := shippedSettings(t)
			for k, v := range edit {
				if v == nil {
					delete(settings, k)
				} else {
					settings[k] = v
				}
			}
			data, err := json.Marshal(settings)
			if err != nil {
				t.Fatal(err)
			}
			_, err = ParseConnector(data)
			return err
		}
	}
	tests := []struct {
		name string
		err  func(*testing.T) error
		want []string
	}{
		{"two refusals, sorted", parse(map[string]any{"value.converter.schemas.enable": "true", "errors.tolerance": "all"}),
			[]string{"errors.tolerance", "value.converter.schemas.enable"}},
		{"missing", parse(map[string]any{"value.converter.schemas.enable": nil}), []string{"value.converter.schemas.enable"}},
		{"object value", parse(map[string]any{"tasks.max": map[string]any{"n": 1}}), []string{"tasks.max"}},
		{"checked after parsing", parse(map[string]any{tr + "route.topic.replacement": "outbox.${nope}"}), []string{tr + "route.topic.replacement"}},
		{"not JSON", func(*testing.T) error { _, err := ParseConnector([]byte("{")); return err }, []string{""}},
		{"built by hand", func(*testing.T) error { return Config{InvalidOperationBehavior: "skip"}.validate() },
			[]string{"name", "collection.expand.json.payload", "table.op.invalid.behavior"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(t)
			var ce *ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("error = %v, want a *ConfigError", err)
			}
			var got []string
			for _, p := range ce.Problems {
				got = append(got, p.Setting)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("settings = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestParseConnectorAccepts checks the accepted forms and Debezium defaults.
func TestParseConnectorAccepts(t *testing.T) {
	bare := shippedSettings(t)
	bare["tasks.max"] = 1 // a JSON number, as some registrations have it
	bare["mongodb.user"] = "relay"
	bare["snapshot.mode"] = "when_needed"
	bare["header.converter"] = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
	for _, k := range []string{
		"transforms.outbox.route.by.field",
		"transforms.outbox.collection.field.event.key",
		"transforms.outbox.collection.fields.additional.placement",
	} {
		delete(bare, k)
	}
	data, err := json.Marshal(bare)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := ParseConnector(data)
	if err != nil {
		t.Fatalf("ParseConnector(bare map) error = %v", err)
	}
	tests := []struct {
		name      string
		got, want any
	}{
		{"name from the map", cfg.Name, "eventual-consistency-poc-connector"},
		{"default route field", cfg.RouteByField, "aggregatetype"},
		{"no key field means aggregateid", cfg.KeyField, "aggregateid"},
		{"no placements", len(cfg.Placements), 0},
		{"default payload field", cfg.PayloadField, "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !reflect.DeepEqual(tt.got, tt.want) {
				t.Errorf("got %#v, want %#v", tt.got, tt.want)
			}
		})
	}
}

// TestParseInvalidOperationBehavior checks the key Debezium 2.4.2 reads,
// table.op.invalid.behavior (EventRouterConfigDefinition), and that the
// pre-2.0 name debezium.op.invalid.behavior is ignored as Debezium ignores it.
func TestParseInvalidOperationBehavior(t *testing.T) {
	const tr = "transforms.outbox."
	tests := []struct {
		name string
		edit map[string]any
		want string
	}{
		{"default", map[string]any{}, "warn"},
		{"table key", map[string]any{tr + "table.op.invalid.behavior": "error"}, "error"},
		{"table key, any case and blanks", map[string]any{tr + "table.op.invalid.behavior": " ERROR "}, "error"},
		{"old key is ignored", map[string]any{tr + "debezium.op.invalid.behavior": "error"}, "warn"},
		{"old key is ignored whatever its value", map[string]any{tr + "debezium.op.invalid.behavior": "fatal"}, "warn"},
		{"both keys", map[string]any{tr + "table.op.invalid.behavior": "error", tr + "debezium.op.invalid.behavior": "warn"}, "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings := shippedSettings(t)
			for k, v := range tt.edit {
				settings[k] = v
			}
			data, err := json.Marshal(settings)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := ParseConnector(data)
			if err != nil {
				t.Fatalf("ParseConnector() error = %v", err)
			}
			if cfg.InvalidOperationBehavior != tt.want {
				t.Errorf("InvalidOperationBehavior = %q, want %q", cfg.InvalidOperationBehavior, tt.want)
			}
		})
	}
}
