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

// Headers a dead-lettered record carries besides its original ones.
const (
	DLTOriginalTopic     = "dlt-original-topic"
	DLTOriginalPartition = "dlt-original-partition"
	DLTOriginalOffset    = "dlt-original-offset"
	DLTOriginalGroup     = "dlt-original-consumer-group"
	DLTError             = "dlt-exception-message"
	DLTAttempts          = "dlt-attempts"
)
