// Package mongotest opens the stores of tests, closed when the test ends:
// the embedded engine (Open: in a temporary directory unless the test names
// one, with any other mongotx.Options it sets), and, when MONGODB_TEST_URI is
// set, a real MongoDB replica set with a unique database per test that is
// dropped afterwards.
//
// Run runs one test body on every backend, as the subtests "embedded" and
// "mongodb", so the same assertions hold on both; the mongodb subtest is
// skipped, naming the variable, while MONGODB_TEST_URI is unset. Tests that
// use Run are named TestIntegration... so that `go test -run Integration`
// (make test-integration) selects them, while a plain `go test` still runs
// their embedded half.
//
// It does not create collections or indexes: the code under test does.
package mongotest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
)

// EnvURI names the variable that holds the URI of the replica set to test
// against, for example mongodb://localhost:27017/?directConnection=true
// (see package mongotx for the forms a URI can take).
const EnvURI = "MONGODB_TEST_URI"

// Names of the backends, which are also the names of Run's subtests.
const (
	Embedded = "embedded"
	MongoDB  = "mongodb"
)

// skipMessage says how to run the mongodb subtests.
const skipMessage = "set " + EnvURI + "=mongodb://localhost:27017/?directConnection=true to run against a real replica set"

// Backend opens stores of one kind.
type Backend struct {
	// Name is Embedded or MongoDB.
	Name string
	uri  string
}

// Backends returns the embedded backend and the MongoDB one, whose Open
// skips the test while EnvURI is unset.
func Backends() []Backend {
	return []Backend{{Name: Embedded}, {Name: MongoDB, uri: os.Getenv(EnvURI)}}
}

// Run runs body once per backend, each time in a subtest named after the
// backend. The mongodb subtest is skipped while EnvURI is unset.
func Run(t *testing.T, body func(t *testing.T, b Backend)) {
	t.Helper()
	for _, b := range Backends() {
		t.Run(b.Name, func(t *testing.T) {
			if b.Name == MongoDB && b.uri == "" {
				t.Skip(skipMessage)
			}
			body(t, b)
		})
	}
}

// Store is an open client and a database of the test's own.
type Store struct {
	*mongotx.Client
	// DB is the test's database. On MongoDB its name is unique
	// ("it_" and random hex) and it is dropped when the test ends.
	DB lungo.IDatabase
	// Dir holds the embedded engine's file; empty on MongoDB.
	Dir string
	uri string // MongoDB's; empty on the embedded engine
}

// Open returns a new store for t, closed (and on MongoDB dropped) when t
// ends. On MongoDB it skips t while EnvURI is unset, and fails t when the
// server cannot be reached or is not a replica set.
func (b Backend) Open(t testing.TB) *Store {
	t.Helper()
	if b.Name == Embedded {
		return Open(t)
	}
	if b.uri == "" {
		t.Skip(skipMessage)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongotx.Open(ctx, mongotx.Options{URI: b.uri})
	if err != nil {
		t.Fatalf("%s: %v", EnvURI, err)
	}
	if err := checkOnce(ctx, b.uri, client); err != nil {
		_ = client.Close(ctx)
		t.Fatalf("%s: %v", EnvURI, err)
	}
	db := client.Database(uniqueName())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := db.Drop(ctx); err != nil {
			t.Errorf("drop test database %s: %v", db.Name(), err)
		}
		_ = client.Close(ctx)
	})
	return &Store{Client: client, DB: db, uri: b.uri}
}

// Open returns a store on the embedded engine, closed when t ends: for tests
// that need no other backend. Its files are in a temporary directory unless
// edit sets Dir (to reopen a store, or to put it on a file system of the
// test's own); edit may set any other option too, such as HistorySize.
// Closing the store before t ends is allowed (to reopen its directory).
func Open(t testing.TB, edit ...func(*mongotx.Options)) *Store {
	t.Helper()
	var opts mongotx.Options
	for _, e := range edit {
		e(&opts)
	}
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	ctx := context.Background()
	client, err := mongotx.Open(ctx, opts)
	if err != nil {
		t.Fatalf("open the embedded store in %s: %v", opts.Dir, err)
	}
	t.Cleanup(func() { _ = client.Close(ctx) })
	return &Store{Client: client, DB: client.Database(uniqueName()), Dir: opts.Dir}
}

// Connect returns a client of s as another process of the platform would
// have it: on MongoDB a new connection pool to the same server, closed when
// t ends; on the embedded engine, which only the process that opened it can
// use, s's own client.
func (s *Store) Connect(t testing.TB) *mongotx.Client {
	t.Helper()
	if s.uri == "" {
		return s.Client
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client, err := mongotx.Open(ctx, mongotx.Options{URI: s.uri})
	if err != nil {
		t.Fatalf("%s: %v", EnvURI, err)
	}
	t.Cleanup(func() { _ = client.Close(context.Background()) })
	return client
}

var (
	checkMu sync.Mutex
	checked = map[string]error{}
)

// checkOnce runs checkReplicaSet once per URI and test binary: when the
// server is down, the first test waits for the server selection timeout
// and the others fail at once.
func checkOnce(ctx context.Context, uri string, client *mongotx.Client) error {
	checkMu.Lock()
	defer checkMu.Unlock()
	err, ok := checked[uri]
	if !ok {
		err = checkReplicaSet(ctx, client)
		checked[uri] = err
	}
	return err
}

// checkReplicaSet fails fast, and says why, where transactions would fail
// later with a less helpful error.
func checkReplicaSet(ctx context.Context, client *mongotx.Client) error {
	var hello struct {
		SetName string `bson:"setName"`
		Msg     string `bson:"msg"`
	}
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err != nil {
		return fmt.Errorf("hello: %w", err)
	}
	if hello.SetName == "" && hello.Msg != "isdbgrid" {
		return fmt.Errorf("the server is not a replica set member (nor a mongos): transactions and change streams need a replica set (mongod --replSet NAME, then rs.initiate())")
	}
	return nil
}

// uniqueName returns a database name no other test uses.
func uniqueName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return "it_" + hex.EncodeToString(b)
}
