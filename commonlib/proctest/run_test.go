package proctest_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

func TestRunKeepsOutputsApartAndReturnsTheExitCode(t *testing.T) {
	tests := []struct {
		name                   string
		bin                    string
		args, env              []string
		wantCode               int
		wantStdout, wantStderr string
	}{
		{"exit 3 with both outputs", "/bin/sh", []string{"-c", "echo out; echo err >&2; exit 3"}, nil, 3, "out\n", "err\n"},
		{"exit 0", "/bin/sh", []string{"-c", "echo ok"}, nil, 0, "ok\n", ""},
		{"the given environment only", os.Args[0], nil, child("bad-config"), 2, "", "bad configuration: PORT\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := proctest.Run(t, 10*time.Second, tc.env, tc.bin, tc.args...)
			if res.Code != tc.wantCode || res.Stdout != tc.wantStdout || res.Stderr != tc.wantStderr {
				t.Errorf("got code %d, stdout %q, stderr %q; want %d, %q, %q", res.Code, res.Stdout, res.Stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
			if res.Duration <= 0 {
				t.Errorf("Duration = %v, want > 0", res.Duration)
			}
		})
	}
}

func TestRunFailsWhenTheCommandOutlivesItsTimeout(t *testing.T) {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		proctest.Run(r, 300*time.Millisecond, child("serve"), os.Args[0])
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its timeout")
	}
	if got := r.failures(); len(got) != 1 || !strings.Contains(got[0], "did not finish within 300ms") || !strings.Contains(got[0], "ready") {
		t.Errorf("failures = %q, want one saying it did not finish, with the output so far", got)
	}
}
