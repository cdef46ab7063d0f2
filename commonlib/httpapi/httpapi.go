// Package httpapi builds the services' echo servers: one error handler that
// turns every error into a status and a JSON body {"code", "message"[,
// "fields"]}, request body limits, JSON decoding that names the bad field,
// panic recovery that never shows a stack trace, and a health endpoint.
//
// It knows no routes or domain errors: a service passes a Mapper for its own
// sentinel errors.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/sagaoutbox/platform/commonlib/validation"
)

// Problem is the JSON body of every error response.
type Problem struct {
	Code    string                  `json:"code"`
	Message string                  `json:"message"`
	Fields  []validation.FieldError `json:"fields,omitempty"`
	// RetryAfter, when positive, is sent as the Retry-After header
	// (seconds), with 503 answers.
	RetryAfter int `json:"-"`
}

// Mapper maps a service's own errors to a status and a problem; ok is false
// for errors it does not know.
type Mapper func(err error) (status int, p Problem, ok bool)

// New returns an echo server with the error handler, recovery, access log and
// a request body limit such as "64KB".
func New(log *slog.Logger, mapErr Mapper, bodyLimit string) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(log, mapErr)
	e.Use(Recover, AccessLog(log), middleware.BodyLimit(bodyLimit))
	return e
}

func errorHandler(log *slog.Logger, mapErr Mapper) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, p := toProblem(err, mapErr)
		if status >= 500 {
			log.Error("request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
		}
		if p.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(p.RetryAfter))
		}
		if c.Request().Method == http.MethodHead {
			err = c.NoContent(status)
		} else {
			err = c.JSON(status, p)
		}
		if err != nil {
			log.Error("write error response", "err", err)
		}
	}
}

func toProblem(err error, mapErr Mapper) (int, Problem) {
	var me *MalformedError
	if errors.As(err, &me) {
		return http.StatusBadRequest, Problem{Code: "MALFORMED_JSON", Message: "the request body is not valid json"}
	}
	if mapErr != nil {
		if status, p, ok := mapErr(err); ok {
			return status, p
		}
	}
	var fields validation.Errors
	var he *echo.HTTPError
	switch {
	case errors.As(err, &fields):
		return http.StatusBadRequest, Problem{Code: "INVALID_INPUT", Message: "the request has invalid fields", Fields: fields}
	case errors.As(err, &he):
		return he.Code, Problem{Code: codeOf(he.Code), Message: strings.ToLower(http.StatusText(he.Code))}
	default:
		return http.StatusInternalServerError, Problem{Code: "INTERNAL", Message: "internal error"}
	}
}

func codeOf(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BAD_REQUEST"
	case http.StatusNotFound:
		return "NOT_FOUND"
	case http.StatusMethodNotAllowed:
		return "METHOD_NOT_ALLOWED"
	case http.StatusRequestEntityTooLarge:
		return "PAYLOAD_TOO_LARGE"
	case http.StatusUnsupportedMediaType:
		return "UNSUPPORTED_MEDIA_TYPE"
	case http.StatusServiceUnavailable:
		return "UNAVAILABLE"
	}
	return strings.ToUpper(strings.ReplaceAll(http.StatusText(status), " ", "_"))
}

// Recover is echo middleware that turns a handler panic into an error, so the
// server's error handler answers 500 with no stack trace in the response and
// logs the panic value.
func Recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("panic: %v", r)
			}
		}()
		return next(c)
	}
}

// AccessLog is echo middleware that hands a handler's error to the server's
// error handler, so the status is final, and then logs the request at DEBUG:
// method, URI, status and duration.
func AccessLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			log.Debug("http", "method", c.Request().Method, "uri", c.Request().RequestURI,
				"status", c.Response().Status, "took", time.Since(start))
			return nil
		}
	}
}

// DecodeJSON reads the request body as JSON into v. A body that is not JSON
// is a 400 MALFORMED_JSON; a value of the wrong type is a validation error
// naming the field; a body over the limit is a 413.
func DecodeJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the json value")
	}
	var te *json.UnmarshalTypeError
	var he *echo.HTTPError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &he):
		return he
	case errors.As(err, &te) && te.Field != "":
		var fields validation.Errors
		fields.Add(te.Field, "must be a %s", jsonKind(te.Type.Kind().String()))
		return fields
	case errors.Is(err, io.EOF):
		return &echo.HTTPError{Code: http.StatusBadRequest, Message: "empty body", Internal: err}
	default:
		return malformed(err)
	}
}

func malformed(err error) error {
	return &MalformedError{err: err}
}

// MalformedError is a request body that is not valid JSON.
type MalformedError struct{ err error }

func (m *MalformedError) Error() string { return "malformed json: " + m.err.Error() }
func (m *MalformedError) Unwrap() error { return m.err }

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	case "bool":
		return "boolean"
	}
	return "number"
}

// Check is one dependency probe for the health endpoint.
type Check struct {
	Name  string
	Probe func(ctx context.Context) error
}

// StateError is a probe's error that names the check's state (such as
// SATURATED) instead of DOWN.
type StateError struct{ State, Reason string }

func (e *StateError) Error() string { return strings.ToLower(e.State) + ": " + e.Reason }

// Health answers 200 {"status":"UP"} when every check passes within two
// seconds, 503 with the failing checks otherwise: each DOWN, or the state
// its probe's StateError names.
func Health(checks ...Check) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
		defer cancel()
		results := make(map[string]string, len(checks))
		var mu sync.Mutex
		var wg sync.WaitGroup
		up := true
		for _, ch := range checks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				state := "UP"
				if err := ch.Probe(ctx); err != nil {
					state = "DOWN"
					var se *StateError
					if errors.As(err, &se) {
						state = se.State
					}
				}
				mu.Lock()
				defer mu.Unlock()
				results[ch.Name] = state
				up = up && state == "UP"
			}()
		}
		wg.Wait()
		status, code := "UP", http.StatusOK
		if !up {
			status, code = "DOWN", http.StatusServiceUnavailable
		}
		return c.JSON(code, map[string]any{"status": status, "checks": results})
	}
}
