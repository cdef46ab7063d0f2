package configstore_test

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/mongotx/mongotest"
	"github.com/sagaoutbox/platform/relay/internal/configstore"
	"github.com/sagaoutbox/platform/relay/internal/worker"
)

// TestStore: create then update (created reported once, createdAt kept),
// dotted keys round-trip, list sorted by name, delete and not-found.
func TestStore(t *testing.T) {
	ctx := context.Background()
	db := mongotest.Open(t).Database("outbox-relay")
	s := configstore.New(db)

	b := worker.Connector{Name: "b", Config: map[string]string{"name": "b", "connector.class": "x", "transforms.outbox.route.by.field": "aggregateType"}}
	a := worker.Connector{Name: "a", Config: map[string]string{"name": "a"}}
	for _, tt := range []struct {
		c       worker.Connector
		created bool
	}{{b, true}, {a, true}, {b, false}} {
		created, err := s.Put(ctx, tt.c)
		if err != nil || created != tt.created {
			t.Errorf("Put(%s) = %v, %v; want created=%v", tt.c.Name, created, err, tt.created)
		}
		time.Sleep(2 * time.Millisecond)
	}
	var doc struct {
		CreatedAt time.Time `bson:"createdAt"`
		UpdatedAt time.Time `bson:"updatedAt"`
	}
	if err := db.Collection(configstore.Collection).FindOne(ctx, bson.D{{Key: "_id", Value: "b"}}).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if !doc.UpdatedAt.After(doc.CreatedAt) {
		t.Errorf("createdAt %v, updatedAt %v: the update must keep createdAt", doc.CreatedAt, doc.UpdatedAt)
	}

	got, err := s.Get(ctx, "b")
	if err != nil || !maps.Equal(got.Config, b.Config) {
		t.Errorf("Get(b) = %+v, %v; want %+v", got, err, b)
	}
	all, err := s.List(ctx)
	if err != nil || len(all) != 2 || all[0].Name != "a" || all[1].Name != "b" {
		t.Errorf("List() = %+v, %v; want a, b", all, err)
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	var nf *worker.NotFoundError
	if _, err := s.Get(ctx, "a"); !errors.As(err, &nf) || nf.Name != "a" || !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("Get(deleted) = %v, want a NotFoundError for a", err)
	}
	if err := s.Delete(ctx, "a"); !errors.Is(err, worker.ErrNotFound) {
		t.Errorf("Delete(deleted) = %v, want ErrNotFound", err)
	}
}
