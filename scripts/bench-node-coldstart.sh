#!/usr/bin/env bash
# Cold require() time with a read-only /var/task in the Node fixture base, without and with
# lamina's V8 compile cache (precompile.node). Not a test: prints a table.
#   LAMINA=build/lamina scripts/bench-node-coldstart.sh [RUNS]
# The app is the Node "app" workload (scripts/workload-node.sh app: openai, langchain,
# @langchain/core, pdfjs-dist, pdf-parse, js-tiktoken, @libsql/client, puppeteer-core ...)
# in /var/task. Each run is a fresh node, chrooted in the unpacked image as Lambda's uid 993,
# in a mount namespace with /var/task bound read-only, started with the V8 flags Lambda's
# bootstrap passes for a 1024 MB function (the cache is built for those). RUNS (default 15)
# timed runs per cell after one warm-up, the two images alternating; the page cache is
# warm, so the numbers are node's own work (deserialise vs compile). Reported: medians of
# the time the require()s take inside node, and of the whole process (start included).
# Needs root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAMINA=${LAMINA:-$repo/build/lamina}
runs=${1:-15}
mem=1024
[ "$(id -u)" = 0 ] || { echo "bench-node-coldstart: needs root (chroot, mount namespace)" >&2; exit 1; }
base=$("$repo/scripts/make-fixture-node.sh")
wl=$("$repo/scripts/workload-node.sh" app)
work=$(mktemp -d "${TMPDIR:-/tmp}/lamina-bench-node.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"

mkdir -p "$work/app"
cp -a "$wl/." "$work/app/"
rm -f "$work/app/.complete"
# the handler loads what the app uses; the cache also covers every top-level package
cat >"$work/app/index.js" <<'JS'
const OpenAI = require('openai');
const { ChatPromptTemplate } = require('@langchain/core/prompts');
exports.handler = async () => ({ ok: typeof OpenAI === 'function' && typeof ChatPromptTemplate === 'function' });
JS

workloads=(
	"openai|openai"
	"@langchain/core + langchain|@langchain/core/prompts @langchain/core/messages langchain"
	"puppeteer-core|puppeteer-core"
	"pdf-parse|pdf-parse"
	"@libsql/client + js-tiktoken|@libsql/client js-tiktoken"
	"all of the above + index.js|/var/task/index.js openai @langchain/core/prompts @langchain/core/messages langchain puppeteer-core pdf-parse @libsql/client js-tiktoken"
)

. "$repo/scripts/lib-bench.sh"
unpack() { bench_unpack "$1" "$2" "$work/x"; } # OUT.tar ROOT

for v in none cache; do
	case $v in
	none) pc=false ;;
	cache) pc="{\"memorySizes\": [$mem]}" ;;
	esac
	cat >"$work/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["index.handler"]}, "precompile": {"node": $pc}}
JSON
	s=$(date +%s%N)
	"$LAMINA" build "$work/lamina.json" -o "$work/$v.tar" >/dev/null 2>"$work/$v.log" ||
		{ cat "$work/$v.log" >&2; exit 1; }
	echo "bench-node-coldstart: built '$v' in $(( ($(date +%s%N) - s) / 1000000 )) ms" >&2
	grep -E 'precompile: node' "$work/$v.log" | sed 's/^/  /' >&2 || true
	unpack "$work/$v.tar" "$work/root-$v"
done

# prints "<require µs> <require CPU µs> <process µs>"
run_once() { # ROOT MODULES...
	local root=$1 s e inner
	shift
	local env=(PATH=/var/lang/bin:/usr/bin:/bin LAMBDA_TASK_ROOT=/var/task
		NODE_PATH=/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task)
	[ "$root" = "$work/root-cache" ] && env+=(NODE_COMPILE_CACHE=/var/task/.node-compile-cache)
	s=$(date +%s%N)
	inner=$(unshare -m sh -c 'mount --bind "$1/var/task" "$1/var/task" && mount -o remount,bind,ro "$1/var/task" &&
		r=$1 && shift && cd / && exec chroot --userspec=993:993 "$r" "$@"' sh "$root" /usr/bin/env -i "${env[@]}" \
		/var/lang/bin/node --expose-gc --max-semi-space-size=$((mem / 10 / 2)) --max-old-space-size=$((mem - mem / 10)) \
		-e 'const t = process.hrtime.bigint(), c = process.cpuUsage();
for (const m of process.argv.slice(1)) require(require.resolve(m, { paths: ["/var/task"] }));
const u = process.cpuUsage(c);
console.log(Number((process.hrtime.bigint() - t) / 1000n), u.user + u.system);' "$@")
	e=$(date +%s%N)
	echo "$inner $(( (e - s) / 1000 ))"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.0f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }

printf '\nCold require(), node %s, %d MB flags, uid 993, read-only /var/task, warm page cache;\n' \
	"$("$work/root-none/var/lang/bin/node" --version)" "$mem"
printf 'median of %d runs (ms): time the require()s take inside node (wall, and CPU of all its threads),\n' "$runs"
printf 'and the whole process (start included); no cache -> cache (ratio)\n\n'
printf '| %-30s | %-22s | %-22s | %-22s |\n' workload "require wall" "require CPU" "process wall"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..32})" "$(printf -- '-%.0s' {1..24})" "$(printf -- '-%.0s' {1..24})" \
	"$(printf -- '-%.0s' {1..24})"
cell() { # COLUMN
	local a b
	a=$(cut -d' ' -f"$1" "$work/none.t" | median) b=$(cut -d' ' -f"$1" "$work/cache.t" | median)
	printf '%s -> %s (%s)' "$(ms "$a")" "$(ms "$b")" "$(ratio "$b" "$a")"
}
for w in "${workloads[@]}"; do
	label=${w%%|*} mods=${w#*|}
	# shellcheck disable=SC2086
	for v in none cache; do run_once "$work/root-$v" $mods >/dev/null; done # warm-up (and check it runs)
	: >"$work/none.t"; : >"$work/cache.t"
	for ((i = 0; i < runs; i++)); do
		# shellcheck disable=SC2086
		for v in none cache; do run_once "$work/root-$v" $mods >>"$work/$v.t"; done
	done
	printf '| %-30s | %-22s | %-22s | %-22s |\n' "$label" "$(cell 1)" "$(cell 2)" "$(cell 3)"
done

files=$(find "$work/root-cache/var/task/.node-compile-cache" -type f | wc -l)
bytes=$(find "$work/root-cache/var/task/.node-compile-cache" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
js=$(find "$work/root-none/var/task" -type f \( -name '*.js' -o -name '*.cjs' -o -name '*.mjs' \) -printf '%s\n' |
	awk '{s+=$1} END {print s+0}')
printf '\ncache: %d files, %d bytes (%.1f%% of the %d bytes of .js/.cjs/.mjs in /var/task)\n' "$files" "$bytes" \
	"$(awk -v a="$bytes" -v b="$js" 'BEGIN {print 100 * a / b}')" "$js"
printf 'app layer gzip size: no cache %d, cache %d (+%d)\n' "$(cat "$work/root-none.gz")" "$(cat "$work/root-cache.gz")" \
	"$(( $(cat "$work/root-cache.gz") - $(cat "$work/root-none.gz") ))"
