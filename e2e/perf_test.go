package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
	"github.com/sagaoutbox/platform/commonlib/mongotx"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestPerformanceReport is make bench: one run on the real binaries that
// measures the saga at growing stored sizes against the raw store rate
// underneath, an open loop at twice the capacity, the relay against a raw
// producer on the same broker and the consumers draining a backlog, and
// writes docs/bench/report.md and sagas.svg. Skipped unless BENCH_REPORT=1.
//
// BENCH_SIZES (0,10000,100000), BENCH_SAGAS (1000 per size), BENCH_BACKLOG
// (10000), BENCH_OPEN_SECONDS (30), BENCH_OUT (docs/bench) size it.
func TestPerformanceReport(t *testing.T) {
	if os.Getenv("BENCH_REPORT") != "1" {
		t.Skip("the performance report runs with make bench (BENCH_REPORT=1)")
	}
	skipShort(t)
	sizes := envInts(t, "BENCH_SIZES", "0,10000,100000")
	sagas := envInts(t, "BENCH_SAGAS", "1000")[0]
	backlog := envInts(t, "BENCH_BACKLOG", "10000")[0]
	openSeconds := envInts(t, "BENCH_OPEN_SECONDS", "30")[0]
	out := os.Getenv("BENCH_OUT")
	if out == "" {
		root, _ := filepath.Abs("..")
		out = filepath.Join(root, "docs", "bench")
	}

	p := newPlatform(t)
	// Quiet logs: the services' own logging is not what is measured.
	p.customerEnv = []string{"LOG_LEVEL=warn"}
	p.paymentEnv = []string{"LOG_LEVEL=warn"}
	p.start()
	l := newLoad(p)
	// Warm-up, not measured: consumer groups joined, connections open.
	// Its sagas count as stored.
	const warmUp = 200
	l.closedLoop(t, warmUp, 4)

	var rows []sizeRow
	stored := warmUp
	for _, size := range sizes {
		if size > stored {
			start := time.Now()
			l.fill(t, size-stored)
			t.Logf("filled to %d registrations in %s", size, time.Since(start).Round(time.Second))
			stored = size
		}
		row := sizeRow{Stored: stored}
		if stored > 0 {
			row.Startup = p.restartServices(t, false)
		}
		row.Closed = l.closedLoop(t, sagas, 4)
		row.CustomerRSS, row.PaymentRSS = rssMB(p.customer.Pid()), rssMB(p.payment.Pid())
		if stored > 0 {
			// The closed loop left a journal to replay.
			row.CrashStartup = p.restartServices(t, true)
		}
		row.RawTx = rawStoreTxPerSecond(t, stored)
		row.CustomerDisk, row.PaymentDisk = duMB(filepath.Join(p.dataDir, "customer-service")), duMB(filepath.Join(p.dataDir, "payment-service"))
		t.Logf("stored %d: %.1f sagas/s p99 %v raw %.0f tx/s", stored, row.Closed.SagasPerSec, row.Closed.P99, row.RawTx)
		rows = append(rows, row)
	}
	open := l.openLoop(t, 2*rows[0].Closed.SagasPerSec, time.Duration(openSeconds)*time.Second)
	relay := l.relayBacklog(t, backlog)
	drain := l.consumerBacklog(t, backlog)

	report := renderReport(rows, open, relay, drain, sagas, backlog)
	fmt.Println(report)
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "report.md"), []byte(report), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(out, "sagas.svg"), []byte(renderSVG(rows)), 0o644); err != nil {
		t.Fatal(err)
	}
}

func envInts(t *testing.T, name, def string) []int {
	s := os.Getenv(name)
	if s == "" {
		s = def
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			t.Fatalf("%s=%q: want non-negative integers separated by commas", name, s)
		}
		out = append(out, n)
	}
	return out
}

type loopResult struct {
	Sagas       int
	SagasPerSec float64
	P50, P99    time.Duration
}

type sizeRow struct {
	Stored                    int
	Closed                    loopResult
	RawTx                     float64
	Startup, CrashStartup     [2]time.Duration // customer, payment; after SIGTERM, after SIGKILL
	CustomerRSS, PaymentRSS   float64
	CustomerDisk, PaymentDisk float64
}

// load drives the services over HTTP with a pooled client.
type load struct {
	p      *platform
	client *http.Client
}

func newLoad(p *platform) *load {
	tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
	return &load{p: p, client: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

var errSaturated = fmt.Errorf("503")

// post registers one customer: its id, or errSaturated on a 503.
func (l *load) post(balance int) (string, error) {
	body := bodyWithBalance(strconv.Itoa(balance))
	resp, err := l.client.Post(l.p.customerURL("/customers"), "application/json", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch resp.StatusCode {
	case http.StatusCreated:
		var c customer
		if err := json.Unmarshal(b, &c); err != nil {
			return "", err
		}
		return c.ID, nil
	case http.StatusServiceUnavailable:
		return "", errSaturated
	}
	return "", fmt.Errorf("POST: %d %s", resp.StatusCode, b)
}

// postRetrying retries 503 answers after a short pause.
func (l *load) postRetrying(t *testing.T, balance int) string {
	for {
		id, err := l.post(balance)
		if err == nil {
			return id
		}
		if err != errSaturated {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *load) get(id string) (customer, error) {
	return getCustomer(l.client, l.p.customerURL("/customers/"+id))
}

func terminal(status string) bool {
	return status == "REGISTRATION_SUCCESS" || status == "REGISTRATION_FAILED"
}

// waitTerminal polls one saga every poll until it ends.
func (l *load) waitTerminal(t *testing.T, id string, poll time.Duration) customer {
	var c customer
	proctest.EventuallyEvery(t, 2*time.Minute, poll, "saga "+id+" to end", func() error {
		var err error
		if c, err = l.get(id); err != nil {
			t.Fatal(err)
		}
		if !terminal(c.Status) {
			return fmt.Errorf("still %s", c.Status)
		}
		return nil
	})
	return c
}

// balance varies the registrations: one in ten cannot pay the fee.
func balance(i int) int {
	if i%10 == 9 {
		return 1
	}
	return 100 + i%50
}

// fill runs n sagas to their end through HTTP with 16 clients.
func (l *load) fill(t *testing.T, n int) {
	var done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Second):
				d := done.Load()
				t.Logf("fill: %d/%d (%.0f/s)", d, n, float64(d)/time.Since(start).Seconds())
			}
		}
	}()
	defer close(stop)
	forEach(n, 16, func(i int) {
		l.waitTerminal(t, l.postRetrying(t, balance(i)), 20*time.Millisecond)
		done.Add(1)
	})
}

// forEach calls fn(0..n-1) from workers goroutines, each taking the next
// index when it is done with its last, and returns when all are done.
func forEach(n, workers int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// closedLoop runs n sagas with c clients, each POSTing, then polling its
// saga every 5 ms until it ends; latency is POST start to the record's
// updatedAt.
func (l *load) closedLoop(t *testing.T, n, c int) loopResult {
	lat := make([]time.Duration, n)
	start := time.Now()
	forEach(n, c, func(i int) {
		began := time.Now()
		cust := l.waitTerminal(t, l.postRetrying(t, balance(i)), 5*time.Millisecond)
		lat[i] = cust.UpdatedAt.Sub(began)
	})
	took := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return loopResult{Sagas: n, SagasPerSec: float64(n) / took.Seconds(), P50: lat[n/2], P99: lat[n*99/100]}
}

type openResult struct {
	Offered, Seconds               float64
	Accepted, Rejected, Errors     int
	Completed                      int
	POSTP99                        time.Duration
	DrainAfter                     time.Duration
	AcceptedPerSec, RejectedPerSec float64
}

// openLoop offers rate registrations per second for d whatever the
// answers, then waits until every accepted one has ended.
func (l *load) openLoop(t *testing.T, rate float64, d time.Duration) openResult {
	res := openResult{Offered: rate, Seconds: d.Seconds()}
	var mu sync.Mutex
	var ids []string
	var lat []time.Duration
	var wg sync.WaitGroup
	interval := time.Duration(float64(time.Second) / rate)
	start := time.Now()
	for i := 0; time.Since(start) < d; i++ {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			began := time.Now()
			id, err := l.post(balance(i))
			took := time.Since(began)
			mu.Lock()
			defer mu.Unlock()
			lat = append(lat, took)
			switch {
			case err == nil:
				res.Accepted++
				ids = append(ids, id)
			case err == errSaturated:
				res.Rejected++
			default:
				res.Errors++
			}
		}()
	}
	wg.Wait()
	window := time.Since(start)
	// Completed within the window: read each saga's end time.
	loadEnd := start.Add(window)
	var latest time.Time
	for _, id := range ids {
		c := l.waitTerminal(t, id, 20*time.Millisecond)
		if c.UpdatedAt.Before(loadEnd) {
			res.Completed++
		}
		if c.UpdatedAt.After(latest) {
			latest = c.UpdatedAt
		}
	}
	res.DrainAfter = max(0, latest.Sub(loadEnd))
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) > 0 {
		res.POSTP99 = lat[len(lat)*99/100]
	}
	res.AcceptedPerSec = float64(res.Accepted) / window.Seconds()
	res.RejectedPerSec = float64(res.Rejected) / window.Seconds()
	res.Seconds = window.Seconds()
	return res
}

type backlogResult struct {
	Events             int
	RelayPerSec, Raw   float64
	RelayTook, RawTook time.Duration
	Records            int    // records read until every backlog event arrived
	RelayStatus        string // GET /outbox afterwards: sweeps, history lost
}

// relayBacklog stops the broker, registers n customers (the HTTP API keeps
// taking them), starts the broker and times the relay publishing them;
// then a raw sarama producer with the services' settings publishes as many
// records of the same size on the same broker.
func (l *load) relayBacklog(t *testing.T, n int) backlogResult {
	p := l.p
	topic := "outbox.event.customer"
	from := partitionEnds(t, p.kafkaAddr, topic)
	p.kafka.Stop(t)
	ids := postMany(t, l, n)
	p.startKafka()
	start := time.Now()
	// Every backlog registration's event on the topic: counting records
	// alone would also count a sweep's re-sends of older events.
	records := waitKeys(t, p.kafkaAddr, topic, from, ids, 5*time.Minute)
	took := time.Since(start)
	raw := rawProducerRate(t, p.kafkaAddr, sampleValue(t, p, topic), n)
	_, status := proctest.HTTP(t, "GET", p.customerURL("/outbox"), "")
	return backlogResult{Events: n, RelayPerSec: float64(n) / took.Seconds(), RelayTook: took, Raw: float64(n) / raw.Seconds(), RawTook: raw, Records: records, RelayStatus: status}
}

func partitionEnds(t *testing.T, addr, topic string) map[int32]int64 {
	return kafkatest.HighWaterMarks(t, []string{addr}, topic)
}

// waitKeys consumes topic from the given offsets until a record keyed by
// each of ids arrived, and returns how many records that took.
func waitKeys(t *testing.T, addr, topic string, from map[int32]int64, ids []string, timeout time.Duration) int {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	client, err := sarama.NewClient([]string{addr}, kafkaclient.Config("e2e-perf"))
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer client.Close()
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		t.Fatal(err)
	}
	defer consumer.Close()
	msgs := make(chan *sarama.ConsumerMessage, 1024)
	done := make(chan struct{})
	defer close(done)
	for part, off := range from {
		pc, err := consumer.ConsumePartition(topic, part, off)
		if err != nil {
			t.Fatal(err)
		}
		defer pc.Close()
		go func() {
			for m := range pc.Messages() {
				select {
				case msgs <- m:
				case <-done:
					return
				}
			}
		}()
	}
	deadline := time.After(timeout)
	records := 0
	for len(want) > 0 {
		select {
		case m := <-msgs:
			records++
			delete(want, strings.Trim(string(m.Key), `"`))
		case <-deadline:
			t.Fatalf("%d of %d backlog events not on %s after %v", len(want), len(ids), topic, timeout)
		}
	}
	return records
}

// consumerBacklog stops payment-service, registers n customers, waits
// until their events are on the topic, then times payment-service (and
// customer-service after it) taking every saga to its end.
func (l *load) consumerBacklog(t *testing.T, n int) backlogResult {
	p := l.p
	topic := "outbox.event.customer"
	before := topicEnd(t, p.kafkaAddr, topic)
	p.payment.Stop(t)
	ids := postMany(t, l, n)
	waitTopicEnd(t, p.kafkaAddr, topic, before+int64(n), 5*time.Minute)
	start := time.Now()
	p.startPayment()
	for _, id := range ids {
		l.waitTerminal(t, id, 20*time.Millisecond)
	}
	took := time.Since(start)
	return backlogResult{Events: n, RelayPerSec: float64(n) / took.Seconds(), RelayTook: took}
}

func postMany(t *testing.T, l *load, n int) []string {
	ids := make([]string, n)
	forEach(n, 16, func(i int) { ids[i] = l.postRetrying(t, balance(i)) })
	return ids
}

func topicEnd(t *testing.T, addr, topic string) int64 {
	var sum int64
	for _, off := range partitionEnds(t, addr, topic) {
		sum += off
	}
	return sum
}

func waitTopicEnd(t *testing.T, addr, topic string, want int64, timeout time.Duration) {
	proctest.EventuallyEvery(t, timeout, 20*time.Millisecond, fmt.Sprintf("%s to reach %d records", topic, want), func() error {
		if got := topicEnd(t, addr, topic); got < want {
			return fmt.Errorf("%d records", got)
		}
		return nil
	})
}

func sampleValue(t *testing.T, p *platform, topic string) []byte {
	recs := p.records(topic)
	if len(recs) == 0 {
		t.Fatal("no record to copy")
	}
	return []byte(recs[len(recs)-1].Value)
}

// rawProducerRate sends n records of value to a new topic with the
// services' producer settings, in SendMessages batches of the relay's size.
func rawProducerRate(t *testing.T, addr string, value []byte, n int) time.Duration {
	topic := "bench.raw"
	if err := kafkaclient.EnsureTopics(context.Background(), []string{addr}, []string{topic}); err != nil {
		t.Fatal(err)
	}
	producer, err := kafkaclient.NewSyncProducer([]string{addr}, "bench-raw")
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Close()
	const batch = 256 // relay.DefaultBatchSize
	start := time.Now()
	for sent := 0; sent < n; {
		msgs := make([]*sarama.ProducerMessage, 0, batch)
		for ; len(msgs) < batch && sent < n; sent++ {
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(strconv.Itoa(sent)), Value: sarama.ByteEncoder(value)})
		}
		if err := producer.SendMessages(msgs); err != nil {
			t.Fatal(err)
		}
	}
	return time.Since(start)
}

// restartServices stops both services (SIGTERM, or SIGKILL when crash),
// then starts each in turn and times it to healthy: customer, payment.
func (p *platform) restartServices(t *testing.T, crash bool) [2]time.Duration {
	if crash {
		p.customer.Kill()
		p.payment.Kill()
	} else {
		p.customer.Stop(t)
		p.payment.Stop(t)
	}
	start := time.Now()
	p.startCustomer()
	p.waitHealthy(p.customerURL("/health"))
	customer := time.Since(start)
	start = time.Now()
	p.startPayment()
	p.waitHealthy(p.paymentURL("/health"))
	return [2]time.Duration{customer, time.Since(start)}
}

// rawStoreTxPerSecond opens a fresh embedded store holding n customer-sized
// documents and measures single-insert transactions for two seconds.
func rawStoreTxPerSecond(t *testing.T, n int) float64 {
	ctx := context.Background()
	client := mongotest.Open(t).Client
	defer client.Close(ctx) // at once, not when t ends: the report opens a store per size
	coll := client.Database("raw").Collection("customers")
	doc := func(i int) bson.D {
		now := mongotx.Now()
		return bson.D{{Key: "_id", Value: fmt.Sprintf("%036d", i)}, {Key: "firstName", Value: "John"}, {Key: "lastName", Value: "Doe"},
			{Key: "status", Value: "REGISTRATION_SUCCESS"},
			{Key: "card", Value: bson.D{{Key: "last4", Value: "7890"}, {Key: "holderName", Value: "John Doe"}, {Key: "validThru", Value: "2030-05-04"}, {Key: "balance", Value: "98.00"}}},
			{Key: "version", Value: int64(2)}, {Key: "createdAt", Value: now}, {Key: "updatedAt", Value: now}}
	}
	for done := 0; done < n; {
		batch := make([]any, 0, 1000)
		for ; len(batch) < 1000 && done < n; done++ {
			batch = append(batch, doc(done))
		}
		if err := client.Transact(ctx, func(ctx context.Context) error { _, err := coll.InsertMany(ctx, batch); return err }); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	i := 0
	for ; time.Since(start) < 2*time.Second; i++ {
		if err := client.Transact(ctx, func(ctx context.Context) error { _, err := coll.InsertOne(ctx, doc(n+i)); return err }); err != nil {
			t.Fatal(err)
		}
	}
	return float64(i) / time.Since(start).Seconds()
}

func rssMB(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return -1
}

func duMB(dir string) float64 {
	var total int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			total += info.Size()
		}
		return nil
	})
	return float64(total) / (1 << 20)
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" }

func renderReport(rows []sizeRow, open openResult, relay, drain backlogResult, sagas, backlog int) string {
	var b bytes.Buffer
	host, _ := os.Hostname()
	fmt.Fprintf(&b, "# Embedded profile: performance report\n\n")
	fmt.Fprintf(&b, "Produced by `make bench` (`BENCH_REPORT=1 go test -run TestPerformanceReport ./e2e/`) on %s, %s, %d CPUs (%s). One run: every figure below comes from the same run on the same machine, real processes (devkafka, customer-service, payment-service) over TCP.\n\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), host, numCPU(), goVersion())
	fmt.Fprintf(&b, "## Closed loop by stored size\n\n4 clients, each POSTing a registration and polling it every 5 ms until it ends; %d sagas per size; 1 in 10 fails for want of balance. Stored registrations were filled through the HTTP API, each saga to its end. Raw store tx/s: single-insert transactions on a fresh embedded store holding as many customer-shaped documents, measured in the same run. Start-up: each service started in turn and timed until it answers healthy, after SIGTERM (before the closed loop) and after kill -9 (after it, so the journal it wrote is replayed).\n\n", sagas)
	fmt.Fprintf(&b, "| stored registrations | sagas/s | × empty | POST→end p50 | p99 | raw store tx/s | sagas/s ÷ raw tx/s | start-up to healthy customer / payment | RSS customer / payment | data dir customer / payment |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rows {
		startup := "–"
		if r.Stored > 0 {
			startup = fmt.Sprintf("%.1f / %.1f s, kill -9: %.1f / %.1f s", r.Startup[0].Seconds(), r.Startup[1].Seconds(), r.CrashStartup[0].Seconds(), r.CrashStartup[1].Seconds())
		}
		fmt.Fprintf(&b, "| %d | %.1f | %.2f | %s | %s | %.0f | %.3f | %s | %.0f / %.0f MB | %.0f / %.0f MB |\n",
			r.Stored, r.Closed.SagasPerSec, r.Closed.SagasPerSec/rows[0].Closed.SagasPerSec, ms(r.Closed.P50), ms(r.Closed.P99),
			r.RawTx, r.Closed.SagasPerSec/r.RawTx, startup, r.CustomerRSS, r.PaymentRSS, r.CustomerDisk, r.PaymentDisk)
	}
	fmt.Fprintf(&b, "\n## Open loop at twice the capacity\n\nOffered %.0f registrations/s (2 × the empty store's closed-loop rate) for %.0f s at %d stored, whatever the answers.\n\n", open.Offered, open.Seconds, rows[len(rows)-1].Stored)
	fmt.Fprintf(&b, "| accepted/s | rejected (503)/s | other errors | completed sagas/s in the window | ÷ closed loop | POST p99 | last accepted saga ended after the load |\n|---|---|---|---|---|---|---|\n")
	completed := float64(open.Completed) / open.Seconds
	fmt.Fprintf(&b, "| %.1f | %.1f | %d | %.1f | %.2f | %s | %.1f s |\n", open.AcceptedPerSec, open.RejectedPerSec, open.Errors, completed, completed/rows[0].Closed.SagasPerSec, ms(open.POSTP99), open.DrainAfter.Seconds())
	fmt.Fprintf(&b, "\n## Backlogs of %d events\n\n", backlog)
	fmt.Fprintf(&b, "| what | events/s | took | limit underneath | ratio |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| relay publishing a backlog after a broker outage (from broker start until every backlog registration's event is on the topic; %d records read meanwhile) | %.0f | %.1f s | raw sarama producer, same settings and batch size, same broker: %.0f/s | %.2f |\n", relay.Records, relay.RelayPerSec, relay.RelayTook.Seconds(), relay.Raw, relay.RelayPerSec/relay.Raw)
	fmt.Fprintf(&b, "\ncustomer-service's relay after the backlog (`GET /customer-service/outbox`): `%s`\n\n", strings.TrimSpace(relay.RelayStatus))
	fmt.Fprintf(&b, "| what | events/s | took | limit underneath | ratio |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&b, "| consumers draining a backlog (payment-service started on %d waiting events; each saga to its end) | %.0f | %.1f s | | |\n", backlog, drain.RelayPerSec, drain.RelayTook.Seconds())
	return b.String()
}

// renderSVG plots sagas/s and p99 against stored size.
func renderSVG(rows []sizeRow) string {
	const w, h, left, right, top, bottom = 640.0, 360.0, 60.0, 60.0, 30.0, 50.0
	var maxRate, maxP99 float64
	for _, r := range rows {
		maxRate = max(maxRate, r.Closed.SagasPerSec)
		maxP99 = max(maxP99, float64(r.Closed.P99.Milliseconds()))
	}
	maxRate, maxP99 = maxRate*1.15+1, maxP99*1.15+1
	x := func(i int) float64 {
		if len(rows) == 1 {
			return left
		}
		return left + float64(i)*(w-left-right)/float64(len(rows)-1)
	}
	y := func(v, top2 float64) float64 { return top + (h-top-bottom)*(1-v/top2) }
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="12">`+"\n", w, h)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="18" font-size="14">Closed-loop sagas/s (blue, left) and POST→end p99 in ms (red, right) by stored registrations</text>`+"\n", left)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, h-bottom, w-right, h-bottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", left, top, left, h-bottom)
	fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="black"/>`+"\n", w-right, top, w-right, h-bottom)
	for k := 0; k <= 4; k++ {
		v := maxRate * float64(k) / 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="end" fill="#1f5fbf">%.0f</text>`+"\n", left-6, y(v, maxRate)+4, v)
		pv := maxP99 * float64(k) / 4
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="#c0392b">%.0f</text>`+"\n", w-right+6, y(pv, maxP99)+4, pv)
	}
	var rate, p99 []string
	for i, r := range rows {
		rate = append(rate, fmt.Sprintf("%.1f,%.1f", x(i), y(r.Closed.SagasPerSec, maxRate)))
		p99 = append(p99, fmt.Sprintf("%.1f,%.1f", x(i), y(float64(r.Closed.P99.Milliseconds()), maxP99)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d</text>`+"\n", x(i), h-bottom+18, r.Stored)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="4" fill="#1f5fbf"/><circle cx="%.1f" cy="%.1f" r="4" fill="#c0392b"/>`+"\n",
			x(i), y(r.Closed.SagasPerSec, maxRate), x(i), y(float64(r.Closed.P99.Milliseconds()), maxP99))
	}
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#1f5fbf" stroke-width="2" points="%s"/>`+"\n", strings.Join(rate, " "))
	fmt.Fprintf(&b, `<polyline fill="none" stroke="#c0392b" stroke-width="2" stroke-dasharray="6 4" points="%s"/>`+"\n", strings.Join(p99, " "))
	fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">stored registrations</text>`+"\n", (w)/2, h-12)
	b.WriteString("</svg>\n")
	return b.String()
}

func numCPU() int { return runtime.NumCPU() }

func goVersion() string { return runtime.Version() }
