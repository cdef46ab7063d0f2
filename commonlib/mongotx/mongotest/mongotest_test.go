package mongotest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
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

// TestOpenWithOptions: a store opened on a directory of the test's own,
// closed early and reopened there, keeps what was committed; on the
// embedded engine Connect is the store's client.
func TestOpenWithOptions(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := Open(t, func(o *mongotx.Options) { o.Dir = dir; o.HistorySize = 5 })
	if s.Dir != dir {
		t.Errorf("Dir = %q, want %q", s.Dir, dir)
	}
	if c := s.Connect(t); c != s.Client {
		t.Errorf("Connect() on the embedded engine = %p, want the store's client %p", c, s.Client)
	}
	coll := s.Database("app").Collection("c")
	if err := s.Transact(ctx, func(ctx context.Context) error {
		_, err := coll.InsertOne(ctx, bson.M{"_id": 1})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	again := Open(t, func(o *mongotx.Options) { o.Dir = dir })
	n, err := again.Database("app").Collection("c").CountDocuments(ctx, bson.M{})
	if err != nil || n != 1 {
		t.Errorf("after reopening: %d documents, %v; want 1", n, err)
	}
}
