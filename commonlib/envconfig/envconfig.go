// Package envconfig reads typed settings from environment-style variables and
// reports every bad one at once, each error naming its variable.
//
// It never reads the process environment itself: main passes os.LookupEnv
// (tests pass a map), so libraries stay free of hidden inputs.
package envconfig

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Env reads variables through a lookup function and collects errors.
type Env struct {
	lookup func(string) (string, bool)
	errs   []error
}

// New returns an Env reading through lookup, e.g. os.LookupEnv.
func New(lookup func(string) (string, bool)) *Env {
	return &Env{lookup: lookup}
}

// Map adapts a map to a lookup function.
func Map(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Value reads name with parse, or parses def when name is unset or empty.
func Value[T any](e *Env, name, def string, parse func(string) (T, error)) T {
	raw, ok := e.lookup(name)
	if !ok || strings.TrimSpace(raw) == "" {
		raw = def
	}
	v, err := parse(strings.TrimSpace(raw))
	if err != nil {
		e.errs = append(e.errs, fmt.Errorf("%s=%q: %w", name, raw, err))
	}
	return v
}

// String reads name, or def.
func (e *Env) String(name, def string) string {
	return Value(e, name, def, func(s string) (string, error) { return s, nil })
}

// Duration reads a positive Go duration such as "50s" or "5m".
func (e *Env) Duration(name string, def time.Duration) time.Duration {
	return Value(e, name, def.String(), func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err == nil && d <= 0 {
			err = errors.New("must be positive")
		}
		return d, err
	})
}

// Int reads an integer of at least minimum.
func (e *Env) Int(name string, def, minimum int) int {
	return Value(e, name, strconv.Itoa(def), func(s string) (int, error) {
		n, err := strconv.Atoi(s)
		if err == nil && n < minimum {
			err = fmt.Errorf("must be at least %d", minimum)
		}
		return n, err
	})
}

// OneOf reads one of the allowed values.
func (e *Env) OneOf(name, def string, allowed ...string) string {
	return Value(e, name, def, func(s string) (string, error) {
		for _, a := range allowed {
			if s == a {
				return s, nil
			}
		}
		return s, fmt.Errorf("must be one of %s", strings.Join(allowed, ", "))
	})
}

// Addr reads a listen address, host:port or :port.
func (e *Env) Addr(name, def string) string {
	return Value(e, name, def, func(s string) (string, error) {
		if _, port, err := net.SplitHostPort(s); err != nil || port == "" {
			return s, errors.New("must be host:port or :port")
		}
		return s, nil
	})
}

// Level reads a log level: debug, info, warn or error.
func (e *Env) Level(name, def string) slog.Level {
	return Value(e, name, def, func(s string) (slog.Level, error) {
		var l slog.Level
		return l, l.UnmarshalText([]byte(s))
	})
}

// List reads a non-empty list separated by sep, trimming each item.
func (e *Env) List(name, def, sep string) []string {
	return Value(e, name, def, func(s string) ([]string, error) {
		var out []string
		for _, item := range strings.Split(s, sep) {
			if item = strings.TrimSpace(item); item != "" {
				out = append(out, item)
			}
		}
		if len(out) == 0 {
			return nil, errors.New("must not be empty")
		}
		return out, nil
	})
}

// Err returns every problem found so far, or nil.
func (e *Env) Err() error {
	return errors.Join(e.errs...)
}
