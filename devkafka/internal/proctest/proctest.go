// Package proctest builds this module's commands and runs them as child
// processes for end-to-end tests: devkafka started and stopped with real
// signals, or run to its end with its exit status and output captured. It
// is only imported by tests.
//
// It is not commonlib/proctest, the platform's harness for its services:
// devkafka is a standalone module that builds and tests without the
// platform's library, and its tests need what that harness does not do
// (stdout apart from stderr, a ready line, any signal and its exit code).
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Module is this module's import path.
const Module = "github.com/sagaoutbox/platform/devkafka"

// Build compiles the named commands (cmd/<name>) into dir and returns their
// paths by name.
func Build(dir string, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	for _, name := range names {
		bin := filepath.Join(dir, name)
		cmd := exec.Command("go", "build", "-o", bin, Module+"/cmd/"+name)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("go build %s: %v\n%s", name, err, b)
		}
		out[name] = bin
	}
	return out, nil
}

// ownedEnv are variables the binaries read; children never inherit them from
// the developer's shell, only get what a test passes.
var ownedEnv = []string{"DEVKAFKA_", "DATA_DIR=", "LOG_LEVEL=", "KAFKA_BROKERS="}

// Env returns the current environment without the variables the binaries
// read, plus extra (KEY=VALUE).
func Env(extra ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, p := range ownedEnv {
			if strings.HasPrefix(kv, p) {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// Result is a finished process.
type Result struct {
	Code     int
	Stdout   string
	Stderr   string
	Duration time.Duration
}

// Run runs bin with args and env until it exits or timeout passes.
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

// readyLine is what devkafka prints on stdout once it accepts connections.
var readyLine = regexp.MustCompile(`^devkafka listening on (\S+) \(data in (.+)\)$`)

// Devkafka is a running devkafka process.
type Devkafka struct {
	// Addr is the advertised address from the ready line.
	Addr string
	// DataDir is the directory from the ready line.
	DataDir string
	// ReadyLine is the line devkafka printed when ready.
	ReadyLine string

	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
	err    error
}

// StartDevkafka starts bin with env and waits for its ready line. It fails the
// test if the process exits or takes longer than 15 s, and kills it at cleanup
// if the test did not stop it.
func StartDevkafka(t testing.TB, bin string, env []string) *Devkafka {
	t.Helper()
	d := &Devkafka{stderr: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(bin)
	d.cmd.Env = env
	d.cmd.Stderr = d.stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatalf("start devkafka: %v", err)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		d.err = d.cmd.Wait()
		close(d.done)
	}()
	t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			_ = d.cmd.Process.Kill()
			<-d.done
		}
	})

	timeout := time.After(15 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				<-d.done
				t.Fatalf("devkafka exited before it was ready: %v\nstderr:\n%s", d.err, d.stderr)
			}
			if m := readyLine.FindStringSubmatch(l); m != nil {
				d.ReadyLine, d.Addr, d.DataDir = l, m[1], m[2]
				go func() {
					for range lines { // keep the pipe drained
					}
				}()
				return d
			}
		case <-timeout:
			t.Fatalf("devkafka not ready within 15s\nstderr:\n%s", d.stderr)
		}
	}
}

// Stop sends sig and waits up to 20 s for the process to exit, returning its
// exit code (-1 if a signal killed it).
func (d *Devkafka) Stop(t testing.TB, sig syscall.Signal) int {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("signal devkafka: %v", err)
	}
	select {
	case <-d.done:
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Fatalf("devkafka did not exit within 20s of %v\nstderr:\n%s", sig, d.stderr)
	}
	return d.cmd.ProcessState.ExitCode()
}

// Stderr returns what the process wrote to stderr so far.
func (d *Devkafka) Stderr() string { return d.stderr.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
