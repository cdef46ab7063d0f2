package main

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/sagaoutbox/platform/commonlib/kafkaclient"
	"github.com/sagaoutbox/platform/commonlib/kafkaheader"
	"github.com/sagaoutbox/platform/commonlib/kafkatest"
)

// deadRecord is a record as commonlib/router dead-letters it.
type deadRecord struct {
	dltPartition int32
	key          string
	eventType    string
	origTopic    string
	origPart     int
	origOffset   int
	origAge      time.Duration // 0: no dlt-original-timestamp header (dead-lettered before it existed)
	deadAge      time.Duration // how long ago it was dead-lettered
	group        string
	errorText    string
	attempts     int
}

// ownHeaders are the outbox headers of key's record, as the relays write them.
func ownHeaders(key, eventType string) [][2]string {
	id := "e-" + key
	return [][2]string{{"id", id}, {"eventType", eventType}, {"eventId", id}, {"traceparent", "00-4bf92f3577b34da6a1a2b3c4d5e6f708-00f067aa0ba902b7-01"}}
}

func (d deadRecord) message(now time.Time) message {
	hs := ownHeaders(d.key, d.eventType)
	hs = append(hs, [][2]string{
		{kafkaheader.DLTOriginalTopic, d.origTopic},
		{kafkaheader.DLTOriginalPartition, strconv.Itoa(d.origPart)},
		{kafkaheader.DLTOriginalOffset, strconv.Itoa(d.origOffset)},
	}...)
	if d.origAge > 0 {
		hs = append(hs, [2]string{kafkaheader.DLTOriginalTimestamp, now.Add(-d.origAge).UTC().Format(kafkaheader.TimeFormat)})
	}
	hs = append(hs, [][2]string{
		{kafkaheader.DLTOriginalGroup, d.group}, {kafkaheader.DLTError, d.errorText}, {kafkaheader.DLTAttempts, strconv.Itoa(d.attempts)},
	}...)
	return message{Topic: "DLT", Partition: d.dltPartition, Key: d.key, Value: `{"customerId":"` + d.key + `"}`, Headers: hs, Timestamp: now.Add(-d.deadAge)}
}

// TestDLT lists and replays dead-lettered records with kafka-inspect dlt
// against a live devkafka: every filter, -n, replay by offset and by
// filter, dry runs that write nothing, the retention refusal and -force,
// the replayed record's headers and partition, usage errors and exit codes.
func TestDLT(t *testing.T) {
	t.Parallel()
	dk := startDevkafka(t, testEnv("DEVKAFKA_ADDR=127.0.0.1:0", "DATA_DIR="+t.TempDir())) // 3 partitions a topic
	brokers := []string{dk.Addr}
	const payment, customer = "outbox.event.payment", "outbox.event.customer"
	if err := kafkaclient.EnsureTopics(t.Context(), brokers, []string{"DLT", payment, customer}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Millisecond)
	const day = 24 * time.Hour
	dead := map[string]deadRecord{
		"c-1": {0, "c-1", "PaymentNotAuthorizedEvent", payment, 1, 4, time.Hour, 50 * time.Minute, "customerConsumerGroup1", "customer not found", 1},
		"c-2": {1, "c-2", "PaymentAuthorizedEvent", payment, 2, 9, 10 * day, 9 * day, "customerConsumerGroup1", "customer not found", 1},
		"p-3": {2, "p-3", "CustomerPendingRegistrationEvent", customer, 0, 7, 3 * time.Hour, 170 * time.Minute, "paymentConsumerGroup1", "handler panicked: boom", 3},
		"c-4": {1, "c-4", "PaymentAuthorizedEvent", payment, 0, 2, 0, 2 * time.Hour, "customerConsumerGroup1", "invalid character 'x' looking for beginning of value", 1},
	}
	keys := []string{"c-1", "c-2", "p-3", "c-4"}
	var msgs []message
	for _, k := range keys {
		msgs = append(msgs, dead[k].message(now))
	}
	offsets := produce(t, dk.Addr, msgs)
	at := map[string]string{} // key: DLT position "P:N"
	for i, k := range keys {
		at[k] = fmt.Sprintf("%d:%d", dead[k].dltPartition, offsets[i])
	}
	b := []string{"-b", dk.Addr}
	// listRow is the start of key's row in the dlt table.
	listRow := func(key, age string) []string {
		d := dead[key]
		return []string{strconv.Itoa(int(d.dltPartition)), at[key][strings.Index(at[key], ":")+1:], age,
			now.Add(-d.deadAge).UTC().Format(kafkaheader.TimeFormat), fmt.Sprintf("%s/%d@%d", d.origTopic, d.origPart, d.origOffset),
			d.group, d.eventType, strconv.Itoa(d.attempts), strings.Fields(d.errorText)[0]}
	}
	rowsOf := func(out string) []string { // the keys whose rows are in a dlt table, in order
		var ks []string
		for _, r := range rows(out) {
			for _, k := range keys {
				if len(r) > 4 && r[0] == strconv.Itoa(int(dead[k].dltPartition)) && at[k] == r[0]+":"+r[1] {
					ks = append(ks, k)
				}
			}
		}
		return ks
	}

	t.Run("list", func(t *testing.T) {
		res := runInspect(t, nil, append(b, "dlt")...)
		if res.Code != 0 {
			t.Fatalf("exit code %d, stderr %s", res.Code, res.Stderr)
		}
		for _, want := range [][]string{
			{"PARTITION", "OFFSET", "AGE", "DEAD-LETTERED", "ORIGINAL", "GROUP", "EVENT-TYPE", "ATTEMPTS", "ERROR"},
			listRow("c-1", "1h0m"), listRow("c-2", "10d0h"), listRow("p-3", "3h0m"),
			listRow("c-4", "2h0m"), // no original timestamp: aged from when it was dead-lettered
		} {
			if !hasRow(res.Stdout, want...) {
				t.Errorf("want a row starting %q in\n%s", want, res.Stdout)
			}
		}
		if got, want := rowsOf(res.Stdout), []string{"c-1", "c-2", "c-4", "p-3"}; !slices.Equal(got, want) {
			t.Errorf("rows %q, want %q (by partition, then offset)", got, want)
		}
		if !strings.Contains(res.Stdout, "invalid character 'x' looking for beginning of value\n") {
			t.Errorf("want the whole error in the last column:\n%s", res.Stdout)
		}
		if testing.Verbose() {
			t.Logf("kafka-inspect dlt\n%s", res.Stdout)
		}
	})

	filters := []struct {
		name string
		args []string
		want []string
	}{
		{"-original-topic", []string{"-original-topic", customer}, []string{"p-3"}},
		{"-event-type", []string{"-event-type", "PaymentAuthorizedEvent"}, []string{"c-2", "c-4"}},
		{"-error, in any case", []string{"-error", "CUSTOMER NOT"}, []string{"c-1", "c-2"}},
		{"-key", []string{"-key", "c-4"}, []string{"c-4"}},
		{"-older-than", []string{"-older-than", "90m"}, []string{"c-2", "c-4", "p-3"}},
		{"-newer-than", []string{"-newer-than", "90m"}, []string{"c-1"}},
		{"filters combine", []string{"-event-type", "PaymentAuthorizedEvent", "-older-than", "3h"}, []string{"c-2"}},
		{"-n keeps the newest dead-lettered", []string{"-n", "2"}, []string{"c-1", "c-4"}},
		{"-topic, flags before dlt", []string{"-topic", "DLT", "-key", "c-1"}, []string{"c-1"}},
		{"nothing matches", []string{"-key", "nobody"}, nil},
	}
	for _, f := range filters {
		t.Run("list "+f.name, func(t *testing.T) {
			res := runInspect(t, nil, append(append(slices.Clone(b), "dlt"), f.args...)...)
			if res.Code != 0 {
				t.Fatalf("exit code %d, stderr %s", res.Code, res.Stderr)
			}
			if got := rowsOf(res.Stdout); !slices.Equal(got, f.want) {
				t.Errorf("rows %q, want %q in\n%s", got, f.want, res.Stdout)
			}
			if f.want == nil && !strings.Contains(res.Stdout, "(no dead-lettered records)") {
				t.Errorf("want (no dead-lettered records) in\n%s", res.Stdout)
			}
		})
	}

	usage := []struct {
		name, env string
		args      []string
		wantErr   string
	}{
		{"replay needs a choice", "", []string{"dlt", "replay"}, "name the records to replay"},
		{"replay needs partitions on a 3-partition topic", "", []string{"dlt", "replay", "-offset", "0"}, "DLT has 3 partitions: name each record as PARTITION:OFFSET"},
		{"replay -all alone", "", []string{"dlt", "replay", "-all", "-key", "c-1"}, "-all replays every record"},
		{"replay flags only for replay", "", []string{"dlt", "-offset", "0:0"}, "-offset only applies to dlt replay"},
		{"list flags only for list", "", []string{"dlt", "replay", "-key", "c-1", "-n", "3"}, "-n only applies to dlt (not dlt replay)"},
		{"bad -offset", "", []string{"dlt", "replay", "-offset", "1:x"}, `-offset: position "1:x": offset is not a number`},
		{"bad CONSUMED_EVENTS_RETENTION", "CONSUMED_EVENTS_RETENTION=7d", []string{"dlt", "replay", "-key", "c-1"}, `CONSUMED_EVENTS_RETENTION="7d"`},
		{"unknown argument", "", []string{"dlt", "list"}, `want no argument or replay, got ["list"]`},
		{"negative age", "", []string{"dlt", "-older-than", "-1h"}, "must not be negative"},
	}
	for _, u := range usage {
		t.Run("usage "+u.name, func(t *testing.T) {
			var env []string
			if u.env != "" {
				env = []string{u.env}
			}
			res := runInspect(t, env, append(slices.Clone(b), u.args...)...)
			if res.Code != 2 || !strings.Contains(res.Stderr, u.wantErr) || strings.Count(res.Stderr, "\n") != 1 {
				t.Errorf("got exit %d, stderr %q; want 2 and one line containing %q", res.Code, res.Stderr, u.wantErr)
			}
		})
	}
	t.Run("unknown dead-letter topic", func(t *testing.T) {
		res := runInspect(t, nil, append(b, "dlt", "-topic", "nope")...)
		if res.Code != 1 || !strings.Contains(res.Stderr, `unknown topic "nope"`) {
			t.Errorf("got exit %d, stderr %q; want 1, unknown topic", res.Code, res.Stderr)
		}
	})

	marks := func() map[string]map[int32]int64 {
		return map[string]map[int32]int64{payment: kafkatest.HighWaterMarks(t, brokers, payment), customer: kafkatest.HighWaterMarks(t, brokers, customer)}
	}
	// replayed finds the REPLAYED line of key in out and returns the record
	// it names, checking it went where the relays would put key.
	replayLine := regexp.MustCompile(`(?m)^REPLAYED +DLT/(\d+)@(\d+) +-> +(\S+)/(\d+)@(\d+)$`)
	replayed := func(t *testing.T, out, key string) *sarama.ConsumerMessage {
		t.Helper()
		for _, m := range replayLine.FindAllStringSubmatch(out, -1) {
			if m[1]+":"+m[2] != at[key] {
				continue
			}
			topic, part, off := m[3], m[4], m[5]
			if topic != dead[key].origTopic {
				t.Errorf("%s replayed to %s, want %s", key, topic, dead[key].origTopic)
			}
			n := int32(kafkatest.PartitionCount(t, brokers, topic))
			if want := kafkatest.JavaPartition([]byte(key), n); part != strconv.Itoa(int(want)) {
				t.Errorf("%s replayed to partition %s, want %d: the Java client's partition for its key among %d", key, part, want, n)
			}
			for _, rec := range kafkatest.ReadTopic(t, brokers, topic) {
				if strconv.Itoa(int(rec.Partition)) == part && strconv.FormatInt(rec.Offset, 10) == off {
					return rec
				}
			}
			t.Fatalf("no record at %s/%s@%s", topic, part, off)
		}
		t.Fatalf("no REPLAYED line for DLT %s in\n%s", at[key], out)
		return nil
	}

	t.Run("replay dry run writes nothing", func(t *testing.T) {
		before := marks()
		res := runInspect(t, nil, append(b, "dlt", "replay", "-offset", at["c-1"], "-dry-run")...)
		if res.Code != 0 {
			t.Fatalf("exit code %d, stderr %s", res.Code, res.Stderr)
		}
		want := []string{"WOULD", "REPLAY", "DLT/" + strings.Replace(at["c-1"], ":", "@", 1), "->",
			fmt.Sprintf("%s/%d", payment, kafkatest.JavaPartition([]byte("c-1"), 3))}
		if !hasRow(res.Stdout, want...) || len(rows(res.Stdout)) != 1 {
			t.Errorf("want the one line %q, got\n%s", want, res.Stdout)
		}
		if after := marks(); !maps.EqualFunc(before, after, maps.Equal) {
			t.Errorf("high watermarks moved on a dry run: %v, then %v", before, after)
		}
	})

	t.Run("replay by offset: the original record, by key, with the replay headers", func(t *testing.T) {
		res := runInspect(t, nil, append(b, "dlt", "replay", "-offset", at["c-1"])...)
		if res.Code != 0 || len(rows(res.Stdout)) != 1 {
			t.Fatalf("exit code %d, want 0 and one line\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		m := replayed(t, res.Stdout, "c-1")
		if string(m.Key) != "c-1" || string(m.Value) != `{"customerId":"c-1"}` {
			t.Errorf("record %q=%q, want the original key and value", m.Key, m.Value)
		}
		hs := kafkatest.HeaderStrings(m)
		var want []string
		for _, h := range ownHeaders("c-1", "PaymentNotAuthorizedEvent") {
			want = append(want, h[0]+"="+h[1])
		}
		want = append(want, kafkaheader.DLTReplayedFromOffset+"="+at["c-1"])
		if len(hs) != len(want)+1 || !slices.Equal(hs[:len(want)], want) || !strings.HasPrefix(hs[len(want)], kafkaheader.DLTReplayedAt+"=") {
			t.Fatalf("headers\n got %q\nwant %q then %s", hs, want, kafkaheader.DLTReplayedAt)
		}
		replayedAt, err := time.Parse(kafkaheader.TimeFormat, strings.TrimPrefix(hs[len(want)], kafkaheader.DLTReplayedAt+"="))
		if err != nil || replayedAt.Location() != time.UTC || replayedAt.Before(now.Add(-time.Second)) || replayedAt.After(time.Now()) {
			t.Errorf("%s: %v, %v; want a UTC time during the test", hs[len(want)], replayedAt, err)
		}
	})

	t.Run("replay refuses a record older than the retention, exit 1", func(t *testing.T) {
		before := marks()
		res := runInspect(t, nil, append(b, "dlt", "replay", "-key", "c-2")...)
		want := []string{"REFUSED", "DLT/" + strings.Replace(at["c-2"], ":", "@", 1), "->", payment, "older", "than", "the", "consumers'", "dedup", "retention", "(168h0m0s):"}
		if res.Code != 1 || !hasRow(res.Stdout, want...) || !strings.Contains(res.Stderr, "dlt replay: 1 of 1 records refused") {
			t.Errorf("got exit %d\nstdout:\n%s\nstderr:\n%s\nwant 1, a line %q and the count on stderr", res.Code, res.Stdout, res.Stderr, want)
		}
		if after := marks(); !maps.EqualFunc(before, after, maps.Equal) {
			t.Errorf("a refused record was produced: %v, then %v", before, after)
		}
	})

	t.Run("replay -force replays it", func(t *testing.T) {
		res := runInspect(t, nil, append(b, "dlt", "replay", "-key", "c-2", "-force")...)
		if res.Code != 0 {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		if m := replayed(t, res.Stdout, "c-2"); string(m.Key) != "c-2" {
			t.Errorf("key %q, want c-2", m.Key)
		}
	})

	t.Run("replay takes the retention from CONSUMED_EVENTS_RETENTION, -retention over it", func(t *testing.T) {
		env := []string{"CONSUMED_EVENTS_RETENTION=1h"}
		res := runInspect(t, env, append(b, "dlt", "replay", "-key", "c-4", "-dry-run")...)
		if res.Code != 1 || !strings.Contains(res.Stdout, "retention (1h0m0s)") {
			t.Errorf("got exit %d\n%s\nwant 1 and a refusal naming 1h0m0s", res.Code, res.Stdout)
		}
		res = runInspect(t, env, append(b, "dlt", "replay", "-key", "c-4", "-retention", "3h")...)
		if res.Code != 0 {
			t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		replayed(t, res.Stdout, "c-4")
	})

	t.Run("replay by filter", func(t *testing.T) {
		res := runInspect(t, nil, append(b, "dlt", "replay", "-original-topic", customer, "-error", "panicked")...)
		if res.Code != 0 || len(rows(res.Stdout)) != 1 {
			t.Fatalf("exit code %d, want 0 and one line\nstdout:\n%s\nstderr:\n%s", res.Code, res.Stdout, res.Stderr)
		}
		replayed(t, res.Stdout, "p-3")
	})

	t.Run("replay of a position that holds no record", func(t *testing.T) {
		res := runInspect(t, nil, append(b, "dlt", "replay", "-offset", "0:99,"+at["c-1"], "-dry-run")...)
		if res.Code != 1 || !hasRow(res.Stdout, "REFUSED", "DLT/0@99", "->", "-", "no", "such", "record") || !hasRow(res.Stdout, "WOULD", "REPLAY") {
			t.Errorf("got exit %d\n%s\nwant 1, the missing one refused and the other one listed", res.Code, res.Stdout)
		}
	})

	t.Run("the dead-letter topic is unchanged", func(t *testing.T) {
		if got := kafkatest.HighWaterMarks(t, brokers, "DLT"); got[0] != 1 || got[1] != 2 || got[2] != 1 {
			t.Errorf("DLT high watermarks %v, want the 4 records only", got)
		}
	})
}
