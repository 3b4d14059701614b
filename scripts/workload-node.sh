#!/usr/bin/env bash
# Installs the Node prune workloads with npm (nothing committed):
#   seed: the seed's layer  (@distube/ytdl-core @ffmpeg-installer/ffmpeg fluent-ffmpeg form-data
#         google-auth-library)
#   app:  a larger app      (openai langchain @langchain/core pdfjs-dist pdf-parse js-tiktoken
#         @libsql/client puppeteer-core better-sqlite3)
#   scripts/workload-node.sh seed|app [OUT]
# OUT defaults to ${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}/workload-node-NAME and holds
# package.json and node_modules/. Prints OUT on stdout. Cached: reused while OUT.key stamps it (scripts/lib-fixture.sh).
# Install scripts are not run (--ignore-scripts): better-sqlite3's would download a prebuilt
# binary from GitHub; it is then built from source with node-gyp when the node headers are
# available offline, else its native addon is missing (reported, and the tests skip it).
set -euo pipefail
which=${1:?usage: workload-node.sh seed|app [OUT]}
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
out=${2:-$cache/workload-node-$which}
log() { echo "workload-node: $*" >&2; }
die() { log "error: $*"; exit 1; }
command -v npm >/dev/null || die "missing tool: npm"
case "$which" in
seed) pkgs=(@distube/ytdl-core@^4.14.4 @ffmpeg-installer/ffmpeg@^1.1.0 fluent-ffmpeg@^2.1.2 form-data@^4.0.0
	google-auth-library@^10.4.0) ;;
app) pkgs=(openai langchain @langchain/core pdfjs-dist pdf-parse js-tiktoken @libsql/client puppeteer-core
	better-sqlite3) ;;
*) die "unknown workload '$which' (seed or app)" ;;
esac
. "$(dirname "${BASH_SOURCE[0]}")/lib-fixture.sh"
key=$( { fixture_key "$0"; printf '%s\n' "${pkgs[@]}"; } | sha256sum | cut -c1-64)
if fixture_fresh "$out" "$key"; then echo "$out"; exit 0; fi
mkdir -p "$(dirname "$out")"
work=$(mktemp -d "$cache/.wlnode.XXXXXX")
trap 'rm -rf "$work"' EXIT
printf '{ "name": "lamina-workload-%s", "version": "1.0.0", "private": true }\n' "$which" >"$work/package.json"
(cd "$work" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error "${pkgs[@]}" >&2) ||
	die "npm install failed"
rm -f "$work/package-lock.json"
if [ -d "$work/node_modules/better-sqlite3" ] && [ ! -e "$work/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ]; then
	# node-gyp (bundled with npm) needs the node headers: Debian's nodejs ships them in
	# /usr/include/node, so --nodedir=/usr builds offline.
	gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
	if [ -e /usr/include/node/node.h ] && [ -e "$gyp" ] && command -v g++ >/dev/null; then
		(cd "$work/node_modules/better-sqlite3" &&
			node "$gyp" rebuild --release --nodedir=/usr >"$work/gyp.log" 2>&1) ||
			log "better-sqlite3: building from source failed (see node-gyp); its addon is missing"
	else
		log "better-sqlite3: no node headers offline; its native addon is missing"
	fi
fi
rm -rf "$out"
mv "$work" "$out"
trap - EXIT
fixture_stamp "$out" "$key"
log "$which: $(find "$out" -type f | wc -l) files, $(du -sb "$out" | cut -f1) bytes"
echo "$out"
