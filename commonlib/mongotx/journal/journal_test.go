package journal_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/256dpi/lungo"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/mongo"
	"go.mongodb.org/mongo-driver/mongo/options"

	"github.com/sagaoutbox/platform/commonlib/mongotx/journal"
)

// open opens an engine on dir with a journal compacting at compactMin
// bytes, closed when the test ends unless closed before.
func open(t *testing.T, dir string, compactMin int64, log *slog.Logger) (lungo.IClient, func()) {
	t.Helper()
	j, err := journal.Open(journal.Options{Dir: dir, CompactMin: compactMin, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	client, engine, err := lungo.Open(context.Background(), lungo.Options{Store: j, MinOplogSize: 5, MaxOplogSize: 5, MinOplogAge: 1})
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeFn := func() {
		if !closed {
			closed = true
			engine.Close()
			if err := j.Close(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(closeFn)
	return client, closeFn
}

// dump returns every namespace's documents, indexes and the oplog's
// length, in a comparable form.
func dump(t *testing.T, c lungo.IClient) string {
	t.Helper()
	ctx := context.Background()
	var out []string
	dbs, err := c.ListDatabaseNames(ctx, bson.M{})
	if err != nil {
		t.Fatal(err)
	}
	for _, dbName := range dbs {
		db := c.Database(dbName)
		names, err := db.ListCollectionNames(ctx, bson.M{})
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			coll := db.Collection(name)
			cur, err := coll.Find(ctx, bson.M{})
			if err != nil {
				t.Fatal(err)
			}
			var docs []bson.D
			if err := cur.All(ctx, &docs); err != nil {
				t.Fatal(err)
			}
			icur, err := coll.Indexes().List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var idx []bson.M
			if err := icur.All(ctx, &idx); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, i := range idx {
				names = append(names, fmt.Sprint(i["name"], i["key"], i["unique"]))
			}
			sort.Strings(names)
			out = append(out, fmt.Sprintf("%s.%s indexes=%v docs=%v", dbName, name, names, docs))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// workload runs every kind of write lungo journals: inserts, updates,
// replaces, deletes, upserts, index creation and removal, a collection
// created empty, a dropped collection and a transaction of several writes.
func workload(t *testing.T, c lungo.IClient, rounds int) {
	t.Helper()
	ctx := context.Background()
	db := c.Database("app")
	coll := db.Collection("things")
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "k", Value: 1}}, Options: options.Index().SetUnique(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: bson.D{{Key: "n", Value: 1}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateCollection(ctx, "empty"); err != nil {
		t.Fatal(err)
	}
	for i := range rounds {
		id := fmt.Sprintf("t%04d", i)
		if _, err := coll.InsertOne(ctx, bson.M{"_id": id, "k": id, "n": i, "pad": strings.Repeat("p", 200)}); err != nil {
			t.Fatal(err)
		}
		switch i % 4 {
		case 1:
			if _, err := coll.UpdateOne(ctx, bson.M{"_id": id}, bson.M{"$set": bson.M{"n": -i, "tags": bson.A{"a", bson.M{"b": 1}}}}); err != nil {
				t.Fatal(err)
			}
		case 2:
			if _, err := coll.ReplaceOne(ctx, bson.M{"_id": id}, bson.M{"k": id, "replaced": true}); err != nil {
				t.Fatal(err)
			}
		case 3:
			if _, err := coll.DeleteOne(ctx, bson.M{"_id": id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.Collection("other").UpdateOne(ctx, bson.M{"_id": "u"}, bson.M{"$set": bson.M{"v": 1}}, options.Update().SetUpsert(true)); err != nil {
		t.Fatal(err)
	}
	if err := db.Collection("gone").Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Collection("gone").InsertOne(ctx, bson.M{"_id": 1}); err != nil {
		t.Fatal(err)
	}
	if err := db.Collection("gone").Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := coll.Indexes().DropOne(ctx, "n_1"); err != nil {
		t.Fatal(err)
	}
	err := c.UseSession(ctx, func(sc lungo.ISessionContext) error {
		_, err := sc.WithTransaction(sc, func(tc lungo.ISessionContext) (any, error) {
			if _, err := coll.InsertOne(tc, bson.M{"_id": "tx1", "k": "tx1"}); err != nil {
				return nil, err
			}
			return coll.DeleteOne(tc, bson.M{"_id": "t0000"})
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReopenRestoresEverything(t *testing.T) {
	for _, tc := range []struct {
		name       string
		compactMin int64
	}{
		{"journal only", 1 << 30},
		{"compacted many times", 4 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c, closeFn := open(t, dir, tc.compactMin, nil)
			workload(t, c, 200)
			want := dump(t, c)
			closeFn()

			c2, _ := open(t, dir, tc.compactMin, nil)
			if got := dump(t, c2); got != want {
				t.Fatalf("after reopen:\n%s\nwant:\n%s", got, want)
			}
			snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*"))
			if tc.compactMin < 1<<20 && len(snaps) != 1 {
				t.Errorf("snapshots %v, want exactly one after compactions", snaps)
			}
		})
	}
}

// TestTornTailIsDropped cuts the journal at every offset inside its last
// record, and flips a byte there: each time the store opens with what the
// earlier records hold and logs what it dropped.
func TestTornTailIsDropped(t *testing.T) {
	dir := t.TempDir()
	c, closeFn := open(t, dir, 1<<30, nil)
	ctx := context.Background()
	coll := c.Database("app").Collection("c")
	if _, err := coll.InsertOne(ctx, bson.M{"_id": "kept"}); err != nil {
		t.Fatal(err)
	}
	closeFn()
	journalPath := filepath.Join(dir, "journal-0000000000000001.log")
	before, err := os.ReadFile(journalPath)
	if err != nil {
		t.Fatal(err)
	}
	c, closeFn = open(t, dir, 1<<30, nil)
	if _, err := c.Database("app").Collection("c").InsertOne(ctx, bson.M{"_id": "torn"}); err != nil {
		t.Fatal(err)
	}
	closeFn()
	full, err := os.ReadFile(journalPath)
	if err != nil {
		t.Fatal(err)
	}
	damaged := map[string][]byte{}
	for cut := len(before) + 1; cut < len(full); cut += max(1, (len(full)-len(before))/7) {
		damaged[fmt.Sprintf("cut at %d", cut)] = full[:cut]
	}
	flipped := bytes.Clone(full)
	flipped[len(full)-3] ^= 0x20
	damaged["flipped byte"] = flipped
	for name, data := range damaged {
		t.Run(name, func(t *testing.T) {
			d := t.TempDir()
			if err := os.WriteFile(filepath.Join(d, filepath.Base(journalPath)), data, 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			c, _ := open(t, d, 1<<30, slog.New(slog.NewTextHandler(&logs, nil)))
			n, err := c.Database("app").Collection("c").CountDocuments(ctx, bson.M{})
			if err != nil {
				t.Fatal(err)
			}
			if n != 1 {
				t.Errorf("documents %d, want 1 (the record before the torn one)", n)
			}
			if !strings.Contains(logs.String(), "dropping the torn tail") || !strings.Contains(logs.String(), "bytes_dropped=") {
				t.Errorf("log does not name what was dropped: %q", logs.String())
			}
			// The store goes on writing after the cut.
			if _, err := c.Database("app").Collection("c").InsertOne(ctx, bson.M{"_id": "after"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestCorruptedSnapshotRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	c, closeFn := open(t, dir, 1<<10, nil)
	workload(t, c, 50)
	closeFn()
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.snap"))
	if len(snaps) != 1 {
		t.Fatalf("snapshots %v, want one", snaps)
	}
	data, err := os.ReadFile(snaps[0])
	if err != nil {
		t.Fatal(err)
	}
	// A status byte changed while the service was stopped.
	i := bytes.Index(data, []byte("replaced"))
	if i < 0 {
		t.Fatal("no document text in the snapshot")
	}
	data[i] = 'R'
	if err := os.WriteFile(snaps[0], data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = journal.Open(journal.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "checksum mismatch") || !strings.Contains(err.Error(), "cannot be opened") {
		t.Fatalf("open: %v, want a checksum error saying the store cannot be opened", err)
	}
}

func TestCorruptedOlderJournalRefusesToOpen(t *testing.T) {
	dir := t.TempDir()
	// Two journals: make the first one unreadable mid-file.
	for _, name := range []string{"journal-0000000000000001.log", "journal-0000000000000002.log"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("SAGAJRN1\x05\x00\x00\x00garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	_, err := journal.Open(journal.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "journal-0000000000000001.log") {
		t.Fatalf("open: %v, want an error naming the damaged journal", err)
	}
}

func TestSecondProcessIsRefused(t *testing.T) {
	dir := t.TempDir()
	j, err := journal.Open(journal.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	// flock is per open file description: a second Open in this process
	// conflicts exactly as a second process does.
	_, err = journal.Open(journal.Options{Dir: dir})
	if err == nil || !strings.Contains(err.Error(), "is in use by another process") {
		t.Fatalf("second open: %v, want in use", err)
	}
}

func TestMigratesLungoFileStore(t *testing.T) {
	dir := t.TempDir()
	legacy := filepath.Join(dir, "store.bson")
	ctx := context.Background()
	old, engine, err := lungo.Open(ctx, lungo.Options{Store: lungo.NewFileStore(legacy, 0o600)})
	if err != nil {
		t.Fatal(err)
	}
	workload(t, old, 20)
	want := dump(t, old)
	engine.Close()

	c, _ := open(t, dir, 1<<30, nil)
	if got := dump(t, c); got != want {
		t.Fatalf("migrated:\n%s\nwant:\n%s", got, want)
	}
	if _, err := os.Stat(legacy); !os.IsNotExist(err) {
		t.Errorf("store.bson still there after migration: %v", err)
	}
}

// TestCloseCompactsALongJournal checks that a graceful close leaves a
// snapshot and an empty journal, so the next start replays nothing, with
// the same contents.
func TestCloseCompactsALongJournal(t *testing.T) {
	dir := t.TempDir()
	c, closeFn := open(t, dir, 1<<30, nil)
	ctx := context.Background()
	coll := c.Database("app").Collection("big")
	for i := range 1500 {
		if _, err := coll.InsertOne(ctx, bson.M{"_id": i, "pad": strings.Repeat("z", 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	want := dump(t, c)
	closeFn()
	snaps, _ := filepath.Glob(filepath.Join(dir, "snapshot-*.snap"))
	journals, _ := filepath.Glob(filepath.Join(dir, "journal-*.log"))
	if len(snaps) != 1 || len(journals) != 1 {
		t.Fatalf("after close: snapshots %v, journals %v; want one of each", snaps, journals)
	}
	if st, err := os.Stat(journals[0]); err != nil || st.Size() != 8 {
		t.Fatalf("journal after close: %v %v, want only its 8-byte header", st, err)
	}
	c2, _ := open(t, dir, 1<<30, nil)
	if got := dump(t, c2); got != want {
		t.Fatal("contents differ after a close-time compaction")
	}
}
