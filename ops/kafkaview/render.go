package kafkaview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"
)

// TimeFormat is how record timestamps are printed: RFC 3339 in UTC with milliseconds.
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"

// null stands for a null key, header value or record value.
const null = "<null>"

// none fills an empty cell so every row has the same number of fields.
const none = "-"

func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
}

// WriteTopics prints one row per partition:
//
//	TOPIC  PARTITION  OLDEST  NEWEST  MESSAGES
func WriteTopics(w io.Writer, parts []Partition) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "TOPIC\tPARTITION\tOLDEST\tNEWEST\tMESSAGES")
	for _, p := range parts {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", cell([]byte(p.Topic)), p.Partition, p.Oldest, p.Newest, p.Messages())
	}
	if len(parts) == 0 {
		fmt.Fprintln(tw, "(no topics)")
	}
	return tw.Flush()
}

// WriteGroupOffsets prints one row per committed group offset:
//
//	GROUP  TOPIC  PARTITION  COMMITTED  NEWEST  LAG
//
// NEWEST and LAG are "-" when the topic no longer exists.
func WriteGroupOffsets(w io.Writer, offs []GroupOffset) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tTOPIC\tPARTITION\tCOMMITTED\tNEWEST\tLAG")
	for _, o := range offs {
		newest, lag := none, none
		if o.Newest >= 0 {
			newest, lag = strconv.FormatInt(o.Newest, 10), strconv.FormatInt(o.Lag(), 10)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%s\n", cell([]byte(o.Group)), cell([]byte(o.Topic)), o.Partition, o.Committed, newest, lag)
	}
	if len(offs) == 0 {
		fmt.Fprintln(tw, "(no committed group offsets)")
	}
	return tw.Flush()
}

// WriteGroups prints one row per group:
//
//	GROUP  STATE  PROTOCOL  MEMBERS
//
// PROTOCOL is "-" for groups that only committed offsets (no member ever joined).
func WriteGroups(w io.Writer, groups []Group) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "GROUP\tSTATE\tPROTOCOL\tMEMBERS")
	for _, g := range groups {
		proto := g.Protocol
		if proto == "" {
			proto = none
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", cell([]byte(g.Name)), cell([]byte(g.State)), cell([]byte(proto)), g.Members)
	}
	if len(groups) == 0 {
		fmt.Fprintln(tw, "(no consumer groups)")
	}
	return tw.Flush()
}

// WriteRecords prints one row per record:
//
//	PARTITION  OFFSET  TIMESTAMP  KEY  HEADERS  VALUE
//
// HEADERS are k=v pairs in record order, separated by spaces ("-" if none).
// Keys, header values and values print as they are when they are printable
// UTF-8, Go-quoted otherwise, so a record is always one line; <null> marks a
// null. With pretty, a value that is JSON is indented over several lines
// that stay in the VALUE column.
func WriteRecords(w io.Writer, recs []Record, pretty bool) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "PARTITION\tOFFSET\tTIMESTAMP\tKEY\tHEADERS\tVALUE")
	for _, r := range recs {
		lines := []string{cell(r.Value)}
		if pretty {
			lines = prettyJSON(r.Value, lines)
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\n", r.Partition, r.Offset, FormatTime(r.Timestamp), cell(r.Key), headers(r.Headers), lines[0])
		for _, l := range lines[1:] {
			// Empty cells keep the continuation lines in the table's
			// column block, so they line up under VALUE.
			fmt.Fprintf(tw, "\t\t\t\t\t%s\n", l)
		}
	}
	if len(recs) == 0 {
		fmt.Fprintln(tw, "(no records)")
	}
	return tw.Flush()
}

// prettyJSON returns v indented, one string per line, or fallback if v is not JSON.
func prettyJSON(v []byte, fallback []string) []string {
	if v == nil || !json.Valid(v) {
		return fallback
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, v, "", "  "); err != nil {
		return fallback
	}
	return strings.Split(buf.String(), "\n")
}

func headers(hs []Header) string {
	if len(hs) == 0 {
		return none
	}
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = cell([]byte(h.Key)) + "=" + cell(h.Value)
	}
	return strings.Join(parts, " ")
}

// Cell renders b for a table cell as every table of this package does: as
// is if it is printable UTF-8 without tabs or line breaks, Go-quoted
// otherwise, <null> if nil. Tables of other packages use it to follow the
// same rules.
func Cell(b []byte) string { return cell(b) }

// cell renders b for a table cell: as is if it is printable UTF-8 without
// tabs or line breaks, Go-quoted otherwise, <null> if nil.
func cell(b []byte) string {
	if b == nil {
		return null
	}
	if len(b) == 0 || !utf8.Valid(b) {
		return strconv.Quote(string(b))
	}
	for _, r := range string(b) {
		if !unicode.IsPrint(r) {
			return strconv.Quote(string(b))
		}
	}
	return string(b)
}

// FormatTime renders a record timestamp the way WriteRecords does.
func FormatTime(t time.Time) string { return t.UTC().Format(TimeFormat) }
