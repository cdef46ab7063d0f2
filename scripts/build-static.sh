#!/usr/bin/env bash
# Builds the services as static release binaries.
#
#   scripts/build-static.sh OUTDIR [customer|payment ...]   (default: both)
#
# The one place the release build flags live: compose/Dockerfile builds the
# images with it and scripts/ci-static.sh checks the same build in CI.
#   CGO_ENABLED=0     static binary: runs on Alpine/distroless, no libc needed
#   -trimpath         no local file-system paths in the binary (reproducible)
#   -ldflags "-s -w"  no symbol table / DWARF: smaller image
# GOOS/GOARCH from the environment are honoured (cross-compiling needs no cgo).
set -euo pipefail

usage() {
	echo "usage: $0 OUTDIR [customer|payment ...]" >&2
	exit 2
}

[[ $# -ge 1 ]] || usage
outdir=$1
shift
services=("$@")
[[ ${#services[@]} -gt 0 ]] || services=(customer payment)

# Build from the repository root so that go.work ties the modules together.
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
cd "$repo_root"

for service in "${services[@]}"; do
	case $service in
	customer | payment) ;;
	*)
		echo "unknown service: $service (want customer or payment)" >&2
		usage
		;;
	esac
	binary=$service-service
	echo "building $binary -> $outdir/$binary"
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$outdir/$binary" "./$service/cmd/$binary"
done
