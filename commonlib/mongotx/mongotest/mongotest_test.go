package mongotest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// recorder is a testing.TB that records how a test ended instead of ending
// the real one.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Skip(args ...any) { r.skipped = fmt.Sprint(args...); runtime.Goexit() }

func (r *recorder) Fatalf(format string, args ...any) {
	r.failed = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// open runs b.Open(r) in a goroutine of its own, as runtime.Goexit needs.
func open(t *testing.T, b Backend) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.Open(r)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Open did not return")
	}
	return r
}

func TestOpenMongoDBSkipsWithoutURI(t *testing.T) {
	r := open(t, Backend{Name: MongoDB})
	if !strings.Contains(r.skipped, EnvURI+"=") {
		t.Errorf("skip message %q does not say to set %s", r.skipped, EnvURI)
	}
}

func TestOpenMongoDBFailsWhenUnreachable(t *testing.T) {
	const uri = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"
	for i := range 2 { // the second attempt fails from the cache
		r := open(t, Backend{Name: MongoDB, uri: uri})
		if r.skipped != "" || !strings.Contains(r.failed, EnvURI) || !strings.Contains(r.failed, "server selection") {
			t.Errorf("attempt %d: skipped %q, failed %q; want a failure naming %s and the cause", i, r.skipped, r.failed, EnvURI)
		}
	}
}

func TestRunNamesTheSubtestsAfterTheBackends(t *testing.T) {
	t.Setenv(EnvURI, "")
	var ran []string
	Run(t, func(t *testing.T, b Backend) {
		ran = append(ran, t.Name())
		s := b.Open(t)
		if !strings.HasPrefix(s.DB.Name(), "it_") || s.Dir == "" || !s.Embedded() {
			t.Errorf("embedded store: database %q, dir %q, embedded %v", s.DB.Name(), s.Dir, s.Embedded())
		}
		ctx := context.Background()
		if err := s.Transact(ctx, func(ctx context.Context) error {
			_, err := s.DB.Collection("c").InsertOne(ctx, bson.M{"_id": 1})
			return err
		}); err != nil {
			t.Fatal(err)
		}
	})
	if got, want := fmt.Sprint(ran), "[TestRunNamesTheSubtestsAfterTheBackends/embedded]"; got != want {
		t.Errorf("ran %s, want %s (mongodb skipped)", got, want)
	}
}

func TestUniqueNames(t *testing.T) {
	if a, b := uniqueName(), uniqueName(); a == b || len(a) != len("it_")+12 {
		t.Errorf("uniqueName() = %q, %q", a, b)
	}
}
