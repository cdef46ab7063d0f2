package deadletter

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// none fills an empty cell, as in kafkaview's tables.
const none = "-"

// WriteRecords prints one row per dead-lettered record, ages taken at now:
//
//	PARTITION  OFFSET  AGE  DEAD-LETTERED  ORIGINAL  GROUP  EVENT-TYPE  ATTEMPTS  ERROR
//
// AGE is Record.Age rounded (FormatAge), DEAD-LETTERED the record's own
// timestamp, ORIGINAL topic/partition@offset ("?" for an unknown part).
// Cells follow kafkaview's rules (kafkaview.Cell), "-" is an empty one;
// ERROR comes last, as it may hold spaces.
func WriteRecords(w io.Writer, recs []Record, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PARTITION\tOFFSET\tAGE\tDEAD-LETTERED\tORIGINAL\tGROUP\tEVENT-TYPE\tATTEMPTS\tERROR")
	for _, r := range recs {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", r.Partition, r.Offset, FormatAge(r.Age(now)),
			kafkaview.FormatTime(r.Timestamp), r.Original(), text(r.Group), text(r.EventType), r.Attempts, text(r.Error))
	}
	if len(recs) == 0 {
		fmt.Fprintln(tw, "(no dead-lettered records)")
	}
	return tw.Flush()
}

// Original is where the record was consumed from, topic/partition@offset,
// with "?" for what its headers do not say.
func (r Record) Original() string {
	if r.OriginalTopic == "" && r.OriginalPartition < 0 && r.OriginalOffset < 0 {
		return none
	}
	topic, part, off := "?", "?", "?"
	if r.OriginalTopic != "" {
		topic = kafkaview.Cell([]byte(r.OriginalTopic))
	}
	if r.OriginalPartition >= 0 {
		part = strconv.Itoa(int(r.OriginalPartition))
	}
	if r.OriginalOffset >= 0 {
		off = strconv.FormatInt(r.OriginalOffset, 10)
	}
	return topic + "/" + part + "@" + off
}

// WriteResults prints one line per replayed record:
//
//	REPLAYED      DLT/1@4  ->  outbox.event.payment/2@17
//	WOULD REPLAY  DLT/1@5  ->  outbox.event.payment/2
//	REFUSED       DLT/0@3  ->  outbox.event.payment  older than the consumers' dedup retention (168h0m0s): ...
//
// with the dead-letter position, where the record went (on a dry run: the
// partition it would go to, "?" for a null key) and why it was refused.
func WriteResults(w io.Writer, results []Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, res := range results {
		verb, dest := "REPLAYED", text(res.Topic)
		switch {
		case res.Refused != "":
			verb = "REFUSED"
		case res.Offset < 0:
			verb = "WOULD REPLAY"
			part := "?"
			if res.Partition >= 0 {
				part = strconv.Itoa(int(res.Partition))
			}
			dest += "/" + part
		default:
			dest += fmt.Sprintf("/%d@%d", res.Partition, res.Offset)
		}
		line := fmt.Sprintf("%s\t%s/%d@%d\t->\t%s", verb, kafkaview.Cell([]byte(res.Record.Topic)), res.Record.Partition, res.Record.Offset, dest)
		if res.Refused != "" {
			line += "\t" + res.Refused
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// text renders a header-derived string as a cell, "-" when empty.
func text(s string) string {
	if s == "" {
		return none
	}
	return kafkaview.Cell([]byte(s))
}

// FormatAge rounds d to its two largest units, as people say ages: 42s,
// 3m12s, 5h3m, 10d4h (a day is 24h).
func FormatAge(d time.Duration) string {
	const day = 24 * time.Hour
	d = max(d, 0)
	if r := d.Round(time.Second); r < time.Minute {
		return fmt.Sprintf("%ds", r/time.Second)
	}
	if r := d.Round(time.Second); r < time.Hour {
		return fmt.Sprintf("%dm%ds", r/time.Minute, r%time.Minute/time.Second)
	}
	if r := d.Round(time.Minute); r < day {
		return fmt.Sprintf("%dh%dm", r/time.Hour, r%time.Hour/time.Minute)
	}
	r := d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", r/day, r%day/time.Hour)
}
