package relay

import (
	"context"
	"fmt"
	"sort"
	"time"

	"go.mongodb.org/mongo-driver/bson"
)

// sweep publishes the documents of every routed collection, oldest first,
// storing the published-through mark (and no resume token) after each
// batch, so a crash during the sweep leads to another sweep. With a
// published-through mark it starts CommitMargin before it (everything
// older was handled); without one, it sends every document.
func (r *Relay) sweep(ctx context.Context) error {
	names, err := r.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return fmt.Errorf("relay: list collections: %w", err)
	}
	sort.Strings(names)
	filter := bson.D{}
	if !r.pos.PublishedThrough.IsZero() {
		filter = bson.D{{Key: createdAtField, Value: bson.D{{Key: "$gte", Value: r.pos.PublishedThrough.Add(-CommitMargin)}}}}
	}
	total := 0
	for _, name := range names {
		if !r.routed(name) {
			continue
		}
		n, err := r.sweepCollection(ctx, name, filter)
		total += n
		if err != nil {
			return err
		}
	}
	r.count(func(s *Stats) { s.Sweeps++ })
	r.log.Info("sweep done", "documents", total)
	return nil
}

// sweepCollection publishes one collection's documents matching filter in
// createdAt order. It reads
// the collection in natural (insertion) order and sorts it stably, so
// events created in the same millisecond keep the order they were written
// in; breaking ties on _id would reorder them at random for UUID ids, and a
// database-side sort does not promise any order for ties. The collection is
// held in memory for that: the published-through bound and outbox retention
// keep it small.
func (r *Relay) sweepCollection(ctx context.Context, name string, filter bson.D) (int, error) {
	cur, err := r.db.Collection(name).Find(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("relay: sweep %s: %w", name, err)
	}
	var docs []bson.Raw
	for cur.Next(ctx) {
		var doc bson.Raw
		if err := cur.Decode(&doc); err != nil {
			_ = cur.Close(context.WithoutCancel(ctx))
			return 0, fmt.Errorf("relay: sweep %s: decode: %w", name, err)
		}
		docs = append(docs, doc)
	}
	err = cur.Err()
	_ = cur.Close(context.WithoutCancel(ctx))
	if err != nil {
		return 0, fmt.Errorf("relay: sweep %s: %w", name, err)
	}
	sort.SliceStable(docs, func(i, j int) bool { return createdAt(docs[i]) < createdAt(docs[j]) })

	var b batch
	flush := func() error {
		if len(b.msgs) == 0 && len(b.parks) == 0 {
			return nil
		}
		if err := r.publish(ctx, b); err != nil {
			return err
		}
		b = batch{}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
		defer cancel()
		return r.storePosition(sctx, nil)
	}
	for i, doc := range docs {
		r.add(&b, name, doc, time.Now())
		if len(b.msgs)+len(b.parks) >= r.opts.BatchSize {
			if err := flush(); err != nil {
				return i + 1, err
			}
		}
	}
	return len(docs), flush()
}

// createdAt returns a document's creation time in epoch milliseconds;
// documents without one sort first, as MongoDB sorts missing values.
func createdAt(doc bson.Raw) int64 {
	if v, ok := doc.Lookup(createdAtField).DateTimeOK(); ok {
		return v
	}
	return -1 << 63
}
