package relay

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// TestCheckJavaRegexAccepts lists patterns java.util.regex.Pattern and Go's
// regexp both accept and read alike on printable ASCII (each was compiled
// with JDK 17's Pattern and matched against random ASCII in both engines).
func TestCheckJavaRegexAccepts(t *testing.T) {
	for _, pattern := range []string{
		DefaultTopicRegex,
		`(?<kind>cust)(omer)`,
		`(?i)customer|(?<other>pay)ment`,
		`(?i:cust)omer`,
		`(?s).*`,
		`(?-i)a`,
		`(?)a`,
		`^(\w+)\.(\d*)$`,
		`\d\D\s\S\w\W\b\B\Aa\z`,
		`[a-z\-_.]+`,
		`[]a]`,
		`[^]a]`,
		`[a-]`,
		`[-a]`,
		`[\d-z]`,
		`[^\s&]`,
		`\Qa.b\E(.*)`,
		`\Qa(b`,
		`a\Q\E`,
		`x{2}`,
		`x{2,}`,
		`x{2,3}?`,
		`x*?y+?z??`,
		`(a?)(b*)?`,
		`(?:a+b)*`,
		`[\w.-]{1,5}(.*)`,
		`(a*){1}`,
		`\x41\x{42}\t\n\r\f\a`,
		`\.\$\{\}\[\]\(\)\|\*\+\?\\\/\-\ `,
		`\pL+\p{Lu}\PN\P{Nd}`,
		`a|`,
		`()`,
		`}]`,
		`é`,
	} {
		t.Run(pattern, func(t *testing.T) {
			if err := checkJavaRegex(pattern, false); err != nil {
				t.Errorf("checkJavaRegex(%q) = %v, want nil", pattern, err)
			}
			if _, err := regexp.Compile(pattern); err != nil {
				t.Errorf("Go's regexp refuses %q: %v", pattern, err)
			}
		})
	}
}

// TestCheckJavaRegexRefuses lists patterns the relay refuses: javaRejects
// ones are refused by JDK 17's Pattern too; the others Go and Java both
// accept (or Go cannot run) but read differently.
func TestCheckJavaRegexRefuses(t *testing.T) {
	tests := []struct {
		pattern         string
		caseInsensitive bool
		javaRejects     bool
		want            string
	}{
		{`(?P<v>.*)`, false, true, "(?P<name>"},
		{`(?<routed_by>.*)`, false, true, "missing trailing '>'"},
		{`(?<1a>.*)`, false, true, "does not start with a Latin letter"},
		{`(?<>.*)`, false, true, "does not start with a Latin letter"},
		{`(?<a>x)(?<a>y)`, false, true, "<a> is already defined"},
		{`x{,3}`, false, true, "illegal repetition"},
		{`${x}`, false, true, "illegal repetition"},
		{`x{a}`, false, true, "illegal repetition"},
		{`x{2`, false, true, "unclosed counted closure"},
		{`x{2,x}`, false, true, "unclosed counted closure"},
		{`x{3,2}`, false, true, "illegal repetition range"},
		{`*a`, false, true, "dangling meta character '*'"},
		{`a**`, false, true, "dangling meta character '*'"},
		{`(?i)*`, false, true, "dangling meta character '*'"},
		{`a)`, false, true, "unmatched closing ')'"},
		{`(a`, false, true, "unclosed group"},
		{`[a`, false, true, "unclosed character class"},
		{`[z-a]`, false, true, "illegal character range"},
		{`(?q)a`, false, true, "unknown inline modifier 'q'"},
		{`\p{^L}`, false, true, "\\p{^"},
		{`\p{L`, false, true, "unclosed character family"},
		{`\x4`, false, true, "illegal hexadecimal escape"},
		{`\x{110000}`, false, true, "too big"},
		{`a\`, false, true, "ends in a backslash"},
		{`\p{Greek}`, false, true, "unknown character property name {Greek}"},
		{`\p{Any}`, false, true, "unknown character property name {Any}"},
		{`\p{IsGreek}`, false, false, "different property names"},
		{`\p{Alpha}`, false, false, "different property names"},
		{`[[:alpha:]]`, false, false, "Java nests a class"},
		{`[a[b]]`, false, false, "Java nests a class"},
		{`[a-z&&[^x]]`, false, false, "intersection"},
		{`(?U)(.*)`, false, false, "(?U)"},
		{`(?x)a b`, false, false, "(?x)"},
		{`\12`, false, false, "octal"},
		{`\0`, false, true, "illegal octal escape"},
		{`\0x`, false, true, "illegal octal escape"},
		{`\012`, false, false, "octal"},
		{`(a)\1`, false, false, "back reference"},
		{`a{01}`, false, false, "leading zero"},
		{`a{1,02}`, false, false, "leading zero"},
		{`\v`, false, false, "vertical"},
		{`[\v-z]`, false, false, "vertical"},
		{`\b{g}`, false, false, "grapheme"},
		{`a*{2}`, false, false, "nothing to repeat"},
		{`(?=a)`, false, false, "lookahead"},
		{`(?<=a)b`, false, false, "lookbehind"},
		{`a*+`, false, false, "possessive"},
		{`\Z`, false, false, `\Z`},
		{`\h`, false, false, `\h`},
		{`[\Q]\E]`, false, false, "inside a character class"},
		{`[a-\d]`, false, true, "illegal character range"},
		{`(?m)^a$`, false, false, "(?m)"},
		{`(?:x*)*`, false, false, "repeated group that can match the empty string"},
		{`(?:a?)+`, false, false, "repeated group"},
		{`(?:a|)*`, false, false, "repeated group"},
		{`(?:a*){2}`, false, false, "repeated group"},
		{`(x*)*`, false, false, "capturing group inside a repetition"},
		{`(?:(\w))*\d.*`, false, false, "capturing group inside a repetition"},
		{`(?:(\w)){2,3}\d.*`, false, false, "capturing group inside a repetition"},
		{`(a+)*`, false, false, "capturing group inside a repetition"},
		{`(?:(a)|b){2}`, false, false, "capturing group inside a repetition"},
		{`(?:a*)*`, false, false, "repeated group"},
		{`(?:\w*?|a)+b`, false, false, "repeated group"},
		{`^*`, false, false, "repeated group"},
		{`(?i)é`, false, false, "case-insensitive"},
		{`(?i)\x{212A}`, false, false, "case-insensitive"},
		{`(?i)\p{Lu}`, false, false, "case-insensitive"},
		{`\p{Lu}`, true, false, "case-insensitive"},
		{`customers-dé`, true, false, "case-insensitive"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			err := checkJavaRegex(tt.pattern, tt.caseInsensitive)
			var je *javaRegexError
			if !errors.As(err, &je) {
				t.Fatalf("checkJavaRegex(%q) = %v, want a *javaRegexError", tt.pattern, err)
			}
			if je.javaRejects != tt.javaRejects {
				t.Errorf("checkJavaRegex(%q) = %v: javaRejects = %v, want %v", tt.pattern, err, je.javaRejects, tt.javaRejects)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("checkJavaRegex(%q) = %q, want it to mention %q", tt.pattern, err, tt.want)
			}
		})
	}
}

// TestAnchoredPattern checks the whole-input wrapping closes an open \Q.
func TestAnchoredPattern(t *testing.T) {
	tests := []struct{ pattern, want string }{
		{`(.*)`, `\A(?:(.*))\z`},
		{`\Qcustomer`, `\A(?:\Qcustomer\E)\z`},
		{`\Qa\Eb`, `\A(?:\Qa\Eb)\z`},
		{`\Qa\E\Qb`, `\A(?:\Qa\E\Qb\E)\z`},
		{`\\Q`, `\A(?:\\Q)\z`},
		{`\Q\\E`, `\A(?:\Q\\E)\z`},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if got := anchoredPattern(tt.pattern); got != tt.want {
				t.Errorf("anchoredPattern(%q) = %q, want %q", tt.pattern, got, tt.want)
			}
			if _, err := regexp.Compile(anchoredPattern(tt.pattern)); err != nil {
				t.Errorf("anchored %q does not compile: %v", tt.pattern, err)
			}
		})
	}
}
