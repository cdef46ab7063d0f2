// Package relay publishes the transactional outbox to Kafka exactly as
// Debezium's MongoDB connector with the MongoEventRouter transform does, so
// consumers cannot tell which of the two published a record. The contract is
// docs/outbox-contract.md at the repository root; the settings come from the same
// connector registration Debezium is given (debezium/connector.json), read by
// ParseConnector.
//
// What it does:
//
//   - Record converts one outbox document into the Kafka record Debezium
//     would produce: topic, key, value (payload JSON with Debezium's type
//     conversions) and headers, byte for byte.
//   - Relay follows one database with a change stream and publishes every
//     insert into a routed outbox collection (matching the predicate
//     pattern, not excluded), in batches, with a SyncProducer. It stores its
//     position (resume token, published-through mark) in the collection
//     "outbox-relay" of that database only after Kafka acknowledged a batch,
//     and resumes after it. Kafka errors are retried with the same batch
//     until they succeed; nothing is skipped. Given a probe of the broker
//     (Options.Probe), it retries as soon as the broker answers again
//     rather than after a backoff grown long in an outage.
//   - With no stored position, or when the position has left the change
//     history, it opens a new stream first and then sweeps every routed
//     collection in createdAt order, ties in insertion order (like
//     Debezium's snapshot): duplicates are possible, loss is not. Consumers
//     dedupe on the eventId header. A sweep with a published-through mark
//     starts CommitMargin before it, since everything older was handled.
//   - Updates of outbox documents are dropped with a warning, deletes
//     silently (a retention job may delete published events).
//   - Several replicas may run a Relay for the same connector and database:
//     a lease in the collection "outbox-relay-lease" of that database lets
//     exactly one of them relay. The holder renews it every LeaseTTL/3 and
//     stops relaying as soon as a renewal fails or finds another holder;
//     the others poll for it as often. A stopping holder releases it, so a
//     standby takes over within LeaseTTL/3; a crashed one is replaced
//     within LeaseTTL + LeaseTTL/3. The position is shared, so a successor
//     resumes after the last checkpointed batch (duplicates of at most one
//     batch). Expiry is judged with each replica's clock: keep clocks in
//     sync to well within the TTL. A batch already handed to the producer
//     when the lease is lost is still sent, so for a moment two replicas
//     may publish the same events; consumers dedupe on eventId.
//
// Where it deliberately differs from Debezium:
//
//   - Change events of collections the outbox transform does not apply to
//     (customers, consumed-events, …) are not published. Debezium would
//     publish them raw to <topic.prefix>.<db>.<collection>; the platform has
//     no consumer for them.
//   - A document Debezium would fail its task on (no payload, a missing or
//     non-string aggregateType, mixed-type arrays, …) is parked in the
//     collection "outbox-parked" with the reason, logged at ERROR and
//     counted; the relay goes on. Debezium stops until someone intervenes.
//     A header or key value that is neither a string, number nor boolean is
//     parked too, where Debezium would render Kafka Connect's text form, and
//     so is a route value (aggregateType) that is not printable ASCII:
//     Java's and Go's regular expressions may route it differently, and it
//     cannot name a topic by itself.
//   - The Java regular expressions of the registration (route.topic.regex,
//     the predicate pattern, the include and exclude lists) are refused at
//     start when Java's Pattern rejects them, as Debezium does, and also
//     when Java and Go would read them differently (nested classes, (?U),
//     (?m), octal escapes, repeated groups with captures or empty matches,
//     …); see checkJavaRegex.
//   - Only what the shipped configuration uses is implemented: header
//     placements, expanded payloads, StringConverter keys, JsonConverter
//     values without schemas. ParseConnector refuses anything else rather
//     than publish something different, with a *ConfigError listing each
//     refused setting.
//   - Debezium's offset advances with every change it captures (flushed
//     every offset.flush.interval.ms); the relay stores its position at most
//     once a second while outbox events flow, at most every five seconds
//     otherwise, and when it stops. A crash therefore republishes up to a
//     second of events (duplicates, never a loss).
//
// It does not create topics, configure the producer (the caller must use an
// idempotent producer with murmur2 partitioning, see the contract), purge
// the outbox (PublishedThrough tells a retention job how far it may go) or
// replay parked documents.
package relay

// Where to look:
//
//   - relay.go: Options, New, Run, and which collections are routed.
//   - follow.go: following the change stream, a batch of change events at a
//     time (handleBatch), restarting it after failures.
//   - publish.go: a batch's records sent until Kafka acknowledges them
//     (retries, the broker probe, the producer's circuit breaker), and
//     unroutable documents parked.
//   - sweep.go: the sweep after a lost or missing position.
//   - position.go: the stored position and how often it is stored.
//   - stats.go: Stats and the health they report.
//   - lease.go: the lease document (acquire, renew, release);
//     leadership.go: relaying only while holding it.
//   - config.go: ParseConnector, Config and ConfigError.
//   - record.go: Record, the record's topic, key and headers; convert.go:
//     the value, converted like Debezium's MongoDataConverter and Kafka
//     Connect's JsonConverter.
//   - javaregex.go, javafmt.go: Java's regular expressions and text
//     renderings, where Go's differ.
