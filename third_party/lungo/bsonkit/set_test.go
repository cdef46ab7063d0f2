package bsonkit

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.mongodb.org/mongo-driver/bson"
)

func TestSet(t *testing.T) {
	d1 := &bson.D{}
	d2 := &bson.D{}
	d3 := &bson.D{}

	set := NewSet(nil)

	assert.True(t, set.Add(d1))
	assert.Equal(t, List{d1}, set.List())

	assert.False(t, set.Add(d1))
	assert.Equal(t, List{d1}, set.List())

	assert.True(t, set.Add(d2))
	assert.Equal(t, List{d1, d2}, set.List())

	assert.True(t, set.Remove(d1))
	assert.False(t, set.Remove(d1))
	assert.Equal(t, List{d2}, set.List())

	assert.True(t, set.Add(d1))
	assert.Equal(t, List{d2, d1}, set.List())

	// a replacement keeps its place
	assert.True(t, set.Replace(d2, d3))
	assert.False(t, set.Replace(d2, d3))
	assert.False(t, set.Replace(d3, d1))
	assert.Equal(t, List{d3, d1}, set.List())
	assert.Equal(t, 2, set.Len())
	assert.Equal(t, d3, set.First())
	assert.Equal(t, d1, set.Last())

	// natural order of a subset
	assert.Equal(t, List{d3, d1}, set.Ordered(List{d1, d3}))

	// walking by sequence
	seq, ok := set.Seq(d3)
	assert.True(t, ok)
	next, _, ok := set.After(seq)
	assert.True(t, ok)
	assert.Equal(t, d1, next)
	seq, _ = set.Seq(d1)
	_, _, ok = set.After(seq)
	assert.False(t, ok)
	_, ok = set.Seq(d2)
	assert.False(t, ok)
}

func TestSetClone(t *testing.T) {
	d1 := &bson.D{}
	d2 := &bson.D{}
	d3 := &bson.D{}

	set := NewSet(List{d1, d2})
	clone := set.Clone()

	assert.True(t, clone.Remove(d1))
	assert.True(t, clone.Add(d3))
	assert.True(t, clone.Replace(d2, d1))

	assert.Equal(t, List{d1, d2}, set.List())
	assert.True(t, set.Has(d1))
	assert.False(t, set.Has(d3))
	assert.Equal(t, List{d1, d3}, clone.List())
}
