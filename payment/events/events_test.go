package events_test

import (
	"testing"

	"github.com/sagaoutbox/platform/commonlib/relay/relaytest"
	"github.com/sagaoutbox/platform/payment/events"
	"github.com/sagaoutbox/platform/payment/events/eventstest"
)

// TestGolden checks that the relays publish exactly the golden values
// consumers decode in their tests.
func TestGolden(t *testing.T) {
	relaytest.CheckGolden(t, events.AggregateType, events.Topic, eventstest.Samples, eventstest.Golden, "eventstest/testdata")
}
