package main

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestConfigDefaults reads the effective configuration from the start-up
// log, as an operator would.
func TestConfigDefaults(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"listens on loopback by default", nil, []string{"HTTP_ADDR=127.0.0.1:9991"}},
		{"all interfaces only when asked", map[string]string{"HTTP_ADDR": "0.0.0.0:0"}, []string{"HTTP_ADDR=0.0.0.0:0"}},
		{"server timeouts by default", nil, []string{"HTTP_READ_TIMEOUT=10s", "HTTP_WRITE_TIMEOUT=30s", "HTTP_IDLE_TIMEOUT=1m0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				"DATA_DIR":      t.TempDir(),
				"KAFKA_BROKERS": fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t)),
			}
			for k, v := range tt.env {
				env[k] = v
			}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // start and stop at once: only the start-up log matters
			var logs proctest.Buffer
			_ = run(ctx, envconfig.Map(env), &logs)
			for _, w := range tt.want {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("start-up log does not say %s:\n%s", w, logs.String())
				}
			}
		})
	}
}
