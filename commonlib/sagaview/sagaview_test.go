package sagaview_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/sagaview"
)

func TestSortFollowsCausesOverClocks(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	steps := []sagaview.Step{
		// customer-service, its clock right; one transaction at +5.
		{Time: at(0), Service: "customer", Kind: sagaview.KindRequestAccepted, Summary: "accepted"},
		{Time: at(0), Service: "customer", Kind: sagaview.KindEventWritten, EventID: "e1", Summary: "write e1"},
		{Time: at(5), Service: "customer", Kind: sagaview.KindEventWritten, EventID: "e3", Summary: "write e3"}, // same ms as its cause
		{Time: at(5), Service: "customer", Kind: sagaview.KindEventConsumed, EventID: "e2", Summary: "consume e2"},
		{Time: at(5), Service: "customer", Kind: sagaview.KindRegistrationEnded, Summary: "ended"},
		// payment-service, its clock 50 ms behind.
		{Time: at(-48), Service: "payment", Kind: sagaview.KindEventConsumed, EventID: "e1", Summary: "consume e1"},
		{Time: at(-47), Service: "payment", Kind: sagaview.KindEventWritten, EventID: "e2", Summary: "write e2"},
		{Time: at(-47), Service: "payment", Kind: sagaview.KindPaymentDecided, Summary: "decide"},
		// Kafka's view.
		{Time: at(2), Service: "kafka", Kind: sagaview.KindEventPublished, EventID: "e1", Summary: "publish e1"},
	}
	sagaview.Sort(steps)
	var got []string
	for _, s := range steps {
		got = append(got, s.Summary)
	}
	want := "accepted,write e1,publish e1,consume e1,decide,write e2,consume e2,write e3,ended"
	if strings.Join(got, ",") != want {
		t.Errorf("order\n got %s\nwant %s", strings.Join(got, ","), want)
	}
}
