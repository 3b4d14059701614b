#!/usr/bin/env bash
# Installs esbuild from npm into the fixture cache, pinned (nothing committed), for the
# bundle tests and benchmarks:
#   scripts/esbuild-fixture.sh [OUT]
# OUT defaults to ${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}/esbuild-VERSION and holds
# node_modules/ (esbuild and its @esbuild/<platform> binary). Prints the path of the esbuild
# binary on stdout. Cached: reused while OUT.key stamps it (scripts/lib-fixture.sh). The users' way is the same
# package: `npm install --save-dev esbuild` (docs/bundle.md).
set -euo pipefail
version=0.25.12
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
out=${1:-$cache/esbuild-$version}
log() { echo "esbuild-fixture: $*" >&2; }
die() { log "error: $*"; exit 1; }
bin() { # the platform binary itself (no node needed to run it)
	local b
	for b in "$out"/node_modules/@esbuild/linux-*/bin/esbuild; do
		[ -x "$b" ] && { echo "$b"; return 0; }
	done
	return 1
}
. "$(dirname "${BASH_SOURCE[0]}")/lib-fixture.sh"
key=$(fixture_key "$0")
if fixture_fresh "$out" "$key"; then bin && exit 0; fi
command -v npm >/dev/null || die "missing tool: npm"
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$cache/.esbuild.XXXXXX")
trap 'rm -rf "$work"' EXIT
printf '{ "name": "lamina-esbuild", "version": "1.0.0", "private": true }\n' >"$work/package.json"
# --ignore-scripts: the platform binary comes as the optional dependency @esbuild/<platform>
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error "esbuild@$version" >&2) ||
	die "npm install esbuild@$version failed"
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
fixture_stamp "$out" "$key"
bin || die "no @esbuild/linux-* binary in $out"
