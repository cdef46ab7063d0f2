package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/httpapi"
)

var errGone = errors.New("gone")

func server() *echo.Echo {
	mapErr := func(err error) (int, httpapi.Problem, bool) {
		if errors.Is(err, errGone) {
			return http.StatusNotFound, httpapi.Problem{Code: "GONE", Message: "it is gone"}, true
		}
		return 0, httpapi.Problem{}, false
	}
	e := httpapi.New(slog.New(slog.NewTextHandler(io.Discard, nil)), mapErr, "1KB")
	e.POST("/things", func(c echo.Context) error {
		var body struct {
			Name  string `json:"name"`
			Inner struct {
				Name  string `json:"name,omitempty"`
				Count int    `json:"count"`
			} `json:"inner"`
			List []struct {
				X int `json:"x"`
			} `json:"list,omitempty"`
		}
		if err := httpapi.DecodeJSON(c, &body); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, body)
	})
	e.GET("/gone", func(echo.Context) error { return errGone })
	e.GET("/panic", func(echo.Context) error { panic("secret internals") })
	e.GET("/health", httpapi.Health(
		httpapi.Check{Name: "ok", Probe: func(context.Context) error { return nil }},
		httpapi.Check{Name: "bad", Probe: func(context.Context) error { return errors.New("down") }},
	))
	return e
}

func TestResponses(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		wantStatus               int
		wantBody                 []string
	}{
		{"created", "POST", "/things", `{"name":"a","inner":{"count":1}}`, 201, []string{`"name":"a"`}},
		{"not json", "POST", "/things", `{"name":`, 400, []string{`"code":"MALFORMED_JSON"`}},
		{"empty", "POST", "/things", ``, 400, []string{`"code":"BAD_REQUEST"`}},
		{"trailing", "POST", "/things", `{} {}`, 400, []string{`"code":"MALFORMED_JSON"`}},
		{"wrong type names the field", "POST", "/things", `{"inner":{"count":"x"}}`, 400, []string{`"field":"inner.count"`, `"code":"INVALID_INPUT"`}},
		{"too large", "POST", "/things", `{"name":"` + strings.Repeat("x", 2048) + `"}`, 413, []string{`"code":"PAYLOAD_TOO_LARGE"`}},
		{"mapped error", "GET", "/gone", ``, 404, []string{`"code":"GONE"`}},
		{"unknown route", "GET", "/nowhere", ``, 404, []string{`"code":"NOT_FOUND"`}},
		{"panic hides internals", "GET", "/panic", ``, 500, []string{`"code":"INTERNAL"`}},
		{"health down", "GET", "/health", ``, 503, []string{`"status":"DOWN"`, `"bad":"DOWN"`, `"ok":"UP"`}},
	}
	e := server()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(rec.Body.String(), w) {
					t.Errorf("body %s does not contain %s", rec.Body, w)
				}
			}
			if strings.Contains(rec.Body.String(), "secret internals") || strings.Contains(rec.Body.String(), "goroutine") {
				t.Errorf("body leaks internals: %s", rec.Body)
			}
		})
	}
}

// TestDecodeJSONRefuses: what DecodeJSON refuses before the handler sees a
// value, each answer in the JSON error shape.
func TestDecodeJSONRefuses(t *testing.T) {
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantBody                []string
	}{
		{"json", "application/json", `{"name":"a"}`, 201, []string{`"name":"a"`}},
		{"json with utf-8 charset", "application/json; charset=utf-8", `{"name":"a"}`, 201, []string{`"name":"a"`}},
		{"json with UTF-8 charset", "application/json;charset=UTF-8", `{"name":"a"}`, 201, []string{`"name":"a"`}},
		{"media type is case-insensitive", "Application/JSON", `{"name":"a"}`, 201, []string{`"name":"a"`}},
		{"text/plain", "text/plain", `{"name":"a"}`, 415, []string{`"code":"UNSUPPORTED_MEDIA_TYPE"`, `application/json`}},
		{"form", "application/x-www-form-urlencoded", `name=a`, 415, []string{`"code":"UNSUPPORTED_MEDIA_TYPE"`}},
		{"none", "", `{"name":"a"}`, 415, []string{`"code":"UNSUPPORTED_MEDIA_TYPE"`, `no Content-Type`}},
		{"not a media type", "json", `{"name":"a"}`, 415, []string{`"code":"UNSUPPORTED_MEDIA_TYPE"`}},
		{"other charset", "application/json; charset=latin1", `{"name":"a"}`, 415, []string{`"code":"UNSUPPORTED_MEDIA_TYPE"`, `latin1`}},
		{"duplicate key", "application/json", `{"name":"a","name":"b"}`, 400, []string{`"code":"INVALID_INPUT"`, `{"field":"name","message":"must be given only once"}`}},
		{"duplicate nested key", "application/json", `{"inner":{"count":10,"count":1}}`, 400, []string{`{"field":"inner.count","message":"must be given only once"}`}},
		{"duplicate key differing in case", "application/json", `{"name":"a","NAME":"b"}`, 400, []string{`{"field":"name","message":"must be given only once"}`}},
		{"duplicate key in an array element", "application/json", `{"name":"a","list":[{"x":1},{"x":1,"x":2}]}`, 400, []string{`{"field":"list[1].x","message":"must be given only once"}`}},
		{"same key in two objects is fine", "application/json", `{"name":"a","inner":{"name":"b"}}`, 201, []string{`"name":"a"`}},
		{"a number for a string", "application/json", `{"name":1}`, 400, []string{`{"field":"name","message":"must be a string"}`}},
		{"a string for an object", "application/json", `{"name":"a","inner":"x"}`, 400, []string{`{"field":"inner","message":"must be an object"}`}},
		{"an object for an array", "application/json", `{"name":"a","list":{}}`, 400, []string{`{"field":"list","message":"must be an array"}`}},
	}
	e := server()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/things", strings.NewReader(tt.body))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", got)
			}
			for _, w := range tt.wantBody {
				if !strings.Contains(rec.Body.String(), w) {
					t.Errorf("body %s does not contain %s", rec.Body, w)
				}
			}
		})
	}
}

// TestUnreadableBody: a body the server cannot read is a 400 in the JSON
// shape, not "not valid json".
func TestUnreadableBody(t *testing.T) {
	tests := []struct {
		name       string
		body       io.Reader
		wantStatus int
		wantCode   string
	}{
		{"read error", io.MultiReader(strings.NewReader(`{"na`), errReader{errors.New("http: invalid byte in chunk length")}), 400, `"code":"BAD_REQUEST"`},
		{"read timeout", io.MultiReader(strings.NewReader(`{"na`), errReader{os.ErrDeadlineExceeded}), 408, `"code":"REQUEST_TIMEOUT"`},
	}
	e := server()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", "/things", tt.body)
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || !strings.Contains(rec.Body.String(), tt.wantCode) {
				t.Fatalf("got %d %s, want %d with %s", rec.Code, rec.Body, tt.wantStatus, tt.wantCode)
			}
			if strings.Contains(rec.Body.String(), "chunk") {
				t.Errorf("body shows the internal error: %s", rec.Body)
			}
		})
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }
