package connectapi

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Credentials are the users HTTP Basic authentication lets in, the role of
// the credentials file behind Kafka Connect's BasicAuthSecurityRestExtension
// (its PropertyFileLoginModule). Only SHA-256 digests are kept.
type Credentials struct {
	users []login
}

type login struct {
	user, password [sha256.Size]byte
}

// ParseCredentials reads a credentials file: one user a line, user:password
// or user=password (blanks around either part are ignored, so "user: password"
// as in Connect's properties files works), blank lines and lines starting
// with # or ! skipped. Escapes and continued lines of Java properties files
// are not supported. Errors name the line, never its password.
func ParseCredentials(r io.Reader) (*Credentials, error) {
	c := &Credentials{}
	seen := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		i := strings.IndexAny(line, ":=")
		if strings.Contains(line, "LoginModule") || i < 0 && strings.HasSuffix(line, "{") {
			return nil, fmt.Errorf("line %d looks like a JAAS configuration: name the credentials file its file= option points to instead", n)
		}
		if i < 0 {
			return nil, fmt.Errorf("line %d: want user:password", n)
		}
		user, password := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		if user == "" || password == "" {
			return nil, fmt.Errorf("line %d: want user:password, both non-empty", n)
		}
		if seen[user] {
			return nil, fmt.Errorf("line %d: user %q is listed twice", n, user)
		}
		seen[user] = true
		c.users = append(c.users, login{sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(c.users) == 0 {
		return nil, errors.New("no users: want one user:password a line")
	}
	return c, nil
}

// Users returns how many users the credentials let in.
func (c *Credentials) Users() int { return len(c.users) }

// allows reports whether user and password match one entry. It compares
// digests in constant time and visits every entry, so that the time taken
// tells neither which part was wrong nor which user exists.
func (c *Credentials) allows(user, password string) bool {
	u, p := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
	match := 0
	for _, l := range c.users {
		match |= subtle.ConstantTimeCompare(u[:], l.user[:]) & subtle.ConstantTimeCompare(p[:], l.password[:])
	}
	return match == 1
}

// realm is the WWW-Authenticate challenge's realm.
const realm = "outbox-relay"

// unauthorized is Connect's text for a refused user (JaasBasicAuthFilter).
const unauthorized = "User cannot access the resource."

// basicAuth lets through requests with the Basic credentials of a user of
// creds and answers every other one, on every path, 401 with a challenge.
func basicAuth(creds *Credentials) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if user, password, ok := c.Request().BasicAuth(); ok && creds.allows(user, password) {
				return next(c)
			}
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="`+realm+`", charset="UTF-8"`)
			return &connectError{status: http.StatusUnauthorized, message: unauthorized}
		}
	}
}
