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
// It does not speak HTTP (package connectapi does) and does not create the
// producer (main does, and hands it over with SetProducer).
package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
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

// InvalidConfigError lists why a configuration was refused, one problem per
// entry, each naming the setting.
type InvalidConfigError struct {
	Problems []string
}

func (e *InvalidConfigError) Error() string {
	return fmt.Sprintf("connector configuration is invalid and contains the following %d error(s):\n%s",
		len(e.Problems), strings.Join(e.Problems, "\n"))
}

// Validate checks a configuration as outbox-relay would run it: it must be
// one relay.ParseConnector accepts (the shipped Debezium registration's
// subset) and name every database literally, since each listed database
// gets its own relay and lease. It returns the relay settings, or an
// *InvalidConfigError with every problem.
func Validate(c Connector) (relay.Config, error) {
	data, err := json.Marshal(c.Config)
	if err != nil {
		return relay.Config{}, err
	}
	var problems []string
	cfg, err := relay.ParseConnector(data)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(strings.TrimPrefix(line, "relay: ")); line != "" {
				problems = append(problems, line)
			}
		}
	} else if cfg.Name != c.Name {
		problems = append(problems, fmt.Sprintf("connector setting name=%q differs from the connector name %q", cfg.Name, c.Name))
	}
	list, ok := c.Config["database.include.list"]
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
		if !literalDatabase(db) {
			problems = append(problems, fmt.Sprintf("connector setting database.include.list=%q is refused: %q is a pattern; outbox-relay needs literal database names (one relay and lease per database)", list, db))
		}
	}
	if len(problems) > 0 {
		return relay.Config{}, &InvalidConfigError{Problems: problems}
	}
	return cfg, nil
}

// literalDatabase reports whether a database.include.list entry names one
// database: no regular expression syntax, and none of the characters
// MongoDB forbids in database names.
func literalDatabase(s string) bool {
	return s != "" && regexp.QuoteMeta(s) == s && !strings.ContainsAny(s, `/\ "$`)
}
