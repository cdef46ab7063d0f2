package httpapi

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
)

// Default server timeouts (HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT,
// HTTP_IDLE_TIMEOUT). A request body is at most a few tens of kilobytes,
// so ten seconds to receive a whole request is generous even on a slow
// link; a handler answers within seconds (a saturated store is refused at
// once, health probes are bounded at two seconds).
const (
	DefaultReadTimeout  = 10 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
)

// readHeaderTimeout bounds the request headers alone; a shorter read
// timeout bounds them too.
const readHeaderTimeout = 10 * time.Second

// MaxHeaderBytes is the size of request headers (request line included)
// that HeaderLimit accepts; beyond it the answer is a JSON 431.
const MaxHeaderBytes = 32 << 10

// serverMaxHeaderBytes is the http.Server's own cap, net/http's default:
// headers beyond it are refused by net/http with a plain-text 431 before
// any handler runs. It is well above MaxHeaderBytes so that almost every
// oversized request gets the JSON answer.
const serverMaxHeaderBytes = http.DefaultMaxHeaderBytes

// Timeouts bounds how long a client may hold a connection: Read is the
// time to send a whole request (headers and body), Write the time from the
// end of the request headers to the end of the response, Idle how long a
// keep-alive connection may wait for its next request.
type Timeouts struct {
	Read, Write, Idle time.Duration
}

// LoadTimeouts reads HTTP_READ_TIMEOUT, HTTP_WRITE_TIMEOUT and
// HTTP_IDLE_TIMEOUT (Go durations, positive), with the defaults above.
func LoadTimeouts(env *envconfig.Env) Timeouts {
	return Timeouts{
		Read:  env.Duration("HTTP_READ_TIMEOUT", DefaultReadTimeout),
		Write: env.Duration("HTTP_WRITE_TIMEOUT", DefaultWriteTimeout),
		Idle:  env.Duration("HTTP_IDLE_TIMEOUT", DefaultIdleTimeout),
	}
}

// NewServer returns an http.Server for h with the timeouts set, so that a
// client trickling its request or holding an idle connection cannot keep a
// connection (and its goroutine) forever.
func NewServer(h http.Handler, t Timeouts) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: min(readHeaderTimeout, t.Read),
		ReadTimeout:       t.Read,
		WriteTimeout:      t.Write,
		IdleTimeout:       t.Idle,
		MaxHeaderBytes:    serverMaxHeaderBytes,
	}
}

// HeaderLimit is echo middleware that answers 431 HEADERS_TOO_LARGE, in the
// JSON error shape, to a request whose line and headers exceed limit bytes
// (counted as on the wire). Headers beyond the server's own cap never reach
// it: net/http answers those itself, in plain text.
func HeaderLimit(limit int) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if headerSize(c.Request()) > limit {
				return &answer{status: http.StatusRequestHeaderFieldsTooLarge, problem: Problem{
					Code:    "HEADERS_TOO_LARGE",
					Message: "the request headers are larger than the server accepts",
				}}
			}
			return next(c)
		}
	}
}

// headerSize is the size of r's request line and headers as sent:
// "METHOD URI PROTO\r\n", "Name: value\r\n" per value, and Host (which
// net/http moves out of r.Header).
func headerSize(r *http.Request) int {
	n := len(r.Method) + 1 + len(r.RequestURI) + 1 + len(r.Proto) + 2
	if r.Host != "" {
		n += len("Host: ") + len(r.Host) + 2
	}
	for name, values := range r.Header {
		for _, v := range values {
			n += len(name) + 2 + len(v) + 2
		}
	}
	return n
}
