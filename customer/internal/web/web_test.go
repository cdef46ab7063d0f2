package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/sagaoutbox/platform/commonlib/app"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/customer/internal/customer"
	"github.com/sagaoutbox/platform/customer/internal/mongostore"
	"github.com/sagaoutbox/platform/customer/internal/web"
)

// newServer serves the real routes, on the embedded store, over HTTP.
func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := mongotest.Open(t)
	store := mongostore.New(s.Client, s.DB)
	if err := store.EnsureIndexes(context.Background()); err != nil {
		t.Fatal(err)
	}
	svc := customer.NewService(store, 5*time.Minute, mongotx.Now, uuid.NewString)
	e := httpapi.New(slog.New(slog.DiscardHandler), web.MapError, "64KB")
	web.Routes(e.Group(web.BasePath), svc, app.Timeline{
		Service: "customer-service", Outbox: outbox.Open(s.DB, mongostore.OutboxCollection), Inbox: inbox.Open(s.DB), Retention: "kept for ever",
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return srv
}

// body is the blueprint's request with card fields replaced: each of
// replace is "old", "new".
func body(replace ...string) string {
	b := `{"firstName":"John","lastName":"Doe","card":{"number":"1234567890","holderName":"John Doe","cvv":120,"validThru":"2030-05-04","balance":100}}`
	return strings.NewReplacer(replace...).Replace(b)
}

func invalid(field, message string) string {
	return `{"code":"INVALID_INPUT","message":"the request has invalid fields","fields":[{"field":"` + field + `","message":"` + message + `"}]}`
}

func TestRegisterAnswers(t *testing.T) {
	const created = "" // any 201 body
	tests := []struct {
		name, contentType, body string
		wantStatus              int
		wantBody                string
	}{
		{"json", "application/json", body(), 201, created},
		{"json, utf-8", "application/json; charset=utf-8", body(), 201, created},
		{"json, UTF-8", "application/json;charset=UTF-8", body(), 201, created},

		{"text/plain", "text/plain", body(), 415, `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"the request body must be application/json (text/plain given)"}`},
		{"form-encoded", "application/x-www-form-urlencoded", "firstName=John", 415, `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"the request body must be application/json (application/x-www-form-urlencoded given)"}`},
		{"no content type", "", body(), 415, `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"the request body must be application/json (no Content-Type given)"}`},
		{"another charset", "application/json; charset=iso-8859-1", body(), 415, `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"the request body must be application/json (charset iso-8859-1 given; json is utf-8)"}`},

		{"duplicate balance", "application/json", body(`"balance":100`, `"balance":10,"balance":1`), 400, invalid("card.balance", "must be given only once")},
		{"duplicate first name", "application/json", body(`"firstName":"John"`, `"firstName":"John","firstName":"Eve"`), 400, invalid("firstName", "must be given only once")},
		{"duplicate card", "application/json", body(`{"firstName"`, `{"card":{},"firstName"`), 400, invalid("card", "must be given only once")},

		{"balance with an exponent", "application/json", body(`"balance":100`, `"balance":1e2`), 400, invalid("card.balance", "must be written without an exponent, such as 100 or 100.50")},
		{"balance too large", "application/json", body(`"balance":100`, `"balance":1000000000000000000`), 400, invalid("card.balance", "must be at most 1000000000000.00")},
		{"balance as a string", "application/json", body(`"balance":100`, `"balance":"100.50"`), 201, created},

		{"february 30th", "application/json", body(`2030-05-04`, `2030-02-30`), 400, invalid("card.validThru", "is not a real date (2030-02 has no day 30)")},

		{"name of zero-width spaces", "application/json", body(`"firstName":"John"`, `"firstName":"\u200b\u200b"`), 400, invalid("firstName", "must not contain control or invisible formatting characters (found U+200B)")},
		{"name with a nul", "application/json", body(`"holderName":"John Doe"`, `"holderName":"John\u0000Doe"`), 400, invalid("card.holderName", "must not contain control or invisible formatting characters (found U+0000)")},
		{"name with a right-to-left override", "application/json", body(`"lastName":"Doe"`, `"lastName":"\u202eeoD"`), 400, invalid("lastName", "must not contain control or invisible formatting characters (found U+202E)")},
		{"name with invalid utf-8", "application/json", body(`"lastName":"Doe"`, "\"lastName\":\"D\xffe\""), 400, invalid("lastName", "must not contain control or invisible formatting characters (found U+FFFD)")},
	}
	srv := newServer(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", srv.URL+web.BasePath+"/customers", strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.TrimSpace(string(b))
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, got)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			if tt.wantBody != created && got != tt.wantBody {
				t.Errorf("body\n got %s\nwant %s", got, tt.wantBody)
			}
		})
	}
}
