package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// nothing listens on port 1: every upstream is refused at once.
var unreachable = map[string]string{
	"KAFKA_BROKERS": "127.0.0.1:1",
	"CUSTOMER_URL":  "http://127.0.0.1:1",
	"PAYMENT_URL":   "http://127.0.0.1:1",
}

func env(extra map[string]string) func(string) (string, bool) {
	m := map[string]string{}
	for k, v := range unreachable {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return envconfig.Map(m)
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantErr    string
		wantStdout string
	}{
		{name: "help", args: []string{"-h"}, wantStdout: "saga-console timeline CUSTOMER_ID"},
		{name: "unknown command", args: []string{"serve"}, wantErr: errUsage.Error()},
		{name: "timeline without id", args: []string{"timeline"}, wantErr: errUsage.Error()},
		{name: "bad configuration", args: []string{"timeline", "c1"},
			env:     map[string]string{"CONSOLE_ADDR": "nope", "CUSTOMER_URL": "ftp://x", "CONSOLE_ALLOW_WRITE": "yes"},
			wantErr: "bad configuration:\nCONSOLE_ADDR=\"nope\": must be host:port or :port\nCONSOLE_ALLOW_WRITE=\"yes\": must be one of true, false\nCUSTOMER_URL=\"ftp://x\": must start with http:// or https://"},
		{name: "timeline with everything down", args: []string{"timeline", "c1"},
			wantStdout: "customer c1\nTIME  SERVICE  KIND  RECORD  SUMMARY\n(no steps)\nnote: customer-service did not answer (not reachable (connection refused)): its steps are missing\n" +
				"note: payment-service did not answer (not reachable (connection refused)): its steps are missing\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := run(t.Context(), tt.args, env(tt.env), &stdout, &stderr)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v; stderr:\n%s", err, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) {
				t.Errorf("stdout:\n%s\nwant it to contain:\n%s", stdout.String(), tt.wantStdout)
			}
		})
	}
}

// TestServeAndStop serves with Kafka and the services down (the console
// still starts), answers /healthz, and stops when the context ends, as on
// SIGINT or SIGTERM.
func TestServeAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr proctest.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, nil, env(map[string]string{"CONSOLE_ADDR": "127.0.0.1:0"}), io.Discard, &stderr)
	}()

	listening := regexp.MustCompile(`msg="console listening" url=(http://\S+/) read_only=false`)
	var url string
	for deadline := time.Now().Add(5 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if m := listening.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		} else if time.Now().After(deadline) {
			t.Fatalf("not listening after 5s:\n%s", stderr.String())
		}
	}
	resp, err := http.Get(url + "healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"UP"}` {
		t.Errorf("GET /healthz = %d %s", resp.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("run returned %v after the context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return within 10s of the context ending")
	}
}
