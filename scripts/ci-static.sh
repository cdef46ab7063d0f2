#!/usr/bin/env bash
# Static checks of the compose profile, the part of it CI can check without a
# Docker engine:
#   1. compose/docker-compose.yml parses (docker-compose 1.29, and docker
#      compose v2 too when it is installed), bind-mounts host files read-only
#      with an SELinux label (:ro,z), pins every pulled image to a patch
#      release (never latest), publishes ports on 127.0.0.1 only, sets no
#      Debezium image variable that only feeds a Connect setting Kafka 3
#      removed, and runs a MongoDB the Debezium release supports;
#   1b. the observability files it mounts: compose/prometheus/prometheus.yml
#      (promtool check config when promtool is installed; always: it is the
#      file the prometheus service mounts, and it scrapes /metrics of compose
#      services on ports they listen on), and compose/grafana (provisioning
#      files parse, the datasource points at a compose service, dashboards
#      are JSON whose panels use a provisioned datasource and only metrics
#      the Go code defines);
#   2. the Makefile's compose targets refuse docker-compose 1.x;
#   3. every shell script passes shellcheck;
#   4. debezium/connector.json is valid JSON of the shape the script sends,
#      holds no setting Debezium 2.4 no longer reads, and the Go relay
#      accepts it;
#   5. compose/Dockerfile copies every module that go.work uses, builds a
#      PACKAGE with the same flags as scripts/build-static.sh, and every
#      PACKAGE the compose file builds lies in one of those modules;
#   6. no module requires a service module: services share messages through
#      the contracts module, never through each other's code;
#   7. both services build as static binaries with the release flags
#      (scripts/build-static.sh, the same script the Dockerfile runs).
#
# It installs nothing: CI installs docker-compose, shellcheck and jq (and has
# Go) before calling it; python3 and its yaml module come with Debian's
# docker-compose. promtool (Debian package prometheus) is used when present.
# Exit status is non-zero on the first failing check.
set -euo pipefail

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo_root"

step() { printf '==> %s\n' "$*"; }
die() {
	printf 'ci-static: error: %s\n' "$*" >&2
	exit 1
}

for tool in docker-compose shellcheck jq go python3; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is required (CI: apt-get install -y docker-compose shellcheck jq)"
done
python3 -c 'import yaml' 2>/dev/null || die "python3's yaml module is required (apt-get install -y python3-yaml; docker-compose depends on it)"

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

# The compose file as docker-compose resolves it (paths absolute, variables
# substituted, short and long syntax as the parser reads them), for the
# checks below; they parse it with python3's yaml, the module docker-compose
# itself uses.
resolved=$tmp/compose.resolved.yml
docker-compose -f "$compose_file" config >"$resolved"

step "compose file: images pinned to a patch release, ports published on 127.0.0.1 only"
# Pinned: `make up` on two machines, or a month apart, runs the same software
# (a tag such as 3.7 or latest moves). Loopback: nothing in the stack has
# authentication, so nothing may be reachable from the laptop's network.
python3 - "$resolved" <<'PY'
import re, sys, yaml

services = yaml.safe_load(open(sys.argv[1]))["services"]
errors = []
patch = re.compile(r"^v?[0-9]+\.[0-9]+\.[0-9]+([.+-][0-9A-Za-z.+-]+)?$")
for name, svc in sorted(services.items()):
    image = svc.get("image")
    built = "build" in svc
    if image is None:
        if not built:
            errors.append(f"{name}: no image")
    else:
        ref = image.split("@", 1)[0]
        last = ref.rsplit("/", 1)[-1]
        tag = last.split(":", 1)[1] if ":" in last else ""
        if tag in ("", "latest"):
            errors.append(f"{name}: image {image}: pin a tag (not latest)")
        elif not built and not patch.match(tag):
            errors.append(f"{name}: image {image}: pin a patch release (x.y.z), not {tag}")
    if svc.get("network_mode") == "host":
        errors.append(f"{name}: network_mode host publishes every port on every interface")
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            host_ip = port.get("host_ip")
            shown = f"{host_ip or '0.0.0.0'}:{port.get('published')}:{port.get('target')}"
        else:
            parts = str(port).split(":")
            host_ip = parts[0] if len(parts) == 3 else None
            shown = str(port)
        if host_ip != "127.0.0.1":
            errors.append(f"{name}: port {shown}: publish on 127.0.0.1 (\"127.0.0.1:HOST:CONTAINER\")")
if errors:
    sys.exit("ci-static: error: compose/docker-compose.yml:\n  " + "\n  ".join(errors))
PY

# Container-side ports of a service, and the host file a service bind-mounts
# at a container path, from the resolved file; used by the next checks.
compose_helpers=$tmp/compose_helpers.py
cat >"$compose_helpers" <<'PY'
import os, re, sys, yaml

repo = os.getcwd()

def load(path):
    return yaml.safe_load(open(path))["services"]

def container_ports(svc):
    ports = set()
    for port in svc.get("ports") or []:
        if isinstance(port, dict):
            ports.add(int(port["target"]))
        else:
            ports.add(int(str(port).split(":")[-1].split("/")[0]))
    for port in svc.get("expose") or []:
        ports.add(int(str(port).split("/")[0]))
    return ports

def binds(svc):
    """container path -> host path (relative to the repository) of bind mounts."""
    out = {}
    for vol in svc.get("volumes") or []:
        if isinstance(vol, dict):
            if vol.get("type") != "bind":
                continue
            src, dst = vol["source"], vol["target"]
        else:
            parts = str(vol).split(":")
            if len(parts) < 2 or not parts[0].startswith("/"):
                continue
            src, dst = parts[0], parts[1]
        out[dst] = os.path.relpath(src, repo)
    return out

def by_image(services, prefix):
    found = [n for n, s in services.items() if str(s.get("image", "")).startswith(prefix)]
    if len(found) != 1:
        sys.exit(f"ci-static: error: compose/docker-compose.yml: expected one service with image {prefix}*, found {found}")
    return found[0]

def check_target(services, where, hostport, errors):
    m = re.fullmatch(r"([A-Za-z0-9_.-]+):([0-9]+)", hostport)
    if not m:
        errors.append(f"{where}: {hostport}: expected host:port")
        return
    host, port = m.group(1), int(m.group(2))
    if host not in services:
        errors.append(f"{where}: {hostport}: {host} is not a service of compose/docker-compose.yml")
    elif port not in container_ports(services[host]):
        errors.append(f"{where}: {hostport}: {host} listens on {sorted(container_ports(services[host]))}, not {port}")
PY

prometheus_config=compose/prometheus/prometheus.yml
if command -v promtool >/dev/null 2>&1; then
	step "$prometheus_config: promtool check config ($(promtool --version 2>&1 | head -n 1))"
	promtool check config "$prometheus_config" >/dev/null ||
		die "$prometheus_config: promtool check config failed (run it for the details)"
else
	step "$prometheus_config: promtool not installed (Debian: apt-get install prometheus), YAML checks only"
fi

step "$prometheus_config: mounted by the prometheus service, scrapes /metrics of compose services"
# The services serve GET /metrics at the root of their HTTP address, not
# under their base path; a target that is no compose service (or a port it
# does not listen on) is a scrape that can only fail.
python3 - "$compose_helpers" "$resolved" "$prometheus_config" <<'PY'
import sys
exec(open(sys.argv.pop(1)).read())
services = load(sys.argv[1])
config_file = sys.argv[2]
prom = by_image(services, "prom/prometheus:")
mounted = binds(services[prom]).get("/etc/prometheus/prometheus.yml")
if mounted != config_file:
    sys.exit(f"ci-static: error: service {prom} mounts {mounted} at /etc/prometheus/prometheus.yml, not {config_file}")
config = yaml.safe_load(open(config_file))
if not isinstance(config, dict):
    sys.exit(f"ci-static: error: {config_file}: not a YAML mapping")
errors = []
jobs = config.get("scrape_configs") or []
if not jobs:
    errors.append("no scrape_configs")
for job in jobs:
    where = f"job {job.get('job_name')}"
    if job.get("metrics_path", "/metrics") != "/metrics":
        errors.append(f"{where}: metrics_path {job['metrics_path']}: the services serve /metrics at the root")
    targets = [t for sc in job.get("static_configs") or [] for t in sc.get("targets") or []]
    if not targets:
        errors.append(f"{where}: no static target")
    for target in targets:
        check_target(services, where, target, errors)
if errors:
    sys.exit(f"ci-static: error: {config_file}:\n  " + "\n  ".join(errors))
PY

step "compose/grafana: provisioning parses, dashboards are JSON on the provisioned datasource"
grafana_dir=compose/grafana
shopt -s nullglob
dashboards=("$grafana_dir"/dashboards/*.json)
shopt -u nullglob
[[ ${#dashboards[@]} -gt 0 ]] || die "$grafana_dir/dashboards: no dashboard JSON"
for dashboard in "${dashboards[@]}"; do
	jq -e '(.title | type == "string") and (.panels | type == "array" and length > 0)' "$dashboard" >/dev/null ||
		die "$dashboard: not a dashboard (JSON with .title and a non-empty .panels)"
done
python3 - "$compose_helpers" "$resolved" "$grafana_dir" "${dashboards[@]}" <<'PY'
import sys
exec(open(sys.argv.pop(1)).read())
import glob, json
services = load(sys.argv[1])
grafana_dir, dashboards = sys.argv[2], sys.argv[3:]

# Metric names the Go code defines: every string literal that looks like one
# of the project's metrics (saga_...), in non-test sources; histograms (and
# summaries), whose _bucket/_sum/_count series a query may name, are those
# whose Name is in a HistogramOpts (SummaryOpts) literal.
defined, histograms = set(), set()
for root, dirs, names in os.walk("."):
    dirs[:] = [d for d in dirs if d not in (".git", "third_party")]
    for fn in names:
        if fn.endswith(".go") and not fn.endswith("_test.go"):
            src = open(os.path.join(root, fn), encoding="utf-8").read()
            defined.update(re.findall(r'"(saga_[a-z0-9_]+)"', src))
            histograms.update(re.findall(r'(?:Histogram|Summary)Opts\{[^}]*?\bName:\s*"(saga_[a-z0-9_]+)"', src))
if not defined:
    sys.exit("ci-static: error: no saga_* metric name found in the Go code")
graf = by_image(services, "grafana/grafana")
mounts = binds(services[graf])
errors = []

# Provisioning: every YAML file parses, with apiVersion 1.
uids = set()
providers = []
files = sorted(glob.glob(f"{grafana_dir}/provisioning/**/*.y*ml", recursive=True))
if not files:
    errors.append(f"{grafana_dir}/provisioning: no YAML file")
for path in files:
    try:
        doc = yaml.safe_load(open(path))
    except yaml.YAMLError as err:
        errors.append(f"{path}: {err}")
        continue
    if not isinstance(doc, dict) or doc.get("apiVersion") != 1:
        errors.append(f"{path}: expected a mapping with apiVersion: 1")
        continue
    for ds in doc.get("datasources") or []:
        if not ds.get("uid") or not ds.get("type"):
            errors.append(f"{path}: datasource {ds.get('name')}: needs uid and type")
            continue
        uids.add(ds["uid"])
        m = re.fullmatch(r"https?://([^/]+)/?", str(ds.get("url", "")))
        if not m:
            errors.append(f"{path}: datasource {ds['uid']}: url {ds.get('url')}: expected http://service:port")
        else:
            check_target(services, f"{path}: datasource {ds['uid']}", m.group(1), errors)
    providers += [(path, p) for p in doc.get("providers") or []]

# Mounted where Grafana reads them.
for sub in ("datasources", "dashboards"):
    target = f"/etc/grafana/provisioning/{sub}"
    if mounts.get(target) != f"{grafana_dir}/provisioning/{sub}":
        errors.append(f"service {graf}: {target} must be the bind mount of {grafana_dir}/provisioning/{sub}")
for path, provider in providers:
    dash_path = (provider.get("options") or {}).get("path")
    if mounts.get(dash_path) != f"{grafana_dir}/dashboards":
        errors.append(f"{path}: provider {provider.get('name')}: path {dash_path} is not where service {graf} mounts {grafana_dir}/dashboards")
home = services[graf].get("environment", {}).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
if home:
    d, f = home.rsplit("/", 1)
    if d not in mounts or not os.path.isfile(os.path.join(mounts[d], f)):
        errors.append(f"service {graf}: GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH {home} is no mounted file")

# Dashboards: every query on a provisioned datasource, every metric it names
# defined by the Go code. PromQL is reduced to its metric names: strings,
# label matchers, ranges and by/without/on/ignoring lists removed, then
# every identifier not followed by "(" (a function or an aggregation) and
# not a keyword is a metric name.
keywords = {"and", "or", "unless", "bool", "by", "without", "on", "ignoring",
            "group_left", "group_right", "offset", "atan2", "inf", "nan"}
# Series Prometheus itself writes for every target.
synthetic = {"up", "scrape_duration_seconds", "scrape_samples_scraped",
             "scrape_samples_post_metric_relabeling", "scrape_series_added"}

def metric_names(expr):
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"'(?:[^'\\]|\\.)*'", "''", e)
    e = re.sub(r"\{[^}]*\}", "{}", e)
    e = re.sub(r"\[[^\]]*\]", "[]", e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\$\{?\w+\}?", " ", e)
    for m in re.finditer(r"(?<![\w.:])([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?", e):
        if not m.group(2) and m.group(1).lower() not in keywords:
            yield m.group(1)

def known(name):
    if name in defined or name in synthetic:
        return True
    return any(name.endswith(s) and name[: -len(s)] in histograms for s in ("_bucket", "_sum", "_count"))

def walk(panels):
    for panel in panels:
        yield panel
        yield from walk(panel.get("panels") or [])

for path in dashboards:
    doc = json.load(open(path))
    queries = 0
    for panel in walk(doc["panels"]):
        where = f"{path}: panel {panel.get('title')!r}"
        for ds in [panel.get("datasource")] + [t.get("datasource") for t in panel.get("targets") or []]:
            if isinstance(ds, dict) and ds.get("uid") not in uids:
                errors.append(f"{where}: datasource uid {ds.get('uid')!r} is not provisioned ({sorted(uids)})")
        for target in panel.get("targets") or []:
            expr = target.get("expr", "")
            if not expr.strip():
                errors.append(f"{where}: a target without expr")
                continue
            queries += 1
            names = list(metric_names(expr))
            if not names:
                errors.append(f"{where}: {expr}: names no metric")
            for name in names:
                if not known(name):
                    errors.append(f"{where}: {name}: no such metric in the Go code (non-test .go files)")
    if not queries:
        errors.append(f"{path}: no query")
if errors:
    sys.exit("ci-static: error: compose/grafana:\n  " + "\n  ".join(errors))
PY

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

step "compose/Dockerfile builds a PACKAGE with scripts/build-static.sh's flags"
# build-static.sh builds the two services only; the Dockerfile builds any
# other main package itself, and must not drift from the release flags.
build_flags() { grep -Eo 'CGO_ENABLED=[0-9] go build .* -o ' "$1" | sed 's/ -o $//' | sort -u; }
static_flags=$(build_flags scripts/build-static.sh)
dockerfile_flags=$(build_flags compose/Dockerfile)
[[ -n $static_flags && $(wc -l <<<"$static_flags") -eq 1 ]] ||
	die "scripts/build-static.sh: expected one 'CGO_ENABLED=0 go build ... -o' line, found: ${static_flags:-none}"
[[ $dockerfile_flags == "$static_flags" ]] ||
	die "compose/Dockerfile builds PACKAGE with '${dockerfile_flags:-no go build line}', scripts/build-static.sh with '$static_flags'"

step "compose file: every PACKAGE built from compose/Dockerfile is a main package of a go.work module"
packages=$(python3 - "$resolved" <<'PY'
import sys, yaml
for name, svc in sorted(yaml.safe_load(open(sys.argv[1]))["services"].items()):
    build = svc.get("build")
    if isinstance(build, dict) and build.get("dockerfile") == "compose/Dockerfile":
        package = (build.get("args") or {}).get("PACKAGE")
        if package:
            print(name, package.strip("/").removeprefix("./"))
PY
)
while read -r service package; do
	[[ -n $service ]] || continue
	owner=""
	while IFS= read -r module; do
		[[ $package == "$module"/* ]] && owner=$module
	done <<<"$modules"
	[[ -n $owner ]] || die "$compose_file: $service builds PACKAGE $package, which is in no module of go.work (compose/Dockerfile copies those only)"
	[[ -d $package ]] || die "$compose_file: $service builds PACKAGE $package: no such directory"
	if compgen -G "$package/*.go" >/dev/null; then
		name=$(go list -f '{{.Name}}' "./$package") || die "go list ./$package failed"
		[[ $name == main ]] || die "$compose_file: $service builds PACKAGE $package, package $name, not a main package"
	else
		printf '  note: %s (PACKAGE of %s) has no Go file yet: make up cannot build it\n' "$package" "$service" >&2
	fi
done <<<"$packages"

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
