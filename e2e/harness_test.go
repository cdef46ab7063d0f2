// Package e2e runs the platform as a user does: the real binaries as separate
// processes (devkafka, customer-service, payment-service) on free ports with
// temporary data directories, driven over HTTP and inspected through Kafka
// with sarama. Skipped with -short.
package e2e

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds the binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(func() int {
		flag.Parse()
		if testing.Short() || os.Getenv("E2E_SKIP") != "" {
			fmt.Println("e2e: skipped (-short)")
			return m.Run()
		}
		dir, err := os.MkdirTemp("", "e2e-bin-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		build := exec.Command("go", "build", "-o", dir+"/",
			"./customer/cmd/customer-service", "./payment/cmd/payment-service", "./devkafka/cmd/devkafka")
		build.Dir = ".."
		build.Stdout, build.Stderr = os.Stdout, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: build binaries:", err)
			return 1
		}
		binDir = dir
		return m.Run()
	}())
}

func skipShort(t testing.TB) {
	t.Helper()
	if binDir == "" {
		t.Skip("end-to-end test: skipped with -short")
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is one running binary.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startProc(t testing.TB, name string, env []string) *proc {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, name))
	cmd.Env = append(os.Environ(), env...)
	p := &proc{name: name, cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("----- %s output -----\n%s", name, p.out)
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit (SIGKILL after 30 s).
func (p *proc) stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 30s of SIGTERM", p.name)
	}
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// platform is one embedded deployment.
type platform struct {
	t            testing.TB
	dataDir      string
	kafkaAddr    string
	customerPort int
	paymentPort  int
	kafka        *proc
	customer     *proc
	payment      *proc
	customerEnv  []string
	paymentEnv   []string
}

func newPlatform(t testing.TB) *platform {
	t.Helper()
	skipShort(t)
	return &platform{
		t:            t,
		dataDir:      t.TempDir(),
		kafkaAddr:    fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		customerPort: freePort(t),
		paymentPort:  freePort(t),
	}
}

func (p *platform) env(httpPort int, extra []string) []string {
	return append([]string{
		"DATA_DIR=" + p.dataDir,
		"KAFKA_BROKERS=" + p.kafkaAddr,
		fmt.Sprintf("HTTP_ADDR=127.0.0.1:%d", httpPort),
		"LOG_LEVEL=debug",
	}, extra...)
}

func (p *platform) startKafka() {
	p.t.Helper()
	p.kafka = startProc(p.t, "devkafka", []string{"DATA_DIR=" + p.dataDir, "DEVKAFKA_ADDR=" + p.kafkaAddr})
	eventually(p.t, 20*time.Second, "devkafka accepts connections", func() error {
		c, err := net.DialTimeout("tcp", p.kafkaAddr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
}

func (p *platform) startCustomer(extra ...string) {
	p.t.Helper()
	p.customer = startProc(p.t, "customer-service", p.env(p.customerPort, append(p.customerEnv, extra...)))
	p.waitHTTP(p.customer, p.customerURL("/health"))
}

func (p *platform) startPayment(extra ...string) {
	p.t.Helper()
	p.payment = startProc(p.t, "payment-service", p.env(p.paymentPort, append(p.paymentEnv, extra...)))
	p.waitHTTP(p.payment, p.paymentURL("/health"))
}

// start runs the whole platform and waits until both services are healthy.
func (p *platform) start() {
	p.t.Helper()
	p.startKafka()
	p.startCustomer()
	p.startPayment()
	p.waitHealthy(p.customerURL("/health"))
	p.waitHealthy(p.paymentURL("/health"))
}

func (p *platform) waitHTTP(pr *proc, url string) {
	p.t.Helper()
	eventually(p.t, 30*time.Second, pr.name+" answers HTTP", func() error {
		if pr.exited() {
			p.t.Fatalf("%s exited:\n%s", pr.name, pr.out)
		}
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
}

func (p *platform) waitHealthy(url string) {
	p.t.Helper()
	eventually(p.t, 30*time.Second, url+" is healthy", func() error {
		status, body := do(p.t, "GET", url, "")
		if status != http.StatusOK {
			return fmt.Errorf("status %d: %s", status, body)
		}
		return nil
	})
}

func (p *platform) customerURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/customer-service%s", p.customerPort, path)
}

func (p *platform) paymentURL(path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d/payment-service%s", p.paymentPort, path)
}

// do sends a request and returns the status and body.
func do(t testing.TB, method, url, body string) (int, string) {
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
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// customer is the JSON customer-service returns.
type customer struct {
	ID            string `json:"id"`
	FirstName     string `json:"firstName"`
	LastName      string `json:"lastName"`
	Status        string `json:"status"`
	FailureReason string `json:"failureReason"`
	Card          struct {
		Number     string          `json:"number"`
		HolderName string          `json:"holderName"`
		ValidThru  string          `json:"validThru"`
		Balance    json.Number     `json:"balance"`
		CVV        json.RawMessage `json:"cvv"`
	} `json:"card"`
}

// payment is the JSON payment-service returns.
type payment struct {
	ID         string      `json:"id"`
	CustomerID string      `json:"customerId"`
	Amount     json.Number `json:"amount"`
	Authorized bool        `json:"authorized"`
	Status     string      `json:"status"`
	Reason     string      `json:"reason"`
	Payer      struct {
		Name       string `json:"name"`
		CardNumber string `json:"cardNumber"`
	} `json:"payer"`
	Payee struct {
		Name string `json:"name"`
	} `json:"payee"`
	CreatedAt time.Time `json:"createdAt"`
}

// blueprintBody is the blueprint's example request, verbatim.
const blueprintBody = `{
    "firstName": "John",
    "lastName": "Doe",
    "card": {
        "number": "1234567890",
        "holderName": "John Doe",
        "cvv": 120,
        "validThru": "2024-05-04",
        "balance": 100
    }
}`

func bodyWithBalance(balance string) string {
	return strings.Replace(blueprintBody, `"balance": 100`, `"balance": `+balance, 1)
}

// register posts a registration and returns the created customer.
func (p *platform) register(body string) customer {
	p.t.Helper()
	status, resp := do(p.t, "POST", p.customerURL("/customers"), body)
	if status != http.StatusCreated {
		p.t.Fatalf("register: status %d, want 201: %s", status, resp)
	}
	var c customer
	if err := json.Unmarshal([]byte(resp), &c); err != nil {
		p.t.Fatalf("register: %v: %s", err, resp)
	}
	if c.ID == "" || c.Status != "REGISTRATION_PENDING" {
		p.t.Fatalf("register: got %+v, want an id and REGISTRATION_PENDING", c)
	}
	return c
}

func (p *platform) getCustomer(id string) customer {
	p.t.Helper()
	status, resp := do(p.t, "GET", p.customerURL("/customers/"+id), "")
	if status != http.StatusOK {
		p.t.Fatalf("get customer %s: status %d: %s", id, status, resp)
	}
	var c customer
	if err := json.Unmarshal([]byte(resp), &c); err != nil {
		p.t.Fatal(err)
	}
	return c
}

func (p *platform) payments(customerID string) []payment {
	p.t.Helper()
	status, resp := do(p.t, "GET", p.paymentURL("/payments?customerId="+customerID), "")
	if status != http.StatusOK {
		p.t.Fatalf("get payments: status %d: %s", status, resp)
	}
	var ps []payment
	if err := json.Unmarshal([]byte(resp), &ps); err != nil {
		p.t.Fatal(err)
	}
	return ps
}

// waitStatus waits until the customer's registration reaches status.
func (p *platform) waitStatus(id, status string, timeout time.Duration) customer {
	p.t.Helper()
	var c customer
	eventually(p.t, timeout, "customer "+id+" reaches "+status, func() error {
		c = p.getCustomer(id)
		if c.Status != status {
			return fmt.Errorf("status is %s", c.Status)
		}
		return nil
	})
	return c
}

// eventually retries fn until it returns nil or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s: %v", timeout, what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// customerTimes is a customer's timestamps.
type customerTimes struct {
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func (p *platform) getCustomerTimes(id string) customerTimes {
	p.t.Helper()
	_, body := do(p.t, "GET", p.customerURL("/customers/"+id), "")
	var c customerTimes
	if err := json.Unmarshal([]byte(body), &c); err != nil {
		p.t.Fatal(err)
	}
	return c
}
