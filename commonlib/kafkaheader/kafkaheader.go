// Package kafkaheader names the Kafka record headers the platform reads and
// writes, in one place.
//
// The outbox headers are what Debezium's MongoEventRouter produces with the
// shipped connector configuration (see debezium/connector.json); the
// dead-letter headers are the platform's own.
package kafkaheader

// Headers of an outbox record.
const (
	// ID is the outbox document's _id, added by the event router itself.
	ID = "id"
	// EventType is the outbox document's type field; consumers route on it.
	EventType = "eventType"
	// EventID is the outbox document's _id again; consumers dedup on it.
	EventID = "eventId"
	// Traceparent is the outbox document's traceparent field: the W3C
	// trace context of the span that wrote the event (empty or absent when
	// there was none). Consumers continue the trace from it.
	Traceparent = "traceparent"
)

// Headers a dead-lettered record carries besides its original ones
// (commonlib/router writes them; ops/deadletter reads them). Every one of
// them starts with DLTPrefix.
const (
	// DLTOriginalTopic is the topic the record was consumed from.
	DLTOriginalTopic = "dlt-original-topic"
	// DLTOriginalPartition is its partition there, in decimal.
	DLTOriginalPartition = "dlt-original-partition"
	// DLTOriginalOffset is its offset there, in decimal.
	DLTOriginalOffset = "dlt-original-offset"
	// DLTOriginalTimestamp is the original record's timestamp, RFC 3339
	// in UTC with milliseconds (TimeFormat): how old the event is, which
	// the record's own timestamp (when it was dead-lettered) does not say.
	DLTOriginalTimestamp = "dlt-original-timestamp"
	// DLTOriginalGroup is the consumer group that gave up on it.
	DLTOriginalGroup = "dlt-original-consumer-group"
	// DLTError is why: the handler's error or the missing header.
	DLTError = "dlt-exception-message"
	// DLTAttempts is how many times the handler was called (0 when the
	// record could not be routed).
	DLTAttempts = "dlt-attempts"
)

// Headers a record replayed from the dead-letter topic to its original
// topic carries besides its original ones (ops/deadletter writes them; the
// DLT* headers above are removed). When a replayed record fails again, the
// router keeps them on the new dead-letter record.
const (
	// DLTReplayedFromOffset is the position on the dead-letter topic the
	// record was replayed from: the offset in decimal ("7") when that
	// topic has one partition, "PARTITION:OFFSET" ("1:7") otherwise.
	DLTReplayedFromOffset = "dlt-replayed-from-offset"
	// DLTReplayedAt is when it was replayed, in TimeFormat.
	DLTReplayedAt = "dlt-replayed-at"
)

// DLTPrefix starts the name of every header above.
const DLTPrefix = "dlt-"

// TimeFormat is how header timestamps are written: RFC 3339 in UTC with
// milliseconds, such as 2026-03-01T12:00:00.000Z (format a time.Time in
// UTC).
const TimeFormat = "2006-01-02T15:04:05.000Z07:00"
