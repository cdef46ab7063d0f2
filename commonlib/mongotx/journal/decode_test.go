package journal

import (
	"math/rand/v2"
	"reflect"
	"strconv"
	"testing"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// TestDecodeMatchesDriver: decodeDoc yields exactly what bson.Unmarshal
// into a bson.D yields, for every BSON type, nested and empty values, and
// random documents.
func TestDecodeMatchesDriver(t *testing.T) {
	oid := primitive.NewObjectID()
	dec, _ := primitive.ParseDecimal128("12.345")
	every := bson.D{
		{Key: "double", Value: 1.5}, {Key: "string", Value: "s"}, {Key: "empty string", Value: ""},
		{Key: "doc", Value: bson.D{{Key: "a", Value: int32(1)}, {Key: "b", Value: bson.D{{Key: "c", Value: "deep"}}}}},
		{Key: "empty doc", Value: bson.D{}},
		{Key: "array", Value: bson.A{int32(1), "two", bson.D{{Key: "x", Value: int64(3)}}, bson.A{bson.A{1.0}}}},
		{Key: "empty array", Value: bson.A{}},
		{Key: "binary", Value: primitive.Binary{Subtype: 0x04, Data: []byte("0123456789abcdef")}},
		{Key: "empty binary", Value: primitive.Binary{Subtype: 0x00, Data: []byte{}}},
		{Key: "old binary", Value: primitive.Binary{Subtype: 0x02, Data: []byte("old")}},
		{Key: "undefined", Value: primitive.Undefined{}}, {Key: "oid", Value: oid},
		{Key: "bool", Value: true}, {Key: "date", Value: primitive.DateTime(1_700_000_000_123)},
		{Key: "null", Value: nil}, {Key: "regex", Value: primitive.Regex{Pattern: "^a", Options: "im"}},
		{Key: "int32", Value: int32(-7)}, {Key: "ts", Value: primitive.Timestamp{T: 17, I: 3}},
		{Key: "int64", Value: int64(1) << 40}, {Key: "decimal", Value: dec},
		{Key: "min", Value: primitive.MinKey{}}, {Key: "max", Value: primitive.MaxKey{}},
		{Key: "dup", Value: int32(1)}, {Key: "dup", Value: int32(2)},
	}
	rare := bson.D{
		{Key: "js", Value: primitive.JavaScript("f()")}, {Key: "symbol", Value: primitive.Symbol("s")},
		{Key: "dbptr", Value: primitive.DBPointer{DB: "db.c", Pointer: oid}},
		{Key: "cws", Value: primitive.CodeWithScope{Code: "x", Scope: bson.D{{Key: "x", Value: int32(1)}}}},
		{Key: "nested", Value: bson.D{{Key: "js", Value: primitive.JavaScript("g()")}}},
	}
	docs := []bson.D{every, rare, {}}
	r := rand.New(rand.NewPCG(1, 2))
	for range 500 {
		docs = append(docs, randomDoc(r, 3))
	}
	for i, d := range docs {
		raw, err := bson.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		want := bson.D{}
		if err := bson.Unmarshal(raw, &want); err != nil {
			t.Fatal(err)
		}
		got, err := decodeDoc(raw)
		if err != nil {
			t.Fatalf("doc %d: %v", i, err)
		}
		if !reflect.DeepEqual(*got, want) {
			t.Fatalf("doc %d:\n got %#v\nwant %#v", i, *got, want)
		}
	}
}

func randomDoc(r *rand.Rand, depth int) bson.D {
	n := r.IntN(6)
	d := make(bson.D, 0, n)
	for i := range n {
		d = append(d, bson.E{Key: "k" + strconv.Itoa(i), Value: randomValue(r, depth)})
	}
	return d
}

func randomValue(r *rand.Rand, depth int) any {
	kinds := 9
	if depth > 0 {
		kinds = 11
	}
	switch r.IntN(kinds) {
	case 0:
		return strconv.Itoa(r.Int())
	case 1:
		return int32(r.Int32())
	case 2:
		return r.Int64()
	case 3:
		return r.Float64()
	case 4:
		return r.IntN(2) == 1
	case 5:
		return primitive.DateTime(r.Int64N(1 << 42))
	case 6:
		return nil
	case 7:
		b := make([]byte, r.IntN(20))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return primitive.Binary{Subtype: byte(r.IntN(6)), Data: b}
	case 8:
		return primitive.Timestamp{T: r.Uint32(), I: r.Uint32()}
	case 9:
		return randomDoc(r, depth-1)
	default:
		a := bson.A{}
		for range r.IntN(4) {
			a = append(a, randomValue(r, depth-1))
		}
		return a
	}
}

// TestDecodeRefusesMalformed: a document whose lengths do not add up is an
// error, not a panic or a partial document.
func TestDecodeRefusesMalformed(t *testing.T) {
	raw, err := bson.Marshal(bson.D{{Key: "a", Value: bson.D{{Key: "b", Value: "c"}}}})
	if err != nil {
		t.Fatal(err)
	}
	cut := bsoncore.Document(append([]byte(nil), raw[:len(raw)-3]...))
	if _, err := decodeDoc(cut); err == nil {
		t.Fatal("a truncated document decoded")
	}
	bad := append([]byte(nil), raw...)
	bad[4] = 0x7f // an unknown element type
	if _, err := decodeDoc(bad); err == nil {
		t.Fatal("a document with an unknown element type decoded")
	}
}
