package relay

// Renderings of values the way the Java side of Debezium writes them, so the
// bytes on Kafka do not depend on which relay published them.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/bson/primitive"
)

// javaDouble renders f like java.lang.Double.toString, which is what
// Jackson's writeNumber(double) emits for Kafka's JsonConverter (FLOAT64 ->
// DoubleNode) and what SimpleHeaderConverter and StringConverter use:
//
//   - NaN, Infinity, -Infinity, 0.0, -0.0 as such;
//   - 10^-3 <= |f| < 10^7: plain decimal with at least one fraction digit
//     (2.0, 0.1, 1234567.0);
//   - otherwise computerized scientific notation d.dddE±n without a plus
//     sign (1.0E20, 1.0E-5, 1.0E7).
//
// The digits are the shortest that read back as f, with the JDK 19+ rule
// (JDK-4511638 fix) that a one-digit result is replaced by the closest
// two-digit decimal when that one is closer (Double.MIN_VALUE -> 4.9E-324).
// Older JDKs (11 and 17, which Connect images run) sometimes print one more
// digit than needed; both strings read back as the same double.
func javaDouble(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	abs := math.Abs(f)
	digits, exp := shortestDigits(abs)
	var b strings.Builder
	if f < 0 {
		b.WriteByte('-')
	}
	if abs >= 1e-3 && abs < 1e7 {
		// exp is the decimal exponent of the first digit.
		intDigits := exp + 1
		switch {
		case intDigits <= 0:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -intDigits))
			b.WriteString(digits)
		case intDigits >= len(digits):
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", intDigits-len(digits)))
			b.WriteString(".0")
		default:
			b.WriteString(digits[:intDigits])
			b.WriteByte('.')
			b.WriteString(digits[intDigits:])
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	b.WriteByte('.')
	if len(digits) > 1 {
		b.WriteString(digits[1:])
	} else {
		b.WriteByte('0')
	}
	b.WriteByte('E')
	b.WriteString(strconv.Itoa(exp))
	return b.String()
}

// shortestDigits returns the significant digits of v > 0 (no trailing
// zeros) and the decimal exponent of the first one.
func shortestDigits(v float64) (string, int) {
	digits, exp := splitE(strconv.FormatFloat(v, 'e', -1, 64))
	if len(digits) == 1 {
		// JDK 19+: among the decimals of length 1 or 2 that round to v,
		// pick the closest. The correctly rounded 2-digit decimal is the
		// closest of them all; use it if it still reads back as v.
		two := strconv.FormatFloat(v, 'e', 1, 64)
		if back, err := strconv.ParseFloat(two, 64); err == nil && back == v {
			digits, exp = splitE(two)
		}
	}
	return digits, exp
}

// splitE splits strconv's "d.ddde±xx" into digits without trailing zeros
// and the exponent.
func splitE(s string) (string, int) {
	mant, e, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(e)
	digits := strings.Replace(mant, ".", "", 1)
	digits = strings.TrimRight(digits, "0")
	if digits == "" {
		digits = "0"
	}
	return digits, exp
}

// javaDecimal128 renders d like org.bson.types.Decimal128.toString, which
// MongoDataConverter puts in the record: "10.50", "1E+3", "-0", "NaN".
func javaDecimal128(d primitive.Decimal128) string {
	if d.IsNaN() {
		return "NaN"
	}
	if inf := d.IsInf(); inf != 0 {
		if inf < 0 {
			return "-Infinity"
		}
		return "Infinity"
	}
	high, _ := d.GetBytes()
	bi, exp, err := d.BigInt()
	if err != nil {
		return d.String()
	}
	significand := new(big.Int).Abs(bi).String()
	var b strings.Builder
	if high>>63 == 1 {
		b.WriteByte('-')
	}
	adjusted := exp + len(significand) - 1
	if exp <= 0 && adjusted >= -6 {
		if exp == 0 {
			b.WriteString(significand)
			return b.String()
		}
		pad := -exp - len(significand)
		if pad >= 0 {
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", pad))
			b.WriteString(significand)
		} else {
			b.WriteString(significand[:-pad])
			b.WriteByte('.')
			b.WriteString(significand[-pad:])
		}
		return b.String()
	}
	b.WriteByte(significand[0])
	if len(significand) > 1 {
		b.WriteByte('.')
		b.WriteString(significand[1:])
	}
	b.WriteByte('E')
	if adjusted > 0 {
		b.WriteByte('+')
	}
	b.WriteString(strconv.Itoa(adjusted))
	return b.String()
}

// javaString returns s as the JVM would hold it after decoding BSON UTF-8:
// invalid bytes become U+FFFD.
func javaString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// appendJSONString appends s quoted the way Jackson's generator does:
// only '"', '\\' and control characters are escaped (\b \t \n \f \r, others
// as \u00XX with upper-case hex); '/', '<', '>', '&', U+2028 and non-ASCII
// are written as UTF-8, unlike Go's encoding/json.
func appendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	for _, r := range javaString(s) {
		switch {
		case r == '"':
			buf = append(buf, '\\', '"')
		case r == '\\':
			buf = append(buf, '\\', '\\')
		case r == '\b':
			buf = append(buf, '\\', 'b')
		case r == '\t':
			buf = append(buf, '\\', 't')
		case r == '\n':
			buf = append(buf, '\\', 'n')
		case r == '\f':
			buf = append(buf, '\\', 'f')
		case r == '\r':
			buf = append(buf, '\\', 'r')
		case r < 0x20:
			buf = append(buf, '\\', 'u', '0', '0', upperHex[r>>4], upperHex[r&0xF])
		default:
			buf = utf8.AppendRune(buf, r)
		}
	}
	return append(buf, '"')
}

// base64Java is Jackson's default Base64 variant (MIME without line feeds):
// the standard alphabet with padding.
var base64Java = base64.StdEncoding

// javaReplaceFirst mirrors java.util.regex.Matcher.replaceFirst: the first
// match of re in s is replaced by repl in Java's replacement syntax.
func javaReplaceFirst(re *regexp.Regexp, s, repl string) (string, error) {
	loc := re.FindStringSubmatchIndex(s)
	if loc == nil {
		return s, nil
	}
	var b strings.Builder
	b.WriteString(s[:loc[0]])
	if err := expandJava(&b, re, s, loc, repl); err != nil {
		return "", err
	}
	b.WriteString(s[loc[1]:])
	return b.String(), nil
}

// validateJavaReplacement checks repl's syntax and group references
// against re without a match.
func validateJavaReplacement(re *regexp.Regexp, repl string) error {
	return expandJava(nil, re, "", nil, repl)
}

// expandJava appends repl to b with $n, ${name} and \x handled like
// Matcher.appendReplacement. With b nil it only validates.
func expandJava(b *strings.Builder, re *regexp.Regexp, s string, loc []int, repl string) error {
	group := func(i int) {
		if b == nil || loc == nil || loc[2*i] < 0 {
			return // a group that did not participate appends nothing
		}
		b.WriteString(s[loc[2*i]:loc[2*i+1]])
	}
	for i := 0; i < len(repl); {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i >= len(repl) {
				return errors.New("character to be escaped is missing")
			}
			if b != nil {
				b.WriteByte(repl[i])
			}
			i++
		case '$':
			i++
			if i >= len(repl) {
				return errors.New("illegal group reference: group index is missing")
			}
			if repl[i] == '{' {
				i++
				j := i
				for j < len(repl) && (repl[j] >= 'a' && repl[j] <= 'z' || repl[j] >= 'A' && repl[j] <= 'Z' || j > i && repl[j] >= '0' && repl[j] <= '9') {
					j++
				}
				if j == i {
					return errors.New("named capturing group has 0 length name")
				}
				if j >= len(repl) || repl[j] != '}' {
					return errors.New("named capturing group is missing trailing '}'")
				}
				name := repl[i:j]
				idx := re.SubexpIndex(name)
				if idx < 0 {
					return fmt.Errorf("no group with name {%s}", name)
				}
				group(idx)
				i = j + 1
				continue
			}
			if repl[i] < '0' || repl[i] > '9' {
				return errors.New("illegal group reference")
			}
			ref := int(repl[i] - '0')
			i++
			for i < len(repl) && repl[i] >= '0' && repl[i] <= '9' {
				next := ref*10 + int(repl[i]-'0')
				if next > re.NumSubexp() {
					break
				}
				ref = next
				i++
			}
			if ref > re.NumSubexp() {
				return fmt.Errorf("no group %d", ref)
			}
			group(ref)
		default:
			if b != nil {
				b.WriteByte(c)
			}
			i++
		}
	}
	return nil
}
