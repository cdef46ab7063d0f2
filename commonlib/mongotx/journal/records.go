package journal

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/256dpi/lungo"
	"github.com/256dpi/lungo/bsonkit"
	"github.com/256dpi/lungo/mongokit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
)

// commitRecord is one commit in a journal. The commit's document changes
// are its oplog entries, which lungo appends for every insert, replace,
// update, delete and drop (fullDocument or documentKey): replaying them in
// order rebuilds both the collections and the oplog. What the oplog does
// not show (a collection created empty, indexes) travels as Meta.
type commitRecord struct {
	Entries bsonkit.List `bson:"e,omitempty"`
	Keep    int64        `bson:"k"` // oplog length after the commit cleaned it
	Meta    []nsMeta     `bson:"m,omitempty"`
	Drop    [][2]string  `bson:"d,omitempty"`
}

// nsMeta is a namespace and its complete set of indexes.
type nsMeta struct {
	NS      [2]string   `bson:"ns"`
	Indexes []indexMeta `bson:"i"`
}

type indexMeta struct {
	Name    string        `bson:"n"`
	Key     bsonkit.Doc   `bson:"k"`
	Unique  bool          `bson:"u,omitempty"`
	Partial bsonkit.Doc   `bson:"p,omitempty"`
	Expiry  time.Duration `bson:"x,omitempty"`
}

// encodeCommit describes how cleaned differs from durable: the oplog
// entries written appended (all of them, including those the cleaning
// dropped again), the namespaces created or re-indexed, and those dropped.
// It costs what the commit changed: namespaces are compared by pointer
// (lungo copies only what a transaction writes) and the oplog is walked
// from the durable catalog's newest entry.
func encodeCommit(durable, written, cleaned *lungo.Catalog) ([]byte, error) {
	rec := commitRecord{Keep: int64(cleaned.Namespaces[lungo.Oplog].Documents.Len())}
	from := durable.Namespaces[lungo.Oplog].Documents.Last()
	log := written.Namespaces[lungo.Oplog].Documents
	var seq uint64
	if from != nil {
		var ok bool
		if seq, ok = log.Seq(from); !ok {
			return nil, errors.New("the durable catalog's newest oplog entry is not in the transaction's oplog")
		}
	}
	for {
		doc, next, ok := log.After(seq)
		if !ok {
			break
		}
		rec.Entries = append(rec.Entries, doc)
		seq = next
	}
	for handle, ns := range cleaned.Namespaces {
		if handle == lungo.Oplog {
			continue
		}
		old := durable.Namespaces[handle]
		if old == ns || (old != nil && sameIndexes(old, ns)) {
			continue
		}
		rec.Meta = append(rec.Meta, nsMeta{NS: handle, Indexes: indexesOf(ns)})
	}
	for handle := range durable.Namespaces {
		if cleaned.Namespaces[handle] == nil {
			rec.Drop = append(rec.Drop, handle)
		}
	}
	return bson.Marshal(rec)
}

func sameIndexes(a, b *mongokit.Collection) bool {
	if len(a.Indexes) != len(b.Indexes) {
		return false
	}
	for name, ia := range a.Indexes {
		ib, ok := b.Indexes[name]
		if !ok || (ia != ib && !ia.Config().Equal(ib.Config())) {
			return false
		}
	}
	return true
}

func indexesOf(c *mongokit.Collection) []indexMeta {
	out := make([]indexMeta, 0, len(c.Indexes))
	for name, idx := range c.Indexes {
		cfg := idx.Config()
		out = append(out, indexMeta{Name: name, Key: cfg.Key, Unique: cfg.Unique, Partial: cfg.Partial, Expiry: cfg.Expiry})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (m indexMeta) config() mongokit.IndexConfig {
	return mongokit.IndexConfig{Key: m.Key, Unique: m.Unique, Partial: m.Partial, Expiry: m.Expiry}
}

// replayer applies journal records to a catalog that nothing else sees
// yet, so it mutates it in place.
type replayer struct {
	catalog *lungo.Catalog
}

func newReplayer(c *lungo.Catalog) *replayer { return &replayer{catalog: c} }

// decodeCommit decodes a commitRecord, its entries with the fast decoder.
func decodeCommit(payload []byte) (commitRecord, error) {
	var rec commitRecord
	var rest struct {
		Keep int64       `bson:"k"`
		Meta []nsMeta    `bson:"m,omitempty"`
		Drop [][2]string `bson:"d,omitempty"`
	}
	if err := bson.Unmarshal(payload, &rest); err != nil {
		return rec, fmt.Errorf("decode commit: %w", err)
	}
	entries, err := listField(payload, "e")
	if err != nil {
		return rec, fmt.Errorf("decode commit: %w", err)
	}
	return commitRecord{Entries: entries, Keep: rest.Keep, Meta: rest.Meta, Drop: rest.Drop}, nil
}

func (rp *replayer) apply(payload []byte) error {
	rec, err := decodeCommit(payload)
	if err != nil {
		return err
	}
	oplog := rp.catalog.Namespaces[lungo.Oplog].Documents
	for _, e := range rec.Entries {
		if err := rp.applyEntry(e); err != nil {
			return err
		}
		oplog.Add(e)
	}
	for int64(oplog.Len()) > rec.Keep {
		oplog.Remove(oplog.First())
	}
	for _, m := range rec.Meta {
		if err := rp.reindex(m); err != nil {
			return err
		}
	}
	for _, h := range rec.Drop {
		delete(rp.catalog.Namespaces, lungo.Handle(h))
	}
	return nil
}

func (rp *replayer) applyEntry(e bsonkit.Doc) error {
	op, _ := bsonkit.Get(e, "operationType").(string)
	db, _ := bsonkit.Get(e, "ns.db").(string)
	coll, _ := bsonkit.Get(e, "ns.coll").(string)
	handle := lungo.Handle{db, coll}
	switch op {
	case "insert", "replace", "update":
		full, ok := bsonkit.Get(e, "fullDocument").(bson.D)
		if !ok {
			return fmt.Errorf("%s entry for %s without a fullDocument", op, handle)
		}
		return put(rp.namespace(handle), &full)
	case "delete":
		return remove(rp.namespace(handle), bsonkit.Get(e, "documentKey._id"))
	case "drop":
		delete(rp.catalog.Namespaces, handle)
	case "dropDatabase":
		for h := range rp.catalog.Namespaces {
			if h[0] == db && h != lungo.Oplog {
				delete(rp.catalog.Namespaces, h)
			}
		}
	default:
		return fmt.Errorf("unknown oplog operation %q", op)
	}
	return nil
}

func (rp *replayer) namespace(h lungo.Handle) *mongokit.Collection {
	c := rp.catalog.Namespaces[h]
	if c == nil {
		c = mongokit.NewCollection(true)
		rp.catalog.Namespaces[h] = c
	}
	return c
}

// put inserts doc, or replaces the document with its _id.
func put(c *mongokit.Collection, doc bsonkit.Doc) error {
	old, found := findID(c, bsonkit.Get(doc, "_id"))
	if !found {
		_, err := c.Insert(doc)
		return err
	}
	for name, idx := range c.Indexes {
		if _, err := idx.Remove(old); err != nil {
			return err
		}
		if ok, err := idx.Add(doc); err != nil || !ok {
			return fmt.Errorf("replay: duplicate document for index %q (%v)", name, err)
		}
	}
	if !c.Documents.Replace(old, doc) {
		return errors.New("replay: unable to replace document")
	}
	return nil
}

func remove(c *mongokit.Collection, id any) error {
	old, found := findID(c, id)
	if !found {
		return nil // deleted twice in one commit's history: nothing left
	}
	for _, idx := range c.Indexes {
		if _, err := idx.Remove(old); err != nil {
			return err
		}
	}
	c.Documents.Remove(old)
	return nil
}

func findID(c *mongokit.Collection, id any) (bsonkit.Doc, bool) {
	idx := c.Indexes["_id_"]
	if idx == nil {
		return nil, false
	}
	return idx.Get(&bson.D{{Key: "_id", Value: id}})
}

// reindex makes a namespace exist with exactly m's indexes.
func (rp *replayer) reindex(m nsMeta) error {
	c := rp.catalog.Namespaces[m.NS]
	if c == nil {
		c = mongokit.NewCollection(false)
		rp.catalog.Namespaces[m.NS] = c
	}
	want := map[string]bool{}
	for _, im := range m.Indexes {
		want[im.Name] = true
		if idx, ok := c.Indexes[im.Name]; ok && idx.Config().Equal(im.config()) {
			continue
		}
		delete(c.Indexes, im.Name)
		if _, err := c.CreateIndex(im.Name, im.config()); err != nil {
			return fmt.Errorf("replay: index %s on %s: %w", im.Name, lungo.Handle(m.NS), err)
		}
	}
	for name := range c.Indexes {
		if !want[name] {
			delete(c.Indexes, name)
		}
	}
	return nil
}

// observeClock moves lungo's timestamp clock past the newest stored change,
// so change-stream positions stay unique across a restart.
func (rp *replayer) observeClock() {
	if last := rp.catalog.Namespaces[lungo.Oplog].Documents.Last(); last != nil {
		if ts, ok := bsonkit.Get(last, "_id.ts").(primitive.Timestamp); ok {
			bsonkit.Observe(ts)
		}
	}
}

// snapRecord is one record of a snapshot: the header (Version), a
// namespace (NS, Indexes, Count) followed by its documents in batches
// (Docs and their Count), and the trailer (End) that proves the snapshot
// complete.
type snapRecord struct {
	Version    int          `bson:"v,omitempty"`
	NS         *[2]string   `bson:"ns,omitempty"`
	Indexes    []indexMeta  `bson:"i,omitempty"`
	Count      int64        `bson:"n,omitempty"`
	Docs       bsonkit.List `bson:"docs,omitempty"`
	End        bool         `bson:"end,omitempty"`
	Namespaces int64        `bson:"nss,omitempty"`
	Total      int64        `bson:"total,omitempty"`
}

// snapHead is a snapshot record without its documents.
type snapHead struct {
	NS         *[2]string  `bson:"ns,omitempty"`
	Indexes    []indexMeta `bson:"i,omitempty"`
	Count      int64       `bson:"n,omitempty"`
	End        bool        `bson:"end,omitempty"`
	Namespaces int64       `bson:"nss,omitempty"`
	Total      int64       `bson:"total,omitempty"`
}

const snapBatch = 512

// writeSnapshot writes catalog to path durably (temp file, fsync, rename,
// directory fsync) and returns its size. The catalog must be immutable.
func writeSnapshot(path string, catalog *lungo.Catalog) (int64, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp) // a no-op after the rename
	w := bufio.NewWriterSize(f, 1<<20)
	var size int64
	var buf []byte
	put := func(r snapRecord) error {
		payload, err := bson.Marshal(r)
		if err != nil {
			return err
		}
		buf = frame(buf[:0], payload)
		size += int64(len(buf))
		_, err = w.Write(buf)
		return err
	}
	fail := func(err error) (int64, error) {
		f.Close()
		return 0, err
	}
	if _, err := w.WriteString(snapshotMagic); err != nil {
		return fail(err)
	}
	size += headerSize
	if err := put(snapRecord{Version: 1}); err != nil {
		return fail(err)
	}
	handles := make([]lungo.Handle, 0, len(catalog.Namespaces))
	for h := range catalog.Namespaces {
		handles = append(handles, h)
	}
	sort.Slice(handles, func(i, j int) bool { return handles[i].String() < handles[j].String() })
	var total int64
	for _, h := range handles {
		ns := catalog.Namespaces[h]
		// List copies the pointers at once: scanning while marshalling
		// would hold the tree's read lock and stall writers.
		docs := ns.Documents.List()
		hh := [2]string(h)
		if err := put(snapRecord{NS: &hh, Indexes: indexesOf(ns), Count: int64(len(docs))}); err != nil {
			return fail(err)
		}
		for len(docs) > 0 {
			n := min(snapBatch, len(docs))
			if err := put(snapRecord{Docs: docs[:n], Count: int64(n)}); err != nil {
				return fail(err)
			}
			docs = docs[n:]
			total += int64(n)
		}
	}
	if err := put(snapRecord{End: true, Namespaces: int64(len(handles)), Total: total}); err != nil {
		return fail(err)
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, err
	}
	return size, syncDir(filepath.Dir(path))
}

// readSnapshot reads and checks a whole snapshot.
func readSnapshot(path string) (*lungo.Catalog, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br := bufReader(f)
	magic := make([]byte, headerSize)
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != snapshotMagic {
		return nil, fmt.Errorf("does not start with %q", snapshotMagic)
	}
	rd := &reader{r: br, offset: headerSize}
	// next reads the next record into v and returns its payload.
	next := func(v any) ([]byte, error) {
		payload, err := rd.next()
		if err == io.EOF {
			return nil, errors.New("truncated: no trailer")
		}
		if err != nil {
			return nil, fmt.Errorf("at offset %d: %w", rd.offset, err)
		}
		if err := bson.Unmarshal(payload, v); err != nil {
			return nil, fmt.Errorf("at offset %d: %w", rd.offset, err)
		}
		return payload, nil
	}
	var head snapRecord
	if _, err := next(&head); err != nil {
		return nil, err
	}
	if head.Version != 1 {
		return nil, fmt.Errorf("unknown snapshot version %d", head.Version)
	}
	// Read and check every record first, then decode the documents and
	// build the sets and indexes on every core: start-up time is mostly
	// decoding and index building.
	var nss []*nsRead
	var total int64
	for {
		// The documents are decoded later, in parallel: skip them here.
		var r snapHead
		payload, err := next(&r)
		if err != nil {
			return nil, err
		}
		switch {
		case r.End:
			if r.Namespaces != int64(len(nss)) || r.Total != total {
				return nil, fmt.Errorf("trailer says %d namespaces and %d documents, read %d and %d", r.Namespaces, r.Total, len(nss), total)
			}
			return buildCatalog(nss)
		case r.NS != nil:
			nss = append(nss, &nsRead{handle: lungo.Handle(*r.NS), indexes: r.Indexes, count: r.Count})
		case r.Count > 0:
			if len(nss) == 0 {
				return nil, fmt.Errorf("at offset %d: documents before a namespace", rd.offset)
			}
			n := nss[len(nss)-1]
			n.batches = append(n.batches, payload)
			total += r.Count
		default:
			return nil, fmt.Errorf("at offset %d: unknown record", rd.offset)
		}
	}
}

// nsRead is a namespace of a snapshot as read: its header and its
// documents' batches, still encoded.
type nsRead struct {
	handle  lungo.Handle
	indexes []indexMeta
	count   int64
	batches [][]byte
}

// buildCatalog decodes the namespaces' batches and builds their sets and
// indexes, in parallel.
func buildCatalog(nss []*nsRead) (*lungo.Catalog, error) {
	type job struct {
		ns, batch int
		payload   []byte
	}
	decoded := make([][]bsonkit.List, len(nss))
	var jobs []job
	for i, n := range nss {
		decoded[i] = make([]bsonkit.List, len(n.batches))
		for j, b := range n.batches {
			jobs = append(jobs, job{i, j, b})
		}
	}
	if err := parallel(len(jobs), func(k int) error {
		docs, err := listField(jobs[k].payload, "docs")
		decoded[jobs[k].ns][jobs[k].batch] = docs
		return err
	}); err != nil {
		return nil, err
	}
	catalog := &lungo.Catalog{Namespaces: map[lungo.Handle]*mongokit.Collection{}}
	type build struct {
		coll *mongokit.Collection
		meta indexMeta
		docs bsonkit.List
		h    lungo.Handle
	}
	var builds []build
	for i, n := range nss {
		var docs bsonkit.List
		for _, b := range decoded[i] {
			docs = append(docs, b...)
		}
		if int64(len(docs)) != n.count {
			return nil, fmt.Errorf("namespace %s: %d documents, header says %d", n.handle, len(docs), n.count)
		}
		c := mongokit.NewCollection(false)
		c.Documents = bsonkit.NewSet(docs)
		catalog.Namespaces[n.handle] = c
		for _, im := range n.indexes {
			builds = append(builds, build{c, im, docs, n.handle})
		}
	}
	built := make([]*mongokit.Index, len(builds))
	if err := parallel(len(builds), func(k int) error {
		b := builds[k]
		idx, err := mongokit.CreateIndex(b.meta.config())
		if err != nil {
			return err
		}
		if ok, err := idx.Build(b.docs); err != nil || !ok {
			return fmt.Errorf("namespace %s: index %s does not build (%v)", b.h, b.meta.Name, err)
		}
		built[k] = idx
		return nil
	}); err != nil {
		return nil, err
	}
	for k, b := range builds {
		b.coll.Indexes[b.meta.Name] = built[k]
	}
	return catalog, nil
}

// parallel runs fn(0..n-1) on GOMAXPROCS goroutines and returns the first
// error.
func parallel(n int, fn func(int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make([]error, runtime.GOMAXPROCS(0))
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= n || errs[w] != nil {
					return
				}
				errs[w] = fn(k)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
