package router

import (
	"github.com/IBM/sarama"
)

// warnOffsetsPastEnd logs at WARN, and counts, each claimed partition whose
// committed offset lies past the partition's end. sarama then starts that
// partition from Consumer.Offsets.Initial (the earliest), as Kafka's
// clients reset on OFFSET_OUT_OF_RANGE; the log was truncated or lost under
// the group (a broker that lost its data), so the partition is read again
// from its start, which the consumers' dedup makes safe. Without the line a
// reset would go unnoticed. A failure to check is logged at DEBUG: it
// changes nothing about consuming.
func (r *Router) warnOffsetsPastEnd(claims map[string][]int32) {
	client, err := sarama.NewClient(r.cfg.Brokers, r.sarama)
	if err != nil {
		r.log.Debug("check committed offsets", "err", err)
		return
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		_ = client.Close()
		r.log.Debug("check committed offsets", "err", err)
		return
	}
	defer admin.Close() // closes client too
	committed, err := admin.ListConsumerGroupOffsets(r.cfg.Group, claims)
	if err != nil {
		r.log.Debug("check committed offsets", "err", err)
		return
	}
	for topic, partitions := range claims {
		for _, p := range partitions {
			b := committed.GetBlock(topic, p)
			if b == nil || b.Offset < 0 {
				continue
			}
			end, err := client.GetOffset(topic, p, sarama.OffsetNewest)
			if err != nil || b.Offset <= end {
				continue
			}
			r.offsetResets.Add(1)
			r.log.Warn("committed offset past the partition's end: consuming it again from the earliest offset (the log was truncated or lost under the group)",
				"topic", topic, "partition", p, "committed", b.Offset, "log_end", end)
		}
	}
}

// OffsetResets counts the partitions this router found with a committed
// offset past their end, and so consumed again from the earliest offset.
func (r *Router) OffsetResets() int64 { return r.offsetResets.Load() }
