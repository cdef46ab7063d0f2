package app

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
	"github.com/sagaoutbox/platform/commonlib/httpapi"
	"github.com/sagaoutbox/platform/commonlib/inbox"
	"github.com/sagaoutbox/platform/commonlib/lifecycle"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/router"
)

// slowHandler takes longer than the write timeout startService sets.
const slowHandler = 2500 * time.Millisecond

// startService runs a service with test routes, built from this package's
// parts and configured by env as a service's main does, and returns its
// host:port once it answers. Kafka is an address nothing listens on: the
// HTTP API answers while the service waits for it.
func startService(t *testing.T, env map[string]string) string {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	vars := map[string]string{
		"DATA_DIR":      t.TempDir(),
		"HTTP_ADDR":     addr,
		"KAFKA_BROKERS": fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t)),
		"OUTBOX_RELAY":  RelayOff,
	}
	for k, v := range env {
		vars[k] = v
	}
	e := envconfig.New(envconfig.Map(vars))
	cfg := LoadConfig(e, "test-service", "127.0.0.1:0", []string{"TestEvent"})
	if err := e.Err(); err != nil {
		t.Fatal(err)
	}
	spec := Spec{
		Config: cfg, Database: "test-db", BasePath: "/test-service",
		Group: "test-group", Consume: []string{"test-in"}, Produce: []string{"test-out"},
	}
	proctest.Go(t, "run", func(ctx context.Context) error {
		return runTestService(ctx, spec, slog.New(slog.DiscardHandler))
	})
	proctest.Eventually(t, 20*time.Second, "the service answers HTTP", func() error {
		resp, err := http.Get("http://" + addr + "/test-service/fast")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	return addr
}

// runTestService wires the parts as a service's main does (without a relay),
// with the routes of testRoutes and a handler of TestEvent.
func runTestService(ctx context.Context, spec Spec, log *slog.Logger) error {
	client, err := OpenStore(ctx, spec.Config, log)
	if err != nil {
		return err
	}
	defer CloseStore(client, log)
	db := client.Database(spec.Database)
	in, out := inbox.Open(db), outbox.Open(db, "test-events")
	if err := in.EnsureIndexes(ctx); err != nil {
		return err
	}
	producer := NewProducer(spec, log)
	consumers, err := NewConsumers(spec, client, producer, map[string]router.Handler{
		"TestEvent": func(context.Context, router.Message) error { return nil },
	}, log)
	if err != nil {
		return err
	}
	sched, err := NewJobs(spec.Config, in, out, nil, log)
	if err != nil {
		return err
	}
	api := NewAPI(spec, client, out, nil, consumers, log)
	testRoutes(api.Group)
	if err := api.Listen(); err != nil {
		return err
	}
	g := lifecycle.Group{Timeout: spec.Config.ShutdownTimeout, Log: log}
	g.Add("producer", producer.Run, nil)
	g.Add("jobs", sched.Run, sched.Stop)
	g.Add("consumers", consumers.Run, nil)
	g.Add("http", api.Run, api.Shutdown)
	return g.Run(ctx)
}

func testRoutes(g *echo.Group) {
	g.POST("/things", func(c echo.Context) error {
		var v map[string]any
		if err := httpapi.DecodeJSON(c, &v); err != nil {
			return err
		}
		return c.JSON(http.StatusCreated, v)
	})
	g.GET("/fast", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	g.GET("/slow", func(c echo.Context) error {
		time.Sleep(slowHandler)
		return c.String(http.StatusOK, "late")
	})
}

// TestSlowClientsAreDisconnected: over real TCP, with short timeouts, a
// client that trickles its body, idles on a keep-alive connection, or
// waits on a handler slower than the write timeout loses its connection.
// Before HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT and HTTP_IDLE_TIMEOUT each of
// these connections stayed open for as long as the client wanted.
func TestSlowClientsAreDisconnected(t *testing.T) {
	addr := startService(t, map[string]string{
		"HTTP_READ_TIMEOUT":  "500ms",
		"HTTP_WRITE_TIMEOUT": "1500ms",
		"HTTP_IDLE_TIMEOUT":  "500ms",
	})
	// Every case would keep its connection for 10 s or more without the
	// timeouts; the client gives the server 5 s to close it.
	const patience = 5 * time.Second
	tests := []struct {
		name string
		// talk sends the request and returns the status of the answer
		// received before the server closed the connection (0: none).
		talk       func(t *testing.T, conn net.Conn) int
		wantStatus int
	}{
		{"a body trickled at a byte every 100 ms", func(t *testing.T, conn net.Conn) int {
			const size = 100 // 10 s at this pace
			proctest.Send(t, conn, fmt.Sprintf("POST /test-service/things HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size))
			go func() {
				for i := 0; i < size; i++ {
					if _, err := conn.Write([]byte(" ")); err != nil {
						return // the server closed the connection
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			return proctest.ReadStatus(t, bufio.NewReader(conn))
		}, http.StatusRequestTimeout},
		{"an idle keep-alive connection", func(t *testing.T, conn net.Conn) int {
			r := bufio.NewReader(conn)
			proctest.Send(t, conn, "GET /test-service/fast HTTP/1.1\r\nHost: x\r\n\r\n")
			if got := proctest.ReadStatus(t, r); got != http.StatusOK {
				t.Fatalf("first request: status %d, want 200", got)
			}
			return proctest.ReadStatus(t, r) // nothing sent: waits for the server to close
		}, 0},
		{"a handler slower than the write timeout", func(t *testing.T, conn net.Conn) int {
			proctest.Send(t, conn, "GET /test-service/slow HTTP/1.1\r\nHost: x\r\n\r\n")
			return proctest.ReadStatus(t, bufio.NewReader(conn))
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := proctest.Dial(t, addr, patience)
			if got := tt.talk(t, conn); got != tt.wantStatus {
				t.Errorf("answer before the connection closed: status %d, want %d", got, tt.wantStatus)
			}
		})
	}
}

// TestRelayCauseHidesDetail: GET <base>/outbox shows a short cause of the
// relay's last error, never its text: store errors name journal files,
// Kafka errors addresses.
func TestRelayCauseHidesDetail(t *testing.T) {
	tests := []struct {
		name, lastError, want string
	}{
		{"none", "", ""},
		{"store cannot write", "relay: store position: store cannot write: write /srv/data/customer-service/journal-000042: no space left on device",
			"the store cannot write (details in the service log)"},
		{"kafka down", "kafka: client has run out of available brokers to talk to: dial tcp 10.0.3.7:9092: connect: connection refused",
			"kafka did not acknowledge the batch (details in the service log)"},
		{"kafka refused the batch", "kafka: Failed to deliver 3 messages.", "kafka did not acknowledge the batch (details in the service log)"},
		{"breaker", "circuit breaker is open", "kafka did not acknowledge the batch (details in the service log)"},
		{"lease lost", "relay: lease taken by another holder", "another replica took the lease (details in the service log)"},
		{"lease expired", "relay: lease expired before the batch was sent", "the lease expired before kafka acknowledged the batch (details in the service log)"},
		{"lease unreadable", "relay: renew lease connector/customers-db: open /srv/data/customer-service/snapshot-000003: permission denied",
			"the lease could not be read or renewed (details in the service log)"},
		{"change stream", "relay: change stream: lungo: history lost at /tmp/x", "the change stream failed (details in the service log)"},
		{"anything else", "relay: something new at /home/someone/file.go:42", "the relay failed (details in the service log)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := relayCause(tt.lastError)
			if got != tt.want {
				t.Errorf("relayCause(%q) = %q, want %q", tt.lastError, got, tt.want)
			}
			if strings.Contains(got, "/") {
				t.Errorf("the cause shows a path: %q", got)
			}
		})
	}
}
