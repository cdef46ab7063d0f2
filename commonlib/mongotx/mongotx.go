// Package mongotx opens a MongoDB-shaped store and runs units of work in
// transactions.
//
// The same code runs on two backends: an embedded lungo engine persisted to a
// file (the embedded profile, no server needed) and a real MongoDB replica set
// reached through lungo.Connect. Both are used through lungo's interfaces,
// which mirror the official driver.
//
// A transaction is carried by the context: Transact called with a context
// that already belongs to a transaction joins it instead of starting another.
// This lets a consumer record the consumed event and call a store method that
// opens its own transaction, and have both commit together.
//
// A real MongoDB must be a replica set (or a sharded cluster) of version 4.4
// or later: transactions and change streams need one, and 4.4 is the first
// to create a collection implicitly inside a transaction. Its URI must reach
// the primary: either the replica-set form, which follows a failover,
//
//	mongodb://mongodb1:27017,mongodb2:27018/?replicaSet=local-mongodb-replica-set
//
// or a direct connection to the member that is primary, which does not:
//
//	mongodb://localhost:27017/?directConnection=true
//
// A bare mongodb://host:port to one member of a set discovers the whole set
// under the names the members were configured with, which may not resolve
// where the client runs. Transactions use the client's read and write
// concerns: on MongoDB 5.0 and later the default write concern is majority
// (unless the set has an arbiter); on older servers, or with an arbiter, add
// w=majority to the URI so that a commit the caller was told about survives a
// failover.
//
// It does not define collections, documents or indexes: stores do.
package mongotx

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"
	"go.mongodb.org/mongo-driver/mongo/readpref"
	"go.mongodb.org/mongo-driver/x/mongo/driver/topology"
	"go.opentelemetry.io/otel/codes"

	"github.com/sagaoutbox/platform/commonlib/mongotx/journal"
	"github.com/sagaoutbox/platform/commonlib/tracing"
)

// Options selects and tunes the backend.
type Options struct {
	// URI of a MongoDB replica set (see the package comment for the form
	// it needs). Empty selects the embedded engine.
	URI string
	// Dir holds the embedded engine's files (package journal). Required
	// when URI is empty.
	Dir string
	// HistorySize bounds the embedded engine's change history (oplog
	// entries, each with its full document): a change stream that falls
	// further behind loses its position (IsHistoryLost). Zero selects
	// DefaultHistorySize.
	HistorySize int
	// WriteQueue bounds the transactions waiting to run: beyond it, new
	// work (NewWork) is refused with ErrSaturated. Zero selects
	// DefaultWriteQueue.
	WriteQueue int
	// Log receives the embedded store's lines (dropped journal tails,
	// migrations, compactions). Nil discards them.
	Log *slog.Logger
}

// Defaults of Options.
const (
	DefaultHistorySize = 10_000
	DefaultWriteQueue  = 128
)

// mongoConcurrentWrites is how many transactions run at once on a real
// MongoDB, which, unlike the embedded engine, runs them concurrently.
const mongoConcurrentWrites = 64

// Client is an open store.
type Client struct {
	lungo.IClient
	engine   *lungo.Engine
	journal  *journal.Store
	gate     *gate
	embedded bool
}

// Open connects to MongoDB, or opens the embedded engine under opts.Dir.
// Connecting does not wait for the server: a MongoDB that cannot be reached
// shows in the first operation (or Ping), as an error IsUnavailable
// recognises.
func Open(ctx context.Context, opts Options) (*Client, error) {
	queue := opts.WriteQueue
	if queue <= 0 {
		queue = DefaultWriteQueue
	}
	if opts.URI != "" {
		cl, err := lungo.Connect(ctx, options.Client().ApplyURI(opts.URI))
		if err != nil {
			return nil, fmt.Errorf("connect to mongodb: %w", err)
		}
		return &Client{IClient: cl, gate: newGate(mongoConcurrentWrites, queue)}, nil
	}
	if opts.Dir == "" {
		return nil, errors.New("embedded store needs a directory")
	}
	j, err := journal.Open(journal.Options{Dir: opts.Dir, Log: opts.Log})
	if err != nil {
		return nil, fmt.Errorf("open embedded store in %s: %w", opts.Dir, err)
	}
	history := opts.HistorySize
	if history <= 0 {
		history = DefaultHistorySize
	}
	cl, engine, err := lungo.Open(ctx, lungo.Options{
		Store:        j,
		MinOplogSize: history,
		MaxOplogSize: history,
		// By count alone: lungo's default keeps every entry younger than
		// five minutes, which under load is most of the store.
		MinOplogAge: time.Nanosecond,
	})
	if err != nil {
		_ = j.Close()
		return nil, fmt.Errorf("open embedded store in %s: %w", opts.Dir, err)
	}
	return &Client{IClient: cl, engine: engine, journal: j, gate: newGate(1, queue), embedded: true}, nil
}

// Embedded reports whether the client runs the in-process engine.
func (c *Client) Embedded() bool { return c.embedded }

// Ping checks that the store answers and, embedded, that it can write.
func (c *Client) Ping(ctx context.Context) error {
	if c.journal != nil {
		if err := c.journal.Check(); err != nil {
			return err
		}
	}
	return c.IClient.Ping(ctx, readpref.Primary())
}

// Close disconnects from MongoDB or flushes and closes the embedded engine.
func (c *Client) Close(ctx context.Context) error {
	if c.engine != nil {
		c.engine.Close()
		return c.journal.Close()
	}
	return c.IClient.Disconnect(ctx)
}

type txKey struct{}

// Transact runs fn in a transaction and commits it when fn returns nil.
// Every store operation inside fn must use the context fn receives. When ctx
// already belongs to a transaction, fn joins it.
//
// On a real replica set the driver's WithTransaction retries fn when it fails
// with a transient transaction error (such as a write conflict with a
// concurrent transaction) and retries a commit whose result is unknown, for
// up to 120 seconds; so fn may run more than once and must not have side
// effects outside the store. Transact stops those retries, returning fn's
// error, once ctx is done or the store cannot be reached at all (server
// selection failed): the driver would otherwise go on for the whole 120
// seconds whatever ctx says, and in a tight loop once ctx has expired. The
// embedded engine runs one write transaction at a time, so its transactions
// never conflict and are not retried.
//
// Transactions are admitted in order, steps before new work, with a
// bounded queue: see NewWork and ErrSaturated.
func (c *Client) Transact(ctx context.Context, fn func(ctx context.Context) error) error {
	if InTransaction(ctx) {
		return fn(ctx)
	}
	if err := c.gate.acquire(ctx, isNewWork(ctx)); err != nil {
		return err
	}
	defer c.gate.release(time.Now())
	// The span is the parent of what the transaction writes (outbox
	// events take their traceparent from it).
	ctx, span := tracing.Tracer().Start(ctx, "mongotx.transaction")
	defer span.End()
	var stopped error
	err := c.IClient.UseSession(ctx, func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (interface{}, error) {
			err := fn(context.WithValue(tc, txKey{}, true))
			if err != nil && (ctx.Err() != nil || serverSelectionFailed(err)) {
				// Hand WithTransaction an error without the
				// TransientTransactionError label, so it returns.
				stopped = err
				return nil, errStopRetrying
			}
			return nil, err
		})
		return err
	})
	if stopped != nil && errors.Is(err, errStopRetrying) {
		err = stopped
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return err
}

// errStopRetrying ends the driver's retries in Transact; never returned.
var errStopRetrying = errors.New("mongotx: stop retrying the transaction")

// serverSelectionFailed reports whether err says no server could be chosen
// to run an operation: none reachable, or none suitable (no primary) within
// the server selection timeout.
func serverSelectionFailed(err error) bool {
	var sse topology.ServerSelectionError
	return errors.As(err, &sse) || strings.Contains(err.Error(), "server selection error")
}

// InTransaction reports whether ctx belongs to a transaction opened by Transact.
func InTransaction(ctx context.Context) bool {
	v, _ := ctx.Value(txKey{}).(bool)
	return v
}

// IsDuplicateKey reports whether err is a unique index violation, from either
// backend (lungo's is not recognised by mongo.IsDuplicateKeyError).
func IsDuplicateKey(err error) bool {
	return err != nil && (mongo.IsDuplicateKeyError(err) || lungo.IsUniquenessError(err))
}

// IsUnavailable reports whether err means the store could not be reached or
// did not answer in time: worth retrying later, not a fault of the request.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ue *journal.UnavailableError
	if errors.As(err, &ue) {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) && se.HasErrorLabel("TransientTransactionError") {
		return true
	}
	return serverSelectionFailed(err)
}

// IsHistoryLost reports whether a change stream cannot resume because its
// position has left the change history (the oplog), so the caller must
// re-read the collection instead.
func IsHistoryLost(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, lungo.ErrLostOplogPosition) || strings.Contains(err.Error(), "unable to resume change stream") {
		return true
	}
	var se mongo.ServerError
	if errors.As(err, &se) {
		// 286 ChangeStreamHistoryLost, 280 ChangeStreamFatalError, 136 CappedPositionLost.
		return se.HasErrorCode(286) || se.HasErrorCode(280) || se.HasErrorCode(136)
	}
	return false
}

// ParseURI checks that s is empty (the embedded engine) or a MongoDB URI.
func ParseURI(s string) (string, error) {
	if s != "" && !strings.HasPrefix(s, "mongodb://") && !strings.HasPrefix(s, "mongodb+srv://") {
		return s, errors.New("must start with mongodb:// or mongodb+srv://")
	}
	return s, nil
}

// RedactURI hides the password of a MongoDB URI, for logs. The credentials
// end at the last @ before the options, so a password holding an unescaped
// @ or / is hidden whole.
func RedactURI(uri string) string {
	scheme, rest, ok := strings.Cut(uri, "://")
	if !ok {
		return uri
	}
	at := strings.LastIndex(strings.SplitN(rest, "?", 2)[0], "@")
	if at < 0 {
		return uri
	}
	user, _, hasPassword := strings.Cut(rest[:at], ":")
	if !hasPassword {
		return uri
	}
	return scheme + "://" + user + ":***" + rest[at:]
}

// Now returns the current time rounded to the millisecond, the precision
// MongoDB stores, so a value reads back equal to what was written.
func Now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }
