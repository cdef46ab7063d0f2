package mongotx_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
)

var errBoom = errors.New("boom")

type doc struct {
	ID string `bson:"_id"`
	N  int    `bson:"n"`
}

func ids(t *testing.T, coll lungo.ICollection) []string {
	t.Helper()
	cur, err := coll.Find(context.Background(), bson.M{}, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var docs []doc
	if err := cur.All(context.Background(), &docs); err != nil {
		t.Fatal(err)
	}
	out := make([]string, len(docs))
	for i, d := range docs {
		out[i] = d.ID
	}
	return out
}

// TestIntegrationTransact runs the transaction contract on every backend:
// the embedded engine always, a real replica set when MONGODB_TEST_URI is
// set.
func TestIntegrationTransact(t *testing.T) {
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		ctx := context.Background()

		t.Run("the backend is what it says", func(t *testing.T) {
			s := b.Open(t)
			if got, want := s.Embedded(), b.Name == mongotest.Embedded; got != want {
				t.Errorf("Embedded() = %v, want %v", got, want)
			}
			if err := s.Ping(ctx); err != nil {
				t.Errorf("Ping: %v", err)
			}
		})

		t.Run("commits when fn returns nil", func(t *testing.T) {
			s := b.Open(t)
			coll := s.DB.Collection("docs")
			err := s.Transact(ctx, func(ctx context.Context) error {
				if !mongotx.InTransaction(ctx) {
					t.Error("InTransaction is false inside Transact")
				}
				for _, id := range []string{"a", "b"} {
					if _, err := coll.InsertOne(ctx, doc{ID: id}); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := fmt.Sprint(ids(t, coll)); got != "[a b]" {
				t.Errorf("stored %s, want [a b]", got)
			}
		})

		t.Run("rolls back and returns fn's error", func(t *testing.T) {
			s := b.Open(t)
			coll := s.DB.Collection("docs")
			if _, err := coll.InsertOne(ctx, doc{ID: "before"}); err != nil {
				t.Fatal(err)
			}
			err := s.Transact(ctx, func(ctx context.Context) error {
				if _, err := coll.InsertOne(ctx, doc{ID: "a"}); err != nil {
					return err
				}
				if _, err := coll.UpdateOne(ctx, bson.M{"_id": "before"}, bson.M{"$set": bson.M{"n": 1}}); err != nil {
					return err
				}
				return fmt.Errorf("later step: %w", errBoom)
			})
			if !errors.Is(err, errBoom) {
				t.Fatalf("Transact = %v, want fn's error", err)
			}
			if got := fmt.Sprint(ids(t, coll)); got != "[before]" {
				t.Errorf("stored %s after a rollback, want [before]", got)
			}
			var d doc
			if err := coll.FindOne(ctx, bson.M{"_id": "before"}).Decode(&d); err != nil || d.N != 0 {
				t.Errorf("document changed before the rollback = %+v, %v; want n 0", d, err)
			}
		})

		t.Run("uncommitted writes are seen inside only", func(t *testing.T) {
			s := b.Open(t)
			coll := s.DB.Collection("docs")
			err := s.Transact(ctx, func(tctx context.Context) error {
				if _, err := coll.InsertOne(tctx, doc{ID: "a"}); err != nil {
					return err
				}
				if err := coll.FindOne(tctx, bson.M{"_id": "a"}).Err(); err != nil {
					t.Errorf("inside: the transaction does not see its own write: %v", err)
				}
				// A read outside the transaction (no session in ctx).
				if err := coll.FindOne(ctx, bson.M{"_id": "a"}).Err(); !errors.Is(err, mongo.ErrNoDocuments) {
					t.Errorf("outside: got %v before the commit, want ErrNoDocuments", err)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := coll.FindOne(ctx, bson.M{"_id": "a"}).Err(); err != nil {
				t.Errorf("after the commit: %v", err)
			}
		})

		t.Run("nested Transact joins the outer transaction", func(t *testing.T) {
			tests := []struct {
				name     string
				innerErr error
				outerErr error
				want     string
			}{
				{"both succeed: both writes commit", nil, nil, "[inner outer]"},
				{"outer fails after inner succeeded: both roll back", nil, errBoom, "[]"},
				{"inner fails: both roll back", errBoom, nil, "[]"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s := b.Open(t)
					coll := s.DB.Collection("docs")
					err := s.Transact(ctx, func(ctx context.Context) error {
						if _, err := coll.InsertOne(ctx, doc{ID: "outer"}); err != nil {
							return err
						}
						err := s.Transact(ctx, func(ctx context.Context) error {
							if !mongotx.InTransaction(ctx) {
								t.Error("InTransaction is false in a nested Transact")
							}
							// The outer write is visible: same transaction.
							if err := coll.FindOne(ctx, bson.M{"_id": "outer"}).Err(); err != nil {
								t.Errorf("nested Transact does not see the outer write: %v", err)
							}
							if _, err := coll.InsertOne(ctx, doc{ID: "inner"}); err != nil {
								return err
							}
							return tt.innerErr
						})
						if err != nil {
							return err
						}
						return tt.outerErr
					})
					wantErr := tt.innerErr != nil || tt.outerErr != nil
					if wantErr && !errors.Is(err, errBoom) || !wantErr && err != nil {
						t.Fatalf("Transact = %v, want error %v", err, wantErr)
					}
					if got := fmt.Sprint(ids(t, coll)); got != tt.want {
						t.Errorf("stored %s, want %s", got, tt.want)
					}
				})
			}
		})

		t.Run("InTransaction only inside Transact", func(t *testing.T) {
			s := b.Open(t)
			if mongotx.InTransaction(ctx) {
				t.Error("InTransaction(context.Background()) = true")
			}
			var inside context.Context
			if err := s.Transact(ctx, func(ctx context.Context) error { inside = ctx; return nil }); err != nil {
				t.Fatal(err)
			}
			if !mongotx.InTransaction(inside) {
				t.Error("InTransaction = false for the context Transact passed")
			}
			if mongotx.InTransaction(ctx) {
				t.Error("Transact marked the caller's context")
			}
		})

		t.Run("IsDuplicateKey recognises the backend's duplicate errors", func(t *testing.T) {
			s := b.Open(t)
			coll := s.DB.Collection("docs")
			if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}, Options: options.Index().SetUnique(true)}); err != nil {
				t.Fatal(err)
			}
			if _, err := coll.InsertOne(ctx, doc{ID: "a", N: 1}); err != nil {
				t.Fatal(err)
			}
			_, dupID := coll.InsertOne(ctx, doc{ID: "a", N: 2})
			_, dupIndex := coll.InsertOne(ctx, doc{ID: "b", N: 1})
			dupInTx := s.Transact(ctx, func(ctx context.Context) error {
				_, err := coll.InsertOne(ctx, doc{ID: "a", N: 3})
				return fmt.Errorf("insert: %w", err)
			})
			tests := []struct {
				name string
				err  error
				want bool
			}{
				{"duplicate _id", dupID, true},
				{"duplicate key of a unique index", dupIndex, true},
				{"duplicate _id in a transaction, wrapped", dupInTx, true},
				{"nil", nil, false},
				{"another error", errBoom, false},
			}
			for _, tt := range tests {
				if got := mongotx.IsDuplicateKey(tt.err); got != tt.want {
					t.Errorf("%s: IsDuplicateKey(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
				}
			}
			if got := fmt.Sprint(ids(t, coll)); got != "[a]" {
				t.Errorf("stored %s, want [a]", got)
			}
		})

		// Two transactions read the same counter, wait for each other and
		// both write counter+1. A backend that lost an update would end at
		// 1. MongoDB fails one write with a WriteConflict (labelled
		// TransientTransactionError) and the driver's WithTransaction runs
		// that transaction again on fresh data; the embedded engine runs
		// write transactions one at a time (the second waits for the
		// first, so the wait below times out).
		t.Run("concurrent read-modify-write transactions all commit", func(t *testing.T) {
			s := b.Open(t)
			coll := s.DB.Collection("counters")
			if _, err := coll.InsertOne(ctx, doc{ID: "c"}); err != nil {
				t.Fatal(err)
			}
			const workers = 2
			var attempts atomic.Int32
			var read sync.WaitGroup
			read.Add(workers)
			allRead := make(chan struct{})
			go func() { read.Wait(); close(allRead) }()
			errs := make(chan error, workers)
			for range workers {
				go func() {
					first := true
					errs <- s.Transact(ctx, func(ctx context.Context) error {
						attempts.Add(1)
						var d doc
						if err := coll.FindOne(ctx, bson.M{"_id": "c"}).Decode(&d); err != nil {
							return err
						}
						if first {
							first = false
							read.Done()
							select {
							case <-allRead:
							case <-time.After(300 * time.Millisecond):
							}
						}
						_, err := coll.UpdateOne(ctx, bson.M{"_id": "c"}, bson.M{"$set": bson.M{"n": d.N + 1}})
						return err
					})
				}()
			}
			for range workers {
				if err := <-errs; err != nil {
					t.Errorf("Transact: %v", err)
				}
			}
			var d doc
			if err := coll.FindOne(ctx, bson.M{"_id": "c"}).Decode(&d); err != nil {
				t.Fatal(err)
			}
			if d.N != workers {
				t.Errorf("counter = %d, want %d: an update was lost", d.N, workers)
			}
			t.Logf("%d transactions ran fn %d times", workers, attempts.Load())
			if b.Name == mongotest.MongoDB && attempts.Load() <= workers {
				t.Errorf("fn ran %d times for %d transactions, want a retry: the transactions did not conflict", attempts.Load(), workers)
			}
		})
	})
}

// within runs f and fails t if f has not returned after d (leaving it
// running): a hang would otherwise last until the test binary's timeout.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("still running after %v", d)
	}
}

// closedPort is a MongoDB URI nothing answers, with a short server selection
// timeout (the default is 30 s).
const closedPort = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300"

// TestOpenURIRunsTheDriverThroughLungo checks, without a server, the code
// path a real replica set takes: mongotx.Open(URI) wraps the official driver
// with lungo.Connect, and Transact hands fn a context carrying the driver's
// session with a transaction started, so every operation fn runs goes into
// that transaction, and the driver's WithTransaction retry loop works as
// Transact's comment says. (A transaction that has sent nothing to the
// server commits and aborts without one.)
func TestOpenURIRunsTheDriverThroughLungo(t *testing.T) {
	ctx := context.Background()
	open := func(t *testing.T) *mongotx.Client {
		t.Helper()
		cl, err := mongotx.Open(ctx, mongotx.Options{URI: closedPort})
		if err != nil {
			t.Fatalf("Open: %v (connecting must not wait for the server)", err)
		}
		t.Cleanup(func() { _ = cl.Close(ctx) })
		return cl
	}

	t.Run("the client is the official driver's", func(t *testing.T) {
		cl := open(t)
		if cl.Embedded() {
			t.Error("Embedded() = true for a URI")
		}
		if _, ok := cl.IClient.(*lungo.MongoClient); !ok {
			t.Errorf("client is a %T, want *lungo.MongoClient", cl.IClient)
		}
		if _, ok := cl.Database("db").Collection("c").(*lungo.MongoCollection); !ok {
			t.Error("collections are not the driver's")
		}
	})

	t.Run("a bad URI fails Open", func(t *testing.T) {
		if _, err := mongotx.Open(ctx, mongotx.Options{URI: "mongodb://a:27017,b:27018/?directConnection=true"}); err == nil {
			t.Error("Open accepted a direct connection to two hosts")
		}
		if _, err := mongotx.Open(ctx, mongotx.Options{URI: "postgres://host"}); err == nil {
			t.Error("Open accepted a non-MongoDB URI")
		}
	})

	t.Run("fn runs in a driver transaction, joined by nested calls", func(t *testing.T) {
		cl := open(t)
		var outer, inner mongo.Session
		err := cl.Transact(ctx, func(ctx context.Context) error {
			outer = mongo.SessionFromContext(ctx)
			return cl.Transact(ctx, func(ctx context.Context) error {
				inner = mongo.SessionFromContext(ctx)
				if !mongotx.InTransaction(ctx) {
					t.Error("InTransaction = false")
				}
				return nil
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		if outer == nil {
			t.Fatal("fn's context carries no driver session: operations would run outside the transaction")
		}
		xs, ok := outer.(mongo.XSession)
		if !ok {
			t.Fatalf("session is a %T", outer)
		}
		if !xs.ClientSession().TransactionCommitted() {
			t.Errorf("the session's transaction state after Transact is not committed")
		}
		if inner != outer {
			t.Error("a nested Transact got another session: it did not join the transaction")
		}
	})

	// The store methods wrap errors with %w; the label must still be found.
	writeConflict := mongo.CommandError{Code: 112, Name: "WriteConflict", Message: "write conflict", Labels: []string{"TransientTransactionError"}}

	t.Run("transient errors are retried by the driver", func(t *testing.T) {
		cl := open(t)
		attempts := 0
		err := cl.Transact(ctx, func(ctx context.Context) error {
			attempts++
			if !mongo.SessionFromContext(ctx).(mongo.XSession).ClientSession().TransactionStarting() {
				t.Errorf("attempt %d: no transaction started", attempts)
			}
			if attempts < 3 {
				return fmt.Errorf("save: %w", writeConflict)
			}
			return nil
		})
		if err != nil || attempts != 3 {
			t.Errorf("Transact = %v after %d attempts, want nil after 3", err, attempts)
		}
	})

	t.Run("other errors are returned at once", func(t *testing.T) {
		cl := open(t)
		attempts := 0
		err := cl.Transact(ctx, func(context.Context) error { attempts++; return errBoom })
		if !errors.Is(err, errBoom) || attempts != 1 {
			t.Errorf("Transact = %v after %d attempts, want errBoom after 1", err, attempts)
		}
	})

	// The driver retries for 120 s whatever the context says: before
	// Transact stopped it, this spun through millions of attempts.
	t.Run("no retries once ctx is done", func(t *testing.T) {
		cl := open(t)
		cctx, cancel := context.WithCancel(ctx)
		attempts := 0
		var err error
		within(t, 10*time.Second, func() {
			err = cl.Transact(cctx, func(context.Context) error {
				attempts++
				cancel()
				return fmt.Errorf("save: %w", writeConflict)
			})
		})
		var ce mongo.CommandError
		if !errors.As(err, &ce) || ce.Code != 112 || attempts != 1 {
			t.Errorf("Transact = %v after %d attempts, want the write conflict after 1", err, attempts)
		}
	})
}

func TestIsUnavailable(t *testing.T) {
	ctx := context.Background()
	cl, err := mongotx.Open(ctx, mongotx.Options{URI: closedPort})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cl.Close(ctx) }()

	pingErr := cl.Ping(ctx)

	// An operation in a transaction on an unreachable server: the driver
	// labels the server selection error TransientTransactionError, and
	// would retry it for 120 s.
	var txErr error
	attempts := 0
	within(t, 10*time.Second, func() {
		txErr = cl.Transact(ctx, func(ctx context.Context) error {
			attempts++
			_, err := cl.Database("db").Collection("c").InsertOne(ctx, bson.M{"a": 1})
			return fmt.Errorf("insert: %w", err)
		})
	})
	if attempts != 1 {
		t.Errorf("Transact on an unreachable server ran fn %d times, want once", attempts)
	}

	// The same with a deadline shorter than the server selection timeout.
	slow, err := mongotx.Open(ctx, mongotx.Options{URI: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=60000"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = slow.Close(ctx) }()
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	var deadlineErr error
	attempts = 0
	within(t, 10*time.Second, func() {
		deadlineErr = slow.Transact(dctx, func(ctx context.Context) error {
			attempts++
			_, err := slow.Database("db").Collection("c").InsertOne(ctx, bson.M{"a": 1})
			return err
		})
	})
	if attempts != 1 {
		t.Errorf("Transact past its deadline ran fn %d times, want once", attempts)
	}

	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"ping, server selection error", pingErr, true},
		{"transaction, server selection error", txErr, true},
		{"transaction past its deadline", deadlineErr, true},
		{"deadline exceeded", fmt.Errorf("load: %w", context.DeadlineExceeded), true},
		{"transient transaction error", mongo.CommandError{Code: 112, Labels: []string{"TransientTransactionError"}}, true},
		{"network error", mongo.CommandError{Labels: []string{"NetworkError"}}, true},
		{"nil", nil, false},
		{"duplicate key", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000}}}, false},
		{"not found", mongo.ErrNoDocuments, false},
		{"another error", errBoom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want && tt.err == nil {
				t.Fatal("the operation did not fail")
			}
			if got := mongotx.IsUnavailable(tt.err); got != tt.want {
				t.Errorf("IsUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// TestIsDuplicateKey checks the shapes the official driver reports a
// duplicate in (no server needed); TestIntegrationTransact checks the errors
// each backend really returns.
func TestIsDuplicateKey(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"write error 11000", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000, Message: "E11000 duplicate key error"}}}, true},
		{"bulk write error 11000", mongo.BulkWriteException{WriteErrors: []mongo.BulkWriteError{{WriteError: mongo.WriteError{Code: 11000}}}}, true},
		{"command error 11000", mongo.CommandError{Code: 11000}, true},
		{"wrapped", fmt.Errorf("insert payment: %w", mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 11000}}}), true},
		{"write conflict", mongo.CommandError{Code: 112, Labels: []string{"TransientTransactionError"}}, false},
		{"nil", nil, false},
		{"another error", errBoom, false},
	}
	for _, tt := range tests {
		if got := mongotx.IsDuplicateKey(tt.err); got != tt.want {
			t.Errorf("%s: IsDuplicateKey(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestIsHistoryLost(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"embedded engine's lost oplog position", fmt.Errorf("watch: %w", lungo.ErrLostOplogPosition), true},
		{"ChangeStreamHistoryLost", mongo.CommandError{Code: 286}, true},
		{"ChangeStreamFatalError", mongo.CommandError{Code: 280}, true},
		{"CappedPositionLost", mongo.CommandError{Code: 136}, true},
		{"network error", mongo.CommandError{Labels: []string{"NetworkError"}}, false},
		{"nil", nil, false},
	}
	for _, tt := range tests {
		if got := mongotx.IsHistoryLost(tt.err); got != tt.want {
			t.Errorf("%s: IsHistoryLost(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestNowHasMillisecondPrecision(t *testing.T) {
	now := mongotx.Now()
	if now.Location() != time.UTC || now.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("Now() = %v, want UTC whole milliseconds", now)
	}
}
