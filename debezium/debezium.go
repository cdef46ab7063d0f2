// Package debezium ships the Debezium MongoDB connector registration that
// relays the outbox to Kafka.
//
// connector.json is the one source of truth: scripts/register-connector.sh
// sends its config to Kafka Connect, and the Go relay embeds the same bytes
// and takes its routing settings from them (see commonlib/relay).
package debezium

import _ "embed"

// Connector is connector.json as shipped: {"name": …, "config": {…}}.
//
//go:embed connector.json
var Connector []byte
