package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// testEnv is a configuration that touches nothing outside the test: a temp
// data directory and a broker address nothing listens on (the service
// answers HTTP while it waits for Kafka).
func testEnv(t *testing.T, extra map[string]string) map[string]string {
	env := map[string]string{
		"DATA_DIR":      t.TempDir(),
		"KAFKA_BROKERS": fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t)),
	}
	for k, v := range extra {
		env[k] = v
	}
	return env
}

// TestConfigDefaults reads the effective configuration from the start-up
// log, as an operator would.
func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"listens on loopback by default", nil, []string{"HTTP_ADDR=127.0.0.1:9990"}},
		{"all interfaces only when asked", map[string]string{"HTTP_ADDR": "0.0.0.0:0"}, []string{"HTTP_ADDR=0.0.0.0:0"}},
		{"server timeouts by default", nil, []string{"HTTP_READ_TIMEOUT=10s", "HTTP_WRITE_TIMEOUT=30s", "HTTP_IDLE_TIMEOUT=1m0s"}},
		{"server timeouts as set", map[string]string{"HTTP_READ_TIMEOUT": "2s", "HTTP_WRITE_TIMEOUT": "3s", "HTTP_IDLE_TIMEOUT": "4s"},
			[]string{"HTTP_READ_TIMEOUT=2s", "HTTP_WRITE_TIMEOUT=3s", "HTTP_IDLE_TIMEOUT=4s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // start and stop at once: only the start-up log matters
			var logs proctest.Buffer
			_ = run(ctx, envconfig.Map(testEnv(t, tt.env)), &logs)
			for _, w := range tt.want {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("start-up log does not say %s:\n%s", w, logs.String())
				}
			}
		})
	}
}

// TestBadTimeoutStopsAtStart: a bad server timeout is named at start.
func TestBadTimeoutStopsAtStart(t *testing.T) {
	tests := []struct{ variable, value string }{
		{"HTTP_READ_TIMEOUT", "soon"},
		{"HTTP_WRITE_TIMEOUT", "0s"},
		{"HTTP_IDLE_TIMEOUT", "-1s"},
	}
	for _, tt := range tests {
		t.Run(tt.variable, func(t *testing.T) {
			err := run(context.Background(), envconfig.Map(testEnv(t, map[string]string{tt.variable: tt.value})), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Fatalf("got error %v, want one naming %s", err, tt.variable)
			}
		})
	}
}

// startService runs customer-service in this process and returns its
// host:port once it answers HTTP.
func startService(t *testing.T) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	env := envconfig.Map(testEnv(t, map[string]string{"HTTP_ADDR": addr}))
	var logs proctest.Buffer
	t.Cleanup(func() { // after run stopped
		if t.Failed() {
			t.Logf("customer-service log:\n%s", logs.String())
		}
	})
	returned := make(chan error, 1)
	proctest.Go(t, "customer-service", func(ctx context.Context) error {
		err := run(ctx, env, &logs)
		returned <- err
		return err
	})
	proctest.Eventually(t, 20*time.Second, "customer-service answers HTTP", func() error {
		select {
		case err := <-returned:
			t.Fatalf("customer-service stopped: %v\n%s", err, logs.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/customer-service/health")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return addr
}

// roundTrip sends raw bytes as one request and reads the answer.
func roundTrip(t *testing.T, addr, raw string) (*http.Response, string) {
	t.Helper()
	conn := proctest.Dial(t, addr, 10*time.Second)
	proctest.Send(t, conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, strings.TrimSpace(string(b))
}

// TestEveryAnswerIsJSON: answers produced outside the handlers (echo's
// routing, the header limit, a body the server cannot read) have the JSON
// error shape too.
func TestEveryAnswerIsJSON(t *testing.T) {
	addr := startService(t)
	bigHeader := strings.Repeat("x", 40<<10)
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantBody   string
	}{
		{"unknown path", "GET /customer-service/nowhere HTTP/1.1\r\nHost: x\r\n\r\n",
			404, `{"code":"NOT_FOUND","message":"not found"}`},
		{"path outside the service", "GET /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n",
			404, `{"code":"NOT_FOUND","message":"not found"}`},
		{"wrong method", "DELETE /customer-service/customers/abc HTTP/1.1\r\nHost: x\r\n\r\n",
			405, `{"code":"METHOD_NOT_ALLOWED","message":"method not allowed"}`},
		{"headers too large", "GET /customer-service/customers/abc HTTP/1.1\r\nHost: x\r\nX-Big: " + bigHeader + "\r\n\r\n",
			431, `{"code":"HEADERS_TOO_LARGE","message":"the request headers are larger than the server accepts"}`},
		{"bad chunked encoding", "POST /customer-service/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
			400, `{"code":"BAD_REQUEST","message":"the request body could not be read"}`},
		{"not declared json", "POST /customer-service/customers HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n{}",
			415, `{"code":"UNSUPPORTED_MEDIA_TYPE","message":"the request body must be application/json (text/plain given)"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := roundTrip(t, addr, tt.raw)
			if resp.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
		})
	}
}

// TestAnswersNetHTTPWritesItself pins what package httpapi documents: a
// request net/http cannot parse is answered by net/http, before any
// handler, in plain text; nothing of the service is shown.
func TestAnswersNetHTTPWritesItself(t *testing.T) {
	addr := startService(t)
	tests := []struct {
		name       string
		raw        string
		wantStatus int
	}{
		{"duplicate content-length", "POST /customer-service/customers HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400},
		{"malformed request line", "GET\r\n\r\n", 400},
		{"unsupported transfer encoding", "POST /customer-service/customers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := roundTrip(t, addr, tt.raw)
			if resp.StatusCode != tt.wantStatus || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
				t.Errorf("got %d %q %s, want net/http's own %d text/plain answer", resp.StatusCode, resp.Header.Get("Content-Type"), body, tt.wantStatus)
			}
		})
	}
}
