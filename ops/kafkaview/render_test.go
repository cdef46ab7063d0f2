package kafkaview

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestCell(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"null", nil, "<null>"},
		{"empty", []byte{}, `""`},
		{"plain", []byte("cust-1"), "cust-1"},
		{"spaces kept", []byte("a b"), "a b"},
		{"unicode kept", []byte("Zoë"), "Zoë"},
		{"tab quoted", []byte("a\tb"), `"a\tb"`},
		{"newline quoted", []byte("a\nb"), `"a\nb"`},
		{"invalid utf-8 quoted", []byte{0xff, 'a'}, `"\xffa"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := cell(tc.in); got != tc.want {
				t.Errorf("cell(%q): got %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestWrite(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.FixedZone("CET", 3600))
	tests := []struct {
		name  string
		write func(*bytes.Buffer) error
		want  string
	}{
		{
			name:  "no topics",
			write: func(b *bytes.Buffer) error { return WriteTopics(b, nil) },
			want:  "TOPIC  PARTITION  OLDEST  NEWEST  MESSAGES\n(no topics)\n",
		},
		{
			name: "partitions",
			write: func(b *bytes.Buffer) error {
				return WriteTopics(b, []Partition{{Topic: "t", Partition: 0, Oldest: 5, Newest: 12}})
			},
			want: "TOPIC  PARTITION  OLDEST  NEWEST  MESSAGES\nt      0          5       12      7\n",
		},
		{
			name: "offsets of a deleted topic",
			write: func(b *bytes.Buffer) error {
				return WriteGroupOffsets(b, []GroupOffset{{Group: "g", Topic: "gone", Partition: 1, Committed: 4, Newest: -1}})
			},
			want: "GROUP  TOPIC  PARTITION  COMMITTED  NEWEST  LAG\ng      gone   1          4          -       -\n",
		},
		{
			name:  "groups without protocol",
			write: func(b *bytes.Buffer) error { return WriteGroups(b, []Group{{Name: "g", State: "Empty"}}) },
			want:  "GROUP  STATE  PROTOCOL  MEMBERS\ng      Empty  -         0\n",
		},
		{
			name: "record in UTC with ms, headers in order, null value",
			write: func(b *bytes.Buffer) error {
				return WriteRecords(b, []Record{{Partition: 2, Offset: 9, Timestamp: at, Key: []byte("k"),
					Headers: []Header{{"z", []byte("1")}, {"a", nil}}}}, false)
			},
			want: "PARTITION  OFFSET  TIMESTAMP                 KEY  HEADERS       VALUE\n" +
				"2          9       2026-01-02T02:04:05.678Z  k    z=1 a=<null>  <null>\n",
		},
		{
			name: "pretty leaves non-JSON values alone",
			write: func(b *bytes.Buffer) error {
				return WriteRecords(b, []Record{{Timestamp: at, Value: []byte("not json")}}, true)
			},
			want: "PARTITION  OFFSET  TIMESTAMP                 KEY     HEADERS  VALUE\n" +
				"0          0       2026-01-02T02:04:05.678Z  <null>  -        not json\n",
		},
		{
			name: "pretty indents JSON under VALUE",
			write: func(b *bytes.Buffer) error {
				return WriteRecords(b, []Record{{Timestamp: at, Key: []byte("k"), Value: []byte(`{"a":[1]}`)}}, true)
			},
			want: "PARTITION  OFFSET  TIMESTAMP                 KEY  HEADERS  VALUE\n" +
				"0          0       2026-01-02T02:04:05.678Z  k    -        {\n" +
				"                                                             \"a\": [\n" +
				"                                                               1\n" +
				"                                                             ]\n" +
				"                                                           }\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b); err != nil {
				t.Fatal(err)
			}
			// tabwriter pads continuation lines; compare without trailing blanks.
			got := trimLines(b.String())
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func trimLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}
