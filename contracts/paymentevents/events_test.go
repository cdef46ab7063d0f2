package paymentevents_test

import (
	"testing"

	"github.com/sagaoutbox/platform/commonlib/relay/relaytest"
	"github.com/sagaoutbox/platform/contracts/paymentevents"
	"github.com/sagaoutbox/platform/contracts/paymentevents/eventstest"
)

// TestGolden checks that the relays publish exactly the golden values
// consumers decode in their tests.
func TestGolden(t *testing.T) {
	relaytest.CheckGolden(t, paymentevents.AggregateType, paymentevents.Topic, eventstest.Samples, eventstest.Golden, "eventstest/testdata")
}
