#!/usr/bin/env bash
# Static checks of the compose profile, the part of it CI can check without a
# Docker engine:
#   1. compose/docker-compose.yml parses (docker-compose 1.29, and docker
#      compose v2 too when it is installed);
#   2. every shell script passes shellcheck;
#   3. debezium/connector.json is valid JSON of the shape the script sends,
#      and the Go relay accepts it;
#   4. compose/Dockerfile copies every module that go.work uses;
#   5. both services build as static binaries with the release flags
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

step "compose file parses: docker-compose $(docker-compose version --short 2>/dev/null || echo '?')"
docker-compose -f "$compose_file" config -q
if docker compose version >/dev/null 2>&1; then
	step "compose file parses: docker compose $(docker compose version --short 2>/dev/null || echo '?')"
	docker compose -f "$compose_file" config -q
fi

step "shellcheck scripts/*.sh"
shellcheck scripts/*.sh

step "debezium/connector.json is valid JSON with .name and .config"
jq . debezium/connector.json >/dev/null
jq -e '(.name | type == "string" and length > 0) and (.config | type == "object")' \
	debezium/connector.json >/dev/null ||
	die "debezium/connector.json: expected {\"name\": string, \"config\": object}"

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

step "static build of both services (scripts/build-static.sh)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
scripts/build-static.sh "$out"
for binary in customer-service payment-service; do
	# The build info records the flags; CGO_ENABLED=0 is what makes it static.
	go version -m "$out/$binary" | grep -q 'CGO_ENABLED=0' || die "$binary was not built with CGO_ENABLED=0"
done

step "all static checks passed"
