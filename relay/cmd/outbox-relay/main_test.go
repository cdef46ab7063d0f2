package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

var listening = regexp.MustCompile(`msg="kafka connect REST API listening" addr=(\S+)`)

// startRun runs run in this process, as the binary would with env, and
// returns the base URL it serves on (over 127.0.0.1), or run's error when
// it refuses to start.
func startRun(t *testing.T, env map[string]string) (string, *proctest.Buffer, error) {
	t.Helper()
	full := map[string]string{
		"DATA_DIR":      t.TempDir(),
		"KAFKA_BROKERS": "127.0.0.1:1", // nothing there: the API answers while Kafka is awaited
	}
	for k, v := range env {
		full[k] = v
	}
	lookup := func(k string) (string, bool) { v, ok := full[k]; return v, ok }
	log := &proctest.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	exited := make(chan struct{})
	var runErr error
	go func() { runErr = run(ctx, lookup, log); close(exited) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			t.Error("run did not stop")
		}
	})
	var addr string
	refused := false
	proctest.EventuallyEvery(t, 20*time.Second, 10*time.Millisecond, "run to listen or to refuse to start", func() error {
		select {
		case <-exited:
			refused = true
			return nil
		default:
		}
		m := listening.FindStringSubmatch(log.String())
		if m == nil {
			return fmt.Errorf("neither listening nor stopped; log:\n%s", log)
		}
		addr = m[1]
		return nil
	})
	if refused {
		if runErr == nil {
			return "", log, errors.New("run returned without an error before listening")
		}
		return "", log, runErr
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return "http://127.0.0.1:" + port, log, nil
}

// request is one call of a TestListenAndAuthenticate case.
type request struct {
	method, path   string
	user, password string // user "": no credentials
	status         int
}

// TestListenAndAuthenticate: outbox-relay as main starts it, over real
// HTTP. Loopback needs no credentials; any other address needs
// CONNECT_BASIC_AUTH_FILE or the explicit CONNECT_ALLOW_UNAUTHENTICATED
// opt-out (logged as a warning), or run refuses to start; with credentials
// every request needs them.
func TestListenAndAuthenticate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts outbox-relay in this process: skipped with -short")
	}
	credentials := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(credentials, []byte("# Connect's format\nalice: "+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const conn = "/connectors/eventual-consistency-poc-connector"
	tests := []struct {
		name     string
		env      map[string]string
		refused  []string // run's error names these; nil: it starts
		log      []string // the log says these
		requests []request
	}{
		{"loopback without authentication", map[string]string{"CONNECT_ADDR": "127.0.0.1:0"}, nil, nil, []request{
			{"GET", "/connectors", "", "", 200},
		}},
		{"every interface without authentication", map[string]string{"CONNECT_ADDR": ":0"},
			[]string{"bad configuration", "CONNECT_ADDR", "CONNECT_BASIC_AUTH_FILE", "CONNECT_ALLOW_UNAUTHENTICATED=true"}, nil, nil},
		{"any address without authentication", map[string]string{"CONNECT_ADDR": "0.0.0.0:0"},
			[]string{"bad configuration", "CONNECT_ADDR", "CONNECT_BASIC_AUTH_FILE"}, nil, nil},
		{"any address, opted out", map[string]string{"CONNECT_ADDR": "0.0.0.0:0", "CONNECT_ALLOW_UNAUTHENTICATED": "true"}, nil,
			[]string{"level=WARN", "without authentication"}, []request{
				{"GET", "/connectors", "", "", 200},
			}},
		{"any address with authentication", map[string]string{"CONNECT_ADDR": "0.0.0.0:0", "CONNECT_BASIC_AUTH_FILE": credentials, "CONNECTOR_FILE": "builtin"}, nil,
			[]string{"CONNECT_BASIC_AUTH_FILE=\"" + credentials + " (1 users)\""}, []request{
				{"GET", "/connectors", "", "", 401},
				{"GET", conn + "/config", "alice", "wrong", 401},
				{"GET", conn + "/config", "mallory", secret, 401},
				{"PUT", conn + "/config", "", "", 401},
				{"DELETE", conn, "", "", 401},
				{"GET", conn + "/config", "alice", secret, 200}, // the DELETE did nothing
				{"GET", "/", "alice", secret, 200},
			}},
		{"loopback with authentication", map[string]string{"CONNECT_ADDR": "127.0.0.1:0", "CONNECT_BASIC_AUTH_FILE": credentials}, nil, nil, []request{
			{"GET", "/connectors", "", "", 401},
			{"GET", "/connectors", "alice", secret, 200},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, log, err := startRun(t, tt.env)
			if tt.refused != nil {
				if err == nil {
					t.Fatalf("outbox-relay started on %s, want it refused naming %q; log:\n%s", base, tt.refused, log)
				}
				if !errors.Is(err, errConfig) {
					t.Errorf("error %v is not a configuration error (exit status 2)", err)
				}
				for _, w := range tt.refused {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not mention %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("run() = %v, want it to start; log:\n%s", err, log)
			}
			for _, w := range tt.log {
				if !strings.Contains(log.String(), w) {
					t.Errorf("log does not say %q:\n%s", w, log)
				}
			}
			if strings.Contains(log.String(), secret) {
				t.Errorf("log shows the password:\n%s", log)
			}
			for _, rq := range tt.requests {
				req, err := http.NewRequest(rq.method, base+rq.path, strings.NewReader("{}"))
				if err != nil {
					t.Fatal(err)
				}
				if rq.user != "" {
					req.SetBasicAuth(rq.user, rq.password)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				who := "without credentials"
				if rq.user != "" {
					who = fmt.Sprintf("as %s:%s", rq.user, rq.password)
				}
				if resp.StatusCode != rq.status {
					t.Errorf("%s %s %s = %d %s, want %d", rq.method, rq.path, who, resp.StatusCode, body, rq.status)
				}
				if rq.status == 401 && (resp.Header.Get("WWW-Authenticate") == "" || !strings.Contains(string(body), `"error_code":401`)) {
					t.Errorf("%s %s %s: 401 without a challenge or Connect's body: %v %s", rq.method, rq.path, who, resp.Header, body)
				}
			}
		})
	}
}
