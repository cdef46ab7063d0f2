package app

import (
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx/journal"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/proctest"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/debezium"
)

// failingProducer refuses every batch with err.
type failingProducer struct {
	sarama.SyncProducer
	err error
}

func (p failingProducer) SendMessages([]*sarama.ProducerMessage) error { return p.err }
func (p failingProducer) Close() error                                 { return nil }

// TestOutboxStatusShowsNoInternals runs a real relay whose batches fail
// with errors as detailed as real ones, and renders GET <base>/outbox's
// answer: the last error is a short cause, without the file paths and
// addresses of the error itself (which the relay logs).
func TestOutboxStatusShowsNoInternals(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantCause string
		internals []string
	}{
		{"store cannot write",
			&journal.UnavailableError{Err: &fs.PathError{Op: "write", Path: "/srv/data/customer-service/journal-000042", Err: syscall.ENOSPC}},
			"the store cannot write (details in the service log)", []string{"/srv", "journal-000042", "no space"}},
		{"kafka unreachable",
			errors.New("kafka: client has run out of available brokers to talk to: dial tcp 10.0.3.7:9092: connect: connection refused"),
			"kafka did not acknowledge the batch (details in the service log)", []string{"10.0.3.7", "dial tcp"}},
	}
	connector, err := relay.ParseConnector(debezium.Connector)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			store := mongotest.Open(t)
			db := store.Database("customers-db")
			out := outbox.Open(db, "customer-events")
			err := store.Transact(ctx, func(ctx context.Context) error {
				return out.Append(ctx, outbox.New("customer", "c-1", "CustomerPendingRegistrationEvent", bson.D{{Key: "id", Value: "c-1"}}))
			})
			if err != nil {
				t.Fatal(err)
			}
			r, err := relay.New(store.Client, relay.Options{
				Config: connector, Database: "customers-db", Producer: failingProducer{err: tt.err},
				Log: slog.New(slog.DiscardHandler), RetryBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			proctest.Go(t, "relay", r.Run)
			proctest.EventuallyEvery(t, 10*time.Second, 10*time.Millisecond, "the relay notes an error", func() error {
				if r.Stats().LastError == "" {
					return errors.New("no error noted yet")
				}
				return nil
			})
			body, err := json.Marshal(outboxStatus(ctx, RelayEmbedded, out, r))
			if err != nil {
				t.Fatal(err)
			}
			var got struct {
				LastError string `json:"lastError"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.LastError != tt.wantCause {
				t.Errorf("lastError = %q, want %q (body %s)", got.LastError, tt.wantCause, body)
			}
			for _, s := range tt.internals {
				if strings.Contains(string(body), s) {
					t.Errorf("the answer shows %q: %s", s, body)
				}
			}
		})
	}
}
