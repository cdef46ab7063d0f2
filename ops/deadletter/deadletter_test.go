package deadletter_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/ops/deadletter"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestParsePositions(t *testing.T) {
	tests := []struct {
		in      string
		want    []deadletter.Position
		wantErr string
	}{
		{in: "7", want: []deadletter.Position{{0, 7}}},
		{in: "7,9,12", want: []deadletter.Position{{0, 7}, {0, 9}, {0, 12}}},
		{in: "1:7,0:3", want: []deadletter.Position{{1, 7}, {0, 3}}},
		{in: " 2:0 , 5 ", want: []deadletter.Position{{2, 0}, {0, 5}}},
		{in: "1:7,1:7", want: []deadletter.Position{{1, 7}}},
		{in: "", wantErr: "empty entry"},
		{in: "7,", wantErr: "empty entry"},
		{in: "x", wantErr: `position "x": offset is not a number`},
		{in: "-1", wantErr: "offset is not a number >= 0"},
		{in: "a:1", wantErr: "partition is not a number >= 0"},
		{in: "1:", wantErr: "offset is not a number"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := deadletter.ParsePositions(tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, %v; want an error containing %q", got, err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// dltHeaders are the headers of a record the router dead-lettered, after
// the record's own.
func dltHeaders(own []kafkaview.Header, kv ...string) []kafkaview.Header {
	hs := slices.Clone(own)
	for i := 0; i+1 < len(kv); i += 2 {
		hs = append(hs, kafkaview.Header{Key: kv[i], Value: []byte(kv[i+1])})
	}
	return hs
}

func outboxHeaders(eventType, id string) []kafkaview.Header {
	return []kafkaview.Header{
		{Key: kafkaheader.ID, Value: []byte(id)}, {Key: kafkaheader.EventType, Value: []byte(eventType)},
		{Key: kafkaheader.EventID, Value: []byte(id)}, {Key: kafkaheader.Traceparent, Value: []byte("")},
	}
}

func TestDecode(t *testing.T) {
	replayedFrom := func(o int64) *int64 { return &o }
	tests := []struct {
		name string
		in   kafkaview.Record
		want deadletter.Record
	}{
		{
			name: "every header",
			in: kafkaview.Record{Topic: "DLT", Partition: 2, Offset: 5, Timestamp: base, Key: []byte("c-1"), Value: []byte(`{}`),
				Headers: dltHeaders(outboxHeaders("PaymentAuthorizedEvent", "e-1"),
					kafkaheader.DLTOriginalTopic, "outbox.event.payment", kafkaheader.DLTOriginalPartition, "1", kafkaheader.DLTOriginalOffset, "42",
					kafkaheader.DLTOriginalTimestamp, "2026-03-01T11:00:00.123Z", kafkaheader.DLTOriginalGroup, "customerConsumerGroup1",
					kafkaheader.DLTError, "customer not found", kafkaheader.DLTAttempts, "1")},
			want: deadletter.Record{Topic: "DLT", Partition: 2, Offset: 5, Timestamp: base, Key: []byte("c-1"), Value: []byte(`{}`),
				OriginalTopic: "outbox.event.payment", OriginalPartition: 1, OriginalOffset: 42,
				OriginalTimestamp: base.Add(-time.Hour + 123*time.Millisecond), Group: "customerConsumerGroup1",
				EventType: "PaymentAuthorizedEvent", EventID: "e-1", Error: "customer not found", Attempts: 1},
		},
		{
			name: "dead-lettered before dlt-original-timestamp, routed by the id header",
			in: kafkaview.Record{Topic: "DLT", Offset: 1, Timestamp: base,
				Headers: dltHeaders([]kafkaview.Header{{Key: kafkaheader.ID, Value: []byte("e-2")}},
					kafkaheader.DLTOriginalTopic, "t", kafkaheader.DLTOriginalPartition, "0", kafkaheader.DLTOriginalOffset, "3",
					kafkaheader.DLTOriginalGroup, "g", kafkaheader.DLTError, "missing header eventType", kafkaheader.DLTAttempts, "0")},
			want: deadletter.Record{Topic: "DLT", Offset: 1, Timestamp: base, OriginalTopic: "t", OriginalPartition: 0, OriginalOffset: 3,
				Group: "g", EventID: "e-2", Error: "missing header eventType"},
		},
		{
			name: "no dlt headers at all",
			in:   kafkaview.Record{Topic: "DLT", Offset: 9, Timestamp: base},
			want: deadletter.Record{Topic: "DLT", Offset: 9, Timestamp: base, OriginalPartition: -1, OriginalOffset: -1},
		},
		{
			name: "unreadable numbers and time",
			in: kafkaview.Record{Topic: "DLT", Timestamp: base, Headers: dltHeaders(nil,
				kafkaheader.DLTOriginalPartition, "x", kafkaheader.DLTOriginalOffset, "-5", kafkaheader.DLTOriginalTimestamp, "yesterday",
				kafkaheader.DLTAttempts, "many")},
			want: deadletter.Record{Topic: "DLT", Timestamp: base, OriginalPartition: -1, OriginalOffset: -1},
		},
		{
			name: "a replay that failed again, the last header winning",
			in: kafkaview.Record{Topic: "DLT", Timestamp: base, Headers: dltHeaders(nil,
				kafkaheader.DLTOriginalTopic, "old", kafkaheader.DLTOriginalTopic, "t",
				kafkaheader.DLTReplayedFromOffset, "1:4", kafkaheader.DLTReplayedAt, "2026-03-01T11:59:00.000Z")},
			want: deadletter.Record{Topic: "DLT", Timestamp: base, OriginalTopic: "t", OriginalPartition: -1, OriginalOffset: -1,
				ReplayedFromOffset: replayedFrom(4), ReplayedFromPartition: 1, ReplayedAt: base.Add(-time.Minute)},
		},
		{
			name: "a replay from a one-partition dead-letter topic",
			in: kafkaview.Record{Topic: "DLT", Timestamp: base, Headers: dltHeaders(nil,
				kafkaheader.DLTReplayedFromOffset, "7")},
			want: deadletter.Record{Topic: "DLT", Timestamp: base, OriginalPartition: -1, OriginalOffset: -1, ReplayedFromOffset: replayedFrom(7)},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := deadletter.Decode(tc.in)
			tc.want.Headers = tc.in.Headers
			if g, w := describe(got), describe(tc.want); g != w {
				t.Errorf("got  %s\nwant %s", g, w)
			}
		})
	}
}

// describe prints every field of r, the pointer's target included.
func describe(r deadletter.Record) string {
	from := "<nil>"
	if r.ReplayedFromOffset != nil {
		from = fmt.Sprint(*r.ReplayedFromOffset)
	}
	rf := r
	rf.ReplayedFromOffset = nil
	return fmt.Sprintf("%+v replayedFrom=%s", rf, from)
}

func TestAge(t *testing.T) {
	now := base.Add(time.Hour)
	tests := []struct {
		name string
		r    deadletter.Record
		want time.Duration
	}{
		{"from the original timestamp", deadletter.Record{Timestamp: base.Add(50 * time.Minute), OriginalTimestamp: base}, time.Hour},
		{"from the dead-letter timestamp without one", deadletter.Record{Timestamp: base.Add(50 * time.Minute)}, 10 * time.Minute},
		{"never negative", deadletter.Record{Timestamp: now.Add(time.Minute)}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Age(now); got != tc.want {
				t.Errorf("Age = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFilterMatch(t *testing.T) {
	now := base
	r := deadletter.Record{Partition: 1, Offset: 4, Key: []byte("c-1"), OriginalTopic: "outbox.event.payment",
		EventType: "PaymentAuthorizedEvent", Error: "payment: Customer Not Found", OriginalTimestamp: now.Add(-2 * time.Hour)}
	tests := []struct {
		name string
		f    deadletter.Filter
		want bool
	}{
		{"zero matches all", deadletter.Filter{}, true},
		{"original topic", deadletter.Filter{OriginalTopic: "outbox.event.payment"}, true},
		{"other original topic", deadletter.Filter{OriginalTopic: "outbox.event"}, false},
		{"event type", deadletter.Filter{EventType: "PaymentAuthorizedEvent"}, true},
		{"event type is exact", deadletter.Filter{EventType: "paymentauthorizedevent"}, false},
		{"error substring in any case", deadletter.Filter{ErrorContains: "customer not"}, true},
		{"other error", deadletter.Filter{ErrorContains: "timeout"}, false},
		{"key", deadletter.Filter{Key: "c-1"}, true},
		{"key is exact", deadletter.Filter{Key: "c"}, false},
		{"older than", deadletter.Filter{OlderThan: time.Hour}, true},
		{"older than, to the nanosecond", deadletter.Filter{OlderThan: 2 * time.Hour}, true},
		{"not older than", deadletter.Filter{OlderThan: 3 * time.Hour}, false},
		{"newer than", deadletter.Filter{NewerThan: 3 * time.Hour}, true},
		{"not newer than", deadletter.Filter{NewerThan: 2 * time.Hour}, false},
		{"position", deadletter.Filter{Positions: []deadletter.Position{{0, 4}, {1, 4}}}, true},
		{"other positions", deadletter.Filter{Positions: []deadletter.Position{{0, 4}, {1, 5}}}, false},
		{"all conditions at once", deadletter.Filter{OriginalTopic: "outbox.event.payment", EventType: "PaymentAuthorizedEvent", Key: "c-1", NewerThan: 3 * time.Hour}, true},
		{"one condition failing", deadletter.Filter{OriginalTopic: "outbox.event.payment", EventType: "PaymentAuthorizedEvent", Key: "c-2"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.f.Match(r, now); got != tc.want {
				t.Errorf("Match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFormatAge(t *testing.T) {
	tests := []struct {
		in   time.Duration
		want string
	}{
		{0, "0s"},
		{-time.Second, "0s"},
		{1400 * time.Millisecond, "1s"},
		{42 * time.Second, "42s"},
		{59600 * time.Millisecond, "1m0s"},
		{3*time.Minute + 12*time.Second + 400*time.Millisecond, "3m12s"},
		{59*time.Minute + 59*time.Second + 600*time.Millisecond, "1h0m"},
		{5*time.Hour + 3*time.Minute + 20*time.Second, "5h3m"},
		{23*time.Hour + 59*time.Minute + 40*time.Second, "1d0h"},
		{10*24*time.Hour + 4*time.Hour + 10*time.Minute, "10d4h"},
	}
	for _, tc := range tests {
		if got := deadletter.FormatAge(tc.in); got != tc.want {
			t.Errorf("FormatAge(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestWriteRecords(t *testing.T) {
	recs := []deadletter.Record{
		{Topic: "DLT", Partition: 0, Offset: 3, Timestamp: base.Add(-time.Minute), OriginalTopic: "outbox.event.payment",
			OriginalPartition: 2, OriginalOffset: 17, OriginalTimestamp: base.Add(-3*time.Minute - 12*time.Second), Group: "customerConsumerGroup1",
			EventType: "PaymentNotAuthorizedEvent", Attempts: 1, Error: "customer not found"},
		{Topic: "DLT", Partition: 1, Offset: 0, Timestamp: base.Add(-10 * time.Second), OriginalTopic: "t\tab", OriginalPartition: -1, OriginalOffset: 5},
		{Topic: "DLT", Partition: 2, Offset: 1, Timestamp: base, OriginalPartition: -1, OriginalOffset: -1},
	}
	var out bytes.Buffer
	if err := deadletter.WriteRecords(&out, recs, base); err != nil {
		t.Fatal(err)
	}
	want := `PARTITION  OFFSET  AGE    DEAD-LETTERED             ORIGINAL                   GROUP                   EVENT-TYPE                 ATTEMPTS  ERROR
0          3       3m12s  2026-03-01T11:59:00.000Z  outbox.event.payment/2@17  customerConsumerGroup1  PaymentNotAuthorizedEvent  1         customer not found
1          0       10s    2026-03-01T11:59:50.000Z  "t\tab"/?@5                -                       -                          0         -
2          1       0s     2026-03-01T12:00:00.000Z  -                          -                       -                          0         -
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}

	out.Reset()
	if err := deadletter.WriteRecords(&out, nil, base); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(no dead-lettered records)") {
		t.Errorf("empty table: got %q", out.String())
	}
}

func TestWriteResults(t *testing.T) {
	rec := func(p int32, o int64) deadletter.Record {
		return deadletter.Record{Topic: "DLT", Partition: p, Offset: o}
	}
	results := []deadletter.Result{
		{Record: rec(1, 4), Topic: "outbox.event.payment", Partition: 2, Offset: 17},
		{Record: rec(1, 5), Topic: "outbox.event.payment", Partition: 0, Offset: -1},
		{Record: rec(0, 6), Topic: "outbox.event.payment", Partition: -1, Offset: -1},
		{Record: rec(0, 3), Topic: "outbox.event.payment", Partition: -1, Offset: -1, Refused: "older than the consumers' dedup retention (168h0m0s): replaying could apply it twice; use -force"},
		{Record: rec(2, 0), Partition: -1, Offset: -1, Refused: "no dlt-original-topic header: the topic it came from is unknown"},
	}
	var out bytes.Buffer
	if err := deadletter.WriteResults(&out, results); err != nil {
		t.Fatal(err)
	}
	want := `REPLAYED      DLT/1@4  ->  outbox.event.payment/2@17
WOULD REPLAY  DLT/1@5  ->  outbox.event.payment/0
WOULD REPLAY  DLT/0@6  ->  outbox.event.payment/?
REFUSED       DLT/0@3  ->  outbox.event.payment  older than the consumers' dedup retention (168h0m0s): replaying could apply it twice; use -force
REFUSED       DLT/2@0  ->  -                     no dlt-original-topic header: the topic it came from is unknown
`
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}
