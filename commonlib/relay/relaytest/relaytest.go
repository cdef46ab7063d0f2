// Package relaytest checks a producer's messaging contract: each sample
// payload, written as an outbox document and converted by the relay (the
// same conversion as Debezium's), must give exactly the golden Kafka value
// its consumers' tests decode.
package relaytest

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
	"github.com/sagaoutbox/platform/debezium"
)

var update = flag.Bool("update", false, "rewrite the golden files from the samples")

// CheckGolden renders every sample (event type -> payload) of aggregateType
// and compares topic and value with golden(eventType). With -update it first
// rewrites dir/<eventType>.json; review the diff before committing it.
func CheckGolden(t *testing.T, aggregateType, topic string, samples map[string]any, golden func(string) []byte, dir string) {
	t.Helper()
	cfg, err := relay.ParseConnector(debezium.Connector)
	if err != nil {
		t.Fatal(err)
	}
	for eventType, payload := range samples {
		t.Run(eventType, func(t *testing.T) {
			doc, err := bson.Marshal(outbox.New(aggregateType, "aggregate-1", eventType, payload))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := relay.Record(cfg, doc, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if rec.Topic != topic {
				t.Errorf("topic = %s, want %s", rec.Topic, topic)
			}
			got, err := rec.Value.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				if err := os.WriteFile(filepath.Join(dir, eventType+".json"), append(got, '\n'), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := bytes.TrimSpace(golden(eventType)); !bytes.Equal(got, want) {
				t.Errorf("kafka value of %s:\n got %s\nwant %s\n(go test -update rewrites the golden files)", eventType, got, want)
			}
		})
	}
}
