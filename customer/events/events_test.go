package events_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/outbox"
	"github.com/sagaoutbox/platform/commonlib/relay"
	"github.com/sagaoutbox/platform/customer/events"
	"github.com/sagaoutbox/platform/customer/events/eventstest"
	"github.com/sagaoutbox/platform/debezium"
)

var update = flag.Bool("update", false, "rewrite the golden files from the samples")

// TestGolden renders every sample payload as an outbox document, through the
// relay's contract conversion (the same as Debezium's), and compares the
// Kafka value with the golden file consumers decode in their tests.
func TestGolden(t *testing.T) {
	cfg, err := relay.ParseConnector(debezium.Connector)
	if err != nil {
		t.Fatal(err)
	}
	for eventType, payload := range eventstest.Samples {
		t.Run(eventType, func(t *testing.T) {
			evt := outbox.New(events.AggregateType, "aggregate-1", eventType, payload)
			doc, err := bson.Marshal(evt)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := relay.Record(cfg, doc, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if rec.Topic != events.Topic {
				t.Errorf("topic = %s, want %s", rec.Topic, events.Topic)
			}
			got, err := rec.Value.Encode()
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("eventstest", "testdata", eventType+".json")
			if *update {
				if err := os.WriteFile(path, append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if want := bytes.TrimSpace(eventstest.Golden(eventType)); !bytes.Equal(got, want) {
				t.Errorf("kafka value of %s:\n got %s\nwant %s\n(go test -update rewrites the golden files)", eventType, got, want)
			}
		})
	}
}
