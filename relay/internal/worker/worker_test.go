package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/debezium"
	"github.com/sagaoutbox/platform/relay/internal/autotopic"
	"github.com/sagaoutbox/platform/relay/internal/configstore"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// shipped returns debezium/connector.json as a registration.
func shipped(t *testing.T) worker.Connector {
	t.Helper()
	var reg struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
	}
	if err := json.Unmarshal(debezium.Connector, &reg); err != nil {
		t.Fatal(err)
	}
	return worker.Connector{Name: reg.Name, Config: reg.Config}
}

func openStore(t *testing.T) *mongotx.Client { return mongotest.Open(t).Client }

// producer connects to an in-process kfake broker, creating topics on
// first use like outbox-relay does.
func producer(t *testing.T) sarama.SyncProducer {
	t.Helper()
	addrs := kafkatest.Start(t).ListenAddrs()
	return autotopic.New(kafkatest.Producer(t, addrs), func(ctx context.Context, topics []string) error {
		return kafkaclient.EnsureTopics(ctx, addrs, topics)
	})
}

// policy allows the shipped registration's databases.
var policy = worker.Policy{
	AllowedDatabases: []string{"customers-db", "payments-db"},
	OwnDatabase:      "outbox-relay",
	OwnCollection:    configstore.Collection,
}

// startWorker runs a worker on client until the test ends.
func startWorker(t *testing.T, client *mongotx.Client, id string, edit func(*worker.Options)) *worker.Worker {
	t.Helper()
	opts := worker.Options{
		ID:                id,
		Store:             configstore.New(client.Database("outbox-relay")),
		Client:            client,
		Policy:            policy,
		LeaseTTL:          time.Second,
		ReconcileInterval: 50 * time.Millisecond,
		Log:               slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&opts)
	}
	w, err := worker.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	proctest.Go(t, "worker "+id, w.Run)
	return w
}

// eventually polls cond until it holds; its second result, the state it
// saw, is the last error.
func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	proctest.EventuallyEvery(t, 10*time.Second, 10*time.Millisecond, what, func() error {
		if ok, state := cond(); !ok {
			return fmt.Errorf("last: %s", state)
		}
		return nil
	})
}

func taskStates(st worker.Status) string {
	var b strings.Builder
	for _, ts := range st.Tasks {
		b.WriteString(ts.Database + "=" + ts.State.State + "@" + ts.WorkerID + " " + ts.Trace + "; ")
	}
	return b.String()
}

func allTasks(st worker.Status, state, workerID string) bool {
	if len(st.Tasks) == 0 {
		return false
	}
	for _, ts := range st.Tasks {
		if ts.State.State != state || (workerID != "" && ts.WorkerID != workerID) {
			return false
		}
	}
	return true
}

// TestWorkersShareRegistrationsAndLeases: two workers on one store (they
// stand for two processes; see commonlib/relay's lease tests for why one
// process) see a registration made through either, and each database is
// relayed by one of them, which both report as the task's worker.
func TestWorkersShareRegistrationsAndLeases(t *testing.T) {
	client := openStore(t)
	p := producer(t)
	a := startWorker(t, client, "worker-a:8083", nil)
	a.SetProducer(p)
	ctx := context.Background()
	c := shipped(t)
	if _, created, err := a.Put(ctx, c.Name, c.Config); err != nil || !created {
		t.Fatalf("Put() = created %v, %v; want created", created, err)
	}
	var st worker.Status
	eventually(t, "worker a to relay both databases", func() (bool, string) {
		st, _ = a.Status(ctx, c.Name)
		return allTasks(st, worker.StateRunning, "worker-a:8083"), taskStates(st)
	})
	if got := []string{st.Tasks[0].Database, st.Tasks[1].Database}; got[0] != "customers-db" || got[1] != "payments-db" {
		t.Errorf("task databases = %v, want database.include.list order", got)
	}

	b := startWorker(t, client, "worker-b:8083", nil)
	b.SetProducer(p)
	eventually(t, "worker b to see a's relays as the tasks' workers", func() (bool, string) {
		st, _ = b.Status(ctx, c.Name)
		return allTasks(st, worker.StateRunning, "worker-a:8083"), taskStates(st)
	})

	before := readLease(t, client, c.Name, "customers-db")

	// An update through b reaches a; a restarts its relays with it, so
	// the lease is acquired anew.
	c.Config["transforms.outbox.table.op.invalid.behavior"] = "error"
	if _, created, err := b.Put(ctx, c.Name, c.Config); err != nil || created {
		t.Fatalf("update Put() = created %v, %v; want updated", created, err)
	}
	eventually(t, "a to run the updated configuration", func() (bool, string) {
		got, err := a.Get(ctx, c.Name)
		sa, _ := a.Status(ctx, c.Name)
		sb, _ := b.Status(ctx, c.Name)
		return err == nil && got.Config["transforms.outbox.table.op.invalid.behavior"] == "error" &&
			allTasks(sa, worker.StateRunning, "") && allTasks(sb, worker.StateRunning, ""), taskStates(sa) + " | " + taskStates(sb)
	})
	eventually(t, "the lease to be acquired again", func() (bool, string) {
		l := readLease(t, client, c.Name, "customers-db")
		return l.AcquiredAt.After(before.AcquiredAt) && l.ExpiresAt.After(time.Now()), ""
	})

	// A delete through b stops a's relays too.
	if err := b.Delete(ctx, c.Name); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Status(ctx, c.Name); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("Status() after delete = %v, want ErrNotFound", err)
	}
	for _, db := range []string{"customers-db", "payments-db"} {
		eventually(t, "the relays of "+db+" to stop and release the lease", func() (bool, string) {
			l := readLease(t, client, c.Name, db)
			return l.ExpiresAt.Before(time.Now()), l.Holder
		})
	}
	if err := b.Delete(ctx, c.Name); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("second Delete() = %v, want ErrNotFound", err)
	}
}

type lease struct {
	Holder     string    `bson:"holder"`
	ExpiresAt  time.Time `bson:"expiresAt"`
	AcquiredAt time.Time `bson:"acquiredAt"`
}

func readLease(t *testing.T, client *mongotx.Client, name, db string) lease {
	t.Helper()
	var l lease
	err := client.Database(db).Collection(relay.LeaseCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: name + "/" + db}}).Decode(&l)
	if err != nil {
		t.Fatalf("lease of %s: %v", db, err)
	}
	return l
}

// failingProducer gets no acknowledgement while down is set.
type failingProducer struct {
	sarama.SyncProducer
	down atomic.Bool
}

func (p *failingProducer) SendMessages(msgs []*sarama.ProducerMessage) error {
	if p.down.Load() {
		return sarama.ErrOutOfBrokers
	}
	return p.SyncProducer.SendMessages(msgs)
}

// TestTaskFailedAfterThreshold: a relay that keeps failing is FAILED once
// FailAfter passed, with a trace naming the database and the error; only
// that task is restarted by a restart of failed tasks; the state clears
// when the cause is gone. A worker whose Kafka never answered reports its
// tasks FAILED too.
func TestTaskFailedAfterThreshold(t *testing.T) {
	client := openStore(t)
	ctx := context.Background()
	p := &failingProducer{SyncProducer: producer(t)}
	p.down.Store(true)
	w := startWorker(t, client, "worker-a:8083", func(o *worker.Options) { o.FailAfter = 300 * time.Millisecond })
	w.SetProducer(p)
	c := shipped(t)
	if _, _, err := w.Put(ctx, c.Name, c.Config); err != nil {
		t.Fatal(err)
	}
	db := client.Database("customers-db")
	if err := client.Transact(ctx, func(ctx context.Context) error {
		return outbox.Open(db, "customer-events").Append(ctx, outbox.New("customer", "c-1", "CustomerCreated", bson.D{{Key: "id", Value: "c-1"}}))
	}); err != nil {
		t.Fatal(err)
	}
	var st worker.Status
	eventually(t, "the customers-db task to fail", func() (bool, string) {
		st, _ = w.Status(ctx, c.Name)
		return len(st.Tasks) == 2 && st.Tasks[0].State.State == worker.StateFailed, taskStates(st)
	})
	if tr := st.Tasks[0].Trace; !strings.Contains(tr, "customers-db") || !strings.Contains(tr, "kafka did not acknowledge") && !strings.Contains(tr, sarama.ErrOutOfBrokers.Error()) {
		t.Errorf("trace = %q, want the database and the Kafka error", tr)
	}
	if st.Tasks[1].State.State != worker.StateRunning {
		t.Errorf("payments-db task = %+v, want RUNNING (its outbox is empty)", st.Tasks[1])
	}
	if st.Connector.State != worker.StateRunning {
		t.Errorf("connector = %+v, want RUNNING", st.Connector)
	}
	restarted, err := w.Restart(ctx, c.Name, true)
	if err != nil || len(restarted) != 1 || restarted[0] != 0 {
		t.Errorf("Restart(onlyFailed) = %v, %v; want [0]", restarted, err)
	}
	p.down.Store(false)
	eventually(t, "the task to recover", func() (bool, string) {
		st, _ = w.Status(ctx, c.Name)
		return allTasks(st, worker.StateRunning, "worker-a:8083"), taskStates(st)
	})

	t.Run("no kafka", func(t *testing.T) {
		client := openStore(t)
		w := startWorker(t, client, "worker-b:8083", func(o *worker.Options) { o.FailAfter = 200 * time.Millisecond })
		if _, _, err := w.Put(ctx, c.Name, c.Config); err != nil {
			t.Fatal(err)
		}
		st, _ := w.Status(ctx, c.Name)
		if !allTasks(st, worker.StateUnassigned, "worker-b:8083") {
			t.Errorf("before FailAfter: %s, want UNASSIGNED", taskStates(st))
		}
		time.Sleep(250 * time.Millisecond)
		st, _ = w.Status(ctx, c.Name)
		if !allTasks(st, worker.StateFailed, "") || !strings.Contains(st.Tasks[0].Trace, "no Kafka producer") {
			t.Errorf("after FailAfter: %s, want FAILED naming Kafka", taskStates(st))
		}
	})
}

// TestPutRefuses: configurations outbox-relay cannot run are refused with
// every problem named, and nothing is stored.
func TestPutRefuses(t *testing.T) {
	client := openStore(t)
	w := startWorker(t, client, "worker-a:8083", nil)
	ctx := context.Background()
	tests := []struct {
		name     string
		edit     map[string]string
		want     []string
		problems int
	}{
		{"json keys", map[string]string{"key.converter": "org.apache.kafka.connect.json.JsonConverter"}, []string{"key.converter", "JsonConverter"}, 1},
		{"database pattern", map[string]string{"database.include.list": "customers-.*"}, []string{"database.include.list", "customers-.*", "literal"}, 1},
		{"no database list", map[string]string{"database.include.list": ""}, []string{"database.include.list is missing"}, 1},
		{"two refused settings", map[string]string{"key.converter": "x", "errors.tolerance": "all"}, []string{"key.converter", "errors.tolerance"}, 2},
		{"refused setting and pattern", map[string]string{"key.converter": "x", "database.include.list": "customers-db,pay.*"}, []string{"key.converter", "pay.*"}, 2},
		{"own database", map[string]string{"database.include.list": "customers-db,outbox-relay"}, []string{"database.include.list", "own database"}, 1},
		{"database not allowed", map[string]string{"database.include.list": "orders-db"}, []string{"database.include.list", "orders-db", "RELAY_ALLOWED_DATABASES"}, 1},
		{"password", map[string]string{"mongodb.password": "s3cr3t"}, []string{"mongodb.password is refused"}, 1},
		{"password and refused setting", map[string]string{"mongodb.password": "s3cr3t", "errors.tolerance": "all"}, []string{"mongodb.password", "errors.tolerance"}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := shipped(t)
			for k, v := range tt.edit {
				if v == "" {
					delete(c.Config, k)
				} else {
					c.Config[k] = v
				}
			}
			_, _, err := w.Put(ctx, c.Name, c.Config)
			var ie *worker.InvalidConfigError
			if !errors.As(err, &ie) {
				t.Fatalf("Put() error = %v, want an InvalidConfigError", err)
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q quotes the password", err)
			}
			if len(ie.Problems) != tt.problems {
				t.Errorf("problems = %q, want %d", ie.Problems, tt.problems)
			}
			if all, _ := w.List(ctx); len(all) != 0 {
				t.Errorf("stored %d registrations after a refusal", len(all))
			}
		})
	}
}

// TestPolicyAllowsNothingByDefault: the zero Policy refuses every
// database, so a worker built without one relays nothing.
func TestPolicyAllowsNothingByDefault(t *testing.T) {
	c := shipped(t)
	c.Config["name"] = c.Name
	_, err := worker.Policy{}.Validate(c)
	var ie *worker.InvalidConfigError
	if !errors.As(err, &ie) || len(ie.Problems) != 2 || !strings.Contains(err.Error(), "none are allowed") {
		t.Errorf("Validate() = %v, want both databases refused, none allowed", err)
	}
}

// TestCredential: which settings count as credentials.
func TestCredential(t *testing.T) {
	tests := []struct {
		key, value string
		refused    bool
	}{
		{"mongodb.user", "admin", true},
		{"mongodb.password", "pw-9f3k", true},
		{"MongoDB.Password", "pw-9f3k", true},
		{"mongodb.ssl.keystore.password", "pw-9f3k", true},
		{"mongodb.ssl.truststore.password", "pw-9f3k", true},
		{"producer.override.sasl.jaas.config", "pw-9f3k", true},
		{"mongodb.connection.string", "mongodb://admin:pw-9f3k@h1:27017,h2:27018/?replicaSet=rs", true},
		{"mongodb.connection.string", "mongodb+srv://admin@cluster.example.net/", true},
		{"mongodb.connection.string", "mongodb://h1:27017/?tlsCertificateKeyFilePassword=pw-9f3k", true},
		{"mongodb.connection.string", "mongodb://h1:27017/?authMechanism=MONGODB-AWS&authMechanismProperties=AWS_SESSION_TOKEN:pw-9f3k", true},
		{"mongodb.connection.string", "mongodb://mongodb1:27017,mongodb2:27018/?replicaSet=local-mongodb-replica-set&readPreference=primary&serverSelectionTimeoutMS=5000&connectTimeoutMS=10000", false},
		{"mongodb.connection.string", "mongodb://h1:27017/?authSource=admin", false},
		{"mongodb.authsource", "admin", false},
		{"mongodb.name", "mongodb-connector", false},
		{"transforms.outbox.route.tombstone.on.empty.payload", "true", false},
		{"database.include.list", "customers-db", false},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			why := worker.Credential(tt.key, tt.value)
			if got := why != ""; got != tt.refused {
				t.Errorf("Credential(%q, %q) = %q; want refused %v", tt.key, tt.value, why, tt.refused)
			}
			if strings.Contains(why, tt.value) {
				t.Errorf("Credential(%q, %q) = %q quotes the value", tt.key, tt.value, why)
			}
			redacted := worker.Redact(map[string]string{tt.key: tt.value})[tt.key]
			if want := map[bool]string{true: worker.Hidden, false: tt.value}[tt.refused]; redacted != want {
				t.Errorf("Redact() shows %q, want %q", redacted, want)
			}
		})
	}
}
