package e2e

import (
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// BenchmarkRegistrationSaga measures the embedded profile end to end: real
// processes, HTTP registrations from 4 concurrent clients, each saga through
// both outboxes, relays, Kafka and consumers until REGISTRATION_SUCCESS.
// Reported: registrations accepted per second, completed sagas per second,
// and the median and 99th-percentile time from POST to SUCCESS.
func BenchmarkRegistrationSaga(b *testing.B) {
	p := newPlatform(b)
	p.start()
	const clients = 4
	type result struct {
		id      string
		started time.Time
	}
	results := make([]result, b.N)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	next := make(chan int)
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i] = result{started: time.Now(), id: p.register(blueprintBody).ID}
			}
		}()
	}
	for i := range b.N {
		next <- i
	}
	close(next)
	wg.Wait()
	accepted := time.Since(start)

	latencies := make([]time.Duration, b.N)
	pending := make(map[int]bool, b.N)
	for i := range results {
		pending[i] = true
	}
	// Completion times are read from the records themselves, not from when
	// this loop happened to look: it looks without pause.
	proctest.EventuallyEvery(b, 5*time.Minute, 0, "every saga to succeed", func() error {
		for i := range pending {
			if c := p.getCustomer(results[i].id); c.Status == "REGISTRATION_SUCCESS" {
				latencies[i] = c.UpdatedAt.Sub(results[i].started)
				delete(pending, i)
			}
		}
		if len(pending) > 0 {
			return fmt.Errorf("%d sagas not done", len(pending))
		}
		return nil
	})
	total := time.Since(start)
	b.StopTimer()
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	b.ReportMetric(float64(b.N)/accepted.Seconds(), "registrations/s")
	b.ReportMetric(float64(b.N)/total.Seconds(), "sagas/s")
	b.ReportMetric(float64(latencies[len(latencies)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(latencies[len(latencies)*99/100].Milliseconds()), "p99-ms")
}
