package aggregate_test

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/aggregate"
	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/commonlib/outbox"
)

type thing struct {
	ID      string `bson:"_id"`
	Name    string `bson:"name"`
	Version int64  `bson:"version"`
}

var errBoom = errors.New("boom")

// TestIntegrationUpdate runs Update's contract on every backend. The
// services' store tests pin the same rule through their own Update methods
// ("the update-with-events rule").
func TestIntegrationUpdate(t *testing.T) {
	mongotest.Run(t, func(t *testing.T, b mongotest.Backend) {
		ctx := context.Background()
		renamed := []outbox.Event{outbox.New("thing", "t1", "Renamed", bson.M{"name": "new"})}
		tests := []struct {
			name        string
			filter      bson.M
			events      []outbox.Event
			err         error
			wantErr     error
			wantName    string
			wantVersion int64
			wantOutbox  int64
		}{
			{name: "events: written with the next version", filter: bson.M{"_id": "t1"}, events: renamed,
				wantName: "new", wantVersion: 1, wantOutbox: 1},
			{name: "by another unique field", filter: bson.M{"name": "old"}, events: renamed,
				wantName: "new", wantVersion: 1, wantOutbox: 1},
			{name: "no events: nothing written, the change discarded", filter: bson.M{"_id": "t1"},
				wantName: "old", wantVersion: 0, wantOutbox: 0},
			{name: "change fails: its error, nothing written", filter: bson.M{"_id": "t1"}, events: renamed, err: errBoom,
				wantErr: errBoom, wantName: "old", wantVersion: 0, wantOutbox: 0},
			{name: "no document", filter: bson.M{"_id": "nobody"}, events: renamed,
				wantErr: aggregate.ErrNotFound, wantName: "old", wantVersion: 0, wantOutbox: 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s := b.Open(t)
				docs := s.DB.Collection("things")
				out := outbox.Open(s.DB, "thing-events")
				if _, err := docs.InsertOne(ctx, thing{ID: "t1", Name: "old"}); err != nil {
					t.Fatal(err)
				}
				c := aggregate.Collection[thing]{Client: s.Client, Docs: docs, Outbox: out,
					Version: func(d *thing) *int64 { return &d.Version }}
				err := c.Update(ctx, "thing t1", tt.filter, func(d *thing) ([]outbox.Event, error) {
					d.Name = "new"
					return tt.events, tt.err
				})
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("Update = %v, want %v", err, tt.wantErr)
				}
				var got thing
				if err := docs.FindOne(ctx, bson.M{"_id": "t1"}).Decode(&got); err != nil {
					t.Fatal(err)
				}
				if got.Name != tt.wantName || got.Version != tt.wantVersion {
					t.Errorf("stored %+v, want name %s version %d", got, tt.wantName, tt.wantVersion)
				}
				if n, err := out.Count(ctx); err != nil || n != tt.wantOutbox {
					t.Errorf("outbox holds %d events (%v), want %d", n, err, tt.wantOutbox)
				}
			})
		}
	})
}
