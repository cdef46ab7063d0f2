package mongokit

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.mongodb.org/mongo-driver/bson"

	"github.com/256dpi/lungo/bsonkit"
)

// TestSelectMatchesScan checks that a lookup through a unique index gives
// the documents a full scan gives, in the same order (patched,
// saga-outbox platform).
func TestSelectMatchesScan(t *testing.T) {
	coll := NewCollection(true)
	_, err := coll.CreateIndex("", IndexConfig{Key: bsonkit.MustConvert(bson.M{"k": int32(1)}), Unique: true})
	assert.NoError(t, err)
	for _, doc := range []bson.M{
		{"_id": "a", "k": "x", "v": int64(1)},
		{"_id": "b", "k": int64(7), "v": int64(2)},
		{"_id": "c", "k": "y", "v": int64(3)},
	} {
		_, err := coll.Insert(bsonkit.MustConvert(doc))
		assert.NoError(t, err)
	}
	queries := []bson.M{
		{"_id": "a"},
		{"_id": "a", "v": int64(2)},
		{"_id": "zz"},
		{"k": "y"},
		{"k": int32(7)},
		{"k": 7.0},
		{"k": bson.M{"$in": bson.A{"x", "y"}}},
		{"v": bson.M{"$gte": int64(2)}},
	}
	check := func(t *testing.T) {
		for _, q := range queries {
			query := bsonkit.MustConvert(q)
			want, err := Filter(coll.Documents.List(), query, 0)
			assert.NoError(t, err)
			got, err := coll.Select(query, nil, 0, 0)
			assert.NoError(t, err)
			assert.Equal(t, want, got, "query %v", q)
		}
	}
	check(t)

	// an array in the indexed field: equality matches its elements, which
	// the index's order does not, so the index must not be used
	_, err = coll.Insert(bsonkit.MustConvert(bson.M{"_id": "d", "k": bson.A{"q", "r"}}))
	assert.NoError(t, err)
	queries = append(queries, bson.M{"k": "q"})
	check(t)
	got, err := coll.Select(bsonkit.MustConvert(bson.M{"k": "q"}), nil, 0, 0)
	assert.NoError(t, err)
	assert.Len(t, got, 1)
}

// TestSelectSortLimit checks that filtering before sorting keeps the
// original's result: sort, then skip and limit.
func TestSelectSortLimit(t *testing.T) {
	coll := NewCollection(true)
	for i, v := range []int64{5, 1, 4, 2, 3} {
		_, err := coll.Insert(bsonkit.MustConvert(bson.M{"_id": int64(i), "v": v, "even": v%2 == 0}))
		assert.NoError(t, err)
	}
	got, err := coll.Select(bsonkit.MustConvert(bson.M{"even": false}), bsonkit.MustConvert(bson.M{"v": int32(1)}), 1, 1)
	assert.NoError(t, err)
	assert.Len(t, got, 1)
	assert.Equal(t, int64(3), bsonkit.Get(got[0], "v"))
}
