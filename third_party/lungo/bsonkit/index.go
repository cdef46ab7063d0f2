package bsonkit

import (
	"slices"
	"unsafe"

	"github.com/tidwall/btree"
)

// Index is a basic btree based index for documents. The index is not safe from
// concurrent access.
type Index struct {
	btree   *btree.BTreeG[Doc]
	unique  bool
	columns []Column
}

// NewIndex creates and returns a new index.
func NewIndex(unique bool, columns []Column) *Index {
	return &Index{
		btree: btree.NewBTreeG[Doc](func(a, b Doc) bool {
			return Order(a, b, columns, !unique) < 0
		}),
		unique:  unique,
		columns: columns,
	}
}

// Build will build the index from the specified list. It may return false if
// there was a unique constraint error when building the index. If an error
// is returned the index only has some documents added.
//
// Patched (saga-outbox platform): an empty index is built by reading each
// document's key once, sorting, and bulk-loading the tree, instead of
// inserting one document at a time with every comparison reading the keys
// again: what a store's start-up spends most of its time on.
func (i *Index) Build(list List) bool {
	if i.btree.Len() > 0 {
		for _, doc := range list {
			if !i.Add(doc) {
				return false
			}
		}
		return true
	}
	type keyed struct {
		values []interface{}
		doc    Doc
	}
	keys := make([]keyed, len(list))
	values := make([]interface{}, len(list)*len(i.columns))
	for j, doc := range list {
		v := values[j*len(i.columns) : (j+1)*len(i.columns) : (j+1)*len(i.columns)]
		for c, column := range i.columns {
			v[c] = Get(doc, column.Path)
		}
		keys[j] = keyed{values: v, doc: doc}
	}
	compare := func(a, b keyed) int {
		for c, column := range i.columns {
			if res := Compare(a.values[c], b.values[c]); res != 0 {
				if column.Reverse {
					return -res
				}
				return res
			}
		}
		if i.unique {
			return 0
		}
		al, ar := uintptr(unsafe.Pointer(a.doc)), uintptr(unsafe.Pointer(b.doc))
		if al < ar {
			return -1
		} else if al > ar {
			return 1
		}
		return 0
	}
	slices.SortFunc(keys, compare)
	for j := range keys {
		if j > 0 && compare(keys[j-1], keys[j]) == 0 {
			return false
		}
	}
	for _, k := range keys {
		i.btree.Load(k.doc)
	}
	return true
}

// Len returns the number of indexed documents.
func (i *Index) Len() int { return i.btree.Len() }

// Add will add the document to index. May return false if the document has
// already been added to the index.
func (i *Index) Add(doc Doc) bool {
	// check if index already has an entry
	item, _ := i.btree.Get(doc)
	if item != nil {
		return false
	}

	// otherwise, add entry
	i.btree.Set(doc)

	return true
}

// Has returns whether the specified document has been added to the index.
func (i *Index) Has(doc Doc) bool {
	// check if index already has an item
	item, _ := i.btree.Get(doc)
	return item != nil
}

// Get returns the indexed document equal to key in the index's order.
func (i *Index) Get(key Doc) (Doc, bool) {
	return i.btree.Get(key)
}

// Remove will remove a document from the index. May return false if the document
// has not yet been added to the index.
func (i *Index) Remove(doc Doc) bool {
	// remove entry
	item, _ := i.btree.Delete(doc)
	return item != nil
}

// List will return an ascending list of all documents in the index.
func (i *Index) List() List {
	// prepare list
	list := make(List, 0, i.btree.Len())

	// walk index
	i.btree.Scan(func(item Doc) bool {
		list = append(list, item)
		return true
	})

	return list
}

// Clone will clone the index. Mutating the new index will not mutate the original
// index.
func (i *Index) Clone() *Index {
	// create clone
	clone := &Index{
		btree: i.btree.Copy(),
	}

	return clone
}
