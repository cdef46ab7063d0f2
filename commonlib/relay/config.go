package relay

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Debezium and Kafka Connect class names the relay is interchangeable with.
const (
	mongoConnectorClass   = "io.debezium.connector.mongodb.MongoDbConnector"
	mongoEventRouter      = "io.debezium.connector.mongodb.transforms.outbox.MongoEventRouter"
	topicNameMatches      = "org.apache.kafka.connect.transforms.predicates.TopicNameMatches"
	stringConverter       = "org.apache.kafka.connect.storage.StringConverter"
	jsonConverter         = "org.apache.kafka.connect.json.JsonConverter"
	simpleHeaderConverter = "org.apache.kafka.connect.storage.SimpleHeaderConverter"
)

// Defaults of MongoEventRouter's settings (MongoEventRouterConfigDefinition
// and EventRouterConfigDefinition, Debezium 2.4).
const (
	DefaultRouteByField     = "aggregatetype"
	DefaultTopicRegex       = "(?<routedByValue>.*)"
	DefaultTopicReplacement = "outbox.event.${routedByValue}"
	DefaultIDField          = "_id"
	DefaultPayloadField     = "payload"
	// DefaultKeyField is EventRouterConfigDefinition's table.field.event.key
	// default. MongoEventRouter forwards collection.field.event.key to it
	// only when that is set, so an unset key field means this field.
	DefaultKeyField = "aggregateid"
)

// Placement is one entry of collection.fields.additional.placement: the
// document field Field is copied to Location under the name Alias.
type Placement struct {
	Field    string
	Location string // always "header": the only location the relay implements
	Alias    string
}

// Config is the relay's settings, parsed from a Debezium MongoDB connector
// registration by ParseConnector. Field names follow the Debezium settings
// they come from.
type Config struct {
	// Name is the connector name; it also names the relay's stored position.
	Name string
	// TopicPrefix is topic.prefix: the predicate sees change events on
	// "<TopicPrefix>.<database>.<collection>".
	TopicPrefix string
	// Databases is database.include.list: regular expressions, matched
	// case-insensitively against the whole database name like Debezium does.
	// Empty means every database.
	Databases []string
	// IncludedCollections is collection.include.list ("db.coll" regular
	// expressions, case-insensitive, whole name). Empty means every collection.
	IncludedCollections []string
	// ExcludedCollections is collection.exclude.list ("db.coll" regular
	// expressions, case-insensitive, whole name).
	ExcludedCollections []string
	// CollectionPattern is the TopicNameMatches predicate's pattern, already
	// anchored at both ends, so MatchString is a whole-string match like
	// Java's Pattern.matches. Nil means the outbox transform applies to every
	// captured collection.
	CollectionPattern *regexp.Regexp
	// RouteByField is route.by.field, the field whose value names the topic.
	RouteByField string
	// TopicRegex is route.topic.regex, unanchored (RegexRouter tests it
	// against the whole value, then replaces its first match). Nil means
	// DefaultTopicRegex. Its source is a Java pattern: it must pass
	// checkJavaRegex, so that Go evaluates it as Java does.
	TopicRegex *regexp.Regexp
	// TopicReplacement is route.topic.replacement, in Java's replacement
	// syntax ($1, ${name}, \ escapes).
	TopicReplacement string
	// IDField is collection.field.event.id: the "id" header.
	IDField string
	// KeyField is collection.field.event.key: the record key. Empty means
	// DefaultKeyField. A null value is a null key (there is no fallback to
	// another field); a document without the field is unroutable.
	KeyField string
	// PayloadField is collection.field.event.payload: the record value.
	PayloadField string
	// TimestampField is collection.field.event.timestamp: when set, the
	// record timestamp is that field (an int64 of epoch milliseconds) instead
	// of the processing time.
	TimestampField string
	// Placements is collection.fields.additional.placement, in order.
	Placements []Placement
	// ExpandJSONPayload is collection.expand.json.payload. The relay only
	// implements true: an embedded payload document becomes a JSON object.
	ExpandJSONPayload bool
	// TombstoneOnEmptyPayload is route.tombstone.on.empty.payload: a null or
	// blank-string payload becomes a record with a null value.
	TombstoneOnEmptyPayload bool
	// InvalidOperationBehavior is table.op.invalid.behavior: "warn"
	// (default) or "error", the level at which dropped updates are logged.
	// (debezium.op.invalid.behavior, its name before Debezium 2.0, is
	// ignored like Debezium 2.4 ignores it.)
	InvalidOperationBehavior string
}

// withDefaults fills the settings Debezium defaults when they are unset.
func (c Config) withDefaults() Config {
	if c.RouteByField == "" {
		c.RouteByField = DefaultRouteByField
	}
	if c.TopicReplacement == "" {
		c.TopicReplacement = DefaultTopicReplacement
	}
	if c.TopicRegex == nil {
		c.TopicRegex = defaultTopicRegex
	}
	if c.IDField == "" {
		c.IDField = DefaultIDField
	}
	if c.PayloadField == "" {
		c.PayloadField = DefaultPayloadField
	}
	if c.KeyField == "" {
		c.KeyField = DefaultKeyField
	}
	if c.InvalidOperationBehavior == "" {
		c.InvalidOperationBehavior = "warn"
	}
	return c
}

var defaultTopicRegex = regexp.MustCompile(DefaultTopicRegex)

// ConfigError lists why ParseConnector refused a registration, or New a
// Config, one Problem per refused, missing or malformed setting.
type ConfigError struct {
	Problems []Problem
}

// Problem is one reason a configuration is refused.
type Problem struct {
	// Setting is the key the problem is about, as the registration spells
	// it ("transforms.outbox.route.topic.regex"); for a Config built by
	// hand, the Debezium setting its field comes from ("route.topic.regex").
	// Empty when the registration itself is malformed (not a JSON object,
	// an unknown key beside "name" and "config").
	Setting string
	// Message says what is wrong, naming the setting and, where there is
	// one, the refused value.
	Message string
}

func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = "relay: " + p.Message
	}
	return strings.Join(lines, "\n")
}

// configError returns problems as a *ConfigError, or nil when there are
// none.
func configError(problems []Problem) error {
	if len(problems) == 0 {
		return nil
	}
	return &ConfigError{Problems: problems}
}

// validate checks what ParseConnector cannot guarantee for a Config built
// by hand.
func (c Config) validate() error {
	return configError(c.problems(""))
}

// problems lists what validate refuses; routerPrefix ("transforms.<alias>.")
// completes the names of MongoEventRouter's settings.
func (c Config) problems(routerPrefix string) []Problem {
	var out []Problem
	add := func(setting, format string, args ...any) {
		out = append(out, Problem{Setting: setting, Message: fmt.Sprintf(format, args...)})
	}
	placement := routerPrefix + "collection.fields.additional.placement"
	if c.Name == "" {
		add("name", "config has no name")
	}
	if !c.ExpandJSONPayload {
		add(routerPrefix+"collection.expand.json.payload", "collection.expand.json.payload must be true (an unexpanded payload is emitted by Debezium as extended JSON text, which the relay does not reproduce)")
	}
	for _, p := range c.Placements {
		if !strings.EqualFold(p.Location, "header") {
			add(placement, "placement %s:%s:%s: only the header location is implemented", p.Field, p.Location, p.Alias)
		}
		if p.Field == "" || p.Alias == "" {
			add(placement, "placement %s:%s:%s needs a field and an alias", p.Field, p.Location, p.Alias)
		}
	}
	switch c.InvalidOperationBehavior {
	case "", "warn", "error":
	default:
		add(routerPrefix+"table.op.invalid.behavior", "invalid operation behavior %q: only warn and error are implemented", c.InvalidOperationBehavior)
	}
	if c.TopicRegex != nil {
		if err := checkJavaRegex(c.TopicRegex.String(), false); err != nil {
			add(routerPrefix+"route.topic.regex", "route.topic.regex %q: %v", c.TopicRegex, err)
		}
	}
	if err := validateJavaReplacement(c.withDefaults().TopicRegex, c.withDefaults().TopicReplacement); err != nil {
		add(routerPrefix+"route.topic.replacement", "route.topic.replacement %q: %v", c.TopicReplacement, err)
	}
	lists := []struct {
		setting string
		entries []string
	}{
		{"database.include.list", c.Databases},
		{"collection.include.list", c.IncludedCollections},
		{"collection.exclude.list", c.ExcludedCollections},
	}
	for _, l := range lists {
		for _, entry := range l.entries {
			if _, err := compileEntry(entry); err != nil {
				add(l.setting, "%v", err)
				break // compileList stops at the first bad entry too
			}
		}
	}
	return out
}

// ParseConnector reads a Debezium MongoDB connector registration, either
// {"name": …, "config": {…}} as sent to Kafka Connect or the bare config
// map, and returns the relay's settings, or a *ConfigError listing every
// problem.
//
// It refuses, naming the key and value, every setting that would make
// Debezium produce something the relay does not: another connector,
// converter or transform, a predicate other than TopicNameMatches,
// additional placements outside headers, an unexpanded payload, and any key
// it does not know. Connection settings (mongodb.*) and settings that only
// matter to Kafka Connect are accepted and ignored.
func ParseConnector(data []byte) (Config, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return Config{}, configError([]Problem{{Message: "connector registration is not a JSON object: " + err.Error()}})
	}
	var name string
	rawConfig := top
	if inner, ok := top["config"]; ok {
		for k := range top {
			if k != "name" && k != "config" {
				return Config{}, configError([]Problem{{Message: fmt.Sprintf("unsupported key %q in connector registration", k)}})
			}
		}
		if n, ok := top["name"]; ok {
			if err := json.Unmarshal(n, &name); err != nil {
				return Config{}, configError([]Problem{{Setting: "name", Message: "connector name is not a string: " + err.Error()}})
			}
		}
		rawConfig = nil
		if err := json.Unmarshal(inner, &rawConfig); err != nil {
			return Config{}, configError([]Problem{{Message: "connector config is not a JSON object: " + err.Error()}})
		}
	}
	settings := make(map[string]string, len(rawConfig))
	for k, raw := range rawConfig {
		v, err := settingValue(raw)
		if err != nil {
			return Config{}, configError([]Problem{{Setting: k, Message: fmt.Sprintf("connector setting %s: %v", k, err)}})
		}
		settings[k] = v
	}
	return parseSettings(name, settings)
}

// settingValue accepts what Kafka Connect accepts for a setting: a string,
// or a number or boolean it reads as text.
func settingValue(raw json.RawMessage) (string, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return "", err
	}
	switch v.(type) {
	case float64, bool:
		return strings.TrimSpace(string(raw)), nil
	default:
		return "", fmt.Errorf("value %s is not a string", raw)
	}
}

type settingsParser struct {
	cfg      Config
	problems []Problem
}

func (p *settingsParser) refuse(key, value, why string) {
	p.problems = append(p.problems, Problem{Setting: key, Message: fmt.Sprintf("connector setting %s=%q is refused: %s", key, value, why)})
}

func (p *settingsParser) missing(key, why string) {
	p.problems = append(p.problems, Problem{Setting: key, Message: "connector setting " + key + " is missing" + why})
}

func (p *settingsParser) boolean(key, value string) bool {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true":
		return true
	case "false":
		return false
	}
	p.refuse(key, value, "not a boolean")
	return false
}

func parseSettings(name string, s map[string]string) (Config, error) {
	p := &settingsParser{}
	p.cfg.Name = name
	if inner, ok := s["name"]; ok {
		if name != "" && inner != name {
			p.refuse("name", inner, fmt.Sprintf("differs from the registration's name %q", name))
		}
		p.cfg.Name = inner
	}

	// The transform and predicate aliases decide which keys belong to them.
	transform := ""
	if v, ok := s["transforms"]; ok {
		aliases := splitList(v)
		if len(aliases) != 1 {
			p.refuse("transforms", v, "the relay implements exactly one transform, the outbox event router")
		} else {
			transform = aliases[0]
		}
	} else {
		p.missing("transforms", ": the outbox event router must be configured")
	}
	predicate := ""
	if v, ok := s["predicates"]; ok {
		aliases := splitList(v)
		if len(aliases) != 1 {
			p.refuse("predicates", v, "the relay implements at most one predicate, on the outbox transform")
		} else {
			predicate = aliases[0]
		}
	}
	tPrefix := "transforms." + transform + "."
	pPrefix := "predicates." + predicate + "."

	required := map[string]bool{
		"connector.class":                false,
		"topic.prefix":                   false,
		"key.converter":                  false,
		"value.converter":                false,
		"value.converter.schemas.enable": false,
	}
	if transform != "" {
		required[tPrefix+"type"] = false
	}
	routerSeesPredicate := false

	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := s[k]
		if _, ok := required[k]; ok {
			required[k] = true
		}
		switch {
		case k == "name", k == "transforms", k == "predicates":
			// Handled above.
		case k == "connector.class":
			if v != mongoConnectorClass {
				p.refuse(k, v, "the relay replaces "+mongoConnectorClass+" only")
			}
		case k == "tasks.max":
			if n, err := strconv.Atoi(v); err != nil || n < 1 {
				p.refuse(k, v, "not a positive integer")
			}
		case strings.HasPrefix(k, "mongodb."):
			// Connection settings: the relay is given its store instead.
		case k == "topic.prefix":
			if v == "" {
				p.refuse(k, v, "empty")
			}
			p.cfg.TopicPrefix = v
		case k == "database.include.list":
			p.cfg.Databases = splitList(v)
		case k == "collection.include.list":
			p.cfg.IncludedCollections = splitList(v)
		case k == "collection.exclude.list":
			p.cfg.ExcludedCollections = splitList(v)
		case k == "time.precision.mode":
			// Not a MongoDB connector setting; the outbox values do not depend on it.
		case k == "snapshot.mode":
			if v != "initial" && v != "when_needed" {
				p.refuse(k, v, "the relay always sweeps the outbox when it has no usable position (initial / when_needed)")
			}
		case k == "key.converter":
			if v != stringConverter {
				p.refuse(k, v, "keys must be the plain aggregate id ("+stringConverter+"); another converter changes key bytes and partitioning")
			}
		case k == "value.converter":
			if v != jsonConverter {
				p.refuse(k, v, "values must be "+jsonConverter)
			}
		case k == "value.converter.schemas.enable":
			if p.boolean(k, v) {
				p.refuse(k, v, "with schemas enabled every value is wrapped in a schema envelope")
			}
		case k == "header.converter":
			if v != simpleHeaderConverter {
				p.refuse(k, v, "headers must be raw UTF-8 ("+simpleHeaderConverter+")")
			}
		case transform != "" && k == tPrefix+"type":
			if v != mongoEventRouter {
				p.refuse(k, v, "the relay implements "+mongoEventRouter+" only")
			}
		case transform != "" && k == tPrefix+"predicate":
			if v != predicate {
				p.refuse(k, v, "names no predicate declared in predicates")
			}
			routerSeesPredicate = true
		case transform != "" && k == tPrefix+"negate":
			if p.boolean(k, v) {
				p.refuse(k, v, "a negated predicate would publish raw change events of the outbox collections")
			}
		case transform != "" && strings.HasPrefix(k, tPrefix):
			p.routerSetting(k, strings.TrimPrefix(k, tPrefix), v)
		case predicate != "" && k == pPrefix+"type":
			if v != topicNameMatches {
				p.refuse(k, v, "the relay implements "+topicNameMatches+" only")
			}
		case predicate != "" && k == pPrefix+"pattern":
			if err := checkJavaRegex(v, false); err != nil {
				p.refuse(k, v, err.Error())
				break
			}
			re, err := regexp.Compile(anchoredPattern(v))
			if err != nil {
				p.refuse(k, v, "not a regular expression the relay can evaluate: "+err.Error())
			}
			p.cfg.CollectionPattern = re
		default:
			p.refuse(k, v, "unknown to the relay")
		}
	}
	for k, seen := range required {
		if !seen {
			p.missing(k, "")
		}
	}
	if predicate != "" {
		if !routerSeesPredicate {
			p.refuse("predicates", predicate, "the outbox transform does not use it")
		}
		if _, ok := s[pPrefix+"pattern"]; !ok {
			p.missing(pPrefix+"pattern", "")
		}
		if _, ok := s[pPrefix+"type"]; !ok {
			p.missing(pPrefix+"type", "")
		}
	}
	sort.Slice(p.problems, func(i, j int) bool { return p.problems[i].Message < p.problems[j].Message })
	if len(p.problems) == 0 {
		p.problems = p.cfg.problems(tPrefix)
	}
	if err := configError(p.problems); err != nil {
		return Config{}, err
	}
	return p.cfg.withDefaults(), nil
}

// routerSetting handles one transforms.<alias>.* key of MongoEventRouter
// (MongoEventRouterConfigDefinition, Debezium 2.4).
func (p *settingsParser) routerSetting(key, name, v string) {
	switch name {
	case "collection.field.event.id", "collection.field.event.key", "collection.field.event.payload",
		"collection.field.event.timestamp", "route.by.field", "route.topic.replacement":
		if v == "" {
			// Debezium takes "" as given, not as unset: it looks for a
			// field named "" in every event (or routes to the topic "")
			// and fails, where the relay would apply the default.
			p.refuse(key, v, "empty: Debezium would use it as given and fail on every event")
			return
		}
	}
	switch name {
	case "collection.field.event.id":
		p.cfg.IDField = v
	case "collection.field.event.key":
		p.cfg.KeyField = v
	case "collection.field.event.payload":
		p.cfg.PayloadField = v
	case "collection.field.event.timestamp":
		p.cfg.TimestampField = v
	case "collection.field.event.type":
		// Read by MongoEventRouter but used by nothing in Debezium 2.4's
		// EventRouterDelegate: the type reaches consumers only via placements.
	case "collection.fields.additional.placement":
		p.cfg.Placements = p.placements(key, v)
	case "collection.expand.json.payload":
		p.cfg.ExpandJSONPayload = p.boolean(key, v)
		if !p.cfg.ExpandJSONPayload {
			p.refuse(key, v, "Debezium then emits the payload as extended-JSON text, which the relay does not reproduce")
		}
	case "route.by.field":
		p.cfg.RouteByField = v
	case "route.topic.regex":
		// Field.isRegex and RegexRouter compile it with java.util.regex.
		if err := checkJavaRegex(v, false); err != nil {
			p.refuse(key, v, err.Error())
			return
		}
		re, err := regexp.Compile(v)
		if err != nil {
			p.refuse(key, v, "not a regular expression the relay can evaluate: "+err.Error())
			return
		}
		p.cfg.TopicRegex = re
	case "route.topic.replacement":
		p.cfg.TopicReplacement = v
	case "route.tombstone.on.empty.payload":
		p.cfg.TombstoneOnEmptyPayload = p.boolean(key, v)
	case "debezium.op.invalid.behavior":
		// Its name before Debezium 2.0 (deprecated by DBZ-4012, removed
		// by DBZ-5045): EventRouterConfigDefinition no longer has it, so
		// Debezium 2.4 ignores it, and so does the relay.
	case "table.op.invalid.behavior":
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "warn", "error":
			p.cfg.InvalidOperationBehavior = strings.ToLower(strings.TrimSpace(v))
		default:
			p.refuse(key, v, "the relay implements warn and error (it never stops on an update)")
		}
	default:
		p.refuse(key, v, "unknown or unsupported outbox event router setting")
	}
}

// placements parses "field:location[:alias],…" like Debezium's
// parseAdditionalFieldsConfig, refusing what would break or differ there.
func (p *settingsParser) placements(key, v string) []Placement {
	var out []Placement
	for _, item := range strings.Split(v, ",") {
		if strings.ContainsFunc(item, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
			p.refuse(key, v, "whitespace in a placement breaks Debezium 2.4 (the field name keeps it)")
			return nil
		}
		parts := strings.Split(item, ":")
		if len(parts) != 2 && len(parts) != 3 {
			p.refuse(key, v, "each placement must be field:location or field:location:alias")
			return nil
		}
		pl := Placement{Field: parts[0], Location: strings.ToLower(parts[1]), Alias: parts[0]}
		if len(parts) == 3 {
			pl.Alias = parts[2]
		}
		if pl.Field == "" || pl.Alias == "" {
			p.refuse(key, v, "empty field or alias in a placement")
			return nil
		}
		if pl.Location != "header" {
			p.refuse(key, v, fmt.Sprintf("placement location %q is not implemented (only header)", parts[1]))
			return nil
		}
		out = append(out, pl)
	}
	return out
}

// splitList splits a Kafka Connect list setting on commas, trimming blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// compileList compiles Debezium include/exclude list entries the way
// Debezium applies them: case-insensitive, matching the whole name.
func compileList(list []string) ([]*regexp.Regexp, error) {
	out := make([]*regexp.Regexp, 0, len(list))
	for _, s := range list {
		re, err := compileEntry(s)
		if err != nil {
			return nil, fmt.Errorf("relay: %w", err)
		}
		out = append(out, re)
	}
	return out, nil
}

// compileEntry compiles one list entry for compileList.
func compileEntry(s string) (*regexp.Regexp, error) {
	if err := checkJavaRegex(s, true); err != nil {
		return nil, fmt.Errorf("list entry %q: %w", s, err)
	}
	re, err := regexp.Compile(`(?i)` + anchoredPattern(s))
	if err != nil {
		return nil, fmt.Errorf("list entry %q is not a regular expression the relay can evaluate: %w", s, err)
	}
	return re, nil
}

func matchesAny(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// anchored caches the whole-string variant of route.topic.regex.
var anchored sync.Map // map[string]*regexp.Regexp

func fullMatch(re *regexp.Regexp) (*regexp.Regexp, error) {
	if v, ok := anchored.Load(re.String()); ok {
		return v.(*regexp.Regexp), nil
	}
	full, err := regexp.Compile(anchoredPattern(re.String()))
	if err != nil {
		return nil, err
	}
	anchored.Store(re.String(), full)
	return full, nil
}
