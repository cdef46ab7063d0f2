package customerevents_test

import (
	"testing"

	"github.com/sagaoutbox/platform/commonlib/relay/relaytest"
	"github.com/sagaoutbox/platform/contracts/customerevents"
	"github.com/sagaoutbox/platform/contracts/customerevents/eventstest"
)

// TestGolden checks that the relays publish exactly the golden values
// consumers decode in their tests.
func TestGolden(t *testing.T) {
	relaytest.CheckGolden(t, customerevents.AggregateType, customerevents.Topic, eventstest.Samples, eventstest.Golden, "eventstest/testdata")
}
