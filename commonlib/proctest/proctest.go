// Package proctest runs the platform's programs in tests and waits for what
// they do: it builds the binaries and runs them as real processes for
// end-to-end tests (start with an environment, capture output, stop with
// SIGTERM, drive them over HTTP, raw HTTP included), runs a command-line
// tool to its end (Run: stdout, stderr and exit status), runs a run function or
// a component's Run in the background of a test (Go, with Buffer for its
// log), and polls until a condition holds (Eventually: the polling helper of
// every test that depends on commonlib; devkafka, a module of its own, keeps
// its own devkafka/internal/proctest).
//
// It is test support only: it knows no binary's configuration and no business
// rule, and only tests import it. Readiness (a port that accepts, a log line,
// a health endpoint) is for each test to say through Eventually.
package proctest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// StopTimeout is how long Stop waits after SIGTERM before it kills the
// process and fails the test.
const StopTimeout = 30 * time.Second

// Build runs `go build -o dir/ args...` from the repository root (the
// directory holding go.work), so args are build flags followed by package
// paths relative to the root, such as "-tags", "x", "./relay/cmd/outbox-relay".
// The error carries go build's output.
func Build(dir string, args ...string) error {
	root, err := Root()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", append([]string{"build", "-o", dir + string(filepath.Separator)}, args...)...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// Root returns the repository root: the nearest directory holding go.work at
// or above the working directory.
func Root() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		if dir == filepath.Dir(dir) {
			return "", fmt.Errorf("no go.work at or above %s", wd)
		}
	}
}

// Environ returns this process's environment without the variables that
// start with one of drop (such as "KAFKA_BROKERS=" or the prefix "DEVKAFKA_"),
// followed by extra (KEY=VALUE): what a child needs so that a developer's
// shell does not leak into the test.
func Environ(drop []string, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(kv, p) }) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// Proc is a binary running as a child process of the test.
type Proc struct {
	name string
	cmd  *exec.Cmd
	out  string // file holding stdout and stderr, interleaved
	done chan struct{}
}

// Start runs bin with env as its whole environment (see Environ; nil is this
// process's environment), its stdout and stderr captured together for
// Output. At the end of t it stops the process as Stop does and, if t failed,
// logs its output.
func Start(t testing.TB, bin string, env []string) *Proc {
	t.Helper()
	p := &Proc{name: filepath.Base(bin), done: make(chan struct{})}
	// The child writes straight into a file: no copying goroutine, and no
	// Wait that hangs on a pipe a grandchild inherited.
	p.out = filepath.Join(t.TempDir(), p.name+".log")
	f, err := os.Create(p.out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p.cmd = exec.Command(bin)
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", p.name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop(t)
		if t.Failed() {
			t.Logf("----- %s output -----\n%s", p.name, p.Output())
		}
	})
	return p
}

// Pid is the process's id (for reading /proc).
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Name is the binary's file name, for messages.
func (p *Proc) Name() string { return p.name }

// Output returns what the process wrote to stdout and stderr so far.
func (p *Proc) Output() string {
	b, err := os.ReadFile(p.out)
	if err != nil {
		return fmt.Sprintf("(output of %s unreadable: %v)", p.name, err)
	}
	return string(b)
}

// Done is closed once the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// ExitCode returns the process's exit status once it has exited; -1 while it
// runs or if a signal ended it.
func (p *Proc) ExitCode() int {
	if !p.Exited() {
		return -1
	}
	return p.cmd.ProcessState.ExitCode()
}

// Stop sends SIGTERM and waits for the process to exit with status 0, as the
// platform's binaries do on SIGTERM. It fails the test if the status is not
// 0, or if the process is still running after StopTimeout, which it then
// kills. A process that had already exited is left as it is.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if code := p.ExitCode(); code != 0 {
			t.Errorf("%s exited %d after SIGTERM, want 0", p.name, code)
		}
	case <-time.After(StopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within %v of SIGTERM", p.name, StopTimeout)
	}
}

// Kill sends SIGKILL (a crash: no shutdown code runs) and waits for the
// process to exit.
func (p *Proc) Kill() {
	if p.Exited() {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// PollInterval is how often Eventually calls its function.
const PollInterval = 100 * time.Millisecond

// Eventually calls fn every PollInterval until it returns nil, and fails the
// test with fn's last error if timeout passes first; what says what was
// awaited. fn may itself fail the test, for a state that cannot get better.
func Eventually(t testing.TB, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	EventuallyEvery(t, timeout, PollInterval, what, fn)
}

// EventuallyEvery is Eventually calling fn every interval: for tests that
// time how soon something happens, or that poll something costly.
func EventuallyEvery(t testing.TB, timeout, interval time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for: %s (last error: %v)", timeout, what, err)
		}
		time.Sleep(interval)
	}
}

// Go runs fn in a goroutine of its own, as main runs a component: fn gets a
// context that stop cancels. stop waits for fn to return and fails the test
// unless fn returned nil within StopTimeout of the cancel; name says what
// fn runs. stop may be called more than once, and is called when t ends.
func Go(t testing.TB, name string, fn func(ctx context.Context) error) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- fn(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("%s returned %v after cancel, want nil", name, err)
			}
		case <-time.After(StopTimeout):
			t.Errorf("%s did not return within %v of cancel", name, StopTimeout)
		}
	})
	t.Cleanup(stop)
	return stop
}

// Buffer collects what a program run in this process writes (its log), and
// may be read while the program still writes.
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// HTTP sends a request with body as JSON and returns the response's status and
// body; it fails the test if there is no response.
func HTTP(t testing.TB, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, string(b)
}

// Dial connects to addr over TCP for a test that speaks raw HTTP (Send,
// ReadStatus), with a read deadline patience from now; the connection is
// closed when t ends.
func Dial(t testing.TB, addr string, patience time.Duration) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetReadDeadline(time.Now().Add(patience))
	return conn
}

// Send writes s, such as a raw HTTP request or part of one, to conn; it
// fails the test if the write fails.
func Send(t testing.TB, conn net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(conn, s); err != nil {
		t.Fatal(err)
	}
}

// ReadStatus reads one HTTP response from r and returns its status, or 0
// when the server closed the connection instead (EOF or reset). It fails the
// test when the connection's read deadline passes with the connection still
// open: what a test of server timeouts wants to see closed.
func ReadStatus(t testing.TB, r *bufio.Reader) int {
	t.Helper()
	resp, err := http.ReadResponse(r, nil)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("the connection is still open at the client's deadline: %v", err)
	case err != nil:
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
