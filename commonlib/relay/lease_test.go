package relay

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// The replicas in these tests are Relay instances sharing one
// mongotx.Client, not separate processes: the embedded engine lives inside
// the process that opened it and is single-writer (its file cannot be
// shared between processes), so processes could not follow one database.
// Each instance has its own holder id, its own change stream and its own
// goroutines, and the instances coordinate only through the lease document,
// exactly as processes against one MongoDB replica set do.

const (
	testTTL   = time.Second
	testBatch = 5
)

// startReplicas starts n relays on one store, each with its own holder id,
// a 1s lease and small batches.
func startReplicas(t *testing.T, client *mongotx.Client, producer sarama.SyncProducer, n int) []*running {
	t.Helper()
	rs := make([]*running, n)
	for i := range rs {
		rs[i] = startRelay(t, client, producer, func(o *Options) {
			o.Holder = fmt.Sprintf("replica-%d", i)
			o.LeaseTTL = testTTL
			o.BatchSize = testBatch
		})
	}
	return rs
}

// leaderWatch samples the replicas' Stats every millisecond and keeps the
// largest number of simultaneous leaders it saw.
type leaderWatch struct {
	most atomic.Int32
	stop func()
}

func watchLeaders(t *testing.T, rs []*running) *leaderWatch {
	t.Helper()
	w := &leaderWatch{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			n := int32(0)
			for _, r := range rs {
				if r.Stats().Leader {
					n++
				}
			}
			if n > w.most.Load() {
				w.most.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	w.stop = sync.OnceFunc(func() { cancel(); wg.Wait() })
	t.Cleanup(w.stop)
	return w
}

// leader waits until exactly one of rs leads and returns it; it fails at
// once when more than one leads. It looks every millisecond: tests time
// takeovers with it.
func leader(t *testing.T, rs []*running, timeout time.Duration) *running {
	t.Helper()
	var lead *running
	proctest.EventuallyEvery(t, timeout, time.Millisecond, "a replica to take the lease", func() error {
		var leaders []*running
		for _, r := range rs {
			if r.Stats().Leader {
				leaders = append(leaders, r)
			}
		}
		if len(leaders) > 1 {
			t.Fatalf("%d replicas lead at once", len(leaders))
		}
		if len(leaders) == 0 {
			return fmt.Errorf("none of %d replicas leads", len(rs))
		}
		lead = leaders[0]
		return nil
	})
	return lead
}

func others(rs []*running, not *running) []*running {
	var out []*running
	for _, r := range rs {
		if r != not {
			out = append(out, r)
		}
	}
	return out
}

func totalPublished(rs []*running) int64 {
	var n int64
	for _, r := range rs {
		n += r.Stats().Published
	}
	return n
}

// commitEvents commits n events of aggregates c-0..c-3 in transactions of
// two, with seq numbers from first on, and returns them.
func commitEvents(t *testing.T, client *mongotx.Client, first, n int) []outbox.Event {
	t.Helper()
	var events []outbox.Event
	for i := 0; i < n; i += 2 {
		evs := []outbox.Event{newEvent(fmt.Sprintf("c-%d", i%4), first+i)}
		if i+1 < n {
			evs = append(evs, newEvent(fmt.Sprintf("c-%d", (i+1)%4), first+i+1))
		}
		commit(t, client, evs...)
		events = append(events, evs...)
	}
	return events
}

// TestLeaseOneReplicaRelays: of three replicas exactly one takes the lease
// and publishes everything, once; the others only wait, knowing who holds
// it, and say so once. The lease renewals during publication keep it.
func TestLeaseOneReplicaRelays(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	rs := startReplicas(t, client, kafkatest.Producer(t, addrs), 3)
	watch := watchLeaders(t, rs)
	lead := leader(t, rs, 5*time.Second)
	// Events committed during the first sweep may be sent by the sweep and
	// by the stream: wait for it, so that any duplicate is the lease's fault.
	waitFor(t, "the first sweep", func() bool { return lead.Stats().Sweeps == 1 }, lead)

	var events []outbox.Event
	for round := 0; round < 8; round++ { // ~1.2s: several renewals
		events = append(events, commitEvents(t, client, round*5, 5)...)
		time.Sleep(150 * time.Millisecond)
	}
	waitFor(t, "every event", func() bool { return totalPublished(rs) >= int64(len(events)) }, lead)
	time.Sleep(200 * time.Millisecond)
	watch.stop()

	if got := watch.most.Load(); got != 1 {
		t.Errorf("most simultaneous leaders = %d, want 1", got)
	}
	if st := lead.Stats(); st.Published != int64(len(events)) || st.Leaderships != 1 || st.LeaseLost != 0 || st.Holder != lead.opts.Holder {
		t.Errorf("leader stats = %+v, want all %d published, 1 leadership, no lease lost, holder %q", st, len(events), lead.opts.Holder)
	}
	for _, r := range others(rs, lead) {
		t.Run(r.opts.Holder, func(t *testing.T) {
			st := r.Stats()
			if st.Leader || st.Published != 0 || st.Leaderships != 0 || st.Holder != lead.opts.Holder {
				t.Errorf("standby stats = %+v, want not leader, nothing published, holder %q", st, lead.opts.Holder)
			}
			if n := r.logs.count(slog.LevelInfo, "waiting for lease held by "+lead.opts.Holder); n != 1 {
				t.Errorf("INFO lines about waiting = %d, want 1", n)
			}
		})
	}

	var doc bson.M
	id := shippedConfig(t).Name + "/" + testDB
	if err := client.Database(testDB).Collection(LeaseCollection).FindOne(context.Background(), bson.D{{Key: "_id", Value: id}}).Decode(&doc); err != nil {
		t.Fatalf("lease document %s: %v", id, err)
	}
	if doc["holder"] != lead.opts.Holder || doc["expiresAt"] == nil || doc["acquiredAt"] == nil {
		t.Errorf("lease document = %v, want holder %q, expiresAt and acquiredAt", doc, lead.opts.Holder)
	}

	records := kafkatest.ReadTopic(t, addrs, testTopic)
	if dups := checkRecords(t, records, events); dups != 0 {
		t.Errorf("duplicates = %d, want 0", dups)
	}
}

// TestLeaseTakeoverAfterCrash: when the leader stops without releasing the
// lease (a crash), a standby takes over once the lease expired, within
// TTL + TTL/3 of the crash and not before the lease ran out; every event
// committed meanwhile is published, duplicates stay within one batch.
func TestLeaseTakeoverAfterCrash(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	rs := startReplicas(t, client, kafkatest.Producer(t, addrs), 2)
	watch := watchLeaders(t, rs)
	first := leader(t, rs, 5*time.Second)

	events := commitEvents(t, client, 0, 10)
	waitFor(t, "the first events", published(first, 10), first)

	first.abandon.Store(true)
	crashed := time.Now()
	first.stop()
	during := commitEvents(t, client, 10, 10) // nobody relays now
	events = append(events, during...)
	second := leader(t, rs, 3*time.Second)
	took := time.Since(crashed)
	t.Logf("takeover after %v (TTL %v)", took, testTTL)
	if limit := testTTL + testTTL/3 + 150*time.Millisecond; took > limit {
		t.Errorf("takeover took %v, want within TTL+TTL/3 (%v, with scheduling slack)", took, limit)
	}
	if took < testTTL/2 {
		t.Errorf("takeover after %v: the lease of a crashed holder must be waited for (it expires 2/3 TTL to TTL after the last renewal)", took)
	}

	events = append(events, commitEvents(t, client, 20, 10)...)
	waitFor(t, "every event", func() bool { return totalPublished(rs) >= int64(len(events)) }, second)
	time.Sleep(200 * time.Millisecond)
	watch.stop()

	if got := watch.most.Load(); got != 1 {
		t.Errorf("most simultaneous leaders = %d, want 1", got)
	}
	if second == first {
		t.Fatal("the crashed relay leads again")
	}
	records := kafkatest.ReadTopic(t, addrs, testTopic)
	dups := checkRecords(t, records, events)
	if dups > testBatch {
		t.Errorf("duplicates = %d, want at most one batch (%d)", dups, testBatch)
	}
	t.Logf("records %d, events %d, duplicates %d", len(records), len(events), dups)
}

// TestLeaseGracefulHandover: a leader that stops releases the lease and a
// standby takes over at once (well under 500ms with a 1s TTL), twice in a
// row; nothing is lost or published twice.
func TestLeaseGracefulHandover(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	rs := startReplicas(t, client, kafkatest.Producer(t, addrs), 3)
	watch := watchLeaders(t, rs)

	var events []outbox.Event
	live := rs
	for round := 0; round < 3; round++ {
		lead := leader(t, live, 5*time.Second)
		evs := commitEvents(t, client, round*10, 10)
		events = append(events, evs...)
		waitFor(t, "the round's events", func() bool { return totalPublished(rs) >= int64(len(events)) }, lead)
		if round == 2 {
			break
		}
		live = others(live, lead)
		stopped := time.Now()
		lead.stop()
		next := leader(t, live, 2*time.Second)
		took := time.Since(stopped)
		t.Logf("round %d: %s handed over to %s in %v", round, lead.opts.Holder, next.opts.Holder, took)
		if took >= 500*time.Millisecond {
			t.Errorf("handover took %v, want < 500ms", took)
		}
		if n := lead.logs.count(slog.LevelInfo, "lease released"); n != 1 {
			t.Errorf("INFO lines about the release = %d, want 1", n)
		}
	}
	time.Sleep(200 * time.Millisecond)
	watch.stop()

	if got := watch.most.Load(); got != 1 {
		t.Errorf("most simultaneous leaders = %d, want 1", got)
	}
	for _, r := range rs {
		if st := r.Stats(); st.Leaderships != 1 {
			t.Errorf("%s: leaderships = %d, want 1 (each replica led once)", r.opts.Holder, st.Leaderships)
		}
	}
	records := kafkatest.ReadTopic(t, addrs, testTopic)
	if dups := checkRecords(t, records, events); dups != 0 {
		t.Errorf("duplicates = %d, want 0 (a stopping leader checkpoints its last batch)", dups)
	}
}

// TestLeaseLostToAnotherHolder: when a renewal finds another holder, the
// relay stops relaying within a renewal interval, waits (naming the
// holder), and resumes once the lease is free again.
func TestLeaseLostToAnotherHolder(t *testing.T) {
	client := openStore(t)
	addrs := startCluster(t)
	r := startReplicas(t, client, kafkatest.Producer(t, addrs), 1)[0]
	ctx := context.Background()
	leader(t, []*running{r}, 5*time.Second)
	events := commitEvents(t, client, 0, 2)
	waitFor(t, "the first events", published(r, 2), r)

	leases := client.Database(testDB).Collection(LeaseCollection)
	id := bson.D{{Key: "_id", Value: shippedConfig(t).Name + "/" + testDB}}
	if _, err := leases.UpdateOne(ctx, id, bson.D{{Key: "$set", Value: bson.D{
		{Key: "holder", Value: "intruder"}, {Key: "expiresAt", Value: time.Now().Add(time.Hour)},
	}}}); err != nil {
		t.Fatal(err)
	}
	taken := time.Now()
	waitFor(t, "the relay to step down", func() bool { return !r.Stats().Leader }, r)
	if took := time.Since(taken); took > testTTL/3+200*time.Millisecond {
		t.Errorf("stepped down after %v, want within a renewal interval (%v)", took, testTTL/3)
	}
	waitFor(t, "the relay to see the intruder", func() bool { return r.Stats().Holder == "intruder" }, r)
	held := commitEvents(t, client, 2, 2)
	time.Sleep(400 * time.Millisecond)
	if st := r.Stats(); st.Published != 2 || st.LeaseLost != 1 {
		t.Errorf("while another holds the lease: stats %+v, want 2 published and 1 lease lost", st)
	}
	if n := r.logs.count(slog.LevelInfo, "waiting for lease held by intruder"); n != 1 {
		t.Errorf("INFO lines about waiting for the intruder = %d, want 1", n)
	}

	if _, err := leases.UpdateOne(ctx, id, bson.D{{Key: "$set", Value: bson.D{{Key: "expiresAt", Value: time.Now().Add(-time.Second)}}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the events after the lease came back", published(r, 4), r)
	r.stop()
	events = append(events, held...)
	if st := r.Stats(); st.Leaderships != 2 {
		t.Errorf("leaderships = %d, want 2", st.Leaderships)
	}
	if dups := checkRecords(t, kafkatest.ReadTopic(t, addrs, testTopic), events); dups != 0 {
		t.Errorf("duplicates = %d, want 0", dups)
	}
}

// TestLeaseAcquireIsExclusive races replicas for a free lease: exactly one
// wins (the others' upserts fail on the duplicate _id and report the
// winner), renewals by losers fail, and an expired lease goes to the next
// one asking.
func TestLeaseAcquireIsExclusive(t *testing.T) {
	client := openStore(t)
	db := client.Database(testDB)
	ctx := context.Background()
	const n = 8
	leases := make([]*lease, n)
	for i := range leases {
		leases[i] = newLease(db, "connector", testDB, fmt.Sprintf("replica-%d", i), time.Hour)
	}
	type result struct {
		won    bool
		holder string
		err    error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, l := range leases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			won, cur, err := l.acquire(ctx)
			results[i] = result{won, cur.Holder, err}
		}()
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("replica-%d: acquire error %v", i, r.err)
		}
		if r.won {
			if winner >= 0 {
				t.Fatalf("replica-%d and replica-%d both acquired the lease", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatal("no replica acquired the free lease")
	}
	want := leases[winner].holder
	for i, r := range results {
		if r.holder != want {
			t.Errorf("replica-%d: sees holder %q, want %q", i, r.holder, want)
		}
	}
	loser := leases[(winner+1)%n]
	if ok, _, err := loser.renew(ctx); ok || err != nil {
		t.Errorf("renew by a replica not holding the lease = %v, %v; want false, nil", ok, err)
	}
	if ok, _, err := leases[winner].renew(ctx); !ok || err != nil {
		t.Errorf("renew by the holder = %v, %v; want true, nil", ok, err)
	}
	if won, _, err := leases[winner].acquire(ctx); !won || err != nil {
		t.Errorf("acquire by the holder again = %v, %v; want true, nil", won, err)
	}

	if err := leases[winner].release(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Millisecond)
	if won, cur, err := loser.acquire(ctx); !won || err != nil || cur.Holder != loser.holder {
		t.Errorf("acquire after release = %v, holder %q, %v; want true, %q, nil", won, cur.Holder, err, loser.holder)
	}
	if ok, _, err := leases[winner].renew(ctx); ok || err != nil {
		t.Errorf("renew by the former holder = %v, %v; want false, nil", ok, err)
	}
}

// TestLeaseExclusiveStoreTakesOver: a lease whose holder died without
// releasing it (kill -9) is taken at once by a lease told the store is
// exclusive, and waited for otherwise; the dead holder, were it to renew,
// would find it gone.
func TestLeaseExclusiveStoreTakesOver(t *testing.T) {
	tests := []struct {
		name       string
		exclusive  bool
		wantWon    bool
		wantHolder string
	}{
		{"exclusive store: taken at once", true, true, "restarted"},
		{"shared store: held until it expires", false, false, "killed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openStore(t).Database(testDB)
			ctx := context.Background()
			killed := newLease(db, "connector", testDB, "killed", time.Hour)
			if won, _, err := killed.acquire(ctx); !won || err != nil {
				t.Fatalf("first acquire = %v, %v; want true, nil", won, err)
			}
			restarted := newLease(db, "connector", testDB, "restarted", time.Hour)
			restarted.exclusive.Store(tt.exclusive)

			won, cur, err := restarted.acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if won != tt.wantWon || cur.Holder != tt.wantHolder {
				t.Errorf("acquire over an unexpired lease = %v, holder %q; want %v, %q", won, cur.Holder, tt.wantWon, tt.wantHolder)
			}
			stored, err := killed.current(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if stored.Holder != tt.wantHolder {
				t.Errorf("stored holder = %q, want %q", stored.Holder, tt.wantHolder)
			}
			if ok, _, err := killed.renew(ctx); ok != !tt.wantWon || err != nil {
				t.Errorf("renew by the old holder = %v, %v; want %v, nil", ok, err, !tt.wantWon)
			}
		})
	}
}

// TestLeaseExclusiveStoreRelayResumesAtOnce: a relay restarted on its
// exclusive store after a crash leads and publishes at once, although the
// crashed holder's lease is valid for another hour; without the option it
// keeps waiting for that holder.
func TestLeaseExclusiveStoreRelayResumesAtOnce(t *testing.T) {
	tests := []struct {
		name      string
		exclusive bool
		wantLead  bool
	}{
		{"exclusive store", true, true},
		{"shared store", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := openStore(t)
			addrs := startCluster(t)
			crashed := newLease(client.Database(testDB), shippedConfig(t).Name, testDB, "crashed", time.Hour)
			if won, _, err := crashed.acquire(context.Background()); !won || err != nil {
				t.Fatalf("crashed holder's acquire = %v, %v; want true, nil", won, err)
			}
			events := commitEvents(t, client, 0, 4)

			started := time.Now()
			r := startRelayBefore(t, client, kafkatest.Producer(t, addrs), func(r *Relay) {
				if tt.exclusive {
					r.AssumeExclusiveStore()
				}
			}, func(o *Options) { o.Holder, o.LeaseTTL = "restarted", testTTL })
			if !tt.wantLead {
				time.Sleep(2 * testTTL)
				if st := r.Stats(); st.Leader || st.Published != 0 || st.Holder != "crashed" {
					t.Errorf("stats = %+v, want not leading, nothing published, holder %q", st, "crashed")
				}
				return
			}
			leader(t, []*running{r}, 5*time.Second)
			if took := time.Since(started); took > testTTL/3 {
				t.Errorf("led after %v, want at once (within a lease poll, %v): the crashed holder's lease must not be waited for", took, testTTL/3)
			}
			waitFor(t, "every event", published(r, int64(len(events))), r)
			if n := r.logs.count(slog.LevelInfo, "took over the unexpired lease of crashed"); n != 1 {
				t.Errorf("INFO lines about the takeover = %d, want 1", n)
			}
			r.stop()
			if dups := checkRecords(t, kafkatest.ReadTopic(t, addrs, testTopic), events); dups != 0 {
				t.Errorf("duplicates = %d, want 0", dups)
			}
		})
	}
}
