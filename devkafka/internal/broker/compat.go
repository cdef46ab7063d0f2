package broker

import (
	"log/slog"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The hooks below fix two places where kfake (at the pinned version) differs
// from Kafka in ways that matter to a development broker. Both run as kfake
// control functions: kfake runs those in their own goroutine while its loop
// keeps serving admin calls, so they may call Cluster methods such as
// TopicInfo and CreateTopic; and it runs them one at a time, before the
// request is handled, so nothing interleaves with them.

// persistAutoCreatedTopics makes auto-created topics durable at once.
//
// kfake auto-creates a topic inside its Metadata handler without writing
// topics.json; the topic reaches disk only at the next clean Close. After a
// crash (kill -9, OOM) the topic and all its records were gone, and worse, its
// partition directories stayed behind, so re-creating the topic appended new
// batches to the old segment files behind kfake's back. Creating the topic
// here, through CreateTopic, runs kfake's CreateTopics path, which writes
// topics.json before the client sees the topic.
func persistAutoCreatedTopics(c *kfake.Cluster, log *slog.Logger) {
	c.ControlKey(int16(kmsg.Metadata), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req, ok := kreq.(*kmsg.MetadataRequest)
		if !ok || !req.AllowAutoTopicCreation {
			return nil, nil, false
		}
		for _, rt := range req.Topics {
			if rt.Topic == nil || *rt.Topic == "" || c.TopicInfo(*rt.Topic) != nil {
				continue
			}
			// 0 partitions means the cluster default, DefaultNumPartitions.
			if err := c.CreateTopic(*rt.Topic, 0, nil); err != nil {
				// Left to kfake's own handling, which answers the client.
				log.Debug("auto-create topic", "topic", *rt.Topic, "err", err)
				continue
			}
			log.Info("auto-created topic", "topic", *rt.Topic)
		}
		return nil, nil, false // kfake answers the request as usual
	})
}

// answerUnknownGroupOffsetFetch makes an OffsetFetch for a group the broker
// has never seen answer "no committed offset" (offset -1, no error), as Kafka
// does. kfake answers GROUP_ID_NOT_FOUND, which breaks clients that fetch
// before they ever commit, such as sarama's OffsetManager (PartitionOffset-
// Manager creation fails with "The group id does not exist").
//
// Only requests in which every group is unknown are answered here; a request
// that mixes known and unknown groups (OffsetFetch v8+ batches) goes to kfake
// unchanged.
func answerUnknownGroupOffsetFetch(c *kfake.Cluster) {
	c.ControlKey(int16(kmsg.OffsetFetch), func(kreq kmsg.Request) (kmsg.Response, error, bool) {
		req, ok := kreq.(*kmsg.OffsetFetchRequest)
		if !ok {
			return nil, nil, false
		}
		groups := []string{req.Group}
		if req.Version >= 8 {
			groups = groups[:0]
			for _, g := range req.Groups {
				groups = append(groups, g.Group)
			}
		}
		if len(groups) == 0 {
			return nil, nil, false
		}
		for _, g := range groups {
			if c.GroupInfo(g) != nil {
				return nil, nil, false
			}
		}
		c.KeepControl() // answering a request would otherwise remove this hook
		return noOffsets(req), nil, true
	})
}

// noOffsets answers req with offset -1 for every requested partition.
func noOffsets(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	if req.Version < 8 {
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition = p
				sp.Offset = -1
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return resp
	}
	for _, rg := range req.Groups {
		sg := kmsg.NewOffsetFetchResponseGroup()
		sg.Group = rg.Group
		for _, rt := range rg.Topics {
			st := kmsg.NewOffsetFetchResponseGroupTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, p := range rt.Partitions {
				sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
				sp.Partition = p
				sp.Offset = -1
				st.Partitions = append(st.Partitions, sp)
			}
			sg.Topics = append(sg.Topics, st)
		}
		resp.Groups = append(resp.Groups, sg)
	}
	return resp
}
