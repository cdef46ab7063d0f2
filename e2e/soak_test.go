package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// soakDown is how long a killed process stays down before it is restarted.
const soakDown = time.Second

// soakConvergeTimeout bounds the wait for convergence after the last fault.
const soakConvergeTimeout = 5 * time.Minute

// The soak test's sizes: the short run is part of make test, the full one
// is make soak (SOAK=1). SOAK_REGISTRATIONS, SOAK_FAULTS and SOAK_INTERVAL
// override either.
var (
	shortSoak = soakConfig{registrations: 150, faults: 3, interval: 3 * time.Second}
	fullSoak  = soakConfig{registrations: 10000, faults: 30, interval: 6 * time.Second}
)

type soakConfig struct {
	registrations, faults int
	// interval is the time between two faults; the registrations are
	// spread evenly over faults × interval.
	interval time.Duration
}

func loadSoakConfig(t *testing.T) soakConfig {
	cfg := shortSoak
	if os.Getenv("SOAK") == "1" {
		cfg = fullSoak
	}
	cfg.registrations = envInts(t, "SOAK_REGISTRATIONS", strconv.Itoa(cfg.registrations))[0]
	cfg.faults = envInts(t, "SOAK_FAULTS", strconv.Itoa(cfg.faults))[0]
	if s := os.Getenv("SOAK_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= soakDown {
			t.Fatalf("SOAK_INTERVAL=%q: want a duration above %v", s, soakDown)
		}
		cfg.interval = d
	}
	if cfg.registrations < 1 || cfg.faults < 1 {
		t.Fatalf("SOAK_REGISTRATIONS and SOAK_FAULTS must be at least 1, got %d and %d", cfg.registrations, cfg.faults)
	}
	return cfg
}

// TestSoak is make soak: concurrent registrations, one in ten unable to pay
// the fee, while devkafka, customer-service and payment-service are killed
// with SIGKILL in turn and restarted on their data directories, the
// registrations continuing meanwhile (POSTs refused while customer-service
// is down are retried; only the accepted ones count). After the last
// restart it waits for the platform to converge and checks that nothing
// was lost or done twice: every accepted registration ended as its balance
// decides, each success has exactly one authorized payment and each failure
// none, and every outbox event of both services is on Kafka. It prints the
// time to converge after the last restart and what each restart cost.
//
// make test runs a short version (150 registrations, 3 faults).
func TestSoak(t *testing.T) {
	p := newPlatform(t)
	cfg := loadSoakConfig(t)
	p.customerEnv = []string{"LOG_LEVEL=info"}
	p.paymentEnv = []string{"LOG_LEVEL=info"}
	p.start()
	procs := []startedProc{{p.customer, time.Now()}, {p.payment, time.Now()}}

	rate := float64(cfg.registrations) / (float64(cfg.faults) * cfg.interval.Seconds())
	fmt.Printf("soak: %d registrations at %.1f/s, %d faults (kill -9 in turn: devkafka, customer-service, payment-service), one every %v, each down %v\n",
		cfg.registrations, rate, cfg.faults, cfg.interval, soakDown)
	sl := newSoakLoad(p)
	start := time.Now()
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		sl.run(cfg.registrations, rate)
	}()

	// Faults, on the test goroutine (starting a process may fail the test).
	var restarts []restart
	for k := range cfg.faults {
		time.Sleep(time.Until(start.Add(time.Duration((float64(k) + 0.5) * float64(cfg.interval)))))
		r := restart{target: []string{"devkafka", "customer-service", "payment-service"}[k%3]}
		switch r.target {
		case "devkafka":
			p.kafka.Kill()
		case "customer-service":
			p.customer.Kill()
		case "payment-service":
			p.payment.Kill()
		}
		time.Sleep(soakDown)
		r.started = time.Now()
		switch r.target {
		case "devkafka":
			p.startKafka()
		case "customer-service":
			p.startCustomer()
			procs = append(procs, startedProc{p.customer, r.started})
		case "payment-service":
			p.startPayment()
			procs = append(procs, startedProc{p.payment, r.started})
		}
		r.up = time.Now()
		restarts = append(restarts, r)
	}
	<-loadDone
	last := restarts[len(restarts)-1]
	accepted := sl.registrations()
	fmt.Printf("soak: %d registrations accepted in %.1f s (%d POSTs refused and retried); the last restart (%s, answering %.1f s after its start) was %.1f s before the last POST\n",
		len(accepted), sl.ended.Sub(start).Seconds(), sl.retried.Load(), last.target, last.up.Sub(last.started).Seconds(), sl.ended.Sub(last.started).Seconds())
	if n := sl.unexpected.Load(); n > 0 {
		t.Errorf("%d POSTs answered neither 201 nor 503; first: %v", n, sl.firstUnexpected.Load())
	}

	// Convergence: every accepted registration ended, every outbox event
	// on its topic.
	conv := p.awaitConvergence(t, accepted)
	detected := time.Since(last.started)
	settled := conv.settled.Sub(last.started)
	fmt.Printf("soak: converged %.1f s after the last restart, %.1f s after the last POST (last saga step or record at %s; seen after %.1f s)\n",
		settled.Seconds(), conv.settled.Sub(sl.ended).Seconds(), conv.settled.Format("15:04:05.000"), detected.Seconds())
	printRestartCosts(t, restarts, procs)

	// Invariants.
	p.checkSagas(t, accepted, conv.customers)
	customerTopic, paymentTopic, dlt := p.topicEvents(t, "outbox.event.customer"), p.topicEvents(t, "outbox.event.payment"), p.topicEvents(t, "DLT")
	if dlt.records > 0 {
		t.Errorf("%d records on DLT, want none", dlt.records)
	}
	p.customer.Stop(t)
	p.payment.Stop(t)
	// Each service's mongostore.Database and OutboxCollection (internal
	// to the services).
	customerOutbox := outboxIDs(t, filepath.Join(p.dataDir, "customer-service"), "customers-db", "customer-events")
	paymentOutbox := outboxIDs(t, filepath.Join(p.dataDir, "payment-service"), "payments-db", "payment-events")
	for _, c := range []struct {
		name   string
		outbox []string
		topic  topicEvents
	}{
		{"customer-service", customerOutbox, customerTopic},
		{"payment-service", paymentOutbox, paymentTopic},
	} {
		var missing []string
		for _, id := range c.outbox {
			if c.topic.ids[id] == 0 {
				missing = append(missing, id)
			}
		}
		if len(missing) > 0 {
			t.Errorf("%s: %d of %d outbox events are not on Kafka, e.g. %v", c.name, len(missing), len(c.outbox), missing[:min(5, len(missing))])
		}
		fmt.Printf("soak: %s: %d outbox events, %d on Kafka, %d records (%d duplicates)\n",
			c.name, len(c.outbox), len(c.outbox)-len(missing), c.topic.records, c.topic.records-len(c.topic.ids))
	}
	if t.Failed() {
		fmt.Println("soak: FAILED")
		return
	}
	fmt.Printf("soak: ok: %d registrations, %d faults, converged %.1f s after the last restart\n", len(accepted), cfg.faults, settled.Seconds())
}

// restart is one fault: target killed, then started again soakDown later.
type restart struct {
	target      string
	started, up time.Time // process started; answering (HTTP, or TCP for devkafka)
}

// startedProc is a service process and when it was started.
type startedProc struct {
	proc    *proctest.Proc
	started time.Time
}

// registration is one accepted POST.
type registration struct {
	id      string
	balance int
}

// soakLoad posts registrations at a steady rate from a pool of clients,
// retrying every POST that is refused until it is accepted.
type soakLoad struct {
	p               *platform
	client          *http.Client
	mu              sync.Mutex
	accepted        []registration
	retried         atomic.Int64
	unexpected      atomic.Int64
	firstUnexpected atomic.Value
	ended           time.Time
}

func newSoakLoad(p *platform) *soakLoad {
	tr := &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64, IdleConnTimeout: time.Minute}
	return &soakLoad{p: p, client: &http.Client{Transport: tr, Timeout: 15 * time.Second}}
}

// run posts n registrations, one falling due every 1/rate seconds, from
// 32 clients; registrations due while every client is retrying (while
// customer-service is down) wait for the next free one.
func (sl *soakLoad) run(n int, rate float64) {
	due := make(chan int, n)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range due {
				sl.register(balance(i))
			}
		}()
	}
	start := time.Now()
	for i := range n {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		due <- i
	}
	close(due)
	wg.Wait()
	sl.ended = time.Now()
}

// register posts until customer-service accepts, retrying while it is
// down (no answer) or saturated (503).
func (sl *soakLoad) register(balance int) {
	body := bodyWithBalance(strconv.Itoa(balance))
	for {
		resp, err := sl.client.Post(sl.p.customerURL("/customers"), "application/json", strings.NewReader(body))
		if err != nil {
			sl.retried.Add(1)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil, resp.StatusCode == http.StatusServiceUnavailable:
			sl.retried.Add(1)
			time.Sleep(100 * time.Millisecond)
			continue
		case resp.StatusCode == http.StatusCreated:
			var c customer
			if err := json.Unmarshal(b, &c); err != nil || c.ID == "" {
				sl.noteUnexpected(fmt.Errorf("201 with body %s", b))
				return
			}
			sl.mu.Lock()
			sl.accepted = append(sl.accepted, registration{id: c.ID, balance: balance})
			sl.mu.Unlock()
			return
		default:
			sl.noteUnexpected(fmt.Errorf("%d %s", resp.StatusCode, b))
			return
		}
	}
}

func (sl *soakLoad) noteUnexpected(err error) {
	if sl.unexpected.Add(1) == 1 {
		sl.firstUnexpected.Store(err)
	}
}

func (sl *soakLoad) registrations() []registration {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	return slices.Clone(sl.accepted)
}

// convergence is the platform's state once it converged.
type convergence struct {
	customers map[string]customer
	// settled is when the last saga step committed or the last record
	// was relayed, from the data itself (updatedAt, record timestamps),
	// so it does not depend on how often the test looks.
	settled time.Time
}

// awaitConvergence waits until every accepted registration has ended and
// each service's topic holds as many distinct events as its outbox.
func (p *platform) awaitConvergence(t *testing.T, accepted []registration) convergence {
	t.Helper()
	deadline := time.Now().Add(soakConvergeTimeout)
	client := &http.Client{Timeout: 15 * time.Second}
	conv := convergence{customers: make(map[string]customer, len(accepted))}
	pending := make([]string, 0, len(accepted))
	for _, r := range accepted {
		pending = append(pending, r.id)
	}
	proctest.EventuallyEvery(t, time.Until(deadline), 250*time.Millisecond, "every accepted registration to end", func() error {
		var mu sync.Mutex
		var still []string
		forEach(len(pending), 8, func(i int) {
			c, err := getCustomer(client, p.customerURL("/customers/"+pending[i]))
			mu.Lock()
			defer mu.Unlock()
			if err != nil || !terminal(c.Status) {
				still = append(still, pending[i])
				return
			}
			conv.customers[c.ID] = c
			if c.UpdatedAt.After(conv.settled) {
				conv.settled = c.UpdatedAt
			}
		})
		pending = still
		if len(pending) > 0 {
			return fmt.Errorf("%d of %d registrations not ended, e.g. %v", len(pending), len(accepted), pending[:min(5, len(pending))])
		}
		return nil
	})
	for _, svc := range []struct{ outbox, topic string }{
		{p.customerURL("/outbox"), "outbox.event.customer"},
		{p.paymentURL("/outbox"), "outbox.event.payment"},
	} {
		proctest.EventuallyEvery(t, time.Until(deadline), 500*time.Millisecond, "every event of "+svc.outbox+" on "+svc.topic, func() error {
			events, err := outboxEvents(client, svc.outbox)
			if err != nil {
				return err
			}
			if end := topicEnd(t, p.kafkaAddr, svc.topic); end < events {
				return fmt.Errorf("%d records on the topic, %d events in the outbox", end, events)
			}
			te := p.topicEvents(t, svc.topic)
			if int64(len(te.ids)) < events {
				return fmt.Errorf("%d distinct events on the topic, %d in the outbox", len(te.ids), events)
			}
			if te.last.After(conv.settled) {
				conv.settled = te.last
			}
			return nil
		})
	}
	return conv
}

// getCustomer GETs a customer from customer-service.
func getCustomer(client *http.Client, url string) (customer, error) {
	var c customer
	resp, err := client.Get(url)
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return c, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return c, json.NewDecoder(resp.Body).Decode(&c)
}

// outboxEvents is the size of a service's outbox (GET <base>/outbox).
func outboxEvents(client *http.Client, url string) (int64, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Events int64 `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	if st.Events < 0 {
		return 0, fmt.Errorf("%s: outbox size unknown", url)
	}
	return st.Events, nil
}

// checkSagas checks each accepted registration's end and payments: a
// balance that covers the fee (2.00) succeeds with exactly one authorized
// payment, one that does not fails with none.
func (p *platform) checkSagas(t *testing.T, accepted []registration, customers map[string]customer) {
	t.Helper()
	client := &http.Client{Timeout: 15 * time.Second}
	var mu sync.Mutex
	var bad []string
	note := func(format string, args ...any) {
		mu.Lock()
		bad = append(bad, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	var successes, failures atomic.Int64
	forEach(len(accepted), 8, func(i int) {
		r := accepted[i]
		c := customers[r.id]
		wantSuccess := r.balance >= 2
		switch {
		case wantSuccess && c.Status != "REGISTRATION_SUCCESS":
			note("%s (balance %d): %s %s, want REGISTRATION_SUCCESS", r.id, r.balance, c.Status, c.FailureReason)
		case !wantSuccess && (c.Status != "REGISTRATION_FAILED" || c.FailureReason != "NO_BALANCE_LEFT"):
			note("%s (balance %d): %s %s, want REGISTRATION_FAILED NO_BALANCE_LEFT", r.id, r.balance, c.Status, c.FailureReason)
		}
		var ps []payment
		resp, err := client.Get(p.paymentURL("/payments?customerId=" + r.id))
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&ps)
			resp.Body.Close()
		}
		if err != nil {
			note("%s: payments: %v", r.id, err)
			return
		}
		authorized := 0
		for _, pm := range ps {
			if pm.Authorized {
				authorized++
			}
		}
		wantAuthorized := 0
		if wantSuccess {
			wantAuthorized = 1
			successes.Add(1)
		} else {
			failures.Add(1)
		}
		if len(ps) != 1 || authorized != wantAuthorized {
			note("%s (balance %d): %d payments, %d authorized; want 1 payment, %d authorized", r.id, r.balance, len(ps), authorized, wantAuthorized)
		}
	})
	if len(bad) > 0 {
		sort.Strings(bad)
		t.Errorf("%d of %d registrations broke an invariant, e.g.:\n%s", len(bad), len(accepted), strings.Join(bad[:min(10, len(bad))], "\n"))
	}
	fmt.Printf("soak: %d registrations ended: %d successes (each one authorized payment), %d failures (no authorized payment); %d broke an invariant\n",
		len(accepted), successes.Load(), failures.Load(), len(bad))
}

// topicEvents is what a topic holds: records per event id (the eventId
// header) and the newest record's timestamp.
type topicEvents struct {
	ids     map[string]int
	records int
	last    time.Time
}

// topicEvents reads every record of topic; a topic that does not exist is
// empty.
func (p *platform) topicEvents(t *testing.T, topic string) topicEvents {
	t.Helper()
	te := topicEvents{ids: make(map[string]int)}
	recs, err := kafkatest.Records([]string{p.kafkaAddr}, topic)
	if errors.Is(err, sarama.ErrUnknownTopicOrPartition) {
		return te // no such topic (DLT before anything was dead-lettered)
	}
	if err != nil {
		t.Fatalf("read %s: %v", topic, err)
	}
	for _, m := range recs {
		te.records++
		for _, h := range m.Headers {
			if string(h.Key) == kafkaheader.EventID {
				te.ids[string(h.Value)]++
			}
		}
		if m.Timestamp.After(te.last) {
			te.last = m.Timestamp
		}
	}
	return te
}

// outboxIDs opens a stopped service's store and returns the ids of its
// outbox events.
func outboxIDs(t *testing.T, dir, database, collection string) []string {
	t.Helper()
	ctx := context.Background()
	client := mongotest.Open(t, func(o *mongotx.Options) { o.Dir = dir }).Client
	defer client.Close(ctx) // at once, not when t ends: it holds the directory's lock
	cur, err := client.Database(database).Collection(collection).Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	var docs []struct {
		ID string `bson:"_id"`
	}
	if err := cur.All(ctx, &docs); err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no outbox events in %s.%s", dir, database, collection)
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	return ids
}

// printRestartCosts prints, per kind of restart, how long after the
// process started its relay led again and its consumers had partitions
// (for a devkafka restart: the services' consumers), from the services'
// logs.
func printRestartCosts(t *testing.T, restarts []restart, procs []startedProc) {
	t.Helper()
	type sample struct{ relay, consumer []time.Duration }
	costs := map[string]*sample{}
	for _, r := range restarts {
		s := costs[r.target]
		if s == nil {
			s = &sample{}
			costs[r.target] = s
		}
		for _, sp := range procs {
			restarted := sp.started.Equal(r.started)
			if r.target == "devkafka" && !sp.started.Before(r.started) || r.target != "devkafka" && !restarted {
				continue // started after this restart, or not the one restarted
			}
			out := sp.proc.Output()
			if restarted {
				if at, ok := firstLogAfter(out, "lease acquired; relaying", r.started); ok {
					s.relay = append(s.relay, at.Sub(r.started))
				}
			}
			if at, ok := firstLogAfter(out, "partitions assigned", r.started); ok {
				s.consumer = append(s.consumer, at.Sub(r.started))
			}
		}
	}
	for _, target := range []string{"devkafka", "customer-service", "payment-service"} {
		s := costs[target]
		if s == nil {
			continue
		}
		what := "restarted service's"
		if target == "devkafka" {
			what = "services'"
		}
		fmt.Printf("soak: after a %s restart: %s relay leading after %s, consumers assigned partitions after %s\n",
			target, what, spread(s.relay), spread(s.consumer))
	}
}

var logTime = regexp.MustCompile(`(?m)^time=(\S+) .*msg="?([^"=]*)`)

// firstLogAfter is the time of the first log line of out whose message
// starts with msg, logged after after.
func firstLogAfter(out, msg string, after time.Time) (time.Time, bool) {
	for _, m := range logTime.FindAllStringSubmatch(out, -1) {
		if !strings.HasPrefix(m[2], msg) {
			continue
		}
		at, err := time.Parse(time.RFC3339, m[1])
		if err == nil && at.After(after) {
			return at, true
		}
	}
	return time.Time{}, false
}

// spread renders durations as "median (max), n samples".
func spread(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return fmt.Sprintf("%.1f s median, %.1f s max (%d)", s[len(s)/2].Seconds(), s[len(s)-1].Seconds(), len(s))
}
