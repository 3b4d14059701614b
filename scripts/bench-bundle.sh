#!/usr/bin/env bash
# Bundling Node apps with esbuild (docs/bundle.md) against prune alone and no treatment, on
# the two Node workloads (scripts/workload-node.sh): the seed's five-package app and the
# larger LLM app. Not a test: prints two tables.
#   LAMINA=build/lamina scripts/bench-bundle.sh [RUNS]          (root; RUNS default 21)
#   BENCH_SIZES=0 skips part 1 (the sizes do not change from run to run), BENCH_COLD=0 part 2.
#
# 1. Sizes. For each workload, with a handler that calls into every package:
#      none            the layer as installed (node_modules + handler)
#      prune           "prune": {"presets": ["node-safe"]}
#      bundle          "bundle": {"node": {... "minify": true}} (esbuild, pinned by
#                      scripts/esbuild-fixture.sh), externals copied beside it
#      bundle+prune    both (node-safe prunes the externals' node_modules)
#    each built as an image and as a function zip, and checked with
#    `lamina verify OUT.tar --event` (the handler runs in the image); the bundle is built a
#    second time from a copy at another path into another cache and must give the same image. Reported: the app
#    layer uncompressed (tar bytes), gzip'd (the layer blob) and the zip.
# 2. Cold start: require (or import(), for .mjs) of the handler module to its first result,
#    pruned against bundled, with lamina's V8 compile cache (precompile.node, made for the
#    flags Lambda's bootstrap passes for 1024 MB) off and on. Each run is a fresh node,
#    chrooted in the unpacked image as uid 993, /var/task bound read-only, warm page cache;
#    RUNS runs per cell after one warm-up, the four images alternating. Medians (ms) of the
#    time inside node (require to result) and of the whole process (node's start included).
#
# better-sqlite3: the workload builds its addon against the host's node (Debian's 20); the
# image runs node 22, which refuses that ABI. It is rebuilt once for the fixture's node
# (headers from the same npm tarball make-fixture-node.sh unpacks) and cached in the fixture
# cache as better-sqlite3-node<V>-<ver>.node (a few minutes of g++ the first time).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAMINA=${LAMINA:-$repo/build/lamina}
runs=${1:-21}
mem=1024
log() { echo "bench-bundle: $*" >&2; }
[ "$(id -u)" = 0 ] || { log "needs root (chroot, mount namespace)"; exit 1; }
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
base=$("$repo/scripts/make-fixture-node.sh")
esbuild=$("$repo/scripts/esbuild-fixture.sh")
seed=$("$repo/scripts/workload-node.sh" seed)
app=$("$repo/scripts/workload-node.sh" app)
work=$(mktemp -d "${TMPDIR:-/tmp}/lamina-bench-bundle.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache" LAMINA_ESBUILD="$esbuild"

# ---- better-sqlite3 for the image's node
nodever=${NODE_FIXTURE_VERSION:-22.23.3}
bsqver=$(jq -r .version "$app/node_modules/better-sqlite3/package.json")
addon="$cache/better-sqlite3-node$nodever-$bsqver.node"
if [ ! -e "$addon" ]; then
	tgz=$(ls "$cache"/npm/node-linux-*-"$nodever".tgz | head -1)
	gyp=$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js
	log "building better-sqlite3 $bsqver for node $nodever (once)"
	mkdir -p "$work/n" && tar -xzf "$tgz" -C "$work/n"
	cp -r "$app/node_modules/better-sqlite3" "$work/bsq" && rm -rf "$work/bsq/build"
	(cd "$work/bsq" && node "$gyp" rebuild --release --nodedir="$work/n/package" -j 2 >"$work/gyp.log" 2>&1) ||
		{ tail -20 "$work/gyp.log" >&2; exit 1; }
	cp "$work/bsq/build/Release/better_sqlite3.node" "$addon.tmp" && mv "$addon.tmp" "$addon"
	rm -rf "$work/bsq" "$work/n"
fi

# ---- the apps (hard links into the workloads: lamina only reads them)
mkdir -p "$work/seed" "$work/app"
cp -al "$seed/node_modules" "$work/seed/"
cp -al "$app/node_modules" "$work/app/"
rm -f "$work/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
cp "$addon" "$work/app/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
cp "$repo/tests/fixtures/node-apps/seed-index.js" "$work/seed/index.js"
cat >"$work/app/index.mjs" <<'JS'
// One call into each package, offline (no network, no keys used).
import OpenAI from 'openai';
import { ChatPromptTemplate } from '@langchain/core/prompts';
import { Document } from '@langchain/core/documents';
import { RunnableLambda } from '@langchain/core/runnables';
import { InMemoryStore } from 'langchain/storage/in_memory';
import { getEncoding } from 'js-tiktoken';
import { createClient } from '@libsql/client';
import Database from 'better-sqlite3';
import puppeteer from 'puppeteer-core';
import { PDFParse } from 'pdf-parse';
import * as pdfjs from 'pdfjs-dist/legacy/build/pdf.mjs';

// a one-page PDF saying "Hello lamina"
function tinyPdf() {
  const stream = 'BT /F1 12 Tf 20 50 Td (Hello lamina) Tj ET';
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ];
  let out = '%PDF-1.4\n';
  const offs = [];
  objs.forEach((o, i) => { offs.push(out.length); out += `${i + 1} 0 obj\n${o}\nendobj\n`; });
  const xref = out.length;
  out += `xref\n0 ${objs.length + 1}\n0000000000 65535 f \n`;
  for (const o of offs) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objs.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return new Uint8Array(Buffer.from(out, 'latin1'));
}

export const handler = async (event) => {
  const openai = new OpenAI({ apiKey: 'sk-none', baseURL: 'http://127.0.0.1:9/v1' });
  const msgs = await ChatPromptTemplate.fromMessages([['human', 'Summarise {topic}']]).formatMessages({ topic: event.name });
  const words = await RunnableLambda.from((d) => d.pageContent.split(' ')).invoke(new Document({ pageContent: 'a b c d' }));
  const store = new InMemoryStore();
  await store.mset([['k', 'v']]);
  const libsql = createClient({ url: ':memory:' });
  const row = (await libsql.execute('select 6 * 7 as x')).rows[0];
  libsql.close();
  const db = new Database(':memory:');
  const sq = db.prepare('select 2 + 3 as v').get();
  db.close();
  const parser = new PDFParse({ data: tinyPdf() });
  const parsed = await parser.getText();
  await parser.destroy();
  return {
    openai: openai.baseURL,
    prompt: msgs[0].content,
    words: words.length,
    store: (await store.mget(['k']))[0],
    tokens: getEncoding('cl100k_base').encode('hello lamina').length,
    libsql: Number(row.x),
    sqlite: sq.v,
    puppeteer: typeof puppeteer.launch,
    pdfjs: pdfjs.Util.makeHexColor(255, 0, 0),
    pdfParse: parsed.text.trim().split('\n')[0],
  };
};
JS
echo '{"name": "lamina"}' >"$work/event.json"
want_seed='{"ytdl":"dQw4w9WgXcQ","ffmpeg":true,"fluent":"function","multipart":"multipart/form-data","auth":true,"google":"function"}'
want_app='{"openai":"http://127.0.0.1:9/v1","prompt":"Summarise lamina","words":4,"store":"v","tokens":3,"libsql":42,"sqlite":5,"puppeteer":"function","pdfjs":"#ff0000","pdfParse":"Hello lamina"}'

manifest() { # OUT WORKLOAD VARIANT PRECOMPILE
	local w=$2 v=$3 layer prune='{}' entry format
	case $w in seed) entry=index.js format=cjs ;; app) entry=index.mjs format=esm ;; esac
	layer="{\"name\": \"app\", \"from\": \"$w\"}"
	case $v in
	prune | bundle+prune) prune='{"presets": ["node-safe"]}' ;;
	esac
	case $v in
	bundle | bundle+prune)
		layer="{\"name\": \"app\", \"from\": \"$w\", \"bundle\": {\"node\": {\"entry\": [\"$entry\"],
			\"format\": \"$format\", \"minify\": true}}}" ;;
	esac
	cat >"$1" <<JSON
{"base": "oci-archive:$base", "layers": [$layer], "prune": $prune,
 "config": {"cmd": ["index.handler"]}, "precompile": {"node": $4}, "verify": {"handler": true}}
JSON
}

unpack() { # OUT.tar ROOT
	local x="$work/x" m d
	rm -rf "$x" "$2"; mkdir -p "$x" "$2"
	tar -xf "$1" -C "$x"
	d=$(jq -r '.manifests[0].digest' "$x/index.json"); m="$x/blobs/sha256/${d#sha256:}"
	for d in $(jq -r '.layers[].digest' "$m"); do tar -xzf "$x/blobs/sha256/${d#sha256:}" -C "$2"; done
	rm -rf "$x"
}
layer_sizes() { # OUT.tar -> "<tar bytes> <gzip bytes>"
	local x="$work/x" m d
	rm -rf "$x"; mkdir -p "$x"
	tar -xf "$1" -C "$x"
	d=$(jq -r '.manifests[0].digest' "$x/index.json"); m="$x/blobs/sha256/${d#sha256:}"
	d=$(jq -r '.layers[-1].digest' "$m")
	echo "$(gzip -dc "$x/blobs/sha256/${d#sha256:}" | wc -c) $(jq -r '.layers[-1].size' "$m")"
	rm -rf "$x"
}
mib() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1048576}'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.0f%%", 100 * (a - b) / b}'; }

# ---- 1. sizes
declare -A U G Z OVER
for w in seed app; do
	[ "${BENCH_SIZES:-1}" = 1 ] || break
	for v in none prune bundle bundle+prune; do
		manifest "$work/$w-$v.json" "$w" "$v" false
		s=$(date +%s%N)
		"$LAMINA" build "$work/$w-$v.json" -o "$work/$w-$v.tar" --report >/dev/null 2>"$work/$w-$v.log" ||
			{ cat "$work/$w-$v.log" >&2; exit 1; }
		log "$w/$v: image built in $(( ($(date +%s%N) - s) / 1000000 )) ms"
		[ "$v" = bundle ] && sed -n '/^bundle /,/^  node_modules/p' "$work/$w-$v.log" | sed 's/^/  /' >&2
		"$LAMINA" verify "$work/$w-$v.tar" --event "$work/event.json" >"$work/$w-$v.out" 2>"$work/$w-$v.vlog" ||
			{ cat "$work/$w-$v.vlog" >&2; exit 1; }
		want=want_$w
		got=$(jq -c . "$work/$w-$v.out")
		[ "$got" = "${!want}" ] || { log "$w/$v: unexpected result $got"; exit 1; }
		read -r U[$w-$v] G[$w-$v] < <(layer_sizes "$work/$w-$v.tar")
		if [ "$v" = bundle ]; then
			# reproducible: again from a copy elsewhere, into another cache, the same image
			mkdir -p "$work/again"
			cp -al "$work/$w" "$work/again/$w"
			sed "s|\"from\": \"$w\"|\"from\": \"again/$w\"|" "$work/$w-$v.json" >"$work/again.json"
			XDG_CACHE_HOME="$work/cache-again" "$LAMINA" build "$work/again.json" -o "$work/again.tar" --no-verify \
				>/dev/null 2>"$work/again.log" || { cat "$work/again.log" >&2; exit 1; }
			d1=$(tar -xOf "$work/$w-$v.tar" index.json | jq -r '.manifests[0].digest')
			d2=$(tar -xOf "$work/again.tar" index.json | jq -r '.manifests[0].digest')
			[ "$d1" = "$d2" ] || { log "$w/$v: not reproducible: $d1 vs $d2"; exit 1; }
			log "$w/$v: built again from another path into another cache: same image $d1"
			rm -rf "$work/again" "$work/again.tar" "$work/cache-again"
		fi
		# the zip: written when Lambda would take it, else measured by --report (MiB, 0.1)
		if "$LAMINA" zip "$work/$w-$v.json" -o "$work/$w-$v.zip" --no-verify >/dev/null 2>"$work/$w-$v.zlog"; then
			Z[$w-$v]=$(stat -c %s "$work/$w-$v.zip")
		else
			grep -q "Lambda's limit" "$work/$w-$v.zlog" || { cat "$work/$w-$v.zlog" >&2; exit 1; }
			Z[$w-$v]=$(awk '/function zip/ { f = 1 } f && $1 == "total" { m = $3 == "GiB" ? 1073741824 : $3 == "MiB" ? 1048576 : 1024;
				printf "%.0f", $2 * m; exit }' "$work/$w-$v.log")
			OVER[$w-$v]=1
			log "$w/$v: the zip is over Lambda's 250 MiB unzipped limit (lamina zip refuses it); size from --report"
		fi
		rm -f "$work/$w-$v.zip"
	done
done
[ "${BENCH_SIZES:-1}" = 1 ] && {
printf '\nApp layer sizes (MiB; change against no treatment), esbuild %s, node-safe prune;\n' \
	"$("$esbuild" --version)"
printf 'verify --event passed for every one (the handler calls into each package)\n\n'
printf '| %-26s | %-18s | %-18s | %-18s |\n' "workload / treatment" "uncompressed" "gzip'd layer" "zipped"
printf '|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..28})" "$(printf -- '-%.0s' {1..20})" "$(printf -- '-%.0s' {1..20})" \
	"$(printf -- '-%.0s' {1..20})"
for w in seed app; do
	for v in none prune bundle bundle+prune; do
		cell() { # ARRAY-NAME
			local -n a=$1
			if [ $v = none ]; then mib "${a[$w-$v]}"; else printf '%s (%s)' "$(mib "${a[$w-$v]}")" "$(pct "${a[$w-$v]}" "${a[$w-none]}")"; fi
			[ "$1" = Z ] && [ -n "${OVER[$w-$v]:-}" ] && printf ' *'
			return 0
		}
		printf '| %-26s | %-18s | %-18s | %-18s |\n' "$w / $v" "$(cell U)" "$(cell G)" "$(cell Z)"
	done
done

printf '\n* over Lambda'"'"'s 250 MiB unzipped limit: lamina zip refuses it; size measured by lamina build --report\n'
}
[ "${BENCH_COLD:-1}" = 1 ] || exit 0

# ---- 2. cold start
for w in seed app; do
	for v in prune bundle; do
		for c in none cache; do
			pc=false
			[ $c = cache ] && pc="{\"memorySizes\": [$mem]}"
			manifest "$work/cs.json" "$w" "$v" "$pc"
			"$LAMINA" build "$work/cs.json" -o "$work/cs.tar" --no-verify >/dev/null 2>"$work/cs.log" ||
				{ cat "$work/cs.log" >&2; exit 1; }
			unpack "$work/cs.tar" "$work/root-$w-$v-$c"
		done
	done
	rm -f "$work/cs.tar" "$work"/"$w"-*.tar
done

# prints "<require-to-result µs> <process µs>"
run_once() { # ROOT ENTRY CACHE(none|cache)
	local root=$1 s e inner
	local env=(PATH=/var/lang/bin:/usr/bin:/bin LAMBDA_TASK_ROOT=/var/task
		NODE_PATH=/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task)
	[ "$3" = cache ] && env+=(NODE_COMPILE_CACHE=/var/task/.node-compile-cache)
	s=$(date +%s%N)
	inner=$(unshare -m sh -c 'mount --bind "$1/var/task" "$1/var/task" && mount -o remount,bind,ro "$1/var/task" &&
		r=$1 && shift && cd / && exec chroot --userspec=993:993 "$r" "$@"' sh "$root" /usr/bin/env -i "${env[@]}" \
		/var/lang/bin/node --expose-gc --max-semi-space-size=$((mem / 10 / 2)) --max-old-space-size=$((mem - mem / 10)) \
		-e 'const t = process.hrtime.bigint(), f = process.argv[1];
(async () => {
  const m = f.endsWith(".mjs") ? await import(f) : require(f);
  const r = await m.handler({ name: "lamina" }, { functionName: "bench", getRemainingTimeInMillis: () => 60000 });
  if (!r || typeof r !== "object") throw new Error("no result");
  process.stdout.write(String(Number((process.hrtime.bigint() - t) / 1000n)) + "\n");
  process.exit(0);
})();' "$2")
	e=$(date +%s%N)
	echo "$inner $(( (e - s) / 1000 ))"
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
ms() { awk -v u="$1" 'BEGIN {printf "%.0f", u / 1000}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2fx", a / b}'; }

printf '\nCold start, node %s, %d MB flags, uid 993, read-only /var/task, warm page cache; median of %d runs (ms):\n' \
	"$("$work/root-seed-prune-none/var/lang/bin/node" --version)" "$mem" "$runs"
printf 'require (import() for .mjs) of the handler module to its first result, inside node / whole process\n'
printf '(ratio to pruned without cache)\n\n'
printf '| %-8s | %-26s | %-26s | %-26s | %-26s |\n' workload "pruned" "pruned + compile cache" "bundled" \
	"bundled + compile cache"
printf '|%s|%s|%s|%s|%s|\n' "$(printf -- '-%.0s' {1..10})" "$(printf -- '-%.0s' {1..28})" "$(printf -- '-%.0s' {1..28})" \
	"$(printf -- '-%.0s' {1..28})" "$(printf -- '-%.0s' {1..28})"
cells=(prune-none prune-cache bundle-none bundle-cache)
for w in seed app; do
	entry=/var/task/index.js
	[ $w = app ] && entry=/var/task/index.mjs
	for k in "${cells[@]}"; do
		run_once "$work/root-$w-$k" "$entry" "${k#*-}" >/dev/null # warm-up (and check it runs)
		: >"$work/$k.t"
	done
	for ((i = 0; i < runs; i++)); do
		for k in "${cells[@]}"; do run_once "$work/root-$w-$k" "$entry" "${k#*-}" >>"$work/$k.t"; done
	done
	a1=$(cut -d' ' -f1 "$work/prune-none.t" | median) a2=$(cut -d' ' -f2 "$work/prune-none.t" | median)
	row="| $(printf '%-8s' $w) |"
	for k in "${cells[@]}"; do
		b1=$(cut -d' ' -f1 "$work/$k.t" | median) b2=$(cut -d' ' -f2 "$work/$k.t" | median)
		row+=" $(printf '%-26s' "$(ms "$b1") / $(ms "$b2") ($(ratio "$b1" "$a1") / $(ratio "$b2" "$a2"))") |"
	done
	echo "$row"
done
