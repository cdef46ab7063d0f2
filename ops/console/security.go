package console

import (
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"
)

// HeaderConsole is the header the console's page sends with its writes. A
// page of another site cannot send it without a CORS preflight, which the
// console never grants; it is how scripts without an Origin (curl) show
// they mean it.
const HeaderConsole = "X-Saga-Console"

// IsLoopback reports whether the listen address addr (host:port, as the
// listener reports it) only takes connections from this machine: a
// loopback IP or "localhost". An empty host or an unspecified IP
// (":9080", "0.0.0.0:9080", "[::]:9080") listens on every interface.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	host, _, _ = strings.Cut(host, "%") // an IPv6 zone
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// ReadOnly decides whether the console refuses its two writes (replay and
// fail): it does when it listens on addr beyond loopback, unless the
// deployment says allowWrite (CONSOLE_ALLOW_WRITE=true). Whoever can reach
// a console listening on a network could otherwise replay records and end
// registrations.
func ReadOnly(addr string, allowWrite bool) bool {
	return !allowWrite && !IsLoopback(addr)
}

// hostGuard, when check is set, refuses requests whose Host is neither a
// loopback name nor one of allowed (CONSOLE_ALLOWED_HOSTS). A page of
// another site whose name the attacker points at the console's address (DNS
// rebinding) is otherwise same-origin with it: it could read what the
// console shows and, where writes are allowed, replay and fail. The console
// checks whenever it listens on loopback or allows writes; a read-only
// console on a network shows what anyone there can read anyway.
func hostGuard(check bool, allowed []string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if check {
				host := c.Request().Host
				if h, _, err := net.SplitHostPort(host); err == nil {
					host = h
				}
				host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
				if !isLoopbackHost(host) && !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, host) }) {
					return problem(http.StatusForbidden, "HOST_NOT_ALLOWED",
						"the console answers only requests addressed to localhost, a loopback address or a name of CONSOLE_ALLOWED_HOSTS")
				}
			}
			return next(c)
		}
	}
}

// writeGuard is the middleware of the two write routes. It refuses them
// while the console is read-only, and refuses any write a page of another
// site could trigger: the body must be declared application/json (a form
// cannot declare it), a browser's Origin and Sec-Fetch-Site must say the
// console's own origin, and a request without Origin must carry
// HeaderConsole.
func writeGuard(readOnly bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if readOnly {
				return problem(http.StatusForbidden, "READ_ONLY",
					"the console is read-only: it listens beyond loopback and CONSOLE_ALLOW_WRITE is not true")
			}
			if err := checkSameOrigin(c.Request()); err != nil {
				return err
			}
			return next(c)
		}
	}
}

// checkSameOrigin returns the problem that refuses r, or nil.
func checkSameOrigin(r *http.Request) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || mt != echo.MIMEApplicationJSON {
		return problem(http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE", "a write must be sent as application/json")
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return problem(http.StatusForbidden, "CROSS_ORIGIN", "writes are accepted from the console's own page only")
	}
	origin := r.Header.Get(echo.HeaderOrigin)
	if origin == "" {
		if r.Header.Get(HeaderConsole) != "1" {
			return problem(http.StatusForbidden, "CONSOLE_HEADER_MISSING",
				"a write without an Origin header must carry "+HeaderConsole+": 1")
		}
		return nil
	}
	if !sameOrigin(origin, r.Host) {
		return problem(http.StatusForbidden, "CROSS_ORIGIN", "writes are accepted from the console's own page only")
	}
	return nil
}

// sameOrigin reports whether the Origin header origin names the host the
// request was sent to (scheme http or https).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || u.RawQuery != "" {
		return false
	}
	return strings.EqualFold(u.Host, host)
}

// securityHeaders keeps the page to its own assets and out of frames, and
// API answers out of caches.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "+
			"frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		if strings.HasPrefix(c.Request().URL.Path, "/api/") {
			h.Set("Cache-Control", "no-store")
		}
		return next(c)
	}
}
