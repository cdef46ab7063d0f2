package proctest

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Result is a command Run ran to its end.
type Result struct {
	// Code is the exit status (-1 if a signal ended the process).
	Code int
	// Stdout and Stderr are what the command wrote, kept apart.
	Stdout, Stderr string
	// Duration is how long it ran.
	Duration time.Duration
}

// Run runs bin with args and env as its whole environment (see Environ;
// nil is this process's environment) until it exits, as a command-line tool
// is run: stdout and stderr captured apart, its exit status returned, not
// judged. It fails the test if bin cannot start or is still running after
// timeout (it is then killed).
func Run(t testing.TB, timeout time.Duration, env []string, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), Duration: time.Since(start)}
	var exitErr *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %q did not finish within %s\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, timeout, res.Stdout, res.Stderr)
	case errors.As(err, &exitErr):
		res.Code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", bin, err)
	}
	return res
}
