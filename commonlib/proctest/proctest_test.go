package proctest_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// The test binary doubles as the child process: PROCTEST_CHILD picks what it
// does instead of running the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("PROCTEST_CHILD") {
	case "":
		os.Exit(m.Run())
	case "serve": // ready on stdout, logs on stderr, exits 0 on SIGTERM
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("ready")
		fmt.Fprintln(os.Stderr, "a log line")
		<-term
		fmt.Println("bye")
		os.Exit(0)
	case "bad-config": // stops at once
		fmt.Fprintln(os.Stderr, "bad configuration: PORT")
		os.Exit(2)
	case "term-fails": // exits 3 on SIGTERM
		term := make(chan os.Signal, 1)
		signal.Notify(term, syscall.SIGTERM)
		fmt.Println("ready")
		<-term
		os.Exit(3)
	}
}

func child(mode string) []string {
	return proctest.Environ([]string{"PROCTEST_CHILD="}, "PROCTEST_CHILD="+mode)
}

// recorder is a testing.TB that records failures and logs instead of
// reporting them; its Fatalf ends the calling goroutine as testing's does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	failed []string
	logs   []string
}

func (r *recorder) Failed() bool { return len(r.failures()) > 0 }

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) failures() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.failed)
}

func TestStartCapturesOutputAndStops(t *testing.T) {
	p := proctest.Start(t, os.Args[0], child("serve"))
	if got, want := p.Name(), filepath.Base(os.Args[0]); got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	proctest.Eventually(t, 10*time.Second, "the child is ready", func() error {
		if out := p.Output(); !strings.Contains(out, "ready") || !strings.Contains(out, "a log line") {
			return fmt.Errorf("output %q", out)
		}
		return nil
	})
	if p.Exited() || p.ExitCode() != -1 {
		t.Fatalf("Exited() = %v, ExitCode() = %d while running; want false, -1", p.Exited(), p.ExitCode())
	}
	p.Stop(t)
	select {
	case <-p.Done():
	default:
		t.Fatal("Done() not closed after Stop")
	}
	if !p.Exited() || p.ExitCode() != 0 {
		t.Errorf("Exited() = %v, ExitCode() = %d after Stop; want true, 0", p.Exited(), p.ExitCode())
	}
	if out := p.Output(); !strings.HasSuffix(out, "bye\n") {
		t.Errorf("output after SIGTERM = %q, want it to end with bye", out)
	}
}

func TestStartExitedProcess(t *testing.T) {
	p := proctest.Start(t, os.Args[0], child("bad-config"))
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the child kept running")
	}
	if got := p.ExitCode(); got != 2 {
		t.Errorf("ExitCode() = %d, want 2", got)
	}
	if out := p.Output(); out != "bad configuration: PORT\n" {
		t.Errorf("Output() = %q, want the stderr line", out)
	}
	r := &recorder{TB: t}
	p.Stop(r) // already exited: nothing to stop, nothing to report
	if got := r.failures(); len(got) != 0 {
		t.Errorf("Stop after the exit reported %q, want nothing", got)
	}
}

func TestStopFailsOnNonZeroExit(t *testing.T) {
	p := proctest.Start(t, os.Args[0], child("term-fails"))
	proctest.Eventually(t, 10*time.Second, "the child is ready", func() error {
		if !strings.Contains(p.Output(), "ready") {
			return fmt.Errorf("output %q", p.Output())
		}
		return nil
	})
	r := &recorder{TB: t}
	p.Stop(r)
	want := []string{p.Name() + " exited 3 after SIGTERM, want 0"}
	if got := r.failures(); !slices.Equal(got, want) {
		t.Errorf("Stop reported %q, want %q", got, want)
	}
}

func TestStartLogsOutputOnFailure(t *testing.T) {
	for _, fail := range []bool{false, true} {
		var r *recorder
		t.Run(fmt.Sprintf("failed=%v", fail), func(t *testing.T) {
			r = &recorder{TB: t}
			p := proctest.Start(r, os.Args[0], child("serve"))
			proctest.Eventually(t, 10*time.Second, "the child is ready", func() error {
				if !strings.Contains(p.Output(), "a log line") {
					return fmt.Errorf("output %q", p.Output())
				}
				return nil
			})
			if fail {
				r.Errorf("the test failed")
			}
		}) // the cleanup of Start has run: the child is stopped
		r.mu.Lock()
		logs := strings.Join(r.logs, "")
		r.mu.Unlock()
		header := "----- " + filepath.Base(os.Args[0]) + " output -----\n"
		if got := strings.Contains(logs, header) && strings.Contains(logs, "ready\n") && strings.Contains(logs, "a log line\n"); got != fail {
			t.Errorf("failed=%v: logs %q, want the output logged: %v", fail, logs, fail)
		}
	}
}

func TestEventually(t *testing.T) {
	t.Run("retries until nil", func(t *testing.T) {
		calls := 0
		proctest.Eventually(t, 5*time.Second, "the third call", func() error {
			if calls++; calls < 3 {
				return fmt.Errorf("call %d", calls)
			}
			return nil
		})
		if calls != 3 {
			t.Errorf("calls = %d, want 3", calls)
		}
	})
	t.Run("fails with the last error", func(t *testing.T) {
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			proctest.Eventually(r, 200*time.Millisecond, "never", func() error { return fmt.Errorf("still not") })
		}()
		<-done
		want := []string{"timed out after 200ms waiting for: never (last error: still not)"}
		if got := r.failures(); !slices.Equal(got, want) {
			t.Errorf("failures = %q, want %q", got, want)
		}
	})
}

func TestEventuallyEvery(t *testing.T) {
	start := time.Now()
	calls := 0
	proctest.EventuallyEvery(t, 5*time.Second, time.Millisecond, "the fifth call", func() error {
		if calls++; calls < 5 {
			return fmt.Errorf("call %d", calls)
		}
		return nil
	})
	if took := time.Since(start); took >= proctest.PollInterval {
		t.Errorf("five calls a millisecond apart took %v, want less than %v", took, proctest.PollInterval)
	}
}

func TestGo(t *testing.T) {
	tests := []struct {
		name string
		fn   func(ctx context.Context) error
		want []string
	}{
		{"returns nil after cancel", func(ctx context.Context) error { <-ctx.Done(); return nil }, nil},
		{"returns an error after cancel", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
			[]string{"worker returned context canceled after cancel, want nil"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{TB: t}
			started := make(chan struct{})
			stop := proctest.Go(r, "worker", func(ctx context.Context) error { close(started); return tt.fn(ctx) })
			<-started
			stop()
			stop() // a second stop does nothing
			if got := r.failures(); !slices.Equal(got, tt.want) {
				t.Errorf("failures = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestBuffer(t *testing.T) {
	var b proctest.Buffer
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fmt.Fprint(&b, "line\n")
			_ = b.String()
		}()
	}
	wg.Wait()
	if got, want := b.String(), strings.Repeat("line\n", 4); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestReadStatus(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/close" {
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
			return
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	tests := []struct {
		path string
		want int
	}{
		{"/answer", http.StatusAccepted},
		{"/close", 0},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			conn := proctest.Dial(t, srv.Listener.Addr().String(), 5*time.Second)
			proctest.Send(t, conn, "GET "+tt.path+" HTTP/1.1\r\nHost: x\r\n\r\n")
			if got := proctest.ReadStatus(t, bufio.NewReader(conn)); got != tt.want {
				t.Errorf("ReadStatus() = %d, want %d", got, tt.want)
			}
		})
	}
	t.Run("still open at the deadline", func(t *testing.T) {
		conn := proctest.Dial(t, srv.Listener.Addr().String(), 100*time.Millisecond)
		r := &recorder{TB: t}
		done := make(chan struct{})
		go func() { defer close(done); proctest.ReadStatus(r, bufio.NewReader(conn)) }()
		<-done
		if got := r.failures(); len(got) != 1 || !strings.Contains(got[0], "still open") {
			t.Errorf("failures = %q, want one saying the connection is still open", got)
		}
	})
}

func TestEnviron(t *testing.T) {
	t.Setenv("PROCTEST_DROP_ME", "1")
	t.Setenv("PROCTEST_KEEP", "1")
	env := proctest.Environ([]string{"PROCTEST_DROP_"}, "EXTRA=2")
	if slices.Contains(env, "PROCTEST_DROP_ME=1") || !slices.Contains(env, "PROCTEST_KEEP=1") || env[len(env)-1] != "EXTRA=2" {
		t.Errorf("Environ = %q, want PROCTEST_KEEP=1 without PROCTEST_DROP_ME, ending with EXTRA=2", env)
	}
}

func TestRoot(t *testing.T) {
	root, err := proctest.Root()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Errorf("Root() = %s without go.work: %v", root, err)
	}
}

func TestBuildReportsGoBuildOutput(t *testing.T) {
	err := proctest.Build(t.TempDir(), "./no/such/package")
	if err == nil || !strings.Contains(err.Error(), "go build ./no/such/package: exit status 1") {
		t.Errorf("Build = %v, want go build's failure naming the package", err)
	}
}

func TestFreePort(t *testing.T) {
	port := proctest.FreePort(t)
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d is not free: %v", port, err)
	}
	l.Close()
}

func TestHTTP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, "%s %s %s", r.Method, r.Header.Get("Content-Type"), b)
	}))
	defer srv.Close()
	status, body := proctest.HTTP(t, "PUT", srv.URL, `{"a":1}`)
	if status != http.StatusCreated || body != `PUT application/json {"a":1}` {
		t.Errorf("HTTP = %d %q, want 201 %q", status, body, `PUT application/json {"a":1}`)
	}
}
