package relay

// Debezium and Kafka Connect settings hold java.util.regex.Pattern
// expressions (route.topic.regex, the TopicNameMatches pattern, the
// include and exclude lists); the relay evaluates them with Go's regexp.
// checkJavaRegex keeps to the syntax both engines accept and read alike.

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// javaRegexError says why a Java pattern is refused.
type javaRegexError struct {
	// javaRejects is set when java.util.regex.Pattern itself refuses the
	// pattern, so Debezium (or Kafka Connect) would not start either.
	javaRejects bool
	msg         string
}

func (e *javaRegexError) Error() string {
	if e.javaRejects {
		return "Java's Pattern rejects it (" + e.msg + "), so Debezium would not start with it either"
	}
	return e.msg
}

func javaRejects(format string, args ...any) error {
	return &javaRegexError{javaRejects: true, msg: fmt.Sprintf(format, args...)}
}

func javaGoDiffer(format string, args ...any) error {
	return &javaRegexError{msg: fmt.Sprintf(format, args...)}
}

// checkJavaRegex reports why pattern, a Java regular expression, cannot be
// evaluated with Go's regexp as Java evaluates it; nil means the two read it
// alike on printable ASCII input (routeTopic parks other route values).
// caseInsensitive says the pattern is compiled with CASE_INSENSITIVE, as
// Debezium's include and exclude lists are.
//
// It follows java.util.regex.Pattern's grammar (JDK 11 to 21) and refuses
// what Pattern rejects although Go accepts it, such as (?P<name>…), group
// names with '_' or a leading digit, a repeated group name, x{,3}, a '{'
// that starts no count, \p{Greek}; and what both accept but read
// differently: [[:alpha:]] and other nested classes, && in a class, (?U),
// octal escapes and back references (\1, \012), counts with a leading
// zero (x{01}), \v, \b{g}, and (?i) together with non-ASCII characters or
// \p classes. Constructs Go lacks (lookaround, possessive quantifiers,
// \Z, \h, …) are refused too; the caller still compiles the pattern with
// Go's regexp, which refuses anything else Go cannot run.
func checkJavaRegex(pattern string, caseInsensitive bool) error {
	p := &javaRegexParser{s: []rune(pattern), names: map[string]bool{}, foldCase: caseInsensitive}
	if _, err := p.alternation(); err != nil {
		return err
	}
	if p.i < len(p.s) {
		return javaRejects("unmatched closing ')' at index %d", p.i)
	}
	if p.foldCase && p.foldSensitive != "" {
		return javaGoDiffer("case-insensitive matching of %s: Java folds case in ASCII only (without (?u)), Go in all of Unicode", p.foldSensitive)
	}
	return nil
}

type javaRegexParser struct {
	s     []rune
	i     int
	names map[string]bool
	// foldCase is set once (?i) is seen anywhere, or for CASE_INSENSITIVE.
	foldCase bool
	// foldSensitive names the first thing whose case folding differs
	// between the engines: a non-ASCII character or a \p class.
	foldSensitive string
}

func (p *javaRegexParser) peek(ahead int) rune {
	if p.i+ahead < len(p.s) {
		return p.s[p.i+ahead]
	}
	return -1
}

func (p *javaRegexParser) noteChar(r rune) {
	if r > 0x7f && p.foldSensitive == "" {
		p.foldSensitive = fmt.Sprintf("%q", r)
	}
}

// node describes a parsed piece of a pattern: whether it can match the
// empty string and whether it holds a capturing group.
type node struct {
	nullable, captures bool
}

// alternation parses branches separated by '|' up to a ')' or the end.
func (p *javaRegexParser) alternation() (node, error) {
	var n node
	for {
		b, err := p.sequence()
		if err != nil {
			return node{}, err
		}
		n.nullable = n.nullable || b.nullable
		n.captures = n.captures || b.captures
		if p.peek(0) != '|' {
			return n, nil
		}
		p.i++
	}
}

// sequence parses atoms and their quantifiers up to '|', ')' or the end.
func (p *javaRegexParser) sequence() (node, error) {
	seq := node{nullable: true}
	var last *node // the last atom, which a quantifier may still change
	flush := func() {
		if last != nil {
			seq.nullable = seq.nullable && last.nullable
			seq.captures = seq.captures || last.captures
			last = nil
		}
	}
	atom := func(n node) {
		flush()
		last = &n
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch c {
		case '|', ')':
			flush()
			return seq, nil
		case '(':
			n, isAtom, err := p.group()
			if err != nil {
				return node{}, err
			}
			flush()
			if isAtom {
				atom(n)
			}
		case '[':
			if err := p.class(); err != nil {
				return node{}, err
			}
			atom(node{})
		case '\\':
			n, isAtom, err := p.escape()
			if err != nil {
				return node{}, err
			}
			flush()
			if isAtom {
				atom(n)
			}
		case '*', '+', '?', '{':
			at := p.i
			min, max := 0, 1 // '?'
			switch c {
			case '*':
				max = -1
			case '+':
				min, max = 1, -1
			case '{':
				var err error
				if min, max, err = p.count(); err != nil {
					return node{}, err
				}
			}
			if last == nil {
				if c == '{' {
					return node{}, javaGoDiffer("a count with nothing to repeat: Java repeats an empty string, Go refuses it")
				}
				return node{}, javaRejects("dangling meta character '%c' at index %d", c, at)
			}
			if c != '{' {
				p.i++
			}
			if err := p.quantifierSuffix(); err != nil {
				return node{}, err
			}
			repeats := max != 0 && max != 1
			if repeats && last.captures {
				// Java does not always restore a group's text when it
				// backtracks out of an iteration: (?:(\w))*\d.* on "x_1kx"
				// captures "x" in Java, "_" in Go.
				return node{}, javaGoDiffer("a capturing group inside a repetition (quantifier at index %d): Java can keep the text of an iteration it backtracked out of, Go does not", at)
			}
			if repeats && last.nullable {
				// Java's loops give an iteration that matched the empty
				// string other chances than Go's regexp, which never
				// repeats one: (x*)* on "x" captures "" in Java and "x" in
				// Go, and with lazy parts the matched text itself differs.
				return node{}, javaGoDiffer("a repeated group that can match the empty string (quantifier at index %d): Java and Go repeat it differently, so what it matches and captures can differ", at)
			}
			if min == 0 {
				last.nullable = true
			}
			flush() // a quantifier may not follow a quantifier
		default:
			// '.', '^', '$' and literals; Java lets a quantifier follow
			// anchors too, and Go agrees.
			p.noteChar(c)
			p.i++
			atom(node{nullable: c == '^' || c == '$'})
		}
	}
	flush()
	return seq, nil
}

// quantifierSuffix reads the optional lazy '?' after a quantifier.
func (p *javaRegexParser) quantifierSuffix() error {
	switch p.peek(0) {
	case '?':
		p.i++
	case '+':
		return javaGoDiffer("possessive quantifiers (%s): Go's regexp has none", string(p.s[p.i-1:p.i+1]))
	}
	return nil
}

// count parses a counted repetition {n}, {n,} or {n,m} at p.i; max is -1
// for {n,}.
func (p *javaRegexParser) count() (min, max int, err error) {
	start := p.i
	p.i++ // '{'
	digits := func() string {
		from := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		return string(p.s[from:p.i])
	}
	number := func(d string) int {
		n := 0
		for _, c := range d {
			if n = n*10 + int(c-'0'); n > 1<<20 {
				return 1 << 20 // far beyond Go's limit of 1000
			}
		}
		return n
	}
	lo := digits()
	if lo == "" {
		return 0, 0, javaRejects("illegal repetition at index %d: '{' must start a count such as {2} or {1,3}; write \\{ for a brace", start)
	}
	hi, bounded := lo, true
	if p.peek(0) == ',' {
		p.i++
		hi = digits()
		bounded = hi != ""
	}
	if p.peek(0) != '}' {
		return 0, 0, javaRejects("unclosed counted closure at index %d", start)
	}
	p.i++
	for _, n := range []string{lo, hi} {
		if len(n) > 1 && n[0] == '0' {
			return 0, 0, javaGoDiffer("the count %s has a leading zero: Java reads it as a count, Go as literal text", string(p.s[start:p.i]))
		}
	}
	min, max = number(lo), -1
	if bounded {
		max = number(hi)
		if max < min {
			return 0, 0, javaRejects("illegal repetition range %s", string(p.s[start:p.i]))
		}
	}
	return min, max, nil
}

// group parses a parenthesized group at p.i. atom is false for a bare
// flag group such as (?i), which no quantifier may follow.
func (p *javaRegexParser) group() (n node, atom bool, err error) {
	start := p.i
	p.i++ // '('
	capturing := true
	if p.peek(0) == '?' {
		capturing = false
		p.i++
		switch c := p.peek(0); c {
		case ':':
			p.i++
		case '=', '!', '>':
			return node{}, false, javaGoDiffer("lookahead and atomic groups (%s): Go's regexp has none", string(p.s[start:p.i+1]))
		case '<':
			p.i++
			if n := p.peek(0); n == '=' || n == '!' {
				return node{}, false, javaGoDiffer("lookbehind (%s): Go's regexp has none", string(p.s[start:p.i+1]))
			}
			if err := p.groupName(); err != nil {
				return node{}, false, err
			}
			capturing = true
		case 'P':
			return node{}, false, javaRejects("unknown inline modifier 'P' at index %d: Java names a group (?<name>…), not (?P<name>…)", p.i)
		default:
			bare, err := p.flags()
			if err != nil {
				return node{}, false, err
			}
			if bare {
				return node{}, false, nil
			}
		}
	}
	n, err = p.alternation()
	if err != nil {
		return node{}, false, err
	}
	if p.peek(0) != ')' {
		return node{}, false, javaRejects("unclosed group at index %d", start)
	}
	p.i++
	n.captures = n.captures || capturing
	return n, true, nil
}

// groupName reads "name>" of a named group, the way Java's Pattern accepts
// it: an ASCII letter, then ASCII letters and digits, used once.
func (p *javaRegexParser) groupName() error {
	from := p.i
	for p.i < len(p.s) && (p.s[p.i] >= 'a' && p.s[p.i] <= 'z' || p.s[p.i] >= 'A' && p.s[p.i] <= 'Z' || p.i > from && p.s[p.i] >= '0' && p.s[p.i] <= '9') {
		p.i++
	}
	name := string(p.s[from:p.i])
	if name == "" {
		return javaRejects("capturing group name does not start with a Latin letter at index %d", from)
	}
	if p.peek(0) != '>' {
		return javaRejects("named capturing group is missing trailing '>' at index %d (Java group names are ASCII letters and digits)", p.i)
	}
	p.i++
	if p.names[name] {
		return javaRejects("named capturing group <%s> is already defined", name)
	}
	p.names[name] = true
	return nil
}

// flags parses the flags of (?flags) or (?flags:…) after "(?". bare is
// true for (?flags), which ends there.
func (p *javaRegexParser) flags() (bare bool, err error) {
	negated := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch c {
		case ')':
			return true, nil
		case ':':
			return false, nil
		case '-':
			negated = true
		case 'i':
			if !negated {
				p.foldCase = true
			}
		case 's':
		case 'm':
			return false, javaGoDiffer("the flag (?m): Java's multiline '^' never matches at the end of the input, Go's does")
		case 'U':
			return false, javaGoDiffer("the flag (?U) is Unicode character classes in Java and ungreedy matching in Go")
		case 'd', 'u', 'c', 'x':
			return false, javaGoDiffer("the flag (?%c): Go's regexp has none", c)
		default:
			return false, javaRejects("unknown inline modifier '%c' at index %d", c, p.i-1)
		}
	}
	return false, javaRejects("unclosed group")
}

// class parses a character class [...] at p.i.
func (p *javaRegexParser) class() error {
	start := p.i
	p.i++ // '['
	if p.peek(0) == '^' {
		p.i++
	}
	first := true // a ']' right after [ or [^ is a literal in both engines
	for {
		c := p.peek(0)
		switch {
		case c < 0:
			return javaRejects("unclosed character class at index %d", start)
		case c == ']' && !first:
			p.i++
			return nil
		case c == '[':
			return javaGoDiffer("'[' inside a character class: Java nests a class there (so [[:alpha:]] is not a POSIX class), Go reads a '[' or a POSIX class")
		case c == '&' && p.peek(1) == '&':
			return javaGoDiffer("'&&' inside a character class is an intersection in Java, two '&' in Go")
		}
		first = false
		lo, isChar, err := p.classAtom()
		if err != nil {
			return err
		}
		if !isChar || p.peek(0) != '-' || p.peek(1) == ']' || p.peek(1) == '[' || p.peek(1) < 0 {
			continue
		}
		p.i++ // '-'
		hi, isChar, err := p.classAtom()
		if err != nil {
			return err
		}
		if !isChar {
			return javaRejects("illegal character range: it ends in a class escape")
		}
		if hi < lo {
			return javaRejects("illegal character range %c-%c", lo, hi)
		}
	}
}

// classAtom parses one character or class escape inside [...]. isChar is
// false for a class escape such as \d or \p{L}.
func (p *javaRegexParser) classAtom() (r rune, isChar bool, err error) {
	c := p.s[p.i]
	if c != '\\' {
		p.noteChar(c)
		p.i++
		return c, true, nil
	}
	switch n := p.peek(1); n {
	case 'd', 'D', 's', 'S', 'w', 'W':
		p.i += 2
		return 0, false, nil
	case 'p', 'P':
		return 0, false, p.property()
	case 'Q', 'b', 'B', 'A', 'z':
		return 0, false, javaGoDiffer("\\%c inside a character class: Go's regexp does not take it there", n)
	}
	r, err = p.charEscape()
	return r, err == nil, err
}

// escape parses a backslash sequence outside a class. atom is false for
// an empty \Q\E, which no quantifier may follow.
func (p *javaRegexParser) escape() (n node, atom bool, err error) {
	switch c := p.peek(1); c {
	case 'd', 'D', 's', 'S', 'w', 'W':
		p.i += 2
		return node{}, true, nil
	case 'A', 'z', 'B':
		p.i += 2
		return node{nullable: true}, true, nil
	case 'b':
		p.i += 2
		if p.peek(0) == '{' {
			return node{}, false, javaGoDiffer("\\b{…} is a grapheme boundary in Java, a word boundary and a '{' in Go")
		}
		return node{nullable: true}, true, nil
	case 'p', 'P':
		return node{}, true, p.property()
	case 'Q':
		p.i += 2
		from := p.i
		end := strings.Index(string(p.s[from:]), `\E`)
		var quoted []rune
		if end < 0 {
			quoted = p.s[from:]
			p.i = len(p.s)
		} else {
			quoted = []rune(string(p.s[from:])[:end])
			p.i = from + len(quoted) + 2
		}
		for _, r := range quoted {
			p.noteChar(r)
		}
		return node{}, len(quoted) > 0, nil
	}
	_, err = p.charEscape()
	return node{}, err == nil, err
}

// charEscape parses an escape that stands for one character: \t \n \r \f
// \a, \xhh, \x{h…}, or a backslash before a non-alphanumeric ASCII
// character.
func (p *javaRegexParser) charEscape() (rune, error) {
	at := p.i
	n := p.peek(1)
	p.i += 2
	switch {
	case n < 0:
		return 0, javaRejects("unexpected internal error at index %d: the pattern ends in a backslash", at)
	case n == 't':
		return '\t', nil
	case n == 'n':
		return '\n', nil
	case n == 'r':
		return '\r', nil
	case n == 'f':
		return '\f', nil
	case n == 'a':
		return '\a', nil
	case n == 'x':
		return p.hexEscape(at)
	case n == '0' && (p.peek(0) < '0' || p.peek(0) > '7'):
		return 0, javaRejects("illegal octal escape sequence at index %d", at)
	case n >= '0' && n <= '9':
		return 0, javaGoDiffer("\\%c: Java reads a back reference or (after \\0) an octal escape, Go an octal escape or nothing; write \\x.. for a character", n)
	case n == 'v' || n == 'V':
		return 0, javaGoDiffer("\\%c is vertical whitespace in Java and a vertical tab (or nothing) in Go", n)
	case n < utf8.RuneSelf && !(n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z'):
		return n, nil
	}
	return 0, javaGoDiffer("the escape \\%c is not one Java and Go both take", n)
}

// hexEscape parses the digits of \xhh or \x{h…}; at is the backslash.
func (p *javaRegexParser) hexEscape(at int) (rune, error) {
	hex := func(r rune) int {
		switch {
		case r >= '0' && r <= '9':
			return int(r - '0')
		case r >= 'a' && r <= 'f':
			return int(r-'a') + 10
		case r >= 'A' && r <= 'F':
			return int(r-'A') + 10
		}
		return -1
	}
	if p.peek(0) == '{' {
		p.i++
		v, n := 0, 0
		for p.peek(0) >= 0 && hex(p.peek(0)) >= 0 {
			v = v*16 + hex(p.peek(0))
			if v > utf8.MaxRune {
				return 0, javaRejects("hexadecimal codepoint is too big at index %d", at)
			}
			p.i++
			n++
		}
		if n == 0 || p.peek(0) != '}' {
			return 0, javaRejects("unclosed hexadecimal escape sequence at index %d", at)
		}
		p.i++
		p.noteChar(rune(v))
		return rune(v), nil
	}
	a, b := hex(p.peek(0)), hex(p.peek(1))
	if a < 0 || b < 0 {
		return 0, javaRejects("illegal hexadecimal escape sequence at index %d", at)
	}
	p.i += 2
	r := rune(a*16 + b)
	p.noteChar(r)
	return r, nil
}

// goCategories are the Unicode general categories Go's regexp knows by
// these exact names; Java's Pattern knows them by the same names.
var goCategories = map[string]bool{
	"C": true, "Cc": true, "Cf": true, "Co": true, "Cs": true,
	"L": true, "Ll": true, "Lm": true, "Lo": true, "Lt": true, "Lu": true,
	"M": true, "Mc": true, "Me": true, "Mn": true,
	"N": true, "Nd": true, "Nl": true, "No": true,
	"P": true, "Pc": true, "Pd": true, "Pe": true, "Pf": true, "Pi": true, "Po": true, "Ps": true,
	"S": true, "Sc": true, "Sk": true, "Sm": true, "So": true,
	"Z": true, "Zl": true, "Zp": true, "Zs": true,
}

// property parses \pX, \p{Name}, \PX or \P{Name} at p.i.
func (p *javaRegexParser) property() error {
	at := p.i
	p.i += 2
	var name string
	switch c := p.peek(0); {
	case c < 0:
		return javaRejects("illegal character family escape at index %d", at)
	case c == '{':
		end := strings.IndexRune(string(p.s[p.i:]), '}')
		if end < 0 {
			return javaRejects("unclosed character family at index %d", at)
		}
		rest := string(p.s[p.i+1:])
		name = rest[:end-1]
		p.i += 1 + utf8.RuneCountInString(name) + 1
	default:
		name = string(c)
		p.i++
	}
	if p.foldSensitive == "" {
		p.foldSensitive = "\\p classes"
	}
	if strings.HasPrefix(name, "^") {
		return javaRejects("unknown character property name {%s} at index %d: Java has no \\p{^…}, write \\P{…}", name, at)
	}
	switch {
	case goCategories[name]:
		return nil
	case javaProperties[name], strings.HasPrefix(name, "Is"), strings.HasPrefix(name, "In"), strings.HasPrefix(name, "java"), strings.Contains(name, "="):
		return javaGoDiffer("\\p{%s}: Java and Go know different property names (Java's POSIX, java*, Is*, In* and key=value forms); use a Unicode general category such as L or Lu", name)
	}
	// Scripts (Greek), Any, Assigned and the like are Go's: Java wants
	// \p{IsGreek} and rejects the bare name.
	return javaRejects("unknown character property name {%s} at index %d", name, at)
}

// javaProperties are the names other than goCategories that Java's
// CharPredicates.forProperty knows without a prefix.
var javaProperties = map[string]bool{
	"Cn": true, "LC": true, "LD": true, "L1": true, "all": true, "ASCII": true, "Alnum": true, "Alpha": true, "Blank": true,
	"Cntrl": true, "Digit": true, "Graph": true, "Lower": true, "Print": true, "Punct": true, "Space": true, "Upper": true, "XDigit": true,
}

// anchoredPattern wraps a Java pattern so that Go's regexp matches it
// against the whole input like Matcher.matches. A trailing \Q without \E
// quotes to the end in both engines, so it is closed before the wrapping.
func anchoredPattern(pattern string) string {
	return `\A(?:` + pattern + closeQuote(pattern) + `)\z`
}

// closeQuote returns `\E` when pattern ends inside a \Q quote.
func closeQuote(pattern string) string {
	for i := 0; i < len(pattern); i++ {
		if pattern[i] != '\\' || i+1 >= len(pattern) {
			continue
		}
		if pattern[i+1] != 'Q' {
			i++
			continue
		}
		end := strings.Index(pattern[i+2:], `\E`)
		if end < 0 {
			return `\E`
		}
		i += 2 + end + 1
	}
	return ""
}
