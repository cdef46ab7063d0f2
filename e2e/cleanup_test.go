package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sagaoutbox/platform/commonlib/proctest"
)

// TestCleanupJobs runs the consumed-events cleanup every second with a
// one-second retention: the records go, and a redelivery that arrives after
// its consumed-event record was cleaned up still does not charge twice (one
// payment per registration). (The outbox purge never passes the relay's
// progress less a minute, see app.purgeBefore, so it is unit-tested there.)
func TestCleanupJobs(t *testing.T) {
	p := newPlatform(t)
	every := []string{"CONSUMED_EVENTS_CLEANUP_CRON=* * * * * *", "CONSUMED_EVENTS_RETENTION=1s"}
	p.customerEnv, p.paymentEnv = every, every
	p.start()
	c := p.register(blueprintBody)
	p.waitStatus(c.ID, "REGISTRATION_SUCCESS", sagaTimeout)

	deleted := regexp.MustCompile(`msg="consumed events cleaned up" deleted=[1-9]`)
	for _, pr := range []*proctest.Proc{p.customer, p.payment} {
		proctest.Eventually(t, 20*time.Second, pr.Name()+" cleans up its consumed events", func() error {
			if !deleted.MatchString(pr.Output()) {
				return errorf("not yet")
			}
			return nil
		})
	}

	pending := recordsOf(p.records("outbox.event.customer"), "CustomerPendingRegistrationEvent", c.ID)[0]
	var headers []string
	for _, h := range pending.Headers {
		k, v, _ := strings.Cut(h, "=")
		headers = append(headers, k, v)
	}
	p.produce("outbox.event.customer", pending.Key, pending.Value, headers...)
	proctest.Eventually(t, sagaTimeout, "the redelivery is recognised as an already decided registration", func() error {
		if !strings.Contains(p.payment.Output(), "registration payment already decided") {
			return errorf("not yet")
		}
		return nil
	})
	if ps := p.payments(c.ID); len(ps) != 1 {
		t.Errorf("%d payments after a redelivery past the consumed-events retention, want 1", len(ps))
	}
	if got := p.getCustomer(c.ID).Status; got != "REGISTRATION_SUCCESS" {
		t.Errorf("status = %s", got)
	}
}
