package httpapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
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
				Count int `json:"count"`
			} `json:"inner"`
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
