package relay

import "time"

// Stats counts what a Relay did since it was created.
type Stats struct {
	// Published counts records Kafka acknowledged, re-sent ones included.
	Published int64
	// Parked counts unroutable documents parked (again on every sweep).
	Parked int64
	// Dropped counts updates and replacements of outbox documents dropped.
	Dropped int64
	// Sweeps counts completed sweeps of the outbox collections.
	Sweeps int64
	// HistoryLost counts the times the stored position had left the change
	// history (or the stream was invalidated).
	HistoryLost int64
	// KafkaRetries counts batches Kafka did not acknowledge, retried.
	KafkaRetries int64
	// StreamRestarts counts change stream restarts after store errors.
	StreamRestarts int64
	// LastError is the last error the relay recovered from, and when.
	LastError   string
	LastErrorAt time.Time
	// FailingSince is when the relay started failing without recovering
	// in between (store or Kafka errors); zero while it works. A recovery
	// is a lease read or acquisition, an opened change stream or a batch
	// Kafka acknowledged.
	FailingSince time.Time
	// Leader reports whether this relay holds the lease and relays.
	Leader bool
	// Holder is the lease holder as last seen: Options.Holder while Leader,
	// another replica's while waiting, empty when unknown or free.
	Holder string
	// Leaderships counts the times this relay acquired the lease.
	Leaderships int64
	// LeaseLost counts the times a renewal failed or found another holder.
	LeaseLost int64
	// PublishedThrough is the newest createdAt among the events Kafka
	// acknowledged since the relay was created: ahead of the stored mark
	// (PublishedThrough's, written every checkpointInterval); zero until a
	// batch with events was acknowledged.
	PublishedThrough time.Time
}

// Stats returns a snapshot of the relay's counters. It is safe to call
// while Run runs.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stats
}

func (r *Relay) count(f func(*Stats)) {
	r.mu.Lock()
	f(&r.stats)
	r.mu.Unlock()
}

func (r *Relay) noteError(err error) {
	r.count(func(s *Stats) {
		s.LastError = err.Error()
		s.LastErrorAt = time.Now()
		if s.FailingSince.IsZero() {
			s.FailingSince = s.LastErrorAt
		}
	})
}

// noteHealthy marks a recovery: the store or Kafka answered.
func (r *Relay) noteHealthy() {
	r.count(func(s *Stats) { s.FailingSince = time.Time{} })
}
