package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestSlowClientsAreDisconnected: the Connect REST API, started by run as
// the binary starts it, with short HTTP_READ_TIMEOUT and HTTP_IDLE_TIMEOUT,
// over real TCP: a trickled PUT body is cut and an idle keep-alive
// connection is closed. Before the timeouts both stayed open for as long as
// the client wanted.
func TestSlowClientsAreDisconnected(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t))
	env := map[string]string{
		"DATA_DIR":           t.TempDir(),
		"KAFKA_BROKERS":      fmt.Sprintf("127.0.0.1:%d", proctest.FreePort(t)),
		"CONNECT_ADDR":       addr,
		"HTTP_READ_TIMEOUT":  "500ms",
		"HTTP_WRITE_TIMEOUT": "1500ms",
		"HTTP_IDLE_TIMEOUT":  "500ms",
	}
	proctest.Go(t, "run", func(ctx context.Context) error {
		return run(ctx, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, io.Discard)
	})
	proctest.Eventually(t, 20*time.Second, "outbox-relay answers HTTP", func() error {
		resp, err := http.Get("http://" + addr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})

	// Without the timeouts each connection would stay open 10 s or more;
	// the client gives the server 5 s to close it.
	const patience = 5 * time.Second
	tests := []struct {
		name string
		// talk plays the slow client, then reads once more: the status
		// of an answer, or 0 once the server has closed the connection.
		talk     func(t *testing.T, conn net.Conn, r *bufio.Reader) int
		wantLast int
	}{
		{"a PUT body trickled at a byte every 100 ms", func(t *testing.T, conn net.Conn, r *bufio.Reader) int {
			const size = 100
			proctest.Send(t, conn, fmt.Sprintf("PUT /connectors/c/config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", size))
			go func() {
				for i := 0; i < size; i++ {
					if _, err := conn.Write([]byte(" ")); err != nil {
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}()
			if status := proctest.ReadStatus(t, r); status/100 == 2 {
				t.Errorf("the trickled request was accepted: %d", status)
			}
			return proctest.ReadStatus(t, r)
		}, 0},
		{"an idle keep-alive connection", func(t *testing.T, conn net.Conn, r *bufio.Reader) int {
			proctest.Send(t, conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			if got := proctest.ReadStatus(t, r); got != http.StatusOK {
				t.Fatalf("first request: status %d, want 200", got)
			}
			return proctest.ReadStatus(t, r) // nothing sent: the server must close
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := proctest.Dial(t, addr, patience)
			if got := tt.talk(t, conn, bufio.NewReader(conn)); got != tt.wantLast {
				t.Errorf("after the slow client: status %d, want %d (closed)", got, tt.wantLast)
			}
		})
	}
}
