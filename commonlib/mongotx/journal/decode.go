package journal

import (
	"errors"
	"fmt"

	"github.com/256dpi/lungo/bsonkit"
	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// Start-up time is mostly decoding documents: the driver's reflective
// bson.Unmarshal spends two thirds of an open in its codec machinery. The
// functions here decode the types a store holds straight from the bytes
// and produce exactly what bson.Unmarshal into a bson.D produces (nested
// documents as bson.D, arrays as bson.A; decode_test compares the two on
// every type). A document holding a rarer type (JavaScript, symbol,
// DBPointer, code with scope, the deprecated binary subtype 2) goes through
// bson.Unmarshal instead.

// errRare says a document holds a type the fast path leaves to the driver.
var errRare = errors.New("journal: type left to the driver")

// decodeDoc decodes one document.
func decodeDoc(raw bsoncore.Document) (bsonkit.Doc, error) {
	if err := raw.Validate(); err != nil {
		return nil, err
	}
	d, err := decodeD(raw)
	if errors.Is(err, errRare) {
		d = bson.D{}
		err = bson.Unmarshal(raw, &d)
	}
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// decodeList decodes an array of documents.
func decodeList(arr bsoncore.Array) (bsonkit.List, error) {
	vals, err := arr.Values()
	if err != nil {
		return nil, err
	}
	out := make(bsonkit.List, len(vals))
	for i, v := range vals {
		doc, ok := v.DocumentOK()
		if !ok {
			return nil, fmt.Errorf("journal: element %d is a %s, not a document", i, v.Type)
		}
		if out[i], err = decodeDoc(doc); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// listField decodes the array of documents under key of doc; a missing key
// is an empty list.
func listField(doc bsoncore.Document, key string) (bsonkit.List, error) {
	v, err := doc.LookupErr(key)
	if errors.Is(err, bsoncore.ErrElementNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	arr, ok := v.ArrayOK()
	if !ok {
		return nil, fmt.Errorf("journal: %q is a %s, not an array", key, v.Type)
	}
	return decodeList(arr)
}

// decodeD decodes a document that decodeDoc validated.
func decodeD(raw bsoncore.Document) (bson.D, error) {
	d := make(bson.D, 0, count(raw))
	err := each(raw, func(e bsoncore.Element) error {
		v, err := decodeValue(e.Value())
		d = append(d, bson.E{Key: e.Key(), Value: v})
		return err
	})
	return d, err
}

// count returns how many elements a document or array holds.
func count(raw []byte) int {
	n := 0
	_ = each(raw, func(bsoncore.Element) error { n++; return nil })
	return n
}

// each calls fn with the elements of a document or array, in order,
// without collecting them first.
func each(raw []byte, fn func(bsoncore.Element) error) error {
	if len(raw) < 5 {
		return bsoncore.NewInsufficientBytesError(raw, raw)
	}
	rem := raw[4 : len(raw)-1]
	for len(rem) > 0 {
		e, rest, ok := bsoncore.ReadElement(rem)
		if !ok {
			return bsoncore.NewInsufficientBytesError(raw, rem)
		}
		if err := fn(e); err != nil {
			return err
		}
		rem = rest
	}
	return nil
}

func decodeValue(v bsoncore.Value) (any, error) {
	switch v.Type {
	case bsontype.String:
		return v.StringValue(), nil
	case bsontype.Int32:
		return v.Int32(), nil
	case bsontype.Int64:
		return v.Int64(), nil
	case bsontype.Double:
		return v.Double(), nil
	case bsontype.Boolean:
		return v.Boolean(), nil
	case bsontype.DateTime:
		return primitive.DateTime(v.DateTime()), nil
	case bsontype.Null:
		return nil, nil
	case bsontype.EmbeddedDocument:
		return decodeD(v.Document())
	case bsontype.Array:
		arr := v.Array()
		a := make(bson.A, 0, count(arr))
		err := each(arr, func(e bsoncore.Element) error {
			ev, err := decodeValue(e.Value())
			a = append(a, ev)
			return err
		})
		return a, err
	case bsontype.ObjectID:
		return v.ObjectID(), nil
	case bsontype.Timestamp:
		t, i := v.Timestamp()
		return primitive.Timestamp{T: t, I: i}, nil
	case bsontype.Binary:
		sub, data := v.Binary()
		if sub == bsontype.BinaryBinaryOld {
			return nil, errRare // the driver has its own reading of it
		}
		return primitive.Binary{Subtype: sub, Data: append([]byte{}, data...)}, nil
	case bsontype.Decimal128:
		return v.Decimal128(), nil
	case bsontype.Regex:
		p, o := v.Regex()
		return primitive.Regex{Pattern: p, Options: o}, nil
	case bsontype.Undefined:
		return primitive.Undefined{}, nil
	case bsontype.MinKey:
		return primitive.MinKey{}, nil
	case bsontype.MaxKey:
		return primitive.MaxKey{}, nil
	default:
		return nil, errRare
	}
}
