#!/usr/bin/env bash
# Benchmark: lamina build vs `docker build` (+ `docker save`) vs buildah, on the same inputs.
#   LAMINA=/abs/build/lamina scripts/bench-build.sh          (or: make bench)
#
# Workloads (BENCH_WORKLOADS, default "hello python python-raw python-large node"):
#   hello       images/python-hello as shipped (Dockerfile.lambda for docker/buildah)
#   python      + a "deps" layer: Debian's python3-* packages unpacked (scripts/workload-python.sh,
#               ~155 MB) to /var/task; lamina precompiles (its default), the Dockerfile runs compileall
#   python-raw  the same tree, no precompilation anywhere (the pure "read files + gzip" path)
#   python-large  like python-raw on a larger tree (~237 MB): the same packages plus
#               python3-scipy and python3-sklearn (WORKLOAD_PYTHON_EXTRA, separate cache dir)
#   node        + node_modules of an npm app (scripts/workload-node.sh app: openai langchain
#               @langchain/core pdfjs-dist pdf-parse js-tiktoken @libsql/client puppeteer-core
#               better-sqlite3, --ignore-scripts, ~310 MB) to /var/task/node_modules; no precompile
# Every workload adds the example's app layer (images/python-hello/src) after the deps layer.
# Base: the fixture (scripts/make-fixture-base.sh), loaded into a private dockerd (vfs) as
# public.ecr.aws/lambda/python:3.12 through a layer-less lamina build (docker 20.10 needs
# manifest.json), and into buildah (vfs, chroot isolation) from oci-archive:.
#
# Environment:
#   LAMINA             lamina binary (default: build/lamina of this checkout)
#   LAMINA_BENCH_DIR   work and output directory (default /tmp/lamina-bench): work/ (build
#                      contexts), out/ (the images), results.md, *.tsv; rebuilt on every run
#   LAMINA_FIXTURES    fixture cache (default ~/.cache/lamina-fixtures; trees are cached there)
#   BENCH_TOOLS        subset of "lamina docker buildah" (default: all three)
#   BENCH_RUNS         timed lamina runs per case, median reported (default 3)
#   BENCH_OTHER_RUNS   timed docker/buildah runs per workload, median reported (default 1)
#   BENCH_QUIET        N > 0: before each warm lamina run wait for an idle second, and run
#                      again (up to N times) when the rest of the machine used more than
#                      10 % of the run's wall time in CPU (default 0: take every run)
#   BENCH_LEVELS       also time warm lamina builds at these --compression-level values
#                      (e.g. "1 2 3 4 5 6"), with the deps layer's size against gzip -6
# Prints a Markdown report on stdout (also written to $LAMINA_BENCH_DIR/results.md); progress on
# stderr. Needs root for dockerd/buildah (installs docker.io, buildah, time with apt-get if missing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAMINA=${LAMINA:-$repo/build/lamina}
BD=${LAMINA_BENCH_DIR:-/tmp/lamina-bench}
WORKLOADS=${BENCH_WORKLOADS:-hello python python-raw python-large node}
LEVELS=${BENCH_LEVELS:-}
QUIET=${BENCH_QUIET:-0}
TOOLS=${BENCH_TOOLS:-lamina docker buildah}
RUNS=${BENCH_RUNS:-3}
ORUNS=${BENCH_OTHER_RUNS:-1}
TAG_BASE=public.ecr.aws/lambda/python:3.12

log() { echo "bench: $*" >&2; }
die() { log "error: $*"; exit 1; }
has_tool() { [[ " $TOOLS " == *" $1 "* ]]; }
apt_install() { # PKG...
	log "installing $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 || {
		apt-get update -qq >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1
	}
}

[ -x "$LAMINA" ] || die "LAMINA=$LAMINA is not executable (run make first)"
LAMINA=$(cd "$(dirname "$LAMINA")" && pwd)/$(basename "$LAMINA")
[ -x /usr/bin/time ] || apt_install time || die "needs /usr/bin/time (apt-get install time)"
for t in jq gzip tar sha256sum; do command -v "$t" >/dev/null || die "missing tool: $t"; done

mkdir -p "$BD"
BD=$(cd "$BD" && pwd)
# Only what this script made last time: contexts, outputs, caches, engine state.
for d in work out lamina-cache docker buildah; do
	[ -e "$BD/$d" ] && { chmod -R u+rwX "$BD/$d" 2>/dev/null || true; rm -rf "${BD:?}/$d"; }
done
mkdir -p "$BD/work" "$BD/out"
RES="$BD/results.tsv" # workload tool case wall_s rss_kib out_bytes note
: >"$RES"

cleanups=()
on_exit() { cleanups+=("$(printf '%q ' "$@")"); }
run_cleanups() {
	local rc=$? i
	set +e
	for ((i = ${#cleanups[@]} - 1; i >= 0; i--)); do eval "${cleanups[i]}" >/dev/null 2>&1; done
	exit "$rc"
}
trap run_cleanups EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Busy CPU time of the whole machine, in clock ticks (user nice system irq softirq steal).
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)
# timed OUTVAR CMD...: runs CMD under /usr/bin/time, sets OUTVAR="wall rss_kib" and OTHERS to
# the CPU seconds the rest of the machine used meanwhile (a shared machine makes timings
# worthless when that is large); stdout/stderr of CMD go to $BD/work/last.log. Fails
# (returns CMD's status) if CMD fails.
OTHERS=0
timed() {
	local __v=$1 rc=0 b0 b1 e m u s
	shift
	b0=$(cpu_busy)
	/usr/bin/time -f '%e %M %U %S' -o "$BD/work/time.out" "$@" >"$BD/work/last.log" 2>&1 || rc=$?
	b1=$(cpu_busy)
	if [ $rc -ne 0 ]; then
		log "command failed ($rc): $*"
		tail -20 "$BD/work/last.log" >&2
		return $rc
	fi
	read -r e m u s < <(tail -1 "$BD/work/time.out")
	OTHERS=$(awk -v b=$((b1 - b0)) -v hz="$HZ" -v u="$u" -v s="$s" 'BEGIN { o = b / hz - u - s; printf "%.2f", o < 0 ? 0 : o }')
	printf -v "$__v" '%s' "$e $m"
}
# Waits (up to 2 minutes) for a second in which the machine is at least 90 % idle.
wait_quiet() {
	local i b0 b1
	for ((i = 0; i < 120; i++)); do
		b0=$(cpu_busy)
		sleep 1
		b1=$(cpu_busy)
		[ $((b1 - b0)) -le $((HZ / 10)) ] && return 0
	done
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)] }'; }
max() { sort -g | tail -1; }
record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$RES"; }
fsize() { stat -c %s "$1"; }

# --- inputs -----------------------------------------------------------------------------------
FIX=$("$repo/scripts/make-fixture-base.sh") || die "could not build the fixture base"
log "fixture base: $FIX"

link_tree() { # SRC DST: hard links when possible (same file system), else a copy
	mkdir -p "$(dirname "$2")"
	cp -al "$1" "$2" 2>/dev/null || { rm -rf "$2"; cp -a "$1" "$2"; }
}

# Writes $BD/work/NAME/ctx/{Dockerfile,lamina.json,src/,deps/}.
prepare() { # NAME
	local name=$1 ctx="$BD/work/$1/ctx" deps="" to=/var/task precompile=1
	mkdir -p "$ctx"
	cp -a "$repo/images/python-hello/src" "$ctx/src"
	case "$name" in
	hello)
		cp "$repo/images/python-hello/lamina.json" "$ctx/lamina.json"
		cp "$repo/Dockerfile.lambda" "$ctx/Dockerfile"
		return 0
		;;
	python | python-raw)
		deps=$("$repo/scripts/workload-python.sh") || die "scripts/workload-python.sh failed"
		[ "$name" = python ] || precompile=0
		link_tree "$deps" "$ctx/deps"
		rm -f "$ctx/deps/.complete"
		;;
	python-large)
		deps=$(WORKLOAD_PYTHON_EXTRA="python3-scipy python3-sklearn" "$repo/scripts/workload-python.sh") ||
			die "scripts/workload-python.sh (python-large) failed"
		precompile=0
		link_tree "$deps" "$ctx/deps"
		rm -f "$ctx/deps/.complete"
		;;
	node)
		deps=$("$repo/scripts/workload-node.sh" app) || die "scripts/workload-node.sh app failed"
		precompile=0 to=/var/task/node_modules
		link_tree "$deps/node_modules" "$ctx/deps"
		;;
	*) die "unknown workload $name" ;;
	esac
	jq -n --arg to "$to" --argjson pc "$precompile" '{
		base: "public.ecr.aws/lambda/python:3.12",
		platform: "linux/amd64",
		layers: [
			{name: "deps", from: "deps", to: $to},
			{name: "app", from: "src", to: "/var/task", exclude: ["**/*.log", "**/__pycache__/"]}
		],
		config: {cmd: ["app.handler"], env: {LOG_LEVEL: "info"}, workdir: "/var/task",
			labels: {"org.opencontainers.image.title": "python-hello"}},
		tag: "bench:latest"
	} + (if $pc == 1 then {} else {precompile: {python: false}} end)' >"$ctx/lamina.json"
	{
		echo "FROM $TAG_BASE"
		echo "COPY deps/ $to/"
		echo 'COPY src/ ${LAMBDA_TASK_ROOT}/'
		[ "$precompile" = 0 ] ||
			echo 'RUN python3 -m compileall -q --invalidation-mode unchecked-hash ${LAMBDA_TASK_ROOT} || true'
		echo 'ENV LOG_LEVEL=info'
		echo 'LABEL org.opencontainers.image.title=python-hello'
		echo 'WORKDIR /var/task'
		echo 'CMD ["app.handler"]'
	} >"$ctx/Dockerfile"
}

declare -A TREE_BYTES TREE_FILES
for w in $WORKLOADS; do
	log "preparing workload $w"
	prepare "$w"
	ctx="$BD/work/$w/ctx"
	TREE_BYTES[$w]=$(du -sb --apparent-size "$ctx/deps" 2>/dev/null | cut -f1 || echo 0)
	TREE_FILES[$w]=$(find "$ctx/deps" -type f 2>/dev/null | wc -l || echo 0)
	[ -d "$ctx/deps" ] || { TREE_BYTES[$w]=0; TREE_FILES[$w]=0; }
	# Every tool reads the tree from the page cache, not the disk (the first would pay for it).
	find "$ctx" -type f -print0 | xargs -0 -r cat >/dev/null
done

# --- lamina -----------------------------------------------------------------------------------
# Layer table rows: workload layer uncompressed lamina_gz gzip6 (bytes)
LAYERS="$BD/layers.tsv"
: >"$LAYERS"
lamina_layers() { # WORKLOAD ARCHIVE: the new layers (after the base's) vs gzip -6 of the same tar
	local w=$1 a=$2 x="$BD/work/$1/extract" nbase names i d
	rm -rf "$x" && mkdir -p "$x" && tar -C "$x" -xf "$a"
	nbase=$(tar -xOf "$FIX" index.json | jq -r '.manifests[0].digest' | sed 's/^sha256://')
	nbase=$(tar -xOf "$FIX" "blobs/sha256/$nbase" | jq '.layers | length')
	mapfile -t names < <(jq -r '.layers[].name' "$BD/work/$w/ctx/lamina.json")
	mapfile -t ds < <(jq -r '.[0].Layers[]' "$x/manifest.json")
	for ((i = nbase; i < ${#ds[@]}; i++)); do
		d="$x/${ds[i]}"
		record_layer "$w" "${names[i - nbase]:-layer$i}" "$d"
	done
	rm -rf "$x"
}
record_layer() { # WORKLOAD NAME BLOB
	local raw gz6 t0 t1
	raw=$(gzip -dc "$3" | wc -c)
	t0=$(date +%s.%N)
	gz6=$(gzip -dc "$3" | gzip -6 | wc -c)
	t1=$(date +%s.%N)
	printf '%s\t%s\t%s\t%s\t%s\t%.2f\n' "$1" "$2" "$raw" "$(fsize "$3")" "$gz6" "$(echo "$t1 - $t0" | bc)" >>"$LAYERS"
}

lamina_build() { # VAR CACHE OUT JOBS MANIFEST [BUILD OPTION...]: timed lamina build (/usr/bin/time runs no functions)
	local v=$1 cache=$2 out=$3 jobs=$4 mf=$5 j=()
	shift 5
	[ "$jobs" = default ] || j=(-j "$jobs")
	timed "$v" "$LAMINA" -q --cache "$cache" "${j[@]}" build "$mf" --base "oci-archive:$FIX" -o "$out" "$@"
}
# lamina_run: lamina_build, with BENCH_QUIET repeating a run that shared the machine.
lamina_run() { # VAR CACHE OUT JOBS MANIFEST [BUILD OPTION...]
	local try
	for ((try = 0; ; try++)); do
		[ "$QUIET" -gt 0 ] && wait_quiet
		lamina_build "$@" || return
		[ "$QUIET" -gt 0 ] || return 0
		awk -v o="$OTHERS" -v w="${!1% *}" 'BEGIN { exit !(o <= 0.1 * w) }' && return 0
		[ "$try" -lt "$QUIET" ] || { log "no quiet run in $QUIET tries (others used ${OTHERS} s)"; return 0; }
	done
}
# Level table rows: workload level wall_s rss_kib deps_layer_bytes
LEVELTSV="$BD/levels.tsv"
: >"$LEVELTSV"
first_layer_size() { # ARCHIVE: compressed size of the first layer after the base's
	local a=$1 m nbase
	nbase=$(tar -xOf "$FIX" index.json | jq -r '.manifests[0].digest' | sed 's/^sha256://')
	nbase=$(tar -xOf "$FIX" "blobs/sha256/$nbase" | jq '.layers | length')
	m=$(tar -xOf "$a" index.json | jq -r '.manifests[0].digest' | sed 's/^sha256://')
	tar -xOf "$a" "blobs/sha256/$m" | jq ".layers[$nbase].size"
}
bench_levels() { # WORKLOAD CACHE: warm builds at each of BENCH_LEVELS (default -j)
	local w=$1 cache=$2 ctx="$BD/work/$1/ctx" out="$BD/out/$1-level.tar" l r i walls rsss
	for l in $LEVELS; do
		walls=() rsss=()
		for ((i = 0; i < RUNS; i++)); do
			lamina_run r "$cache" "$out" default "$ctx/lamina.json" --compression-level "$l" ||
				die "lamina build failed ($w, level $l)"
			walls+=("${r% *}") rsss+=("${r#* }")
		done
		log "lamina $w level $l: ${walls[*]} s"
		printf '%s	%s	%s	%s	%s
' "$w" "$l" "$(printf '%s
' "${walls[@]}" | median)" \
			"$(printf '%s
' "${rsss[@]}" | max)" "$(first_layer_size "$out")" >>"$LEVELTSV"
	done
	rm -f "$out"
}

bench_lamina() { # WORKLOAD
	local w=$1 ctx="$BD/work/$1/ctx" out="$BD/out/$1-lamina.tar" r walls rsss others i jobs
	local cache="$BD/lamina-cache/$w"
	# cold: empty cache (imports the base, extracts its rootfs if precompiling)
	rm -rf "$cache"
	lamina_build r "$cache" "$out" default "$ctx/lamina.json" || die "lamina build failed ($w)"
	log "lamina $w cold: $r"
	record "$w" lamina cold ${r% *} ${r#* } "$(fsize "$out")" ""
	# warm: the cache holds the base (and the previous build's blobs)
	for jobs in default 1; do
		walls=() rsss=() others=()
		for ((i = 0; i < RUNS; i++)); do
			lamina_run r "$cache" "$out" "$jobs" "$ctx/lamina.json" || die "lamina build failed ($w)"
			walls+=("${r% *}") rsss+=("${r#* }") others+=("$OTHERS")
		done
		log "lamina $w warm -j $jobs: ${walls[*]} s, ${rsss[*]} KiB; others' CPU ${others[*]} s"
		record "$w" lamina "warm-j$jobs" "$(printf '%s\n' "${walls[@]}" | median)" \
			"$(printf '%s\n' "${rsss[@]}" | max)" "$(fsize "$out")" \
			"runs: ${walls[*]}; others' CPU ≤ $(printf '%s\n' "${others[@]}" | max) s"
	done
	lamina_layers "$w" "$out"
	[ -z "$LEVELS" ] || [ "$w" = hello ] || bench_levels "$w" "$cache"
}

# --- docker (private engine, vfs; approach of tests/e2e/lib-docker.sh) -------------------------
. "$repo/scripts/lib-bench.sh"
# Peak RSS of the engine (dockerd + its containerd) during a command: reset VmHWM with
# clear_refs 5, then read it. The docker client's own RSS says nothing about the build.
engine_pids() { echo "$DOCKERD_PID" ${DK_CHILDREN:-}; }
engine_hwm_reset() { local p; for p in $(engine_pids); do echo 5 >"/proc/$p/clear_refs" 2>/dev/null || true; done; }
engine_hwm() { # sum of VmHWM (KiB)
	local p s=0 v
	for p in $(engine_pids); do
		v=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0)
		s=$((s + ${v:-0}))
	done
	echo $s
}

bench_docker() { # WORKLOAD
	local w=$1 ctx="$BD/work/$1/ctx" out="$BD/out/$1-docker.tar" rb rs i walls=() rsss=() bw=() sw=()
	for ((i = 0; i < ORUNS; i++)); do
		dk rmi -f "bench-$w:latest" >/dev/null 2>&1 || true
		dk builder prune -af >/dev/null 2>&1 || true
		rm -f "$out"
		engine_hwm_reset
		timed rb "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" build --network none -q -f "$ctx/Dockerfile" -t "bench-$w:latest" "$ctx" ||
			{ log "docker build failed ($w)"; return 1; }
		timed rs "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" save -o "$out" "bench-$w:latest" || { log "docker save failed ($w)"; return 1; }
		bw+=("${rb% *}") sw+=("${rs% *}")
		walls+=("$(echo "${rb% *} + ${rs% *}" | bc)") rsss+=("$(engine_hwm)")
	done
	log "docker $w: build ${bw[*]} s + save ${sw[*]} s; engine peak ${rsss[*]} KiB"
	record "$w" docker build+save "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${rsss[@]}" | max)" \
		"$(fsize "$out")" "build $(printf '%s\n' "${bw[@]}" | median) s + save $(printf '%s\n' "${sw[@]}" | median) s"
}

# --- buildah (vfs, chroot isolation, private storage) --------------------------------------------
BH=(buildah --storage-driver vfs --root "$BD/buildah/root" --runroot "$BD/buildah/run")
bh() { "${BH[@]}" "$@"; }
start_buildah() {
	command -v buildah >/dev/null || apt_install buildah || { log "could not install buildah, skipped"; return 1; }
	mkdir -p "$BD/buildah"
	on_exit rm -rf "$BD/buildah"
	local id
	id=$(bh pull -q "oci-archive:$FIX" 2>"$BD/buildah/pull.log") || { cat "$BD/buildah/pull.log" >&2; return 1; }
	bh tag "$id" "$TAG_BASE"
}
bench_buildah() { # WORKLOAD
	local w=$1 ctx="$BD/work/$1/ctx" out="$BD/out/$1-buildah.tar" rb rp i walls=() rsss=() bw=() pw=()
	for ((i = 0; i < ORUNS; i++)); do
		bh rmi -f "localhost/bench-$w:latest" >/dev/null 2>&1 || true
		rm -f "$out"
		timed rb "${BH[@]}" bud --isolation chroot --pull=false -q -f "$ctx/Dockerfile" -t "bench-$w:latest" "$ctx" ||
			{ log "buildah bud failed ($w)"; return 1; }
		timed rp "${BH[@]}" push -q "bench-$w:latest" "oci-archive:$out:bench-$w:latest" ||
			{ log "buildah push failed ($w)"; return 1; }
		bw+=("${rb% *}") pw+=("${rp% *}")
		walls+=("$(echo "${rb% *} + ${rp% *}" | bc)")
		rsss+=("$(printf '%s\n' "${rb#* }" "${rp#* }" | max)")
	done
	log "buildah $w: bud ${bw[*]} s + push ${pw[*]} s; peak ${rsss[*]} KiB"
	record "$w" buildah bud+push "$(printf '%s\n' "${walls[@]}" | median)" "$(printf '%s\n' "${rsss[@]}" | max)" \
		"$(fsize "$out")" "bud $(printf '%s\n' "${bw[@]}" | median) s + push $(printf '%s\n' "${pw[@]}" | median) s"
}

# --- run ---------------------------------------------------------------------------------------
command -v bc >/dev/null || apt_install bc || die "needs bc"
if has_tool lamina; then
	for w in $WORKLOADS; do bench_lamina "$w"; done
fi
if has_tool docker && bench_dockerd_start "$BD"; then
	log "docker: loading the base as $TAG_BASE"
	printf '{"base": "oci-archive:%s", "layers": [], "tag": "%s"}\n' "$FIX" "$TAG_BASE" >"$BD/work/base-docker.json"
	"$LAMINA" -q --cache "$BD/lamina-cache/base" build "$BD/work/base-docker.json" -o "$BD/work/base-docker.tar" >/dev/null
	dk load -q -i "$BD/work/base-docker.tar" >/dev/null
	for w in $WORKLOADS; do bench_docker "$w" || true; done
	bench_dockerd_stop
fi
if has_tool buildah && start_buildah; then
	for w in $WORKLOADS; do bench_buildah "$w" || true; done
fi

# --- report ------------------------------------------------------------------------------------
report() {
	local w mib
	mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
	echo "## lamina bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
	echo
	echo "lamina $("$LAMINA" --version 2>/dev/null | head -1); $(/usr/bin/docker --version 2>/dev/null || echo 'no docker');" \
		"$(buildah --version 2>/dev/null || echo 'no buildah'); lamina runs: median of $RUNS, others: median of $ORUNS;" \
		"BENCH_QUIET=$QUIET (warm lamina runs repeated while the rest of the machine used > 10 % of their wall time in CPU)."
	echo
	echo "cold: empty lamina cache (imports the base; with precompilation also extracts its rootfs);" \
		"warm: the cache holds the base; -j1: \`lamina -j 1\` (lamina reads no LAMINA_JOBS). docker: legacy builder" \
		"(DOCKER_BUILDKIT=1 in the environment switches), private dockerd on vfs, RSS = peak of dockerd + its" \
		"containerd (VmHWM reset before the build), not the client. buildah: vfs, --isolation chroot, push to" \
		"oci-archive:. Peak RSS = /usr/bin/time %M (largest process). Trees are read from the page cache."
	echo
	echo "| workload | tree | tool | case | wall s | peak RSS MiB | output MiB | wall ×lamina | size ×lamina | note |"
	echo "|---|---|---|---|---:|---:|---:|---:|---:|---|"
	for w in $WORKLOADS; do
		local lw ls tree
		lw=$(awk -F'\t' -v w="$w" '$1 == w && $2 == "lamina" && $3 == "warm-jdefault" { print $4 }' "$RES")
		ls=$(awk -F'\t' -v w="$w" '$1 == w && $2 == "lamina" && $3 == "warm-jdefault" { print $6 }' "$RES")
		tree="—"
		[ "${TREE_BYTES[$w]:-0}" -gt 0 ] && tree="$(mib "${TREE_BYTES[$w]}") MiB, ${TREE_FILES[$w]} files"
		awk -F'\t' -v w="$w" -v lw="${lw:-0}" -v ls="${ls:-0}" -v tree="$tree" '$1 == w {
			rss = $2 == "docker" ? sprintf("%.0f (engine)", $5 / 1024) : sprintf("%.1f", $5 / 1024)
			rw = lw > 0 ? sprintf("%.1f×", $4 / lw) : "—"
			rs = ls > 0 ? sprintf("%.2f×", $6 / ls) : "—"
			printf "| %s | %s | %s | %s | %.2f | %s | %.1f | %s | %s | %s |\n", w, tree, $2, $3, $4, rss, $6 / 1048576, rw, rs, $7
		}' "$RES"
	done
	echo
	echo "lamina's new layers vs \`gzip -dc BLOB | gzip -6\` (the same uncompressed tar):"
	echo
	echo "| workload | layer | tar MiB | lamina gz bytes | gzip -6 bytes | ratio | gzip -6 time s |"
	echo "|---|---|---:|---:|---:|---:|---:|"
	awk -F'\t' '{ printf "| %s | %s | %.1f | %d | %d | %.3f | %s |\n", $1, $2, $3 / 1048576, $4, $5, $5 ? $4 / $5 : 0, $6 }' "$LAYERS"
	[ -s "$LEVELTSV" ] || return 0
	echo
	echo "\`--compression-level\` (warm, default -j): the deps layer against gzip -6 of the same tar:"
	echo
	echo "| workload | level | wall s | peak RSS MiB | deps gz bytes | ×gzip -6 |"
	echo "|---|---:|---:|---:|---:|---:|"
	awk -F'\t' 'NR == FNR { if ($2 == "deps") g[$1] = $5; next }
		{ printf "| %s | %s | %.2f | %.1f | %d | %s |\n", $1, $2, $3, $4 / 1024, $5, g[$1] ? sprintf("%.3f", $5 / g[$1]) : "—" }' \
		"$LAYERS" "$LEVELTSV"
}
report | tee "$BD/results.md"
log "outputs in $BD/out, report in $BD/results.md"
