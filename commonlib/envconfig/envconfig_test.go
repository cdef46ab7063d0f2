package envconfig_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/envconfig"
)

func TestDefaultsAndValues(t *testing.T) {
	env := envconfig.New(envconfig.Map(map[string]string{"TIMEOUT": "2m", "LIST": " a; b ;", "EMPTY": "  "}))
	if got := env.Duration("TIMEOUT", time.Second); got != 2*time.Minute {
		t.Errorf("TIMEOUT = %v, want 2m", got)
	}
	if got := env.Duration("EMPTY", time.Second); got != time.Second {
		t.Errorf("EMPTY = %v, want the default 1s", got)
	}
	if got := env.List("LIST", "x", ";"); strings.Join(got, ",") != "a,b" {
		t.Errorf("LIST = %q, want [a b]", got)
	}
	if got := env.String("UNSET", "def"); got != "def" {
		t.Errorf("UNSET = %q, want def", got)
	}
	if got := env.Addr("ADDR", "127.0.0.1:9990"); got != "127.0.0.1:9990" {
		t.Errorf("ADDR = %q, want the default", got)
	}
	if got := env.Level("LEVEL", "debug"); got.String() != "DEBUG" {
		t.Errorf("LEVEL = %v, want DEBUG", got)
	}
	if err := env.Err(); err != nil {
		t.Errorf("unexpected error: %v", err)
	}
}

func TestEveryBadVariableIsNamed(t *testing.T) {
	env := envconfig.New(envconfig.Map(map[string]string{
		"A": "soon", "B": "-1s", "C": "0", "D": "maybe", "E": ";;", "F": "localhost", "G": "loud",
	}))
	env.Duration("A", time.Second)
	env.Duration("B", time.Second)
	env.Int("C", 1, 1)
	env.OneOf("D", "on", "on", "off")
	env.List("E", "x", ";")
	env.Addr("F", ":1")
	env.Level("G", "info")
	err := env.Err()
	if err == nil {
		t.Fatal("want an error")
	}
	for _, name := range []string{"A=", "B=", "C=", "D=", "E=", "F=", "G="} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
}
