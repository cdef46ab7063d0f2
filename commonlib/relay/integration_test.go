package relay

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/google/uuid"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
)

// envBrokers is a Kafka broker list, e.g. localhost:9093, that points the
// integration test at a real Kafka. The MongoDB replica set is
// mongotest.EnvURI's.
const envBrokers = "KAFKA_TEST_BROKERS"

// integrationTTL is the lease TTL against real systems: long enough for
// network round trips, short enough for the takeover to be quick.
const integrationTTL = 2 * time.Second

// TestIntegrationRelay runs the relay against a real Kafka
// (KAFKA_TEST_BROKERS) and a real MongoDB replica set (MONGODB_TEST_URI):
// records per the contract on a unique topic, a sweep of what was there
// before the start, resume after a restart from the stored resume token,
// and a lease takeover between two relays with their own connections.
// With KAFKA_TEST_BROKERS alone, the subtest "embedded" runs the same
// scenarios on the embedded store (and "mongodb" is skipped), so the Kafka
// half can be checked against devkafka where no MongoDB is at hand.
func TestIntegrationRelay(t *testing.T) {
	brokersEnv := os.Getenv(envBrokers)
	if brokersEnv == "" {
		t.Skipf("integration test: set %s (a Kafka broker list) and %s (a MongoDB replica set URI) to run it against real systems; %s alone runs it on the embedded store",
			envBrokers, mongotest.EnvURI, envBrokers)
	}
	brokers, err := kafkaclient.ParseBrokers(brokersEnv)
	if err != nil {
		t.Fatalf("%s: %v", envBrokers, err)
	}
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		runIntegration(t, b.Open(t), brokers)
	})
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// runIntegration runs the scenarios on store's database; each relay
// replica has a client of its own (store.Connect), as each process has.
func runIntegration(t *testing.T, store *mongotest.Store, brokers []string) {
	ctx := context.Background()
	// A unique aggregateType gives this run a topic of its own.
	aggregateType := "relayit" + randomHex(t, 4)
	topic := "outbox.event." + aggregateType
	ectx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := kafkaclient.EnsureTopics(ectx, brokers, []string{topic}); err != nil {
		t.Fatalf("create %s on %s: %v", topic, envBrokers, err)
	}
	parts := int32(kafkatest.PartitionCount(t, brokers, topic))
	dbName := store.DB.Name()
	t.Logf("database %s, topic %s (%d partitions)", dbName, topic, parts)

	cfg := shippedConfig(t)
	cfg.Databases = []string{dbName}
	cfg.ExcludedCollections = []string{dbName + ".consumed-events"}
	producer := kafkatest.Producer(t, brokers)

	client := store.Client
	db := store.DB
	seq := 0
	newEvents := func(n int) []outbox.Event {
		var evs []outbox.Event
		for range n {
			seq++
			agg := fmt.Sprintf("c-%d", seq%5)
			evs = append(evs, outbox.New(aggregateType, agg, "CustomerUpdated", bson.D{
				{Key: "customerId", Value: agg}, {Key: "seq", Value: int32(seq)},
			}))
		}
		return evs
	}
	var events []outbox.Event
	// commit writes like a service: the domain change and the outbox
	// append in one transaction.
	commitN := func(n int) {
		t.Helper()
		evs := newEvents(n)
		err := client.Transact(ctx, func(ctx context.Context) error {
			if _, err := db.Collection("customers").InsertOne(ctx, bson.D{{Key: "_id", Value: uuid.NewString()}}); err != nil {
				return err
			}
			return outbox.Open(db, testOutbox).Append(ctx, evs...)
		})
		if err != nil {
			t.Fatalf("commit: %v", err)
		}
		events = append(events, evs...)
	}
	start := func(c *mongotx.Client, holder string) *running {
		return startRelay(t, c, producer, func(o *Options) {
			o.Config, o.Database = cfg, dbName
			o.Holder, o.LeaseTTL, o.BatchSize = holder, integrationTTL, testBatch
		})
	}
	records := func() []*sarama.ConsumerMessage { return kafkatest.ReadTopic(t, brokers, topic) }

	t.Run("sweep then stream", func(t *testing.T) {
		commitN(2) // before any relay: swept
		r := start(client, "first")
		waitFor(t, "the sweep", func() bool { return r.Stats().Sweeps == 1 && r.Stats().Published >= 2 }, r)
		for range 3 {
			commitN(2)
		}
		// Not published: an excluded collection, a collection the
		// predicate does not match, and domain updates.
		err := client.Transact(ctx, func(ctx context.Context) error {
			if _, err := db.Collection("consumed-events").InsertOne(ctx, bson.D{{Key: "_id", Value: uuid.NewString()}, {Key: "aggregateType", Value: aggregateType}, {Key: "payload", Value: bson.D{}}}); err != nil {
				return err
			}
			if _, err := db.Collection("audit").InsertOne(ctx, bson.D{{Key: "aggregateType", Value: aggregateType}, {Key: "payload", Value: bson.D{}}}); err != nil {
				return err
			}
			_, err := db.Collection("customers").UpdateMany(ctx, bson.D{}, bson.D{{Key: "$set", Value: bson.D{{Key: "touched", Value: true}}}})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		commitN(1)
		waitFor(t, "every event", published(r, int64(len(events))), r)
		time.Sleep(300 * time.Millisecond)
		r.stop()

		recs := records()
		if dups := checkRecordsOn(t, recs, events, topic, parts); dups != 0 || len(recs) != len(events) {
			t.Errorf("records = %d with %d duplicates, want %d and none", len(recs), dups, len(events))
		}
		through, err := r.PublishedThrough(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if newest := events[len(events)-1].CreatedAt; !through.Equal(newest) {
			t.Errorf("PublishedThrough() = %v, want %v", through, newest)
		}
	})

	t.Run("resume after restart", func(t *testing.T) {
		before := len(events)
		commitN(2)
		commitN(2)
		r := start(client, "second")
		waitFor(t, "the events committed while stopped", published(r, int64(len(events)-before)), r)
		commitN(1)
		waitFor(t, "the event after the restart", published(r, int64(len(events)-before)), r)
		time.Sleep(300 * time.Millisecond)
		r.stop()
		if st := r.Stats(); st.Sweeps != 0 || st.HistoryLost != 0 || st.Published != int64(len(events)-before) {
			t.Errorf("stats = %+v, want %d published from the stored resume token, no sweep", st, len(events)-before)
		}
		recs := records()
		if dups := checkRecordsOn(t, recs, events, topic, parts); dups != 0 || len(recs) != len(events) {
			t.Errorf("records = %d with %d duplicates, want %d and none", len(recs), dups, len(events))
		}
	})

	t.Run("lease takeover", func(t *testing.T) {
		rs := []*running{start(store.Connect(t), "replica-a"), start(store.Connect(t), "replica-b")}
		lead := leader(t, rs, 10*time.Second)
		base := len(events)
		commitN(5)
		waitFor(t, "the leader's events", func() bool { return totalPublished(rs) >= int64(len(events)-base) }, lead)

		lead.abandon.Store(true) // a crash: the lease is not released
		crashed := time.Now()
		lead.stop()
		commitN(5) // nobody relays now
		next := leader(t, others(rs, lead), 3*integrationTTL)
		took := time.Since(crashed)
		t.Logf("takeover after %v (TTL %v)", took, integrationTTL)
		if limit := integrationTTL + integrationTTL/3 + 500*time.Millisecond; took > limit {
			t.Errorf("takeover took %v, want within TTL+TTL/3 (%v with slack)", took, limit)
		}
		commitN(5)
		waitFor(t, "every event", func() bool { return totalPublished(rs) >= int64(len(events)-base) }, next)
		time.Sleep(300 * time.Millisecond)
		next.stop()

		recs := records()
		dups := checkRecordsOn(t, recs, events, topic, parts)
		if dups > testBatch {
			t.Errorf("duplicates = %d, want at most one batch (%d)", dups, testBatch)
		}
		t.Logf("records %d, events %d, duplicates %d", len(recs), len(events), dups)
	})
}
