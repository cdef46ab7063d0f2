//go:build linux

package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestRunEmbeddedStopsEverything runs scripts/run-embedded.sh, what `make
// run` runs, in its own session or process group as a terminal would, ends it
// the ways a user does, and checks that it stopped every process it started
// (none left to hold the ports of the next `make run`):
//   - the terminal closes (tmux kill-session, a closed window): the kernel
//     hangs up the script's pty and sends it SIGHUP, and every later write
//     to the terminal fails;
//   - `make run | tee log` and Ctrl-C: tee is gone first (the test closes
//     the pipe's reader), then the process group gets SIGINT;
//   - a service exits on its own: the script stops the rest and says which
//     one had already exited.
//
// Linux only: it reads /proc and opens a pty (where none can be opened, the
// terminal is a pipe and the test sends the SIGHUP itself).
func TestRunEmbeddedStopsEverything(t *testing.T) {
	skipShort(t)
	tests := []struct {
		name     string
		terminal bool // output (stdout and stderr) on a pty; else stdout on a pipe, stderr in a file
		end      func(t *testing.T, r *embeddedRun)
		wantExit int
		// wantStderr are lines the script writes to stderr, in this order
		// (checked when stderr is not the terminal).
		wantStderr []string
	}{
		{
			name:     "terminal closed (SIGHUP)",
			terminal: true,
			end: func(t *testing.T, r *embeddedRun) {
				r.closeOutput(t)
				if r.noPTY {
					r.signalGroup(t, syscall.SIGHUP)
				}
			},
			wantExit: 129,
		},
		{
			name: "output pipe closed, then Ctrl-C (SIGINT)",
			end: func(t *testing.T, r *embeddedRun) {
				r.closeOutput(t)
				r.signalGroup(t, syscall.SIGINT)
			},
			wantExit: 130,
			wantStderr: []string{
				"stopping (services first, then the broker)...",
				"  customer-service stopped",
				"  payment-service stopped",
				"  saga-console stopped",
				"  devkafka stopped",
				"stopped; data kept in ",
			},
		},
		{
			name:     "a service exits on its own",
			end:      func(t *testing.T, r *embeddedRun) { r.kill(t, "payment-service") },
			wantExit: 1,
			wantStderr: []string{
				"a process exited; stopping the others",
				"stopping (services first, then the broker)...",
				"  payment-service had already exited",
				"  customer-service stopped",
				"  saga-console stopped",
				"  devkafka stopped",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := startEmbedded(t, tt.terminal)
			tt.end(t, r)
			select {
			case <-r.done:
			case <-time.After(25 * time.Second):
				t.Fatalf("run-embedded.sh still runs 25s after the end of its session")
			}
			if got := r.cmd.ProcessState.ExitCode(); got != tt.wantExit {
				t.Errorf("exit status = %d (%v), want %d", got, r.cmd.ProcessState, tt.wantExit)
			}
			// The script waits for the processes it stops: they must be gone
			// by now, and their ports free. The prefixers follow the moment
			// their process's output closes.
			for _, p := range r.procs {
				if r.isMain(p) && !p.gone() {
					t.Errorf("%s (pid %d) still runs after the script exited", p.name, p.pid)
				}
			}
			for _, addr := range r.addrs {
				l, err := net.Listen("tcp", addr)
				if err != nil {
					t.Errorf("port %s is still in use: %v", addr, err)
					continue
				}
				l.Close()
			}
			proctest.Eventually(t, 5*time.Second, "every process the script started is gone", func() error {
				for _, p := range r.procs {
					if !p.gone() {
						return fmt.Errorf("%s (pid %d) still runs", p.name, p.pid)
					}
				}
				return nil
			})
			if tt.wantStderr != nil {
				checkInOrder(t, r.stderr(t), tt.wantStderr)
			}
			if t.Failed() {
				t.Logf("----- output -----\n%s\n----- stderr -----\n%s", r.output(), r.stderr(t))
			}
		})
	}
}

// mainProcs are the processes run-embedded.sh starts; everything else it
// starts is a helper (the output prefixers).
var mainProcs = []string{"devkafka", "customer-service", "payment-service", "saga-console"}

// embeddedRun is one run of scripts/run-embedded.sh.
type embeddedRun struct {
	cmd        *exec.Cmd
	done       chan struct{} // closed when the script has exited
	addrs      []string      // every address the processes listen on
	procs      []procInfo    // every descendant of the script once it was up
	out        io.Closer     // the reading end of the script's output
	stderrPath string        // "" when stderr is the terminal
	noPTY      bool          // no pty to be had: the terminal is a pipe, its hang-up a SIGHUP from the test

	mu  sync.Mutex
	buf bytes.Buffer // what was read from the output so far
}

// startEmbedded runs a copy of scripts/run-embedded.sh next to a bin/ of the
// binaries TestMain built (the script runs $root/bin/*), on free ports and a
// temporary data directory, and waits until it says the profile is up.
func startEmbedded(t *testing.T, terminal bool) *embeddedRun {
	t.Helper()
	root, err := proctest.Root()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script, err := os.ReadFile(filepath.Join(root, "scripts", "run-embedded.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"scripts", "bin", "data"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "run-embedded.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range mainProcs {
		if err := os.Symlink(filepath.Join(binDir, name), filepath.Join(dir, "bin", name)); err != nil {
			t.Fatal(err)
		}
	}

	kafka := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	customer := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	payment := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	console := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	r := &embeddedRun{done: make(chan struct{}), addrs: []string{kafka, customer, payment, console}}
	r.cmd = exec.Command(filepath.Join(dir, "scripts", "run-embedded.sh"))
	r.cmd.Dir = dir
	r.cmd.Env = proctest.Environ(
		[]string{"DATA_DIR=", "DEVKAFKA_", "KAFKA_BROKERS=", "HTTP_ADDR=", "CUSTOMER_HTTP_ADDR=", "PAYMENT_HTTP_ADDR=", "CONSOLE_ADDR=", "CUSTOMER_URL=", "PAYMENT_URL=", "MONGODB_URI=", "OUTBOX_RELAY="},
		"DATA_DIR="+filepath.Join(dir, "data"), "DEVKAFKA_ADDR="+kafka,
		"CUSTOMER_HTTP_ADDR="+customer, "PAYMENT_HTTP_ADDR="+payment, "CONSOLE_ADDR="+console,
	)

	var childEnd *os.File // the script's end of its output, closed here once it runs
	if terminal {
		master, tty, err := openPTY()
		if err == nil {
			r.out, childEnd = master, tty
			r.cmd.Stdin, r.cmd.Stdout, r.cmd.Stderr = tty, tty, tty
			// A session of its own with the pty as its controlling terminal,
			// like a shell in a terminal window: the hang-up signals the script.
			r.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
			go r.read(master)
		} else {
			t.Logf("no pty (%v): stdout and stderr on a pipe instead, and the test sends SIGHUP", err)
			r.noPTY = true
		}
	}
	if !terminal || r.noPTY {
		pr, pw, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.out, childEnd = pr, pw
		r.cmd.Stdout, r.cmd.Stderr = pw, pw
		if !terminal {
			r.stderrPath = filepath.Join(dir, "stderr.log")
			stderr, err := os.Create(r.stderrPath)
			if err != nil {
				t.Fatal(err)
			}
			defer stderr.Close()
			r.cmd.Stderr = stderr
		}
		// Its own process group, like a shell's foreground job.
		r.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		go r.read(pr)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	childEnd.Close()
	go func() { _ = r.cmd.Wait(); close(r.done) }()
	t.Cleanup(func() {
		// Whatever the script left behind (it should be nothing) must not
		// outlive the test: it would hold ports and data directories.
		for _, p := range r.procs {
			if !p.gone() {
				_ = syscall.Kill(p.pid, syscall.SIGKILL)
			}
		}
		select {
		case <-r.done:
		default:
			_ = syscall.Kill(-r.cmd.Process.Pid, syscall.SIGKILL)
			<-r.done
		}
		r.out.Close()
	})

	proctest.Eventually(t, 30*time.Second, "run-embedded.sh says the profile is up", func() error {
		select {
		case <-r.done:
			t.Fatalf("run-embedded.sh exited (%v) before the profile was up:\n%s", r.cmd.ProcessState, r.output())
		default:
		}
		if !strings.Contains(r.output(), "embedded profile is up") {
			return errors.New("not yet")
		}
		return nil
	})
	r.procs, err = descendants(r.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mainProcs {
		if _, ok := r.find(name); !ok {
			t.Fatalf("no %s among the script's processes %v", name, r.procs)
		}
	}
	return r
}

// read copies the script's output into r.buf until the reader is closed.
func (r *embeddedRun) read(from io.Reader) {
	b := make([]byte, 4096)
	for {
		n, err := from.Read(b)
		r.mu.Lock()
		r.buf.Write(b[:n])
		r.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (r *embeddedRun) output() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.buf.String()
}

func (r *embeddedRun) stderr(t *testing.T) string {
	if r.stderrPath == "" {
		return "(the terminal)"
	}
	b, err := os.ReadFile(r.stderrPath)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// closeOutput closes the test's end of the script's output: for a pty, the
// terminal hangs up; for a pipe, every later write to it fails with EPIPE.
func (r *embeddedRun) closeOutput(t *testing.T) {
	t.Helper()
	if err := r.out.Close(); err != nil {
		t.Fatal(err)
	}
}

// signalGroup sends sig to the script's process group, as a terminal's
// Ctrl-C does.
func (r *embeddedRun) signalGroup(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(-r.cmd.Process.Pid, sig); err != nil {
		t.Fatal(err)
	}
}

// kill ends one of the script's processes with SIGKILL, a crash.
func (r *embeddedRun) kill(t *testing.T, name string) {
	t.Helper()
	p, _ := r.find(name)
	if err := syscall.Kill(p.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func (r *embeddedRun) find(name string) (procInfo, bool) {
	for _, p := range r.procs {
		if p.name == name {
			return p, true
		}
	}
	return procInfo{}, false
}

func (r *embeddedRun) isMain(p procInfo) bool {
	for _, name := range mainProcs {
		if p.name == name {
			return true
		}
	}
	return false
}

// procInfo identifies a process across PID reuse by its start time.
type procInfo struct {
	pid   int
	name  string // base name of its executable
	start string // field 22 of /proc/PID/stat
}

func (p procInfo) String() string { return fmt.Sprintf("%s(%d)", p.name, p.pid) }

// gone reports whether the process has exited (a zombie counts as exited).
func (p procInfo) gone() bool {
	st, err := readStat(p.pid)
	return err != nil || st.start != p.start || st.state == "Z"
}

type procStat struct {
	state, start string
	ppid         int
}

func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, err
	}
	// The name in parentheses may hold spaces: fields start after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, err
	}
	return procStat{state: f[0], ppid: ppid, start: f[19]}, nil
}

// descendants lists every process below pid.
func descendants(pid int) ([]procInfo, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	stats := map[int]procStat{}
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readStat(p)
		if err != nil {
			continue // exited meanwhile
		}
		stats[p] = st
		children[st.ppid] = append(children[st.ppid], p)
	}
	var out []procInfo
	queue := children[pid]
	for len(queue) > 0 {
		p := queue[0]
		queue = append(queue[1:], children[p]...)
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
		if err != nil {
			exe = "?"
		}
		out = append(out, procInfo{pid: p, name: filepath.Base(exe), start: stats[p].start})
	}
	return out, nil
}

// checkInOrder fails unless every line of want starts a line of text, in
// this order.
func checkInOrder(t *testing.T, text string, want []string) {
	t.Helper()
	lines := strings.Split(text, "\n")
	next := 0
	for _, line := range lines {
		if next < len(want) && strings.HasPrefix(line, want[next]) {
			next++
		}
	}
	if next < len(want) {
		t.Errorf("stderr lacks %q (after %q); got:\n%s", want[next], want[:next], text)
	}
}

// openPTY opens a new pseudo-terminal: the master, read by the test, and
// the terminal the script runs on.
func openPTY() (master, tty *os.File, err error) {
	master, err = os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, nil, err
	}
	var n uint32
	var ioctlErr error
	// Control keeps the descriptor in non-blocking mode, so that Close
	// interrupts a pending Read and the terminal hangs up at once.
	rc, err := master.SyscallConn()
	if err == nil {
		err = rc.Control(func(fd uintptr) {
			var unlock int32
			if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
				ioctlErr = fmt.Errorf("unlock: %w", e)
				return
			}
			if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
				ioctlErr = fmt.Errorf("pty number: %w", e)
			}
		})
	}
	if err == nil {
		err = ioctlErr
	}
	if err == nil {
		tty, err = os.OpenFile("/dev/pts/"+strconv.Itoa(int(n)), os.O_RDWR|syscall.O_NOCTTY, 0)
	}
	if err != nil {
		master.Close()
		return nil, nil, err
	}
	return master, tty, nil
}
