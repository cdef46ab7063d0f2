#!/usr/bin/env bash
# Registers (creates or updates) the Debezium connector with Kafka Connect and
# waits until it and all its tasks are RUNNING.
#
#   scripts/register-connector.sh
#
# Environment:
#   CONNECT_URL     Kafka Connect REST API        (default http://localhost:8083)
#   CONNECT_CREDENTIALS  user:password for HTTP Basic (outbox-relay with
#                   CONNECT_BASIC_AUTH_FILE); never printed. Credentials in
#                   CONNECT_URL work too and are cut from every message.
#   CONNECTOR_FILE  {"name": …, "config": {…}}    (default debezium/connector.json)
#   TIMEOUT         seconds each wait may take    (default 120)
#
# Idempotent: it PUTs /connectors/<name>/config, which creates the connector or
# replaces its configuration, so it can run after every `make up`.
# Exit status: 0 when the connector and every task are RUNNING, 1 otherwise.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CONNECT_URL=${CONNECT_URL:-http://localhost:8083}
CONNECT_URL=${CONNECT_URL%/}
CONNECT_CREDENTIALS=${CONNECT_CREDENTIALS:-}
# shown_url is CONNECT_URL without user:password@, for messages.
shown_url=$(printf '%s' "$CONNECT_URL" | sed -E 's#^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@#\1#')
CONNECTOR_FILE=${CONNECTOR_FILE:-$repo_root/debezium/connector.json}
TIMEOUT=${TIMEOUT:-120}

poll_interval=2    # seconds between polls
progress_every=10  # seconds between "still waiting" lines
trace_lines=20     # lines of a Java stack trace worth printing

log() { printf 'register-connector: %s\n' "$*"; }
die() {
	printf 'register-connector: error: %s\n' "$*" >&2
	exit 1
}

for tool in curl jq; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool is required but not installed (Debian/Ubuntu: sudo apt-get install $tool; macOS: brew install $tool)"
done
[[ $TIMEOUT =~ ^[1-9][0-9]*$ ]] || die "TIMEOUT must be a positive whole number of seconds, got '$TIMEOUT'"
[[ -r $CONNECTOR_FILE ]] || die "connector file not readable: $CONNECTOR_FILE"

name=$(jq -er '.name | select(type == "string" and length > 0)' "$CONNECTOR_FILE" 2>/dev/null) ||
	die "$CONNECTOR_FILE: expected a non-empty string at .name"
config=$(jq -ec '.config | select(type == "object")' "$CONNECTOR_FILE" 2>/dev/null) ||
	die "$CONNECTOR_FILE: expected an object at .config"
name_path=$(jq -rn --arg n "$name" '$n | @uri')

body_file=$(mktemp)
trap 'rm -f "$body_file"' EXIT

# request METHOD PATH [JSON]: sets $status (HTTP code, 000 when Connect could
# not be reached or did not answer in time) and $body.
status=000
body=
request() {
	local method=$1 path=$2 data=${3-}
	# A config PUT makes Connect validate the config, which for Debezium means
	# connecting to MongoDB; Connect itself gives up on a request after 90 s.
	local max_time=30
	[[ $method == PUT ]] && max_time=100
	local args=(-sS -o "$body_file" -w '%{http_code}' --connect-timeout 5 --max-time "$max_time"
		-X "$method" -H 'Accept: application/json')
	if [[ -n $data ]]; then
		args+=(-H 'Content-Type: application/json' --data-binary "$data")
	fi
	if [[ -n $CONNECT_CREDENTIALS ]]; then
		# From a file descriptor, so the password is not in ps output.
		args+=(-K <(printf 'user = "%s"\n' "$CONNECT_CREDENTIALS"))
	fi
	: >"$body_file"
	status=$(curl "${args[@]}" "$CONNECT_URL$path" 2>/dev/null) || status=000
	body=$(cat "$body_file")
}

# error_text prints Connect's error message ({"error_code":…,"message":…}),
# or the raw body when it is not such JSON.
error_text() {
	local msg
	msg=$(jq -r '.message // empty' <<<"$body" 2>/dev/null) || msg=
	if [[ -n $msg ]]; then
		printf '%s\n' "$msg"
	else
		printf '%s\n' "${body:-(empty response body)}"
	fi
}

# 1. Wait for the REST API. GET / answers as soon as the HTTP server is up;
# GET /connectors only once the worker has joined its group and read the
# config topic, and a PUT sent before that would fail.
log "waiting for Kafka Connect at $shown_url (up to ${TIMEOUT}s)"
deadline=$((SECONDS + TIMEOUT))
next_progress=$((SECONDS + progress_every))
while :; do
	request GET /
	if [[ $status == 200 ]]; then
		version=$(jq -r '.version // "?"' <<<"$body" 2>/dev/null) || version="?"
		request GET /connectors
		[[ $status == 200 ]] && break
	fi
	if ((SECONDS >= deadline)); then
		die "Kafka Connect at $shown_url not ready after ${TIMEOUT}s (last HTTP status $status; is the stack up? make up)"
	fi
	if ((SECONDS >= next_progress)); then
		log "still waiting for Kafka Connect (HTTP $status)"
		next_progress=$((SECONDS + progress_every))
	fi
	sleep "$poll_interval"
done
log "Kafka Connect $version is ready"

# 2. Create or update. 201: created; 200: updated (or unchanged). 409 means a
# worker rebalance is in progress: retried until the deadline. Any other error
# (400 for an invalid config, 500 for a missing connector plugin …) is final.
log "registering connector $name from $CONNECTOR_FILE"
deadline=$((SECONDS + TIMEOUT))
while :; do
	request PUT "/connectors/$name_path/config" "$config"
	case $status in
	201)
		log "connector $name created"
		break
		;;
	200)
		log "connector $name configuration updated"
		break
		;;
	409)
		if ((SECONDS >= deadline)); then
			die "Kafka Connect kept answering 409 for ${TIMEOUT}s: $(error_text)"
		fi
		log "Kafka Connect is rebalancing (409), retrying"
		sleep "$poll_interval"
		;;
	000) die "no answer from Kafka Connect at $shown_url (connection failed or timed out)" ;;
	*) die "Kafka Connect rejected the connector (HTTP $status): $(error_text)" ;;
	esac
done

# 3. Wait until the connector and all of its tasks run. Status JSON:
#   {"name":…, "connector":{"state":"RUNNING","worker_id":…},
#    "tasks":[{"id":0,"state":"RUNNING","worker_id":…}], "type":"source"}
# A FAILED connector or task carries a "trace" (a Java stack trace).
print_trace() { # LABEL TRACE
	{
		log "$1"
		# sed reads all of its input (unlike head), so the printf never gets
		# SIGPIPE, which pipefail would turn into an exit.
		printf '%s\n' "$2" | sed -n "1,${trace_lines}s/^/    /p"
	} >&2
}

log "waiting for connector $name and its tasks to be RUNNING (up to ${TIMEOUT}s)"
deadline=$((SECONDS + TIMEOUT))
last_summary=
while :; do
	request GET "/connectors/$name_path/status"
	if [[ $status == 200 ]]; then
		connector_state=$(jq -r '.connector.state // "UNKNOWN"' <<<"$body")
		task_count=$(jq -r '.tasks // [] | length' <<<"$body")
		summary="connector $connector_state, tasks [$(jq -r '[.tasks // [] | .[] | "\(.id)=\(.state)"] | join(" ")' <<<"$body")]"

		if [[ $connector_state == FAILED ]]; then
			print_trace "connector $name FAILED:" "$(jq -r '.connector.trace // "(no trace)"' <<<"$body")"
			die "connector $name failed; fix the cause, then: curl -X POST '$shown_url/connectors/$name_path/restart?includeTasks=true&onlyFailed=true'"
		fi
		failed=$(jq -r '.tasks // [] | map(select(.state == "FAILED")) | length' <<<"$body")
		if ((failed > 0)); then
			while IFS= read -r task_id; do
				print_trace "task $task_id FAILED:" "$(jq -r --argjson id "$task_id" '.tasks[] | select(.id == $id) | .trace // "(no trace)"' <<<"$body")"
			done < <(jq -r '.tasks[] | select(.state == "FAILED") | .id' <<<"$body")
			die "connector $name has $failed failed task(s); fix the cause, then: curl -X POST '$shown_url/connectors/$name_path/restart?includeTasks=true&onlyFailed=true'"
		fi
		running=$(jq -r '.tasks // [] | map(select(.state == "RUNNING")) | length' <<<"$body")
		if [[ $connector_state == RUNNING ]] && ((task_count > 0 && running == task_count)); then
			log "connector $name is RUNNING with $task_count task(s)"
			exit 0
		fi
	else
		# 404 right after creation: the status is not written yet.
		summary="status not available yet (HTTP $status)"
	fi

	if ((SECONDS >= deadline)); then
		log "last status (HTTP $status):" >&2
		if jq . <<<"$body" >/dev/null 2>&1; then
			jq . <<<"$body" >&2
		else
			printf '%s\n' "${body:-(empty response body)}" >&2
		fi
		die "connector $name not RUNNING after ${TIMEOUT}s"
	fi
	if [[ $summary != "$last_summary" ]]; then
		log "$summary"
		last_summary=$summary
	fi
	sleep "$poll_interval"
done
