// Package httpapi builds the services' echo servers: one error handler that
// turns every error into a status and a JSON body {"code", "message"[,
// "fields"]}, request header and body limits, JSON decoding that names the
// bad field, panic recovery that never shows a stack trace, a health
// endpoint, and the http.Server settings (timeouts) that bound slow clients.
//
// It knows no routes or domain errors: a service passes a Mapper for its own
// sentinel errors.
//
// What it cannot make JSON: a few answers are written by Go's net/http
// itself, before any handler runs, when the request cannot be parsed at all:
// a malformed request line or header, duplicate or invalid Content-Length,
// an unsupported Transfer-Encoding (501), headers beyond the server's
// MaxHeaderBytes (431), a missing Host, an unmet Expect (417). net/http has
// no hook for them (its conn.serve writes a fixed text/plain answer and
// closes the connection), so they stay plain text. Headers larger than
// MaxHeaderBytes but within the server's cap get the JSON 431 from
// HeaderLimit.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"reflect"
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

// New returns an echo server with the error handler, recovery, access log,
// the request header limit (MaxHeaderBytes) and a request body limit such as
// "64KB".
func New(log *slog.Logger, mapErr Mapper, bodyLimit string) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(log, mapErr)
	e.Use(Recover, AccessLog(log), HeaderLimit(MaxHeaderBytes), middleware.BodyLimit(bodyLimit))
	return e
}

// answer is an error that decides its own status and problem, for the
// request errors httpapi detects itself (content type, unreadable body).
type answer struct {
	status  int
	problem Problem
	err     error
}

func (a *answer) Error() string {
	if a.err != nil {
		return a.problem.Message + ": " + a.err.Error()
	}
	return a.problem.Message
}

func (a *answer) Unwrap() error { return a.err }

func errorHandler(log *slog.Logger, mapErr Mapper) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, p := toProblem(err, mapErr)
		if status >= 500 {
			log.ErrorContext(c.Request().Context(), "request failed", "method", c.Request().Method, "path", c.Path(), "err", err)
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
	var a *answer
	if errors.As(err, &a) {
		return a.status, a.problem
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
	case http.StatusRequestHeaderFieldsTooLarge:
		return "HEADERS_TOO_LARGE"
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
			log.DebugContext(c.Request().Context(), "http", "method", c.Request().Method, "uri", c.Request().RequestURI,
				"status", c.Response().Status, "took", time.Since(start))
			return nil
		}
	}
}

// DecodeJSON reads the request body as JSON into v. A body not declared
// application/json (a charset parameter, if any, must be utf-8) is a 415
// UNSUPPORTED_MEDIA_TYPE; a body that cannot be read is a 400 (a 408 when
// the client sent it too slowly for the server's read timeout); a body over
// the limit is a 413; a body that is not JSON is a 400 MALFORMED_JSON. An
// object key given twice, or a value of the wrong type, is a validation
// error naming the field.
func DecodeJSON(c echo.Context, v any) error {
	if err := requireJSON(c.Request().Header.Get(echo.HeaderContentType)); err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return bodyError(err)
	}
	if field, ok := duplicateKey(body); ok {
		var fields validation.Errors
		fields.Add(field, "must be given only once")
		return fields
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	err = dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the json value")
	}
	var te *json.UnmarshalTypeError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &te) && te.Field != "":
		var fields validation.Errors
		fields.Add(te.Field, "must be %s", jsonKind(te.Type))
		return fields
	case errors.Is(err, io.EOF):
		return &echo.HTTPError{Code: http.StatusBadRequest, Message: "empty body", Internal: err}
	default:
		return malformed(err)
	}
}

// requireJSON refuses a request body not declared as application/json.
// JSON text is UTF-8 (RFC 8259), so a charset parameter may only say so.
func requireJSON(contentType string) error {
	refuse := func(why string) error {
		return &answer{status: http.StatusUnsupportedMediaType, problem: Problem{
			Code:    "UNSUPPORTED_MEDIA_TYPE",
			Message: "the request body must be application/json (" + why + ")",
		}}
	}
	if strings.TrimSpace(contentType) == "" {
		return refuse("no Content-Type given")
	}
	mediaType, params, err := mime.ParseMediaType(contentType)
	switch {
	case err != nil:
		return refuse("the Content-Type is not a media type")
	case mediaType != echo.MIMEApplicationJSON:
		return refuse(mediaType + " given")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return refuse("charset " + cs + " given; json is utf-8")
	}
	return nil
}

// bodyError answers a request body that could not be read.
func bodyError(err error) error {
	var he *echo.HTTPError
	switch {
	case errors.As(err, &he):
		return he // the body limit: 413
	case errors.Is(err, os.ErrDeadlineExceeded):
		return &answer{status: http.StatusRequestTimeout, err: err, problem: Problem{
			Code: "REQUEST_TIMEOUT", Message: "the request body did not arrive within the server's read timeout"}}
	default:
		// Bad chunked encoding, a body shorter than its Content-Length, a
		// connection reset: the detail is the client's own doing.
		return &answer{status: http.StatusBadRequest, err: err, problem: Problem{
			Code: "BAD_REQUEST", Message: "the request body could not be read"}}
	}
}

// maxScanDepth bounds duplicateKey's recursion; json.Decoder refuses deeper
// nesting itself (10,000 levels).
const maxScanDepth = 10000

// duplicateKey finds the first object key given twice in a JSON document
// and returns its path ("card.balance", "items[2].name"). encoding/json
// would silently keep the last value, and it matches struct fields without
// regard to case, so keys differing only in case count as the same key. A
// document that is not valid JSON has no duplicate here: Decode reports it.
func duplicateKey(data []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	path, found, err := scanDuplicates(dec, "", 0)
	return path, found && err == nil
}

func scanDuplicates(dec *json.Decoder, path string, depth int) (string, bool, error) {
	if depth > maxScanDepth {
		return "", false, errors.New("too deep")
	}
	tok, err := dec.Token()
	if err != nil {
		return "", false, err
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]string{}
		for dec.More() {
			keyTok, err := dec.Token()
			if err != nil {
				return "", false, err
			}
			key, _ := keyTok.(string)
			folded := strings.ToLower(key)
			if first, ok := seen[folded]; ok {
				return joinPath(path, first), true, nil
			}
			seen[folded] = key
			if p, found, err := scanDuplicates(dec, joinPath(path, key), depth+1); found || err != nil {
				return p, found, err
			}
		}
		_, err = dec.Token() // the closing brace
		return "", false, err
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if p, found, err := scanDuplicates(dec, fmt.Sprintf("%s[%d]", path, i), depth+1); found || err != nil {
				return p, found, err
			}
		}
		_, err = dec.Token() // the closing bracket
		return "", false, err
	}
	return "", false, nil
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func malformed(err error) error {
	return &MalformedError{err: err}
}

// MalformedError is a request body that is not valid JSON.
type MalformedError struct{ err error }

func (m *MalformedError) Error() string { return "malformed json: " + m.err.Error() }
func (m *MalformedError) Unwrap() error { return m.err }

// jsonKind names the JSON value a Go type decodes from, with its article,
// for "must be ..." messages.
func jsonKind(t reflect.Type) string {
	if t == reflect.TypeFor[json.Number]() {
		return "a number"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Bool:
		return "a boolean"
	}
	return "a number"
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
