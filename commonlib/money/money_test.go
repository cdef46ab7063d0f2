package money_test

import (
	"encoding/json"
	"testing"

	"go.mongodb.org/mongo-driver/bson"

	"github.com/sagaoutbox/platform/commonlib/money"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    money.Cents
		wantErr bool
	}{
		{"100", 10000, false},
		{"2.5", 250, false},
		{"1.99", 199, false},
		{"-1.25", -125, false},
		{"0", 0, false},
		{"1.999", 0, true},
		{"abc", 0, true},
		{"1.", 0, true},
		{".5", 0, true},
		{"", 0, true},
		{"1e2", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := money.Parse(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("Parse(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestJSONAndBSONRoundTrip(t *testing.T) {
	type doc struct {
		Amount money.Cents `json:"amount" bson:"amount"`
	}
	b, _ := json.Marshal(doc{Amount: 250})
	if string(b) != `{"amount":2.50}` {
		t.Fatalf("json = %s, want {\"amount\":2.50}", b)
	}
	for _, in := range []string{`{"amount":2.5}`, `{"amount":"2.50"}`} {
		var d doc
		if err := json.Unmarshal([]byte(in), &d); err != nil || d.Amount != 250 {
			t.Fatalf("json %s -> %v, %v; want 250", in, d.Amount, err)
		}
	}
	raw, err := bson.Marshal(doc{Amount: 10000})
	if err != nil {
		t.Fatal(err)
	}
	if typ := bson.Raw(raw).Lookup("amount").Type; typ != bson.TypeDecimal128 {
		t.Fatalf("bson type = %v, want decimal128", typ)
	}
	var d doc
	if err := bson.Unmarshal(raw, &d); err != nil || d.Amount != 10000 {
		t.Fatalf("bson round trip = %v, %v; want 10000", d.Amount, err)
	}
}
