package broker

import (
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync/atomic"
	"time"

	"github.com/IBM/sarama"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Kafka keeps committed offsets in a topic of its own log, so losing the log
// loses them with it. kfake keeps them in a separate file, so a data
// directory can come back with its groups' offsets but without the records
// they point past (the directory deleted under a running broker, which then
// writes its group state on the way out). A consumer resuming at such an
// offset silently skips the records produced since, up to that offset.
//
// dropOffsetsPastLogEnd makes the state all-or-nothing again at start: every
// committed offset beyond its partition's log end, or on a topic or
// partition that no longer exists, is deleted and logged, so the consumer
// has no offset and resets to its initial one (the earliest, for this
// project's consumers). While it runs, JoinGroup is answered
// COORDINATOR_LOAD_IN_PROGRESS, as Kafka answers while it loads offsets, and
// clients retry: no consumer can start from a stale offset in between.
func dropOffsetsPastLogEnd(c *kfake.Cluster, addr string, log *slog.Logger) error {
	var loading atomic.Bool
	loading.Store(true)
	c.ControlKey(int16(kmsg.JoinGroup), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		if !loading.Load() {
			c.DropControl()
			return nil, nil, false
		}
		c.KeepControl()
		resp := kreq.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode = int16(sarama.ErrOffsetsLoadInProgress)
		return resp, nil, true
	})
	defer loading.Store(false)

	conf := sarama.NewConfig()
	conf.Version = sarama.V3_6_0_0
	conf.ClientID = "devkafka-start"
	// Metadata names the advertised address, which this host may not
	// resolve: every connection goes to the bound one (one node).
	conf.Net.Proxy.Enable = true
	conf.Net.Proxy.Dialer = boundDialer(addr)
	admin, err := sarama.NewClusterAdmin([]string{addr}, conf)
	if err != nil {
		return fmt.Errorf("check committed offsets: %w", err)
	}
	defer admin.Close()
	groups, err := admin.ListConsumerGroups()
	if err != nil {
		return fmt.Errorf("check committed offsets: list groups: %w", err)
	}
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	sort.Strings(names)
	for _, g := range names {
		info := c.GroupInfo(g)
		if info == nil {
			continue
		}
		for topic, parts := range info.Commits {
			for p, commit := range parts {
				end := int64(-1)
				if pi := c.PartitionInfo(topic, p); pi != nil {
					end = pi.HighWatermark
				}
				if end >= 0 && commit.Offset <= end {
					continue
				}
				if err := admin.DeleteConsumerGroupOffset(g, topic, p); err != nil {
					return fmt.Errorf("drop offset %d of group %s on %s/%d past the log end %d: %w", commit.Offset, g, topic, p, end, err)
				}
				log.Warn("committed offset past the log end dropped: the partition's records were lost, the group's consumers restart from their initial offset",
					"group", g, "topic", topic, "partition", p, "committed", commit.Offset, "log_end", end)
			}
		}
	}
	return nil
}

// boundDialer dials its address whatever address it is asked for.
type boundDialer string

func (d boundDialer) Dial(network, _ string) (net.Conn, error) {
	return net.DialTimeout(network, string(d), 5*time.Second)
}
