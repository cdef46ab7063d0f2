// Package money represents amounts of money exactly, in minor units (cents).
//
// Amounts are written as decimal strings with at most two decimals ("2",
// "2.5", "100.00"). In JSON an amount is a number (100.00) and is also read
// from a string, because the relays turn MongoDB's Decimal128 into a JSON
// string ("100.00"). In BSON it is a Decimal128, MongoDB's type for money.
//
// It knows no currency and no business rules.
package money

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/bson"
	"go.mongodb.org/mongo-driver/bson/bsontype"
	"go.mongodb.org/mongo-driver/bson/primitive"
	"go.mongodb.org/mongo-driver/x/bsonx/bsoncore"
)

// Cents is an amount in hundredths of the unit.
type Cents int64

// ErrInvalid is returned for text that is not an amount.
var ErrInvalid = errors.New("not an amount with at most two decimals")

// Parse reads a decimal amount such as "100", "2.5" or "-1.25".
func Parse(s string) (Cents, error) {
	s = strings.TrimSpace(s)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, hasFrac := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || (hasFrac && frac == "") {
		return 0, ErrInvalid
	}
	for len(frac) < 2 {
		frac += "0"
	}
	for _, r := range whole + frac {
		if r < '0' || r > '9' {
			return 0, ErrInvalid
		}
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/100-1 {
		return 0, ErrInvalid
	}
	f, _ := strconv.ParseInt(frac, 10, 64)
	c := Cents(w*100 + f)
	if neg {
		c = -c
	}
	return c, nil
}

// String renders the amount with two decimals, e.g. "100.00".
func (c Cents) String() string {
	sign := ""
	v := int64(c)
	if v < 0 {
		sign, v = "-", -v
	}
	return fmt.Sprintf("%s%d.%02d", sign, v/100, v%100)
}

// MarshalJSON writes the amount as a JSON number with two decimals.
func (c Cents) MarshalJSON() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalJSON reads a JSON number or a JSON string holding one.
func (c *Cents) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := Parse(s)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// MarshalBSONValue stores the amount as a Decimal128.
func (c Cents) MarshalBSONValue() (bsontype.Type, []byte, error) {
	d, err := primitive.ParseDecimal128(c.String())
	if err != nil {
		return 0, nil, err
	}
	return bson.MarshalValue(d)
}

// UnmarshalBSONValue reads a Decimal128, or a string, int32 or int64 amount.
func (c *Cents) UnmarshalBSONValue(t bsontype.Type, data []byte) error {
	v := bsoncore.Value{Type: t, Data: data}
	var s string
	switch t {
	case bson.TypeDecimal128:
		s = v.Decimal128().String()
	case bson.TypeString:
		s = v.StringValue()
	case bson.TypeInt32:
		s = strconv.Itoa(int(v.Int32()))
	case bson.TypeInt64:
		s = strconv.FormatInt(v.Int64(), 10)
	default:
		return fmt.Errorf("money: cannot read bson %s as an amount", t)
	}
	p, err := Parse(normalize(s))
	if err != nil {
		return fmt.Errorf("money: %q: %w", s, err)
	}
	*c = p
	return nil
}

// normalize turns Decimal128 renderings such as "1E+2" or "2.500" into plain
// decimals with at most two fraction digits when that loses nothing.
func normalize(s string) string {
	if strings.ContainsAny(s, "eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return s
		}
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	if whole, frac, ok := strings.Cut(s, "."); ok && len(frac) > 2 && strings.TrimRight(frac[2:], "0") == "" {
		return whole + "." + frac[:2]
	}
	return s
}
