package timeline

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"unicode"

	"github.com/sagaoutbox/platform/commonlib/sagaview"
	"github.com/sagaoutbox/platform/ops/kafkaview"
)

// Write prints tl as an aligned table, one row per step:
//
//	TIME  SERVICE  KIND  RECORD  SUMMARY
//
// RECORD is topic/partition@offset when the step knows it, "-" otherwise;
// times are RFC 3339 in UTC with milliseconds. Notes (what is missing)
// follow the table, one per line.
func Write(w io.Writer, tl Timeline) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "customer %s\n", oneLine(tl.CustomerID))
	fmt.Fprintln(tw, "TIME\tSERVICE\tKIND\tRECORD\tSUMMARY")
	for _, s := range tl.Steps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", kafkaview.FormatTime(s.Time), oneLine(s.Service), oneLine(s.Kind), Position(s), oneLine(s.Summary))
	}
	if len(tl.Steps) == 0 {
		fmt.Fprintln(tw, "(no steps)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, n := range tl.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", oneLine(n)); err != nil {
			return err
		}
	}
	if tl.Partial {
		if _, err := fmt.Fprintln(w, "the timeline is partial: see the notes"); err != nil {
			return err
		}
	}
	return nil
}

// Position is where a step's record is: topic/partition@offset, or "-".
func Position(s sagaview.Step) string {
	if s.Topic == "" || s.Partition == nil || s.Offset == nil {
		return "-"
	}
	return fmt.Sprintf("%s/%d@%d", oneLine(s.Topic), *s.Partition, *s.Offset)
}

// oneLine keeps a cell on its line and the terminal as it is: what comes
// from services and Kafka may hold tabs, line breaks and escape sequences.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if s = strings.Join(strings.Fields(s), " "); s == "" {
		return "-"
	}
	return s
}
