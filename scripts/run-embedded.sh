#!/usr/bin/env bash
# Runs the embedded profile in the foreground: devkafka, customer-service,
# payment-service and saga-console as separate processes, each output line
# prefixed by its process. Ctrl-C, SIGTERM, a closed terminal (SIGHUP) or a closed output pipe
# (SIGPIPE, e.g. the tee of `make run | tee log` ended by Ctrl-C) stop the
# services first, then the broker; so does the script's own exit, including
# one because a process exited on its own.
#
# Started by `make run`, which builds ./bin first. The variables of the README
# (DATA_DIR, DEVKAFKA_ADDR, KAFKA_BROKERS, ...) pass through to the processes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin=$root/bin
export DATA_DIR=${DATA_DIR:-./.data}
export DEVKAFKA_ADDR=${DEVKAFKA_ADDR:-127.0.0.1:9093}
export KAFKA_BROKERS=${KAFKA_BROKERS:-$DEVKAFKA_ADDR}
customer_addr=${CUSTOMER_HTTP_ADDR:-127.0.0.1:9990}
payment_addr=${PAYMENT_HTTP_ADDR:-127.0.0.1:9991}
console_addr=${CONSOLE_ADDR:-127.0.0.1:9080}
mkdir -p "$DATA_DIR"

pids=()
names=()
# start NAME CMD...: runs CMD in its own session (so the terminal's Ctrl-C
# and hang-up reach only this script, which then stops everything in order)
# with its output prefixed by NAME.
start() {
	local name=$1
	shift
	local prefix
	prefix=$(printf '%-16s | ' "$name")
	# The prefixer outlives Ctrl-C and hang-up so the processes' shutdown
	# lines still show, and it ignores SIGPIPE: once its output is gone (the
	# reader of a pipe exited, the terminal closed) it keeps draining the
	# process's output into /dev/null, so the process never blocks on, or dies
	# of, a write to its log while it shuts down.
	setsid "$@" > >(trap '' HUP INT TERM PIPE; sed -u "s/^/$prefix/" 2>/dev/null || exec cat >/dev/null) 2>&1 &
	pids+=("$!")
	names+=("$name")
}

# say MESSAGE: a line on stderr that never fails the script, even when
# stderr is a closed pipe or a hung-up terminal.
say() { printf '%s\n' "$*" >&2 2>/dev/null || true; }

# stop_procs INDEX...: SIGTERM to each of those processes that still runs,
# then waits until all of them are gone, SIGKILL after stop_grace seconds
# (longer than the services' default SHUTDOWN_TIMEOUT of 20s). Polls with
# kill -0 because bash reaps its children as they exit; `wait PID` then only
# collects the status.
stop_grace=30
# shellcheck disable=SC2317 # reached from the traps only
stop_procs() {
	local i status waited=0 running=()
	for i in "$@"; do
		if kill -TERM "${pids[i]}" 2>/dev/null; then
			running+=("$i")
		else
			say "  ${names[i]} had already exited"
		fi
	done
	for i in "${running[@]}"; do
		while kill -0 "${pids[i]}" 2>/dev/null; do
			if ((waited >= stop_grace * 10)); then
				say "  ${names[i]} still runs ${stop_grace}s after SIGTERM: killing it"
				kill -KILL "${pids[i]}" 2>/dev/null || true
			fi
			sleep 0.1
			waited=$((waited + 1))
		done
		status=0
		wait "${pids[i]}" 2>/dev/null || status=$?
		if ((status == 0 || status == 127)); then # 127: already collected
			say "  ${names[i]} stopped"
		else
			say "  ${names[i]} exited with status $status"
		fi
	done
}

stopping=0
# stop stops every process in order: the services (all started after the
# broker) together, then the broker. Runs once, from a signal trap or on
# exit. Further signals are ignored until it is done (a second Ctrl-C must
# not leave the broker running), and so is SIGPIPE: its output may be a
# pipe whose reader is gone.
# shellcheck disable=SC2317 # reached from the traps only
stop() {
	[[ $stopping == 1 ]] && return
	stopping=1
	trap '' HUP INT TERM PIPE
	((${#pids[@]} > 0)) || return 0
	say "stopping (services first, then the broker)..."
	local i services=()
	for ((i = 1; i < ${#pids[@]}; i++)); do services+=("$i"); done
	((${#services[@]} == 0)) || stop_procs "${services[@]}"
	stop_procs 0
	say "stopped; data kept in $DATA_DIR"
}
# exit with 128 + the signal's number, as a shell does for a command a signal
# ended; the EXIT trap runs stop as well, which then returns at once.
trap 'stop; exit 129' HUP
trap 'stop; exit 130' INT
trap 'stop; exit 141' PIPE
trap 'stop; exit 143' TERM
trap stop EXIT

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
start saga-console env CONSOLE_ADDR="$console_addr" CUSTOMER_URL="http://127.0.0.1:$(port "$customer_addr")" \
	PAYMENT_URL="http://127.0.0.1:$(port "$payment_addr")" "$bin/saga-console"
wait_http "http://127.0.0.1:$(port "$console_addr")/healthz" saga-console
cat <<INFO

  embedded profile is up (Ctrl-C stops it)
    Kafka (devkafka)   $DEVKAFKA_ADDR         inspect: make topics; make tail TOPIC=outbox.event.customer
    customer-service   http://localhost:$(port "$customer_addr")/customer-service/customers
    payment-service    http://localhost:$(port "$payment_addr")/payment-service/payments?customerId=ID
    saga-console       http://localhost:$(port "$console_addr")/   registrations, timelines, dead letters, topics
    data               $DATA_DIR

INFO
# Returns when any process exits (a signal runs its trap, which exits).
wait -n "${pids[@]}" || true
say "a process exited; stopping the others"
exit 1
