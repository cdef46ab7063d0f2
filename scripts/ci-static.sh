#!/usr/bin/env bash
# Static checks of the compose profile, the part of it CI can check without a
# Docker engine:
#   1. compose/docker-compose.yml parses (docker-compose 1.29, and docker
#      compose v2 too when it is installed), bind-mounts host files read-only
#      with an SELinux label (:ro,z), sets no Debezium image variable that
#      only feeds a Connect setting Kafka 3 removed, and runs a MongoDB the
#      Debezium release supports;
#   2. the Makefile's compose targets refuse docker-compose 1.x;
#   3. every shell script passes shellcheck;
#   4. debezium/connector.json is valid JSON of the shape the script sends,
#      holds no setting Debezium 2.4 no longer reads, and the Go relay
#      accepts it;
#   5. compose/Dockerfile copies every module that go.work uses;
#   6. no module requires a service module: services share messages through
#      the contracts module, never through each other's code;
#   7. both services build as static binaries with the release flags
#      (scripts/build-static.sh, the same script the Dockerfile runs).
#
# It installs nothing: CI installs docker-compose, shellcheck and jq (and has
# Go) before calling it. Exit status is non-zero on the first failing check.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

step() { printf '==> %s\n' "$*"; }
die() {
	printf 'ci-static: error: %s\n' "$*" >&2
	exit 1
}

for tool in docker-compose shellcheck jq go; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required (CI: apt-get install -y docker-compose shellcheck jq)"
done

compose_file=compose/docker-compose.yml
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

step "compose file parses: docker-compose $(docker-compose version --short 2>/dev/null || echo '?')"
docker-compose -f "$compose_file" config -q
if docker compose version >/dev/null 2>&1; then
	step "compose file parses: docker compose $(docker compose version --short 2>/dev/null || echo '?')"
	docker compose -f "$compose_file" config -q
fi

step "compose file: host bind mounts are :ro,z"
# A bind mount without z is unreadable in the container on SELinux hosts;
# nothing in the stack writes to a host file.
bad=$(grep -En '^[[:space:]]*- \.{1,2}/' "$compose_file" | grep -Ev ':ro,z"?[[:space:]]*$' || true)
[[ -z $bad ]] || die "$compose_file: bind mounts of host files must end in :ro,z:
$bad"

step "compose file: no Debezium image variable for a removed Connect setting"
# The debezium/connect image turns REST_HOST_NAME and REST_PORT into
# rest.host.name and rest.port, which Kafka Connect 3.0 removed (KAFKA-12482):
# setting them changes nothing (the REST API listens on listeners=http://:8083).
bad=$(grep -En '^[[:space:]]+(CONNECT_)?REST_(HOST_NAME|PORT):' "$compose_file" || true)
[[ -z $bad ]] || die "$compose_file: Kafka Connect 3 does not read rest.host.name or rest.port:
$bad"

step "compose file: MongoDB is a version the Debezium release supports"
# Debezium 2.4 ships MongoDB Java driver 4.7.1 and tests against MongoDB 6.0;
# 7.0 needs driver 4.10 or later (Debezium 2.5 and later).
debezium_tag=$(grep -Eo 'image: quay\.io/debezium/connect:[0-9]+\.[0-9]+' "$compose_file" | head -n 1 | sed 's/.*://')
[[ -n $debezium_tag ]] || die "$compose_file: no quay.io/debezium/connect image"
if [[ $debezium_tag == 2.[0-4] ]]; then
	while IFS= read -r image; do
		major=${image#mongo:}
		major=${major%%.*}
		[[ $major =~ ^[0-9]+$ ]] || die "$compose_file: $image: pin a MongoDB version (mongo:6.0.x for Debezium $debezium_tag)"
		((major <= 6)) || die "$compose_file: $image with Debezium $debezium_tag: its MongoDB driver (4.7.1) supports servers up to 6.0; pin mongo:6.0.x or move Debezium to 2.5 or later"
	done < <(grep -Eo 'image: mongo:[^[:space:]]+' "$compose_file" | sed 's/^image: //')
fi

step "make up refuses docker-compose 1.x"
# docker-compose 1.29 crashes with KeyError: 'ContainerConfig' when it
# recreates a container on current Docker Engines (docker/compose#11742).
for version in 1.29.2 v2.27.0; do
	printf '#!/bin/sh\necho %s\n' "$version" >"$tmp/compose-$version"
	chmod +x "$tmp/compose-$version"
done
if make -s compose-v2 COMPOSE="$tmp/compose-1.29.2" >/dev/null 2>&1; then
	die "make compose-v2 accepts docker-compose 1.29.2"
fi
make -s compose-v2 COMPOSE="$tmp/compose-v2.27.0" >/dev/null ||
	die "make compose-v2 refuses Compose v2.27.0"

step "shellcheck scripts/*.sh"
shellcheck scripts/*.sh

step "debezium/connector.json is valid JSON with .name and .config"
jq . debezium/connector.json >/dev/null
jq -e '(.name | type == "string" and length > 0) and (.config | type == "object")' \
	debezium/connector.json >/dev/null ||
	die "debezium/connector.json: expected {\"name\": string, \"config\": object}"

step "debezium/connector.json has no setting Debezium 2.4 does not read"
# Removed from the MongoDB connector by 2.4 (mongodb.hosts and
# mongodb.members.auto.discover in 2.4, DBZ-6892; mongodb.name in 2.0, for
# topic.prefix; the *.whitelist and *.blacklist names of 1.x), or never among
# its settings (database.server.name and time.precision.mode belong to the
# relational connectors). Kafka Connect
# accepts keys no plugin defines and the connector ignores them, so a stale
# one would only look as if it did something.
unread='["mongodb.hosts", "mongodb.members.auto.discover", "mongodb.name",
	"database.server.name", "database.whitelist", "database.blacklist",
	"collection.whitelist", "collection.blacklist", "field.blacklist",
	"time.precision.mode"]'
found=$(jq -r --argjson unread "$unread" '[.config | keys[] | . as $k | select(any($unread[]; . == $k))] | join(", ")' debezium/connector.json)
[[ -z $found ]] || die "debezium/connector.json: settings Debezium 2.4 does not read: $found (see the README's differences from the blueprint)"

step "the Go relay accepts debezium/connector.json"
go test -count=1 -run '^TestParseShippedConnector$' ./commonlib/relay/ >/dev/null ||
	die "the Go relay refuses debezium/connector.json (go test -run TestParseShippedConnector ./commonlib/relay/)"

if command -v node >/dev/null 2>&1; then
	step "compose/mongo/init-replica-set.js parses (node --check)"
	node --check compose/mongo/init-replica-set.js
fi

step "compose/Dockerfile copies every module of go.work"
modules=$(go work edit -json | jq -r '.Use[].DiskPath | ltrimstr("./")')
[[ -n $modules ]] || die "go.work lists no modules"
missing=0
while IFS= read -r module; do
	if ! grep -Eq "^COPY ${module}/go\.mod " compose/Dockerfile ||
		! grep -Eq "^COPY ${module}/ ${module}/\$" compose/Dockerfile; then
		printf '  compose/Dockerfile does not copy module %s (its go.mod and its sources)\n' "$module" >&2
		missing=1
	fi
done <<<"$modules"
((missing == 0)) || die "compose/Dockerfile is out of step with go.work"

step "no module requires a service module (go mod graph)"
# A service module is one with a cmd/*-service binary. Services depend on the
# contracts module for each other's events, never on each other: a require
# between them, direct or through another module, ties their builds and
# releases together. GOWORK=off because in the workspace go mod graph prints
# the edges of every workspace module, whichever directory it runs in.
services=()
while IFS= read -r module; do
	if compgen -G "$module/cmd/*-service" >/dev/null; then
		services+=("$(go mod edit -json "$module/go.mod" | jq -r .Module.Path)")
	fi
done <<<"$modules"
[[ ${#services[@]} -gt 0 ]] || die "no module of go.work has a cmd/*-service binary"
bad=""
while IFS= read -r module; do
	graph=$(cd "$module" && GOWORK=off go mod graph) || die "go mod graph failed in $module"
	edges=$(awk -v services="${services[*]}" -v module="$module" '
		BEGIN { n = split(services, s, " "); for (i = 1; i <= n; i++) service[s[i]] = 1 }
		{ to = $2; sub(/@.*/, "", to) }
		to in service { printf "  %s requires %s (module graph of %s)\n", $1, $2, module }
	' <<<"$graph")
	[[ -z $edges ]] || bad+=$edges$'\n'
done <<<"$modules"
[[ -z $bad ]] || die "no module may require a service module (services share events through module contracts):
${bad%$'\n'}"

step "static build of both services (scripts/build-static.sh)"
out=$tmp/static
mkdir "$out"
scripts/build-static.sh "$out"
for binary in customer-service payment-service; do
	# The build info records the flags; CGO_ENABLED=0 is what makes it static.
	go version -m "$out/$binary" | grep -q 'CGO_ENABLED=0' || die "$binary was not built with CGO_ENABLED=0"
done

step "all static checks passed"
