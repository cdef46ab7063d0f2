package relay

import (
	"math"
	"regexp"
	"testing"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

func mustRegexp(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

// TestJavaDouble pins Double.toString's output, as documented in the
// java.lang.Double javadoc (plain between 10^-3 and 10^7, at least one
// fraction digit, E notation without '+', shortest digits, JDK 19+).
func TestJavaDouble(t *testing.T) {
	tenth, fifth := 0.1, 0.2
	tests := []struct {
		in   float64
		want string
	}{
		{2.0, "2.0"},
		{0.1, "0.1"},
		{1e20, "1.0E20"},
		{1e-5, "1.0E-5"},
		{1e7, "1.0E7"},
		{9999999.0, "9999999.0"},
		{1234567.0, "1234567.0"},
		{12345678.9, "1.23456789E7"},
		{0.001, "0.001"},
		{0.000999, "9.99E-4"},
		{100.0, "100.0"},
		{-2.5, "-2.5"},
		{3.14, "3.14"},
		{1.0 / 3, "0.3333333333333333"},
		{2.0 / 3, "0.6666666666666666"},
		{tenth + fifth, "0.30000000000000004"}, // at run time, not exact constant arithmetic
		{1e23, "1.0E23"},
		{1e21, "1.0E21"},
		{123456789012.0, "1.23456789012E11"},
		{math.MaxFloat64, "1.7976931348623157E308"},
		{math.SmallestNonzeroFloat64, "4.9E-324"},
		{2.2250738585072014e-308, "2.2250738585072014E-308"},
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := javaDouble(tt.in); got != tt.want {
				t.Errorf("javaDouble(%v) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestJavaDecimal128 pins org.bson.types.Decimal128.toString (the BSON
// Decimal128 to-string specification).
func TestJavaDecimal128(t *testing.T) {
	tests := []struct{ in, want string }{
		{"10.50", "10.50"},
		{"0", "0"},
		{"-0", "-0"},
		{"0.00", "0.00"},
		{"1E+3", "1E+3"},
		{"1000", "1000"},
		{"0.000001", "0.000001"},
		{"0.0000001", "1E-7"},
		{"-1.00E-8", "-1.00E-8"},
		{"12345678901234567890.5", "12345678901234567890.5"},
		{"1.5E+10", "1.5E+10"},
		{"NaN", "NaN"},
		{"Infinity", "Infinity"},
		{"-Infinity", "-Infinity"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := primitive.ParseDecimal128(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := javaDecimal128(d); got != tt.want {
				t.Errorf("javaDecimal128(%s) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// TestJSONString pins Jackson's escaping, which differs from encoding/json.
func TestJSONString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", `"plain"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"\b\t\n\f\r", `"\b\t\n\f\r"`},
		{"\x00\x1f", `"\u0000\u001F"`},
		{"<>&/", `"<>&/"`},
		{"\u2028é😀", "\"\u2028é😀\""},
		{"\x7f", "\"\x7f\""},
		{"bad\xffutf8", "\"bad\uFFFDutf8\""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := string(appendJSONString(nil, tt.in)); got != tt.want {
				t.Errorf("appendJSONString(%q) = %s, want %s", tt.in, got, tt.want)
			}
		})
	}
}

// TestJavaReplaceFirst pins Matcher.replaceFirst's replacement syntax.
func TestJavaReplaceFirst(t *testing.T) {
	tests := []struct {
		name, re, in, repl, want string
		wantErr                  bool
	}{
		{"default route", DefaultTopicRegex, "customer", DefaultTopicReplacement, "outbox.event.customer", false},
		{"numbered group", `(a)(b)`, "ab", "$2$1", "ba", false},
		{"group number stops at the group count", `(a)`, "a", "$10", "a0", false},
		{"escaped dollar", `(a)`, "a", `\$1`, "$1", false},
		{"first match only", `o`, "foo", "0", "f0o", false},
		{"unknown name", `(?<x>a)`, "a", "${y}", "", true},
		{"unknown number", `a`, "a", "$1", "", true},
		{"trailing backslash", `a`, "a", `\`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := javaReplaceFirst(mustRegexp(t, tt.re), tt.in, tt.repl)
			if (err != nil) != tt.wantErr {
				t.Fatalf("javaReplaceFirst() error = %v, want error %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("javaReplaceFirst() = %q, want %q", got, tt.want)
			}
		})
	}
}
