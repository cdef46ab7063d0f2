package relay

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
)

// kind is a Kafka Connect schema type as MongoDataConverter builds them.
type kind int

const (
	kindString kind = iota
	kindFloat64
	kindBytes
	kindInt32
	kindInt64
	kindBool
	kindTimestamp // org.apache.kafka.connect.data.Timestamp: epoch millis
	kindStruct
	kindArray
)

func (k kind) String() string {
	return [...]string{"string", "double", "binary", "int32", "int64", "boolean", "date", "document", "array"}[k]
}

// schema is a Kafka Connect schema: a struct's fields in order, an array's
// element schema.
type schema struct {
	kind   kind
	fields []schemaField
	elem   *schema
}

type schemaField struct {
	name   string
	schema *schema
}

func (s *schema) field(name string) *schema {
	for _, f := range s.fields {
		if f.name == name {
			return f.schema
		}
	}
	return nil
}

// add is SchemaBuilder.field.
func (s *schema) add(name string, fs *schema) error {
	if s.field(name) != nil {
		return fmt.Errorf("cannot create field %q because of field name duplication", name)
	}
	s.fields = append(s.fields, schemaField{name: name, schema: fs})
	return nil
}

// millis is a value of the Connect Timestamp type (java.util.Date).
type millis int64

// structValue is a Connect Struct: values by field name, nil when unset.
type structValue struct {
	schema *schema
	values map[string]any
}

func newStruct(s *schema) *structValue {
	return &structValue{schema: s, values: map[string]any{}}
}

// put is Struct.put: the field must exist and the value must conform.
func (sv *structValue) put(name string, v any) error {
	fs := sv.schema.field(name)
	if fs == nil {
		return fmt.Errorf("%q is not a valid field name", name)
	}
	if err := conforms(fs, v); err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	sv.values[name] = v
	return nil
}

// conforms is ConnectSchema.validateValue (all MongoDataConverter schemas
// are optional, so null always conforms).
func conforms(s *schema, v any) error {
	if v == nil {
		return nil
	}
	ok := false
	switch s.kind {
	case kindString:
		_, ok = v.(string)
	case kindFloat64:
		_, ok = v.(float64)
	case kindBytes:
		_, ok = v.([]byte)
	case kindInt32:
		_, ok = v.(int32)
	case kindInt64:
		_, ok = v.(int64)
	case kindBool:
		_, ok = v.(bool)
	case kindTimestamp:
		_, ok = v.(millis)
	case kindStruct:
		sv, isStruct := v.(*structValue)
		if isStruct && sv.schema != s {
			return errors.New("struct schemas do not match")
		}
		ok = isStruct
	case kindArray:
		list, isList := v.([]any)
		if isList {
			for _, e := range list {
				if err := conforms(s.elem, e); err != nil {
					return err
				}
			}
		}
		ok = isList
	}
	if !ok {
		return fmt.Errorf("invalid Java object for schema type %s", s.kind)
	}
	return nil
}

// entry is one field of a BSON document.
type entry struct {
	key string
	val bson.RawValue
}

// documentEntries lists doc's fields in order. A repeated key keeps its
// first position and last value, like org.bson.BsonDocument (a
// LinkedHashMap) that Debezium parses the document into.
func documentEntries(doc bson.Raw) ([]entry, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(elems))
	index := make(map[string]int, len(elems))
	for _, el := range elems {
		key, err := el.KeyErr()
		if err != nil {
			return nil, err
		}
		val, err := el.ValueErr()
		if err != nil {
			return nil, err
		}
		key = javaString(key)
		if i, ok := index[key]; ok {
			out[i].val = val
			continue
		}
		index[key] = len(out)
		out = append(out, entry{key: key, val: val})
	}
	return out, nil
}

func arrayValues(v bson.RawValue) ([]bson.RawValue, error) {
	return v.Array().Values()
}

// scalarSchema is MongoDataConverter.addFieldSchema for scalar BSON types;
// nil for the types it skips (min/max key, undefined, symbol, DBPointer) and
// for the composite ones.
func scalarSchema(t bsontype.Type) *schema {
	switch t {
	case bson.TypeNull, bson.TypeString, bson.TypeJavaScript, bson.TypeObjectID, bson.TypeDecimal128:
		return &schema{kind: kindString}
	case bson.TypeDouble:
		return &schema{kind: kindFloat64}
	case bson.TypeBinary:
		return &schema{kind: kindBytes}
	case bson.TypeInt32:
		return &schema{kind: kindInt32}
	case bson.TypeInt64:
		return &schema{kind: kindInt64}
	case bson.TypeDateTime, bson.TypeTimestamp:
		return &schema{kind: kindTimestamp}
	case bson.TypeBoolean:
		return &schema{kind: kindBool}
	}
	return nil
}

// scalarValue is MongoDataConverter.convertFieldValue for the scalar BSON
// types scalarSchema gives a schema to: the Connect value of v (nil for
// null), and false for any other type.
func scalarValue(v bson.RawValue) (any, bool) {
	switch v.Type {
	case bson.TypeNull:
		return nil, true
	case bson.TypeString:
		return javaString(v.StringValue()), true
	case bson.TypeJavaScript:
		return javaString(v.JavaScript()), true
	case bson.TypeObjectID:
		return v.ObjectID().Hex(), true
	case bson.TypeDecimal128:
		return javaDecimal128(v.Decimal128()), true
	case bson.TypeDouble:
		return v.Double(), true
	case bson.TypeBinary:
		_, data := v.Binary()
		return data, true
	case bson.TypeInt32:
		return v.Int32(), true
	case bson.TypeInt64:
		return v.Int64(), true
	case bson.TypeDateTime:
		return millis(v.DateTime()), true
	case bson.TypeTimestamp:
		t, _ := v.Timestamp()
		return millis(1000 * int64(int32(t))), true // BsonTimestamp.getTime() is a Java int
	case bson.TypeBoolean:
		return v.Boolean(), true
	}
	return nil, false
}

// addFieldSchema mirrors MongoDataConverter.addFieldSchema with array
// encoding ARRAY (what MongoEventRouter uses).
func addFieldSchema(e entry, b *schema) error {
	if s := scalarSchema(e.val.Type); s != nil {
		return b.add(e.key, s)
	}
	switch e.val.Type {
	case bson.TypeCodeWithScope:
		_, scopeDoc := e.val.CodeWithScope()
		scopeEntries, err := documentEntries(scopeDoc)
		if err != nil {
			return err
		}
		scope := &schema{kind: kindStruct}
		for _, se := range scopeEntries {
			if err := addFieldSchema(se, scope); err != nil {
				return err
			}
		}
		js := &schema{kind: kindStruct}
		_ = js.add("code", &schema{kind: kindString})
		_ = js.add("scope", scope)
		return b.add(e.key, js)
	case bson.TypeRegex:
		re := &schema{kind: kindStruct}
		_ = re.add("regex", &schema{kind: kindString})
		_ = re.add("options", &schema{kind: kindString})
		return b.add(e.key, re)
	case bson.TypeEmbeddedDocument:
		sub, err := documentEntries(e.val.Document())
		if err != nil {
			return err
		}
		doc := &schema{kind: kindStruct}
		for _, se := range sub {
			if err := addFieldSchema(se, doc); err != nil {
				return err
			}
		}
		return b.add(e.key, doc)
	case bson.TypeArray:
		values, err := arrayValues(e.val)
		if err != nil {
			return err
		}
		if len(values) == 0 {
			return b.add(e.key, &schema{kind: kindArray, elem: &schema{kind: kindString}})
		}
		if err := testType(e.key, values, values[0].Type); err != nil {
			return err
		}
		elem, err := subSchema(e.key, values[0].Type, values)
		if err != nil {
			return err
		}
		return b.add(e.key, &schema{kind: kindArray, elem: elem})
	}
	return nil
}

// testType is MongoDataConverter.testType: the checks an array passes
// before its schema is built. Elements of an array of documents must all be
// documents, and a field must have one type in all of them, except that
// null goes with any type (DBZ-6760); elements of an array of arrays must
// all be non-empty arrays, each checked in turn (DBZ-2569); any other array
// must hold one element type.
func testType(key string, values []bson.RawValue, valueType bsontype.Type) error {
	switch valueType {
	case bson.TypeEmbeddedDocument:
		union := map[string]bsontype.Type{}
		for _, v := range values {
			if v.Type != bson.TypeEmbeddedDocument {
				// BsonValue.asDocument throws.
				return fmt.Errorf("field %q is not a homogenous array (%s and %s)", key, valueType, v.Type)
			}
			entries, err := documentEntries(v.Document())
			if err != nil {
				return err
			}
			for _, se := range entries {
				if err := testArrayElementType(key, se, union); err != nil {
					return err
				}
			}
		}
	case bson.TypeArray:
		for _, v := range values {
			if v.Type != bson.TypeArray {
				// BsonValue.asArray throws.
				return fmt.Errorf("field %q is not a homogenous array (%s and %s)", key, valueType, v.Type)
			}
			inner, err := arrayValues(v)
			if err != nil {
				return err
			}
			if len(inner) == 0 {
				// Debezium reads the first element of every inner array:
				// IndexOutOfBoundsException.
				return fmt.Errorf("array %q holds an empty array among arrays, which Debezium cannot convert", key)
			}
			if err := testType(key, inner, inner[0].Type); err != nil {
				return err
			}
		}
	default:
		for _, v := range values {
			if v.Type != valueType {
				return fmt.Errorf("field %q is not a homogenous array (%s and %s)", key, valueType, v.Type)
			}
		}
	}
	return nil
}

// testArrayElementType is MongoDataConverter.testArrayElementType: union
// holds the type each field of the documents of array key had so far; a
// null never conflicts, and a null seen first gives way to the next type.
func testArrayElementType(key string, se entry, union map[string]bsontype.Type) error {
	prev, seen := union[se.key]
	cur := se.val.Type
	switch {
	case !seen:
		union[se.key] = cur
	case prev == cur:
	case prev == bson.TypeNull:
		union[se.key] = cur
	case cur == bson.TypeNull:
	default:
		return fmt.Errorf("field %q is not the same type for all documents in array %q (%s and %s)", se.key, key, prev, cur)
	}
	return nil
}

// subSchema is MongoDataConverter.subSchema: the element schema of the
// non-empty array values of field key, whose first element has valueType.
//
//   - An array of documents gets one struct: each field once, with the
//     schema of the first value it has, skipping empty documents and empty
//     arrays (DBZ-5434) unless every field of every element is one. The
//     schema is not widened afterwards: a field first seen as null is a
//     string, so a later number or document in it fails the conversion, and
//     a field only ever seen empty next to other fields is missing, which
//     fails it too.
//   - An array of arrays gets the element schema of its first inner array
//     alone (DBZ-2569).
//   - Regexes, code with scope, min/max keys, undefined, symbols and DB
//     pointers are not supported (IllegalArgumentException).
func subSchema(key string, valueType bsontype.Type, values []bson.RawValue) (*schema, error) {
	if s := scalarSchema(valueType); s != nil {
		return s, nil
	}
	switch valueType {
	case bson.TypeEmbeddedDocument:
		elem := &schema{kind: kindStruct}
		union := map[string]bsontype.Type{}
		for _, skipEmpty := range []bool{true, false} {
			for _, v := range values {
				if err := subSchemaFields(key, elem, union, v.Document(), skipEmpty); err != nil {
					return nil, err
				}
			}
			if len(elem.fields) > 0 {
				break
			}
		}
		return elem, nil
	case bson.TypeArray:
		inner, err := arrayValues(values[0])
		if err != nil {
			return nil, err
		}
		elem, err := subSchema(key, inner[0].Type, inner)
		if err != nil {
			return nil, err
		}
		return &schema{kind: kindArray, elem: elem}, nil
	}
	return nil, fmt.Errorf("array %q holds values of type %s, which Debezium cannot build a schema for (IllegalArgumentException)", key, valueType)
}

// subSchemaFields adds the fields of doc, one element of array key, that
// elem does not have yet (MongoDataConverter.subSchema's document pass).
func subSchemaFields(key string, elem *schema, union map[string]bsontype.Type, doc bson.Raw, skipEmpty bool) error {
	entries, err := documentEntries(doc)
	if err != nil {
		return err
	}
	for _, se := range entries {
		if skipEmpty && isEmptyContainer(se.val) {
			continue
		}
		if _, seen := union[se.key]; !seen {
			union[se.key] = se.val.Type
			if err := addFieldSchema(se, elem); err != nil {
				return err
			}
			continue
		}
		if err := testArrayElementType(key, se, union); err != nil {
			return err
		}
	}
	return nil
}

// isEmptyContainer reports an empty document or an empty array.
func isEmptyContainer(v bson.RawValue) bool {
	switch v.Type {
	case bson.TypeEmbeddedDocument:
		entries, err := v.Document().Elements()
		return err == nil && len(entries) == 0
	case bson.TypeArray:
		values, err := v.Array().Values()
		return err == nil && len(values) == 0
	}
	return false
}

// convertField mirrors MongoDataConverter.convertFieldValue: it converts e
// and puts it in st; sch is the schema nested field schemas are looked up
// in (st's own, except inside code with scope).
func convertField(e entry, st *structValue, sch *schema) error {
	if v, ok := scalarValue(e.val); ok {
		return st.put(e.key, v)
	}
	var v any
	switch e.val.Type {
	case bson.TypeCodeWithScope:
		fs := sch.field(e.key)
		if fs == nil || fs.kind != kindStruct {
			return fmt.Errorf("failed to find field %q in schema", e.key)
		}
		code, scopeDoc := e.val.CodeWithScope()
		scopeEntries, err := documentEntries(scopeDoc)
		if err != nil {
			return err
		}
		scope := newStruct(fs.field("scope"))
		for _, se := range scopeEntries {
			if scalarSchema(se.val.Type) == nil {
				// Debezium looks nested scope schemas up in the wrong
				// schema and fails; the relay refuses them outright.
				return fmt.Errorf("code with scope %q has a nested %s in its scope", e.key, se.val.Type)
			}
			if err := convertField(se, scope, fs); err != nil {
				return err
			}
		}
		js := newStruct(fs)
		if err := js.put("code", javaString(code)); err != nil {
			return err
		}
		if err := js.put("scope", scope); err != nil {
			return err
		}
		v = js
	case bson.TypeRegex:
		fs := sch.field(e.key)
		if fs == nil || fs.kind != kindStruct {
			return fmt.Errorf("failed to find field %q in schema", e.key)
		}
		pattern, options := e.val.Regex()
		opts := []byte(options)
		sort.Slice(opts, func(i, j int) bool { return opts[i] < opts[j] }) // BsonRegularExpression sorts them
		rs := newStruct(fs)
		if err := rs.put("regex", javaString(pattern)); err != nil {
			return err
		}
		if err := rs.put("options", string(opts)); err != nil {
			return err
		}
		v = rs
	case bson.TypeEmbeddedDocument:
		fs := sch.field(e.key)
		if fs == nil {
			return fmt.Errorf("failed to find field %q in schema", e.key)
		}
		if fs.kind != kindStruct {
			// In an array of documents, a field first seen as null (or
			// as another type) keeps that schema.
			return fmt.Errorf("field %q is a %s in the schema, not a document (not a struct schema)", e.key, fs.kind)
		}
		sub, err := documentEntries(e.val.Document())
		if err != nil {
			return err
		}
		ds := newStruct(fs)
		for _, se := range sub {
			if err := convertField(se, ds, fs); err != nil {
				return err
			}
		}
		v = ds
	case bson.TypeArray:
		values, err := arrayValues(e.val)
		if err != nil {
			return err
		}
		list := []any{}
		if len(values) > 0 {
			first := values[0].Type
			var elem *schema
			if first == bson.TypeArray || first == bson.TypeEmbeddedDocument {
				fs := sch.field(e.key)
				if fs == nil {
					return fmt.Errorf("failed to find field %q in schema", e.key)
				}
				if fs.kind != kindArray {
					return fmt.Errorf("cannot look up the element schema of %q, a %s", e.key, fs.kind)
				}
				elem = fs.elem
			}
			for _, av := range values {
				// Only elements of the first element's type are
				// converted: the others have no branch and are left out.
				if list, err = appendArrayValue(list, e.key, elem, first, av); err != nil {
					return err
				}
			}
		}
		v = list
	default:
		return nil // min/max key, undefined, symbol, DBPointer: left out
	}
	return st.put(e.key, v)
}

// appendArrayValue is MongoDataConverter's convertFieldValue for one
// element av of array key: it appends av converted to list when av is of
// valueType, with elem the element schema (looked up only for documents and
// arrays, nil otherwise). Inner arrays convert each of their elements by its
// own type.
func appendArrayValue(list []any, key string, elem *schema, valueType bsontype.Type, av bson.RawValue) ([]any, error) {
	if av.Type != valueType {
		return list, nil
	}
	switch valueType {
	case bson.TypeNull:
		return list, nil // no branch: left out
	case bson.TypeDateTime, bson.TypeTimestamp:
		// BsonDateTime.asInt64 and BsonTimestamp.asInt32 throw.
		return nil, fmt.Errorf("array %q holds %ss, which Debezium cannot convert", key, valueType)
	case bson.TypeEmbeddedDocument:
		if elem == nil || elem.kind != kindStruct {
			return nil, fmt.Errorf("array %q holds documents where its schema has no document (not a struct schema)", key)
		}
		sub, err := documentEntries(av.Document())
		if err != nil {
			return nil, err
		}
		es := newStruct(elem)
		for _, se := range sub {
			if err := convertField(se, es, elem); err != nil {
				return nil, err
			}
		}
		return append(list, es), nil
	case bson.TypeArray:
		inner, err := arrayValues(av)
		if err != nil {
			return nil, err
		}
		if len(inner) == 0 {
			// Debezium reads the first element: IndexOutOfBoundsException.
			return nil, fmt.Errorf("array %q holds an empty array among arrays, which Debezium cannot convert", key)
		}
		var sub *schema
		if t := inner[0].Type; t == bson.TypeArray || t == bson.TypeEmbeddedDocument {
			if elem == nil || elem.kind != kindArray {
				return nil, fmt.Errorf("array %q holds arrays where its schema has no array", key)
			}
			sub = elem.elem
		}
		subList := []any{}
		for _, v := range inner {
			if subList, err = appendArrayValue(subList, key, sub, v.Type, v); err != nil {
				return nil, err
			}
		}
		return append(list, subList), nil
	}
	if v, ok := scalarValue(av); ok {
		return append(list, v), nil
	}
	return list, nil // the skipped types have no branch: left out
}

// appendJSON writes v with schema s like JsonConverter with schemas
// disabled, serialized by Jackson: compact, struct fields in schema order
// (unset ones null), binary as base64, non-finite doubles as strings
// (QUOTE_NON_NUMERIC_NUMBERS).
func appendJSON(buf []byte, s *schema, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...)
	case string:
		return appendJSONString(buf, x)
	case float64:
		text := javaDouble(x)
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return appendJSONString(buf, text)
		}
		return append(buf, text...)
	case []byte:
		buf = append(buf, '"')
		buf = base64Java.AppendEncode(buf, x)
		return append(buf, '"')
	case int32:
		return strconv.AppendInt(buf, int64(x), 10)
	case int64:
		return strconv.AppendInt(buf, x, 10)
	case bool:
		return strconv.AppendBool(buf, x)
	case millis:
		return strconv.AppendInt(buf, int64(x), 10)
	case *structValue:
		buf = append(buf, '{')
		for i, f := range x.schema.fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONString(buf, f.name)
			buf = append(buf, ':')
			buf = appendJSON(buf, f.schema, x.values[f.name])
		}
		return append(buf, '}')
	case []any:
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSON(buf, s.elem, e)
		}
		return append(buf, ']')
	}
	return append(buf, "null"...)
}
