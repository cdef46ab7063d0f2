package console

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/ops/kafkaview"
	"github.com/sagaoutbox/platform/ops/timeline"
)

func TestReadOnly(t *testing.T) {
	tests := []struct {
		addr       string
		allowWrite bool
		want       bool
	}{
		{"127.0.0.1:9080", false, false},
		{"127.1.2.3:9080", false, false},
		{"[::1]:9080", false, false},
		{"localhost:9080", false, false},
		{"LocalHost:9080", false, false},
		{":9080", false, true},
		{"0.0.0.0:9080", false, true},
		{"[::]:9080", false, true},
		{"192.168.1.20:9080", false, true},
		{"console.example:9080", false, true},
		{"not an address", false, true},
		{"0.0.0.0:9080", true, false},
		{"10.0.0.5:9080", true, false},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if got := ReadOnly(tt.addr, tt.allowWrite); got != tt.want {
				t.Errorf("ReadOnly(%q, allowWrite=%v) = %v, want %v", tt.addr, tt.allowWrite, got, tt.want)
			}
		})
	}
}

func TestCheckSameOrigin(t *testing.T) {
	const host = "127.0.0.1:9080"
	tests := []struct {
		name     string
		headers  map[string]string
		wantCode string // "" accepted
	}{
		{"the page", map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:9080", "Sec-Fetch-Site": "same-origin"}, ""},
		{"json with charset", map[string]string{"Content-Type": "application/json; charset=utf-8", "Origin": "http://127.0.0.1:9080"}, ""},
		{"script with the console header", map[string]string{"Content-Type": "application/json", HeaderConsole: "1"}, ""},
		{"no content type", map[string]string{"Origin": "http://127.0.0.1:9080"}, "UNSUPPORTED_MEDIA_TYPE"},
		{"form post", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://127.0.0.1:9080"}, "UNSUPPORTED_MEDIA_TYPE"},
		{"text/plain", map[string]string{"Content-Type": "text/plain", HeaderConsole: "1"}, "UNSUPPORTED_MEDIA_TYPE"},
		{"other origin", map[string]string{"Content-Type": "application/json", "Origin": "http://evil.example", HeaderConsole: "1"}, "CROSS_ORIGIN"},
		{"other port", map[string]string{"Content-Type": "application/json", "Origin": "http://127.0.0.1:9081"}, "CROSS_ORIGIN"},
		{"null origin", map[string]string{"Content-Type": "application/json", "Origin": "null", HeaderConsole: "1"}, "CROSS_ORIGIN"},
		{"cross-site fetch", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site", HeaderConsole: "1"}, "CROSS_ORIGIN"},
		{"same-site fetch", map[string]string{"Content-Type": "application/json", "Sec-Fetch-Site": "same-site", "Origin": "http://127.0.0.1:9080"}, "CROSS_ORIGIN"},
		{"no origin, no header", map[string]string{"Content-Type": "application/json"}, "CONSOLE_HEADER_MISSING"},
		{"console header not 1", map[string]string{"Content-Type": "application/json", HeaderConsole: "yes"}, "CONSOLE_HEADER_MISSING"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "http://"+host+"/api/dlt/replay", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			err := checkSameOrigin(r)
			got := ""
			if err != nil {
				got = err.(*apiError).p.Code
			}
			if got != tt.wantCode {
				t.Errorf("checkSameOrigin = %q, want %q", got, tt.wantCode)
			}
		})
	}
}

func TestCursor(t *testing.T) {
	m, err := parseCursor("2:40,0:12,1:0")
	if err != nil {
		t.Fatal(err)
	}
	if got := formatCursor(m); got != "0:12,1:0,2:40" {
		t.Errorf("formatCursor(parseCursor) = %q", got)
	}
	for _, bad := range []string{"", "1", "a:1", "1:b", "-1:3", "1:-3", "0:1,"} {
		if _, err := parseCursor(bad); err == nil {
			t.Errorf("parseCursor(%q) accepted", bad)
		}
	}
	if formatCursor(nil) != "" {
		t.Error("formatCursor(nil) is not empty")
	}
}

func TestShowValue(t *testing.T) {
	big := strings.Repeat("é", maxShownValue) // 2 bytes each: cut inside the document
	tests := []struct {
		name          string
		in            []byte
		want          *string
		json, cut     bool
		wantLenAtMost int
	}{
		{name: "null", in: nil},
		{name: "json indented", in: []byte(`{"a":[1,2]}`), want: ptr("{\n  \"a\": [\n    1,\n    2\n  ]\n}"), json: true},
		{name: "text", in: []byte("not json"), want: ptr("not json")},
		{name: "binary quoted", in: []byte{0xff, 'a'}, want: ptr(`"\xffa"`)},
		{name: "large cut on a rune boundary", in: []byte(big), cut: true, wantLenAtMost: maxShownValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, isJSON, cut := showValue(tt.in)
			if isJSON != tt.json || cut != tt.cut {
				t.Errorf("json %v cut %v, want %v %v", isJSON, cut, tt.json, tt.cut)
			}
			switch {
			case tt.wantLenAtMost > 0:
				if got == nil || len(*got) > tt.wantLenAtMost || strings.ContainsRune(*got, '\uFFFD') || strings.HasPrefix(*got, `"`) {
					t.Errorf("cut value: %d bytes, want at most %d of whole runes", len(*got), tt.wantLenAtMost)
				}
			case (got == nil) != (tt.want == nil) || got != nil && *got != *tt.want:
				t.Errorf("showValue = %v, want %v", deref(got), deref(tt.want))
			}
		})
	}
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func TestSample(t *testing.T) {
	tests := []struct {
		line  string
		name  string
		value float64
		ok    bool
	}{
		{"saga_relay_backlog_events 3", "saga_relay_backlog_events", 3, true},
		{`saga_relay_lag_seconds{connector="a b"} 0.25 1700000000`, "saga_relay_lag_seconds", 0.25, true},
		{"# HELP saga_relay_backlog_events events", "", 0, false},
		{"", "", 0, false},
		{"garbage", "", 0, false},
	}
	for _, tt := range tests {
		name, v, ok := sample(tt.line)
		if name != tt.name || v != tt.value || ok != tt.ok {
			t.Errorf("sample(%q) = %q %v %v, want %q %v %v", tt.line, name, v, ok, tt.name, tt.value, tt.ok)
		}
	}
}

func TestToGroups(t *testing.T) {
	got := toGroups(
		[]kafkaview.Group{{Name: "g1", State: "Stable", Members: 1}},
		[]kafkaview.GroupOffset{
			{Group: "g1", Topic: "t", Partition: 0, Committed: 3, Newest: 5},
			{Group: "g1", Topic: "gone", Partition: 0, Committed: 3, Newest: -1},
			{Group: "g2", Topic: "t", Partition: 1, Committed: 1, Newest: 1},
		})
	if len(got) != 2 || got[0].Lag != 2 || len(got[0].Offsets) != 2 || got[0].Offsets[1].Lag != nil || got[1].Name != "g2" || got[1].Lag != 0 {
		b, _ := json.Marshal(got)
		t.Errorf("toGroups = %s", b)
	}
}

// fakeService answers like customer-service or payment-service, from
// canned handlers by path.
func fakeService(t *testing.T, routes map[string]func(w http.ResponseWriter, r *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := routes[r.Method+" "+r.URL.Path]; ok {
			h(w, r)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":"NOT_FOUND","message":"not found"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func answer(status int, body string) func(http.ResponseWriter, *http.Request) {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

// newTestServer is the console over fake services and an unreachable
// Kafka, serving on loopback.
func newTestServer(t *testing.T, customerURL, paymentURL string, readOnly bool) string {
	t.Helper()
	cfg := LoadConfig(envconfig.New(envconfig.Map(nil)))
	cfg.Addr = "127.0.0.1:0"
	cfg.UpstreamTimeout = 2 * time.Second
	customer := NewService("customer-service", customerURL, "/customer-service", cfg.UpstreamTimeout)
	payment := NewService("payment-service", paymentURL, "/payment-service", cfg.UpstreamTimeout)
	kafka := NewKafkaConn(kafkaview.Config{Brokers: []string{"127.0.0.1:1"}, Timeout: time.Second})
	log := slog.New(slog.NewTextHandler(t.Output(), nil))
	s := New(cfg, Deps{Kafka: kafka, Customer: customer, Payment: payment,
		Timelines: timeline.Builder{Sources: []timeline.Source{customer.Source(), payment.Source()}}}, log)
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	if readOnly {
		s.readOnly = true
		s.server.Handler = s.Handler(true)
	}
	go s.Run(t.Context())
	t.Cleanup(func() { s.Shutdown(t.Context()) })
	return "http://" + s.Addr()
}

func call(t *testing.T, method, url, body string, headers ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %d, not JSON: %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, v
}

// TestAPI checks the API's answers that need no Kafka: the services'
// answers passed on or mapped, a partial timeline, a Kafka that does not
// answer, the write guard.
func TestAPI(t *testing.T) {
	at := time.Date(2026, 11, 22, 3, 31, 49, 0, time.UTC)
	part, _ := json.Marshal(sagaview.Timeline{CustomerID: "c1", Service: "customer-service", Steps: []sagaview.Step{
		{Time: at, Service: "customer-service", Kind: sagaview.KindRequestAccepted, Summary: "accepted"},
	}})
	customer := fakeService(t, map[string]func(http.ResponseWriter, *http.Request){
		"GET /customer-service/registrations": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("status") != "REGISTRATION_PENDING" {
				answer(400, `{"code":"INVALID_INPUT","message":"bad","fields":[{"field":"status","message":"bad"}]}`)(w, r)
				return
			}
			answer(200, `{"registrations":[{"id":"c1","name":"A B","status":"REGISTRATION_PENDING","createdAt":"2026-11-22T03:31:49Z","updatedAt":"2026-11-22T03:31:49Z","ageSeconds":5}],"next":"x"}`)(w, r)
		},
		"GET /customer-service/customers/c1/timeline":     answer(200, string(part)),
		"GET /customer-service/customers/nobody/timeline": answer(404, `{"code":"CUSTOMER_NOT_FOUND","message":"no customer with this id"}`),
		"POST /customer-service/customers/c1/fail":        answer(200, `{"id":"c1","status":"REGISTRATION_FAILED"}`),
		"POST /customer-service/customers/c2/fail":        answer(409, `{"code":"REGISTRATION_ENDED","message":"the registration already ended"}`),
		"GET /customer-service/outbox":                    answer(500, `{"code":"INTERNAL","message":"internal error"}`),
		"GET /customer-service/health":                    answer(503, `{"status":"DOWN","checks":{"broker":"DOWN"}}`),
	})
	// payment-service is not listening.
	base := newTestServer(t, customer, "http://127.0.0.1:1", false)
	const ctJSON = "application/json"

	tests := []struct {
		name, method, path, body string
		headers                  []string
		want                     int
		check                    func(t *testing.T, v map[string]any)
	}{
		{name: "healthz", method: "GET", path: "/healthz", want: 200, check: field("status", "UP")},
		{name: "config", method: "GET", path: "/api/config", want: 200, check: field("readOnly", false)},
		{name: "registrations", method: "GET", path: "/api/registrations?status=REGISTRATION_PENDING", want: 200, check: field("next", "x")},
		{name: "registrations bad status", method: "GET", path: "/api/registrations?status=nope", want: 400, check: field("code", "INVALID_INPUT")},
		{name: "registrations refused by the service", method: "GET", path: "/api/registrations?status=REGISTRATION_FAILED", want: 400, check: field("code", "INVALID_INPUT")},
		{name: "timeline partial without payment-service", method: "GET", path: "/api/customers/c1/timeline", want: 200, check: func(t *testing.T, v map[string]any) {
			notes, _ := v["notes"].([]any)
			if v["partial"] != true || len(notes) != 1 || !strings.Contains(notes[0].(string), "payment-service did not answer (not reachable") {
				t.Errorf("timeline = %v, want partial with a note on payment-service", v)
			}
		}},
		{name: "timeline of an unknown customer", method: "GET", path: "/api/customers/nobody/timeline", want: 404, check: field("code", "CUSTOMER_NOT_FOUND")},
		{name: "fail", method: "POST", path: "/api/customers/c1/fail", body: "{}", headers: []string{"Content-Type", ctJSON, HeaderConsole, "1"}, want: 200, check: field("status", "REGISTRATION_FAILED")},
		{name: "fail an ended registration", method: "POST", path: "/api/customers/c2/fail", body: "{}", headers: []string{"Content-Type", ctJSON, HeaderConsole, "1"}, want: 409, check: field("code", "REGISTRATION_ENDED")},
		{name: "fail an unknown customer", method: "POST", path: "/api/customers/c3/fail", body: "{}", headers: []string{"Content-Type", ctJSON, HeaderConsole, "1"}, want: 404},
		{name: "fail cross-site", method: "POST", path: "/api/customers/c1/fail", body: "{}", headers: []string{"Content-Type", "text/plain"}, want: 415, check: field("code", "UNSUPPORTED_MEDIA_TYPE")},
		{name: "kafka down", method: "GET", path: "/api/topics", want: 502, check: field("code", "KAFKA_UNAVAILABLE")},
		{name: "replay with kafka down", method: "POST", path: "/api/dlt/replay", body: `{"records":[{"partition":0,"offset":1}]}`, headers: []string{"Content-Type", ctJSON, HeaderConsole, "1"}, want: 502},
		{name: "replay of nothing", method: "POST", path: "/api/dlt/replay", body: `{"records":[]}`, headers: []string{"Content-Type", ctJSON, HeaderConsole, "1"}, want: 400, check: field("code", "INVALID_INPUT")},
		{name: "replay body too large", method: "POST", path: "/api/dlt/replay", body: `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, headers: []string{"Content-Type", ctJSON, HeaderConsole, "1"}, want: 413},
		{name: "unknown route", method: "GET", path: "/api/nope", want: 404, check: field("code", "NOT_FOUND")},
		{name: "another Host (DNS rebinding)", method: "GET", path: "/api/config", headers: []string{"Host", "evil.example"}, want: 403, check: field("code", "HOST_NOT_ALLOWED")},
		{name: "relays with a failing service", method: "GET", path: "/api/relays", want: 200, check: func(t *testing.T, v map[string]any) {
			svcs := v["services"].([]any)
			c, p := svcs[0].(map[string]any), svcs[1].(map[string]any)
			if c["outboxError"] != "customer-service: answered 500 INTERNAL" || c["health"].(map[string]any)["status"] != "DOWN" {
				t.Errorf("customer-service = %v", c)
			}
			if p["health"] != nil || !strings.Contains(p["healthError"].(string), "not reachable") {
				t.Errorf("payment-service = %v", p)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tt.headers); i += 2 {
				if tt.headers[i] == "Host" {
					req.Host = tt.headers[i+1]
				} else {
					req.Header.Set(tt.headers[i], tt.headers[i+1])
				}
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var v map[string]any
			if err := jsonUnmarshal(b, &v); err != nil {
				t.Fatalf("status %d, body not JSON: %s", resp.StatusCode, b)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.want, b)
			}
			if tt.check != nil {
				tt.check(t, v)
			}
			if strings.Contains(string(b), "goroutine") || strings.Contains(string(b), ".go:") {
				t.Errorf("the answer shows internals: %s", b)
			}
		})
	}

	t.Run("read-only", func(t *testing.T) {
		ro := newTestServer(t, customer, "http://127.0.0.1:1", true)
		status, v := call(t, "POST", ro+"/api/customers/c1/fail", "{}", "Content-Type", ctJSON, HeaderConsole, "1")
		if status != http.StatusForbidden || v["code"] != "READ_ONLY" {
			t.Errorf("fail on a read-only console = %d %v, want 403 READ_ONLY", status, v)
		}
		status, v = call(t, "POST", ro+"/api/dlt/replay", `{"records":[{"partition":0,"offset":1}]}`, "Content-Type", ctJSON, HeaderConsole, "1")
		if status != http.StatusForbidden || v["code"] != "READ_ONLY" {
			t.Errorf("replay on a read-only console = %d %v, want 403 READ_ONLY", status, v)
		}
		if status, v = call(t, "GET", ro+"/api/config", ""); status != 200 || v["readOnly"] != true {
			t.Errorf("config = %d %v, want readOnly", status, v)
		}
	})
}

func field(name string, want any) func(t *testing.T, v map[string]any) {
	return func(t *testing.T, v map[string]any) {
		t.Helper()
		if v[name] != want {
			t.Errorf("%s = %v, want %v (answer %v)", name, v[name], want, v)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func TestPage(t *testing.T) {
	base := newTestServer(t, "http://127.0.0.1:1", "http://127.0.0.1:1", false)
	for _, tt := range []struct{ path, ctype, contains string }{
		{"/", "text/html", `<script type="module" src="/assets/app.js">`},
		{"/assets/app.js", "text/javascript", "import"},
		{"/assets/style.css", "text/css", ".badge-pending"},
	} {
		resp, err := http.Get(base + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.ctype) || !strings.Contains(string(b), tt.contains) {
			t.Errorf("GET %s = %d %s, want %s with %q", tt.path, resp.StatusCode, resp.Header.Get("Content-Type"), tt.ctype, tt.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("GET %s: Content-Security-Policy %q", tt.path, csp)
		}
	}
	resp, err := http.Get(base + "/assets/../console.go")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /assets/../console.go = %d, want 404", resp.StatusCode)
	}
}

// TestNoHTMLFromData keeps the page's scripts from parsing what they show
// as HTML: they build elements and set text only.
func TestNoHTMLFromData(t *testing.T) {
	entries, err := static.ReadDir("static/assets")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".js") {
			continue
		}
		b, err := static.ReadFile("static/assets/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"} {
			if strings.Contains(string(b), banned) {
				t.Errorf("%s uses %s", e.Name(), banned)
			}
		}
	}
}

// TestHostGuard: with the check on (loopback, or writes allowed), only
// loopback names and CONSOLE_ALLOWED_HOSTS reach the console; with it off
// (read-only beyond loopback) any Host does.
func TestHostGuard(t *testing.T) {
	ok := func(c echo.Context) error { return c.NoContent(http.StatusNoContent) }
	for _, tc := range []struct {
		check bool
		host  string
		want  int
	}{
		{true, "localhost:9080", 204},
		{true, "127.0.0.1:9080", 204},
		{true, "[::1]:9080", 204},
		{true, "Console.Example:9080", 204},
		{true, "rebind.evil:9080", 403},
		{true, "localhost.evil", 403},
		{false, "rebind.evil:9080", 204},
	} {
		e := httpapi.New(slog.New(slog.DiscardHandler), mapError, "1KB")
		e.Use(hostGuard(tc.check, []string{"console.example"}))
		e.GET("/", ok)
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = tc.host
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("check=%v Host %s: %d, want %d", tc.check, tc.host, rec.Code, tc.want)
		}
	}
}
