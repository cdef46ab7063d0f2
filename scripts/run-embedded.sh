#!/usr/bin/env bash
# Runs the embedded profile in the foreground: devkafka, customer-service and
# payment-service as separate processes, each output line prefixed by its
# process. Ctrl-C (or SIGTERM) stops the services first, then the broker.
#
# Started by `make run`, which builds ./bin first. The variables of the README
# (DATA_DIR, DEVKAFKA_ADDR, KAFKA_BROKERS, ...) pass through to the processes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/bin
export DATA_DIR=${DATA_DIR:-./.data}
export DEVKAFKA_ADDR=${DEVKAFKA_ADDR:-127.0.0.1:9093}
export KAFKA_BROKERS=${KAFKA_BROKERS:-$DEVKAFKA_ADDR}
customer_addr=${CUSTOMER_HTTP_ADDR:-:9990}
payment_addr=${PAYMENT_HTTP_ADDR:-:9991}
mkdir -p "$DATA_DIR"

pids=()
# start NAME CMD...: runs CMD in its own session (so the terminal's Ctrl-C
# reaches only this script, which then stops everything in order) with its
# output prefixed by NAME.
start() {
	local name=$1
	shift
	local prefix
	prefix=$(printf '%-16s | ' "$name")
	# The prefixer ignores Ctrl-C so the processes' shutdown lines still show.
	setsid "$@" > >(trap '' INT TERM; exec sed -u "s/^/$prefix/") 2>&1 &
	pids+=("$!")
}

stopping=0
stop() {
	[[ $stopping == 1 ]] && return
	stopping=1
	echo "stopping (services first, then the broker)..."
	local i
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		kill -TERM "${pids[i]}" 2>/dev/null || true
		wait "${pids[i]}" 2>/dev/null || true
	done
	echo "stopped; data kept in $DATA_DIR"
}
trap stop INT TERM EXIT

# wait_http URL NAME: waits until URL answers (any status), at most 60 s.
wait_http() {
	local i
	for ((i = 0; i < 120; i++)); do
		if curl -s -o /dev/null "$1"; then return 0; fi
		sleep 0.5
	done
	echo "$2 did not answer on $1" >&2
	return 1
}

start devkafka "$bin/devkafka"
start customer-service env HTTP_ADDR="$customer_addr" "$bin/customer-service"
start payment-service env HTTP_ADDR="$payment_addr" "$bin/payment-service"

port() { echo "${1##*:}"; }
wait_http "http://127.0.0.1:$(port "$customer_addr")/customer-service/health" customer-service
wait_http "http://127.0.0.1:$(port "$payment_addr")/payment-service/health" payment-service
cat <<INFO

  embedded profile is up (Ctrl-C stops it)
    Kafka (devkafka)   $DEVKAFKA_ADDR         inspect: make topics; make tail TOPIC=outbox.event.customer
    customer-service   http://localhost:$(port "$customer_addr")/customer-service/customers
    payment-service    http://localhost:$(port "$payment_addr")/payment-service/payments?customerId=ID
    data               $DATA_DIR

INFO
# Returns when any process exits (or on Ctrl-C, through the trap).
wait -n "${pids[@]}" || true
[[ $stopping == 1 ]] || echo "a process exited; stopping the others" >&2
