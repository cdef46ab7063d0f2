// Package worker is outbox-relay's counterpart of a Kafka Connect worker:
// it keeps the accepted connector registrations (in a Store shared by every
// outbox-relay process), runs one relay.Relay per database of each
// connector's database.include.list with the shared producer, and reports
// their state the way Connect reports a connector's and its tasks' status.
//
// Several outbox-relay processes against one MongoDB form a cluster the way
// Connect workers do: any of them accepts a registration, every one picks
// it up from the store within ReconcileInterval, and the relays' leases let
// exactly one process relay each database. Task i is the relay of the i-th
// database of database.include.list.
//
// What a registration may follow is bounded by the Policy the worker is
// started with (the allowed databases, never its own), and registrations
// carrying credentials are refused: they are stored and shown, and the
// relays use the worker's own MongoDB client anyway.
//
// It does not speak HTTP (package connectapi does), authenticate callers
// (connectapi does) or create the producer (main does, and hands it over
// with SetProducer).
package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/sagaoutbox/platform/commonlib/relay"
)

// ErrNotFound is returned for a connector name that is not registered,
// wrapped in a *NotFoundError naming it.
var ErrNotFound = errors.New("connector not found")

// NotFoundError names the connector that is not registered; it matches
// ErrNotFound.
type NotFoundError struct {
	Name string
}

func (e *NotFoundError) Error() string { return "connector " + e.Name + " not found" }

// Is makes errors.Is(err, ErrNotFound) true.
func (e *NotFoundError) Is(target error) bool { return target == ErrNotFound }

// Connector is one accepted registration: its name and its configuration,
// every value a string as Kafka Connect keeps them ("name" included).
type Connector struct {
	Name   string
	Config map[string]string
}

// DecodeConfig reads a configuration's JSON values the way Kafka Connect
// does: a string as it is, a number or boolean as its JSON text, null as
// the empty string. Any other value (an object, an array) is refused, the
// error naming the setting and, unless the key names a credential, quoting
// the value. PUT /connectors/{name}/config and CONNECTOR_FILE both read
// configurations with it, so a body one accepts the other accepts too.
func DecodeConfig(raw map[string]json.RawMessage) (map[string]string, error) {
	config := make(map[string]string, len(raw))
	for _, k := range slices.Sorted(maps.Keys(raw)) {
		v := raw[k]
		var s string
		if err := json.Unmarshal(v, &s); err == nil {
			config[k] = s
			continue
		}
		var x any
		_ = json.Unmarshal(v, &x)
		switch x.(type) {
		case float64, bool:
			config[k] = string(v)
		default:
			if Credential(k, "") != "" {
				return nil, fmt.Errorf("connector setting %s: the value is not a string", k)
			}
			return nil, fmt.Errorf("connector setting %s: value %s is not a string", k, v)
		}
	}
	return config, nil
}

// InvalidConfigError lists why a configuration was refused, one problem per
// entry, each naming the setting.
type InvalidConfigError struct {
	Problems []string
}

func (e *InvalidConfigError) Error() string {
	return fmt.Sprintf("connector configuration is invalid and contains the following %d error(s):\n%s",
		len(e.Problems), strings.Join(e.Problems, "\n"))
}

// Policy is what the operator lets registrations follow, fixed when
// outbox-relay starts: a PUT can narrow what is relayed, never widen it.
type Policy struct {
	// AllowedDatabases are the only databases database.include.list may
	// name (exactly, case included). Empty allows none.
	AllowedDatabases []string
	// OwnDatabase is where outbox-relay keeps the registrations, and
	// OwnCollection their collection. No registration may cover them, even
	// should AllowedDatabases name the database: relaying it would publish
	// every stored registration.
	OwnDatabase   string
	OwnCollection string
}

// Validate checks a configuration as outbox-relay would run it under p: it
// must be one relay.ParseConnector accepts (the shipped Debezium
// registration's subset), carry no credentials (see Credential), and name
// every database literally, each allowed by p and none of them
// p.OwnDatabase. It returns the relay settings, or an *InvalidConfigError
// with every problem; no problem quotes a refused credential's value.
func (p Policy) Validate(c Connector) (relay.Config, error) {
	// Refused credentials are left out of what ParseConnector sees, so
	// that none of its messages can quote them.
	settings := make(map[string]string, len(c.Config))
	var secrets []string
	for k, v := range c.Config {
		if why := Credential(k, v); why != "" {
			secrets = append(secrets, fmt.Sprintf("connector setting %s is refused: %s", k, why))
			continue
		}
		settings[k] = v
	}
	sort.Strings(secrets)
	problems := secrets
	data, err := json.Marshal(settings)
	if err != nil {
		return relay.Config{}, err
	}
	cfg, err := relay.ParseConnector(data)
	var refused *relay.ConfigError
	if errors.As(err, &refused) {
		for _, pr := range refused.Problems {
			problems = append(problems, pr.Message)
		}
	} else if err != nil {
		return relay.Config{}, err
	} else if cfg.Name != c.Name {
		problems = append(problems, fmt.Sprintf("connector setting name=%q differs from the connector name %q", cfg.Name, c.Name))
	}
	list, ok := settings["database.include.list"]
	var databases []string
	for _, db := range strings.Split(list, ",") {
		if db = strings.TrimSpace(db); db != "" {
			databases = append(databases, db)
		}
	}
	if !ok || len(databases) == 0 {
		problems = append(problems, "connector setting database.include.list is missing: outbox-relay follows the databases it names, one relay each")
	}
	for _, db := range databases {
		switch {
		case !literalDatabase(db):
			problems = append(problems, fmt.Sprintf("connector setting database.include.list=%q is refused: %q is a pattern; outbox-relay needs literal database names (one relay and lease per database)", list, db))
		case p.OwnDatabase != "" && strings.EqualFold(db, p.OwnDatabase):
			// EqualFold: Debezium matches the list case-insensitively.
			problems = append(problems, fmt.Sprintf("connector setting database.include.list=%q is refused: %q is outbox-relay's own database, where it stores the connector registrations; it is never relayed", list, db))
		case !slices.Contains(p.AllowedDatabases, db):
			problems = append(problems, fmt.Sprintf("connector setting database.include.list=%q is refused: database %q is not one this outbox-relay may follow (%s); the allowed databases are set when it starts (RELAY_ALLOWED_DATABASES)", list, db, allowed(p.AllowedDatabases)))
		}
	}
	problems = append(problems, p.ownCollectionProblems(settings)...)
	if len(problems) > 0 {
		return relay.Config{}, &InvalidConfigError{Problems: problems}
	}
	return cfg, nil
}

// ownCollectionProblems refuses collection.include.list entries that
// would include the registrations' collection. With the database refused
// above nothing could reach it anyway (collection lists and the predicate
// pattern only narrow what the listed databases offer), but a list naming
// it is a mistake or a probe worth an answer. The predicate pattern is
// not checked: it is matched against topic names, where catch-all
// patterns are legitimate and cannot reach an unlisted database.
func (p Policy) ownCollectionProblems(settings map[string]string) []string {
	if p.OwnDatabase == "" || p.OwnCollection == "" {
		return nil
	}
	own := p.OwnDatabase + "." + p.OwnCollection
	v, ok := settings["collection.include.list"]
	if !ok {
		return nil
	}
	var problems []string
	for _, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		// Compiled the way Debezium applies the list: whole name, any case.
		re, err := regexp.Compile(`(?i)\A(?:` + entry + `)\z`)
		if entry == "" || err != nil || !re.MatchString(own) {
			continue // a bad expression is refused by ParseConnector
		}
		problems = append(problems, fmt.Sprintf("connector setting collection.include.list=%q is refused: %q covers %s, outbox-relay's own registrations; name the collections of the followed databases instead", v, entry, own))
	}
	return problems
}

func allowed(dbs []string) string {
	if len(dbs) == 0 {
		return "none are allowed"
	}
	return "allowed: " + strings.Join(dbs, ", ")
}

// Hidden replaces a credential's value wherever a configuration is shown,
// like Kafka Connect's masked passwords.
const Hidden = "[hidden]"

// Credential says why the setting key=value is refused as a credential,
// or "" when it is not one. Registrations are stored in MongoDB and read
// back through the REST API, so they must not hold secrets: outbox-relay
// connects with the MongoDB URI of its own environment and ignores the
// connector's connection settings. Refused are mongodb.user, any key
// naming a password, secret, token, credential or JAAS configuration (such
// as mongodb.password, mongodb.ssl.keystore.password), and a URI value
// with a user name or password in it (mongodb.connection.string's
// user:password@). mongodb.authsource and other connection settings are
// accepted and ignored. The reason never quotes the value.
func Credential(key, value string) string {
	k := strings.ToLower(key)
	const use = "outbox-relay connects to MongoDB with its own MONGODB_URI and ignores the connector's connection settings; registrations are stored and shown by the REST API, so they must not carry credentials"
	switch {
	case k == "mongodb.user":
		return "a MongoDB user is a credential: " + use
	case containsAny(k, "password", "passwd", "secret", "token", "credential", "jaas"):
		return "its value is a secret: " + use
	case uriWithCredentials(value):
		return "the URI carries credentials (user:password@ or a password or token option): " + use
	}
	return ""
}

// Redact returns config with every credential's value replaced by Hidden,
// for showing a registration stored before credentials were refused.
func Redact(config map[string]string) map[string]string {
	out := make(map[string]string, len(config))
	for k, v := range config {
		if Credential(k, v) != "" {
			v = Hidden
		}
		out[k] = v
	}
	return out
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// uriWithCredentials reports whether v is a URI with user information or
// a password or token option. It errs on the side of refusing: any "@"
// after the scheme counts, encoded or not.
func uriWithCredentials(v string) bool {
	_, rest, ok := strings.Cut(v, "://")
	if !ok {
		return false
	}
	rest = strings.ToLower(rest)
	return strings.Contains(rest, "@") || containsAny(rest, "password", "token")
}

// literalDatabase reports whether a database.include.list entry names one
// database: no regular expression syntax, and none of the characters
// MongoDB forbids in database names.
func literalDatabase(s string) bool {
	return s != "" && regexp.QuoteMeta(s) == s && !strings.ContainsAny(s, `/\ "$`)
}
