// Package e2e runs the platform as a user does: the real binaries as separate
// processes (devkafka, customer-service, payment-service) on free ports with
// temporary data directories, driven over HTTP and inspected through Kafka
// with sarama. Skipped with -short.
package e2e

import (
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
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
		if err := proctest.Build(dir, "./customer/cmd/customer-service", "./payment/cmd/payment-service", "./devkafka/cmd/devkafka", "./ops/cmd/kafka-inspect", "./ops/cmd/saga-console"); err != nil {
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

// startProc starts one of the binaries TestMain built, with the test's
// environment plus env.
func startProc(t testing.TB, name string, env []string) *proctest.Proc {
	t.Helper()
	return proctest.Start(t, filepath.Join(binDir, name), append(os.Environ(), env...))
}

// platform is one embedded deployment.
type platform struct {
	t            testing.TB
	dataDir      string
	kafkaAddr    string
	customerPort int
	paymentPort  int
	kafka        *proctest.Proc
	customer     *proctest.Proc
	payment      *proctest.Proc
	customerEnv  []string
	paymentEnv   []string
}

func newPlatform(t testing.TB) *platform {
	t.Helper()
	skipShort(t)
	return &platform{
		t:            t,
		dataDir:      t.TempDir(),
		kafkaAddr:    fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t)),
		customerPort: proctest.FreePort(t),
		paymentPort:  proctest.FreePort(t),
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
	proctest.Eventually(p.t, 20*time.Second, "devkafka accepts connections", func() error {
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

func (p *platform) waitHTTP(pr *proctest.Proc, url string) {
	p.t.Helper()
	proctest.Eventually(p.t, 30*time.Second, pr.Name()+" answers HTTP", func() error {
		if pr.Exited() {
			p.t.Fatalf("%s exited:\n%s", pr.Name(), pr.Output())
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
	proctest.Eventually(p.t, 30*time.Second, url+" is healthy", func() error {
		status, body := proctest.HTTP(p.t, "GET", url, "")
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

// customer is the JSON customer-service returns.
type customer struct {
	ID            string    `json:"id"`
	FirstName     string    `json:"firstName"`
	LastName      string    `json:"lastName"`
	Status        string    `json:"status"`
	FailureReason string    `json:"failureReason"`
	CreatedAt     time.Time `json:"createdAt"`
	UpdatedAt     time.Time `json:"updatedAt"`
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
	status, resp := proctest.HTTP(p.t, "POST", p.customerURL("/customers"), body)
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
	status, resp := proctest.HTTP(p.t, "GET", p.customerURL("/customers/"+id), "")
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
	status, resp := proctest.HTTP(p.t, "GET", p.paymentURL("/payments?customerId="+customerID), "")
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
	proctest.Eventually(p.t, timeout, "customer "+id+" reaches "+status, func() error {
		c = p.getCustomer(id)
		if c.Status != status {
			return fmt.Errorf("status is %s", c.Status)
		}
		return nil
	})
	return c
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
