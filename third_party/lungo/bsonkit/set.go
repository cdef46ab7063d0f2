package bsonkit

import (
	"cmp"
	"slices"
	"sort"
	"unsafe"

	"github.com/tidwall/btree"
)

// Set is set of unique documents in insertion order. The set is not safe
// from concurrent mutation; a set that is no longer mutated may be read
// concurrently.
//
// Patched (saga-outbox platform): the set is two copy-on-write B-trees, one
// by insertion sequence and one by document identity, so that Clone is O(1)
// and Add, Replace and Remove are O(log n). The original copied a slice and
// a map on every clone, which lungo does on every write, and shifted the
// whole slice on every removal.
type Set struct {
	bySeq *btree.BTreeG[setItem]
	byDoc *btree.BTreeG[setItem]
	next  uint64
}

type setItem struct {
	seq uint64
	doc Doc
}

func lessSeq(a, b setItem) bool { return a.seq < b.seq }

func lessDoc(a, b setItem) bool {
	return uintptr(unsafe.Pointer(a.doc)) < uintptr(unsafe.Pointer(b.doc))
}

// NewSet returns a new set from the specified list, bulk-loading both trees
// (a list is in insertion order; duplicates are skipped).
func NewSet(list List) *Set {
	set := &Set{
		bySeq: btree.NewBTreeG(lessSeq),
		byDoc: btree.NewBTreeG(lessDoc),
	}
	items := make([]setItem, 0, len(list))
	for _, doc := range list {
		set.next++
		items = append(items, setItem{seq: set.next, doc: doc})
	}
	byDoc := slices.Clone(items)
	slices.SortStableFunc(byDoc, func(a, b setItem) int {
		return cmp.Compare(uintptr(unsafe.Pointer(a.doc)), uintptr(unsafe.Pointer(b.doc)))
	})
	skip := map[uint64]bool{}
	for j, item := range byDoc {
		if j > 0 && byDoc[j-1].doc == item.doc {
			skip[item.seq] = true // a duplicate: keep the first
			continue
		}
		set.byDoc.Load(item)
	}
	for _, item := range items {
		if !skip[item.seq] {
			set.bySeq.Load(item)
		}
	}
	return set
}

// Len returns the number of documents.
func (s *Set) Len() int { return s.bySeq.Len() }

// Has reports whether the document is in the set.
func (s *Set) Has(doc Doc) bool {
	_, ok := s.byDoc.Get(setItem{doc: doc})
	return ok
}

// Seq returns the document's insertion sequence, which orders the set.
func (s *Set) Seq(doc Doc) (uint64, bool) {
	item, ok := s.byDoc.Get(setItem{doc: doc})
	return item.seq, ok
}

// After returns the first document whose sequence is greater than seq.
func (s *Set) After(seq uint64) (Doc, uint64, bool) {
	var found setItem
	var ok bool
	s.bySeq.Ascend(setItem{seq: seq + 1}, func(item setItem) bool {
		found, ok = item, true
		return false
	})
	return found.doc, found.seq, ok
}

// First returns the oldest document.
func (s *Set) First() Doc {
	item, _ := s.bySeq.Min()
	return item.doc
}

// Last returns the newest document.
func (s *Set) Last() Doc {
	item, _ := s.bySeq.Max()
	return item.doc
}

// Scan calls fn for each document in insertion order until it returns false.
func (s *Set) Scan(fn func(Doc) bool) {
	s.bySeq.Scan(func(item setItem) bool { return fn(item.doc) })
}

// List returns the documents in insertion order.
func (s *Set) List() List {
	list := make(List, 0, s.Len())
	s.Scan(func(doc Doc) bool {
		list = append(list, doc)
		return true
	})
	return list
}

// Ordered sorts documents of the set into insertion order, in place.
func (s *Set) Ordered(list List) List {
	seqs := make(map[Doc]uint64, len(list))
	for _, doc := range list {
		seqs[doc], _ = s.Seq(doc)
	}
	sort.SliceStable(list, func(i, j int) bool { return seqs[list[i]] < seqs[list[j]] })
	return list
}

// Add will add the document to set, if has not already been added. It may return
// false if the document has already been added.
func (s *Set) Add(doc Doc) bool {
	if s.Has(doc) {
		return false
	}
	s.next++
	item := setItem{seq: s.next, doc: doc}
	s.bySeq.Set(item)
	s.byDoc.Set(item)
	return true
}

// Replace will replace the first document with the second, at the same
// position. It may return false if the first document has not been added
// and the second already has been added.
func (s *Set) Replace(d1, d2 Doc) bool {
	old, ok := s.byDoc.Get(setItem{doc: d1})
	if !ok || s.Has(d2) {
		return false
	}
	s.byDoc.Delete(old)
	item := setItem{seq: old.seq, doc: d2}
	s.bySeq.Set(item)
	s.byDoc.Set(item)
	return true
}

// Remove will remove the document from the set. It may return false if the
// document has not been added to the set.
func (s *Set) Remove(doc Doc) bool {
	item, ok := s.byDoc.Delete(setItem{doc: doc})
	if !ok {
		return false
	}
	s.bySeq.Delete(item)
	return true
}

// Clone will clone the set. Mutating the new set will not mutate the original
// set.
func (s *Set) Clone() *Set {
	return &Set{bySeq: s.bySeq.Copy(), byDoc: s.byDoc.Copy(), next: s.next}
}
