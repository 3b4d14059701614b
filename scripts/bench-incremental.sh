#!/usr/bin/env bash
# Benchmark: incremental rebuilds with lamina's content-keyed cache (issue 12's targets), side by
# side with `docker build` and its layer cache after the same change.
#   LAMINA=/abs/build/lamina scripts/bench-incremental.sh          (or: make bench-incremental)
#
# Python workload: the Debian python3 packages with pandas (WORKLOAD_PYTHON_EXTRA=python3-pandas
# scripts/workload-python.sh, ~175 MB) as three layers on the fixture base:
#   lib   the workload's lib/ (C libraries)          -> /var/task/lib
#   deps  the workload, "exclude": ["/lib/"], prune preset python-safe -> /var/task
#   app   one handler file (handler.py)              -> /var/task
# default precompile, "verify": {"imports": ["boto3", "numpy", "pandas"]}, cmd handler.handler.
# Cases (each lamina case records the counters of `lamina -v`'s stats: line and checks that the
# image's digest equals the digest of a --no-cache build of the same sources):
#   cold        empty cache: the full pipeline, with the time: line's stage profile
#   edit        one-line handler change, --no-verify                  target <= 0.5 s
#   edit+verify one-line handler change, verify on       target <= verify alone + 0.5 s
#   verify      `lamina verify OUT.tar -i boto3 -i numpy -i pandas --no-handler` alone, on the
#               image edit+verify built (and verified: its root filesystem is in the cache)
#   verify-new  the same on a new image (a one-line change built with --no-verify, untimed):
#               what the build's verify step has to do after a change
#   unchanged   nothing changed, verify on                            target <= 0.3 s
#   checkout    the sources copied elsewhere (cp -a, then touch: every mtime new), warm cache
#                                                                     target <= 1.5 s
#   cache-from  empty local cache, --cache-from a loopback registry (Debian's docker-registry)
#               that a --cache-to build filled                        target <= 3 s
#               (only when `lamina build --help` mentions --cache-from)
# Node workload: node_modules of scripts/workload-node.sh app -> /var/task/node_modules (deps),
# index.js -> /var/task (app), on the Node fixture base, "precompile": false:
#   node-cold, node-edit (one code file changed)                     target <= 0.5 s
# docker: a private dockerd (vfs, --bridge=none, its own data-root; as scripts/bench-build.sh),
# the fixture base loaded as public.ecr.aws/lambda/python:3.12, a Dockerfile that COPYs lib and
# deps, RUNs compileall, then COPYs the handler and compiles it; timed: the rebuild after the
# same one-line handler change, and `docker save` of the result. dockerd runs in a cpuacct
# cgroup of its own with its containers under it (--cgroup-parent), so the CPU the engine
# spends is known and "others' CPU" leaves it out (the cgroups are removed at the end).
#
# Environment:
#   LAMINA             lamina binary (default: build/lamina of this checkout)
#   LAMINA_BENCH_DIR   output directory (default /tmp/lamina-bench): the report goes to
#                      incremental.md there; everything else to incremental/ (recreated)
#   LAMINA_FIXTURES    fixture cache (default ~/.cache/lamina-fixtures)
#   BENCH_TOOLS        subset of "lamina docker" (default: both)
#   BENCH_RUNS         timed runs per lamina case, median reported (default 3)
#   BENCH_COLD_RUNS    timed cold lamina builds (empty cache each), median reported (default 1)
#   BENCH_OTHER_RUNS   timed docker rebuilds (+ save), median reported (default 1: on vfs one
#                      rebuild takes 15-45 s, the first build that fills docker's cache 1-2 min)
#   BENCH_QUIET        N > 0: before each timed lamina run wait for an idle second, and run
#                      again (up to N times, with a new change) when the rest of the machine
#                      used more than 10 % of the run's wall time in CPU (default 0)
#   BENCH_KEEP         1: keep the caches, the registry's storage and the copies of the
#                      workloads in incremental/ (about 3 GB); default 0 keeps the report,
#                      results.tsv, log/ and the last images in out/
# Prints a Markdown report on stdout (also written to $LAMINA_BENCH_DIR/incremental.md);
# progress on stderr. Needs root for dockerd and the registry (installs time, docker.io,
# docker-registry with apt-get if missing). About 4-8 minutes on 2 cores, by how busy they are.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAMINA=${LAMINA:-$repo/build/lamina}
BD=${LAMINA_BENCH_DIR:-/tmp/lamina-bench}
TOOLS=${BENCH_TOOLS:-lamina docker}
RUNS=${BENCH_RUNS:-3}
CRUNS=${BENCH_COLD_RUNS:-1}
ORUNS=${BENCH_OTHER_RUNS:-1}
QUIET=${BENCH_QUIET:-0}
KEEP=${BENCH_KEEP:-0}
TAG_BASE=public.ecr.aws/lambda/python:3.12
IMPORTS=(boto3 numpy pandas)

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
for t in $TOOLS; do
	case $t in lamina | docker) ;; *) die "BENCH_TOOLS: unknown tool '$t' (lamina, docker)" ;; esac
done
for n in RUNS CRUNS ORUNS QUIET KEEP; do
	[[ ${!n} =~ ^[0-9]+$ ]] || die "$n must be a number (got '${!n}')"
done
[ "$RUNS" -ge 1 ] && [ "$CRUNS" -ge 1 ] && [ "$ORUNS" -ge 1 ] || die "run counts must be at least 1"

[ -x "$LAMINA" ] || die "LAMINA=$LAMINA is not executable (run make first)"
LAMINA=$(cd "$(dirname "$LAMINA")" && pwd)/$(basename "$LAMINA")
[ -x /usr/bin/time ] || apt_install time || die "needs /usr/bin/time (apt-get install time)"
for t in jq tar sed awk python3; do command -v "$t" >/dev/null || die "missing tool: $t"; done

mkdir -p "$BD"
BD=$(cd "$BD" && pwd)
W="$BD/incremental" # only what this script made last time
[ -e "$W" ] && { chmod -R u+rwX "$W" 2>/dev/null || true; rm -rf "${W:?}"; }
mkdir -p "$W/out" "$W/log"
RES="$W/results.tsv" # case target_s median_s runs others_max check note
: >"$RES"
T0=$SECONDS
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

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

# --- timing (as scripts/bench-build.sh) ----------------------------------------------------------
# Busy CPU time of the whole machine, in clock ticks (user nice system irq softirq steal).
cpu_busy() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
HZ=$(getconf CLK_TCK)
BUSY0=$(cpu_busy)
# timed CMD...: runs CMD under /usr/bin/time; sets WALL (s), ENGINE (the CPU seconds dockerd
# and its containers used meanwhile, 0 without docker) and OTHERS, the CPU seconds the rest of
# the machine used meanwhile (a shared machine makes timings worthless when that is large).
# CMD's stdout goes to $W/log/last.out, its stderr to $W/log/last.err. Returns CMD's status.
WALL=0 OTHERS=0 ENGINE=0
timed() {
	local rc=0 b0 b1 e0 e1 u s
	e0=$(engine_cpu)
	b0=$(cpu_busy)
	/usr/bin/time -f '%e %M %U %S' -o "$W/log/time.out" "$@" >"$W/log/last.out" 2>"$W/log/last.err" || rc=$?
	b1=$(cpu_busy)
	e1=$(engine_cpu)
	if [ $rc -ne 0 ]; then
		log "command failed ($rc): $*"
		tail -20 "$W/log/last.err" >&2
		return $rc
	fi
	read -r WALL _ u s < <(tail -1 "$W/log/time.out")
	ENGINE=$(awk -v a="$e0" -v b="$e1" 'BEGIN { printf "%.2f", b - a }')
	OTHERS=$(awk -v b=$((b1 - b0)) -v hz="$HZ" -v u="$u" -v s="$s" -v e="$ENGINE" \
		'BEGIN { o = b / hz - u - s - e; printf "%.2f", o < 0 ? 0 : o }')
}
# The engine's CPU: dockerd runs in a cpuacct cgroup of its own and puts its containers under
# it (--cgroup-parent), so the CPU a build costs it is known, and not counted as others'.
DK_CG='' DK_CG_NAME=lamina-bench-$$
engine_cpu() { # CPU seconds the engine's cgroup used so far (0 when there is none)
	if [ -n "$DK_CG" ] && [ -f "$DK_CG/cpuacct.usage" ]; then
		awk '{ printf "%.3f", $1 / 1e9 }' "$DK_CG/cpuacct.usage"
	elif [ -n "$DK_CG" ] && [ -f "$DK_CG/cpu.stat" ]; then
		awk '$1 == "usage_usec" { printf "%.3f", $2 / 1e6 }' "$DK_CG/cpu.stat"
	else
		echo 0
	fi
}
engine_cgroup() { # sets DK_CG (cgroup v1 cpuacct, else v2); fails when neither can be made
	local d
	for d in /sys/fs/cgroup/cpuacct /sys/fs/cgroup/cpu,cpuacct /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -f "$d/cpuacct.usage" ] || [ -f "$d/cgroup.controllers" ] || continue
		mkdir "$d/$DK_CG_NAME" 2>/dev/null || continue
		DK_CG=$d/$DK_CG_NAME
		on_exit remove_cgroups
		return 0
	done
	return 1
}
remove_cgroups() { # the cgroups named $DK_CG_NAME (ours; docker made some for --cgroup-parent), deepest first
	find /sys/fs/cgroup -maxdepth 2 -type d -name "$DK_CG_NAME" 2>/dev/null | while read -r d; do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
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
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a + b }'; }
record() { # CASE TARGET MEDIAN RUNS OTHERS CHECK NOTE ("-" for none: read splits on tabs)
	local f out=
	for f in "$@"; do out+="${f:--}"$'\t'; done
	printf '%s\n' "${out%$'\t'}" >>"$RES"
}

# measure CASE PREP RUN [ARG...]: N (default RUNS) times: PREP (untimed: makes the change), then
# RUN ARG... (calls `timed`); with BENCH_QUIET a run that shared the machine is repeated after
# a new PREP. Leaves the runs in WALLS, the others' CPU in OTHERS_ALL, and each run's -v lines
# in $W/log/CASE.{stats,time}.
N=
measure() {
	local c=$1 prep=$2 i try n=${N:-$RUNS}
	shift 2
	WALLS=() OTHERS_ALL=()
	for ((i = 0; i < n; i++)); do
		for ((try = 0; ; try++)); do
			"$prep"
			[ "$QUIET" -gt 0 ] && wait_quiet
			"$@" || die "$c: run $((i + 1)) failed"
			[ "$QUIET" -gt 0 ] || break
			awk -v o="$OTHERS" -v w="$WALL" 'BEGIN { exit !(o <= 0.1 * w) }' && break
			[ "$try" -lt "$QUIET" ] || { log "$c: no quiet run in $QUIET tries (others used $OTHERS s)"; break; }
		done
		WALLS+=("$WALL") OTHERS_ALL+=("$OTHERS")
		grep '^stats:' "$W/log/last.err" | tail -1 >>"$W/log/$c.stats" || true
		grep '^time:' "$W/log/last.err" | tail -1 >>"$W/log/$c.time" || true
	done
	log "$c: ${WALLS[*]} s; others' CPU ${OTHERS_ALL[*]} s"
}
walls_median() { printf '%s\n' "${WALLS[@]}" | median; }
others_max() { printf '%s\n' "${OTHERS_ALL[@]}" | max; }

# --- inputs ------------------------------------------------------------------------------------
# The fixtures are copied: another checkout may rebuild the shared ones while this runs.
mkdir -p "$W/base"
fix=$("$repo/scripts/make-fixture-base.sh") || die "could not build the fixture base"
cp "$fix" "$W/base/python.oci.tar"
FIX="$W/base/python.oci.tar"
log "fixture base: $fix"

edit_n=0
# A one-line change: the handler returns another version (never seen before in this run).
edit_handler() { # FILE
	edit_n=$((edit_n + 1))
	sed -i "s/^VERSION = .*/VERSION = $edit_n/" "$1"
}
edit_js() { # FILE
	edit_n=$((edit_n + 1))
	sed -i "s/^const VERSION = .*/const VERSION = $edit_n;/" "$1"
}

# $W/py/ctx: lib/, deps/ (the whole workload; lamina excludes /lib/, docker ignores deps/lib),
# src/handler.py, lamina.json (relative sources: a copy of ctx builds the same image),
# Dockerfile, .dockerignore. Real copies, not hard links: nothing else changes their inodes.
PY=$W/py/ctx
prepare_python() {
	local wl
	wl=$(WORKLOAD_PYTHON_EXTRA=python3-pandas "$repo/scripts/workload-python.sh") ||
		die "scripts/workload-python.sh (pandas) failed"
	mkdir -p "$PY/src"
	cp -a "$wl" "$PY/deps"
	rm -f "$PY/deps/.complete"
	cp -a "$wl/lib" "$PY/lib"
	printf '%s\n' 'import json' '' 'VERSION = 0' '' '' 'def handler(event, context):' \
		'    return {"statusCode": 200, "body": json.dumps({"version": VERSION})}' >"$PY/src/handler.py"
	jq -n --arg base "oci-archive:$FIX" --args '{
		base: $base,
		layers: [
			{name: "lib", from: "lib", to: "/var/task/lib"},
			{name: "deps", from: "deps", to: "/var/task", exclude: ["/lib/"],
				prune: {presets: ["python-safe"]}},
			{name: "app", from: "src", to: "/var/task"}
		],
		verify: {imports: $ARGS.positional},
		config: {cmd: ["handler.handler"]},
		tag: "bench-incremental:latest"
	}' "${IMPORTS[@]}" >"$PY/lamina.json"
	cat >"$PY/Dockerfile" <<-EOF
		FROM $TAG_BASE
		COPY lib/ /var/task/lib/
		COPY deps/ /var/task/
		RUN python3 -m compileall -q --invalidation-mode unchecked-hash /var/task || true
		COPY src/ /var/task/
		RUN python3 -m compileall -q --invalidation-mode unchecked-hash /var/task/handler.py
		CMD ["handler.handler"]
	EOF
	printf '%s\n' deps/lib lamina.json Dockerfile .dockerignore >"$PY/.dockerignore"
	PY_BYTES=$(du -sb --apparent-size "$PY/deps" | cut -f1)
	PY_FILES=$(find "$PY/deps" -type f | wc -l)
}

NODE=$W/node/ctx
prepare_node() {
	local wl nfix
	nfix=$("$repo/scripts/make-fixture-node.sh") || die "could not build the Node fixture base"
	cp "$nfix" "$W/base/node.oci.tar"
	wl=$("$repo/scripts/workload-node.sh" app) || die "scripts/workload-node.sh app failed"
	mkdir -p "$NODE/src"
	cp -a "$wl/node_modules" "$NODE/deps"
	printf '%s\n' "const VERSION = 0;" '' \
		'exports.handler = async (event) => ({ statusCode: 200, body: JSON.stringify({ version: VERSION }) });' \
		>"$NODE/src/index.js"
	jq -n --arg base "oci-archive:$W/base/node.oci.tar" '{
		base: $base,
		layers: [
			{name: "deps", from: "deps", to: "/var/task/node_modules"},
			{name: "app", from: "src", to: "/var/task"}
		],
		precompile: false,
		config: {cmd: ["index.handler"]},
		tag: "bench-incremental-node:latest"
	}' >"$NODE/lamina.json"
	NODE_BYTES=$(du -sb --apparent-size "$NODE/deps" | cut -f1)
	NODE_FILES=$(find "$NODE/deps" -type f | wc -l)
}

log "preparing the Python workload"
prepare_python
if has_tool lamina; then
	log "preparing the Node workload"
	prepare_node
fi

# --- lamina ------------------------------------------------------------------------------------
CACHE=$W/cache
OUT=$W/out/python.tar
DIGEST= # of the last lamina build
# lm CACHE MANIFEST OUT [BUILD OPTION...]: a timed `lamina -v build`; sets DIGEST.
lm() {
	local cache=$1 mf=$2 out=$3
	shift 3
	timed "$LAMINA" -v --cache "$cache" build "$mf" -o "$out" "$@" || return
	DIGEST=$(grep '^sha256:' "$W/log/last.out" | tail -1)
}
# reference MANIFEST: the digest of a --no-cache build (its own cache dir, verify off: verify
# does not change the image) of the sources as they are now.
reference() {
	local d
	d=$("$LAMINA" -q --cache "$W/cache-ref" build "$1" --no-cache --no-verify -o "$W/out/ref.tar" 2>"$W/log/ref.err") ||
		{ tail -5 "$W/log/ref.err" >&2; die "--no-cache build of $1 failed"; }
	echo "$d"
}
CHECK=
check_digest() { # CASE REFERENCE: compares DIGEST (the case's last build) with it
	if [ "$DIGEST" = "$2" ]; then
		CHECK=same
	else
		CHECK="FAIL: $DIGEST, --no-cache gives $2"
		log "$1: FAIL: digest $DIGEST differs from the --no-cache build's $2"
	fi
}
# record_case CASE TARGET CHECK [NOTE]: the last measure's runs
record_case() {
	record "$1" "$2" "$(walls_median)" "${WALLS[*]}" "$(others_max)" "$3" "${4:-}"
}
nop() { :; }

HAS_CACHE_FROM=0
"$LAMINA" build --help 2>&1 | grep -q -- '--cache-from' && HAS_CACHE_FROM=1
VERIFY_MEDIAN=

bench_python() {
	local ref fresh_n=0 copy='' reg_ref

	# cold: an empty cache each time (imports the base, extracts its rootfs, the whole pipeline)
	cold() { rm -rf "$CACHE"; }
	N=$CRUNS measure cold cold lm "$CACHE" "$PY/lamina.json" "$OUT"
	ref=$(reference "$PY/lamina.json")
	check_digest cold "$ref"
	record_case cold - "$CHECK" "empty cache"

	# one-line handler change, verify off
	edit_app() { edit_handler "$PY/src/handler.py"; }
	measure edit edit_app lm "$CACHE" "$PY/lamina.json" "$OUT" --no-verify
	ref=$(reference "$PY/lamina.json")
	check_digest edit "$ref"
	record_case edit 0.5 "$CHECK"

	# verify alone on a new image: built with --no-verify (untimed), so its root filesystem
	# (the cached one of the unchanged layers plus the new app layer) is assembled first, as
	# the build's verify must after a change
	local vargs=() m
	for m in "${IMPORTS[@]}"; do vargs+=(-i "$m"); done
	new_image() { edit_app; lm "$CACHE" "$PY/lamina.json" "$OUT" --no-verify || die "build for verify-new failed"; }
	measure verify-new new_image timed "$LAMINA" --cache "$CACHE" verify "$OUT" "${vargs[@]}" --no-handler
	local vnew
	vnew=$(walls_median)
	record_case verify-new - - "on an image no verify has seen (built with --no-verify)"

	# one-line handler change, verify on
	measure edit+verify edit_app lm "$CACHE" "$PY/lamina.json" "$OUT"
	ref=$(reference "$PY/lamina.json")
	check_digest edit+verify "$ref"
	local ev_walls=("${WALLS[@]}") ev_others=("${OTHERS_ALL[@]}") ev_check=$CHECK

	# verify alone, on the last image (the build verified it: its root filesystem exists)
	measure verify nop timed "$LAMINA" --cache "$CACHE" verify "$OUT" "${vargs[@]}" --no-handler
	VERIFY_MEDIAN=$(walls_median)
	record_case verify - - "on the image edit+verify built and verified"
	WALLS=("${ev_walls[@]}") OTHERS_ALL=("${ev_others[@]}")
	record_case edit+verify "$(add "$VERIFY_MEDIAN" 0.5)" "$ev_check" \
		"target: verify alone + 0.5 s; against verify-new + 0.5 s ($(add "$vnew" 0.5) s): $(
			awk -v m="$(walls_median)" -v t="$vnew" 'BEGIN { print m <= t + 0.5 ? "pass" : "FAIL" }')"

	# nothing changed, verify on
	measure unchanged nop lm "$CACHE" "$PY/lamina.json" "$OUT"
	check_digest unchanged "$ref"
	record_case unchanged 0.3 "$CHECK"

	PY_OUT_BYTES=$(stat -c %s "$OUT")

	# a fresh checkout: the sources elsewhere, every mtime new, the warm cache
	checkout() {
		[ -z "$copy" ] || rm -rf "$copy"
		fresh_n=$((fresh_n + 1))
		copy=$W/checkout-$fresh_n
		cp -a "$PY" "$copy"
		find "$copy" -exec touch -h {} +
		sync -f "$copy" # its writeback must not land in the timed build
	}
	lm_copy() { lm "$CACHE" "$copy/lamina.json" "$OUT"; }
	measure checkout checkout lm_copy
	rm -rf "$copy"
	check_digest checkout "$ref"
	record_case checkout 1.5 "$CHECK" "cp -a + touch of $PY_FILES files (untimed)"

	# empty cache, --cache-from a loopback registry that a --cache-to build filled
	if [ "$HAS_CACHE_FROM" = 0 ]; then
		record cache-from 3 - - - - "not measured (no --cache-from)"
		log "cache-from: not measured (no --cache-from in lamina build --help)"
		return 0
	fi
	start_registry || {
		record cache-from 3 - - - - "not measured (no registry: see the log)"
		return 0
	}
	reg_ref=$REG/lamina-bench/cache:main
	N=1 measure cache-to nop lm "$CACHE" "$PY/lamina.json" "$OUT" --cache-to "$reg_ref"
	check_digest cache-to "$ref"
	record_case cache-to - "$CHECK" "warm cache, push to the empty registry"
	empty_cache() { rm -rf "$W/cache-from"; }
	measure cache-from empty_cache lm "$W/cache-from" "$PY/lamina.json" "$OUT" --cache-from "$reg_ref"
	check_digest cache-from "$ref"
	record_case cache-from 3 "$CHECK" "empty cache (base imported from oci-archive: too)"
	rm -rf "$W/cache-from"
	stop_registry
}

bench_node() {
	local out=$W/out/node.tar cache=$W/cache-node ref
	node_cold() { rm -rf "$cache"; }
	N=$CRUNS measure node-cold node_cold lm "$cache" "$NODE/lamina.json" "$out"
	ref=$(reference "$NODE/lamina.json")
	check_digest node-cold "$ref"
	record_case node-cold - "$CHECK" "empty cache"
	edit_node() { edit_js "$NODE/src/index.js"; }
	measure node-edit edit_node lm "$cache" "$NODE/lamina.json" "$out"
	ref=$(reference "$NODE/lamina.json")
	check_digest node-edit "$ref"
	record_case node-edit 0.5 "$CHECK"
}

# --- the loopback registry (as tests/e2e/lib-registry.sh) -------------------------------------
REG_PID=
start_registry() {
	command -v docker-registry >/dev/null || apt_install docker-registry ||
		{ log "cache-from: could not install docker-registry"; return 1; }
	command -v curl >/dev/null || apt_install curl || { log "cache-from: needs curl"; return 1; }
	local dir=$W/registry port end
	mkdir -p "$dir/data"
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	REG=127.0.0.1:$port
	{
		echo "version: 0.1"
		echo "log: {level: warn, accesslog: {disabled: true}}"
		echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
		echo "http: {addr: $REG, secret: lamina-bench-secret}"
	} >"$dir/config.yml"
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 </dev/null &
	REG_PID=$!
	on_exit stop_registry
	end=$((SECONDS + 30))
	until curl -s -o /dev/null -m 2 "http://$REG/v2/"; do
		kill -0 "$REG_PID" 2>/dev/null || { tail -5 "$dir/registry.log" >&2; log "docker-registry exited"; return 1; }
		[ $SECONDS -lt $end ] || { log "docker-registry did not answer in 30 s"; return 1; }
		sleep 0.2
	done
	log "registry on $REG (pid $REG_PID)"
}
stop_registry() { # only the registry this script started, by pid
	[ -n "$REG_PID" ] || return 0
	kill -TERM "$REG_PID" 2>/dev/null || true
	wait "$REG_PID" 2>/dev/null || true
	REG_PID=
}

# --- docker (private engine, vfs; as scripts/bench-build.sh) --------------------------------------
. "$repo/scripts/lib-bench.sh"
start_dockerd() {
	local cg=
	if engine_cgroup; then
		cg=$DK_CG
	else
		log "docker: no cgroup of its own: the engine's CPU counts as others'"
	fi
	bench_dockerd_start "$W" "$cg"
}

DK_BUILDS=() DK_SAVES=() DK_OTHERS=() DK_ENGINE=() DK_COLD='' DK_COLD_SAVE='' DK_COLD_ENGINE=
bench_docker() {
	local out=$W/out/docker.tar i b o e s id
	log "docker: loading the base as $TAG_BASE"
	printf '{"base": "oci-archive:%s", "layers": [], "tag": "%s"}\n' "$FIX" "$TAG_BASE" >"$W/base-docker.json"
	"$LAMINA" -q --cache "$W/cache-ref" build "$W/base-docker.json" -o "$W/base-docker.tar" >/dev/null ||
		{ log "docker: could not write the base for docker load"; return 1; }
	dk load -q -i "$W/base-docker.tar" >/dev/null || { log "docker load failed"; return 1; }
	rm -f "$W/base-docker.tar"
	dkb() { timed "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" build --network none -q -t bench-incremental:latest "$PY"; }
	# the first build fills the layer cache (timed, against lamina's cold build)
	dkb || { log "docker build failed"; return 1; }
	DK_COLD=$WALL DK_COLD_ENGINE=$ENGINE id=$(tail -1 "$W/log/last.out")
	timed "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" save -o "$out" bench-incremental:latest ||
		{ log "docker save failed"; return 1; }
	DK_COLD_SAVE=$WALL
	rm -f "$out"
	log "docker: first build $DK_COLD s, save $DK_COLD_SAVE s"
	for ((i = 0; i < ORUNS; i++)); do
		edit_handler "$PY/src/handler.py"
		dkb || { log "docker build failed"; return 1; }
		b=$WALL o=$OTHERS e=$ENGINE
		# the change must give a new image (the COPY of the handler did not come from the cache)
		[ "$(tail -1 "$W/log/last.out")" != "$id" ] || { log "docker: the rebuild gave the same image"; return 1; }
		id=$(tail -1 "$W/log/last.out")
		rm -f "$out"
		timed "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" save -o "$out" bench-incremental:latest ||
			{ log "docker save failed"; return 1; }
		s=$WALL
		DK_BUILDS+=("$b") DK_SAVES+=("$s") DK_OTHERS+=("$(printf '%s\n' "$o" "$OTHERS" | max)")
		DK_ENGINE+=("$(add "$e" "$ENGINE")")
	done
	DK_OUT_BYTES=$(stat -c %s "$out")
	rm -f "$out"
	log "docker: rebuild ${DK_BUILDS[*]} s, save ${DK_SAVES[*]} s; engine CPU ${DK_ENGINE[*]} s; others' CPU ${DK_OTHERS[*]} s"
}

# --- run ---------------------------------------------------------------------------------------
if has_tool lamina; then
	bench_python
	bench_node
fi
if has_tool docker && start_dockerd; then
	bench_docker || true
fi
# This script's CPU: its own, its children's (all reaped but the engine), the engine's
T1=$SECONDS
BUSY1=$(cpu_busy)
times >"$W/log/times"
OWN_CPU=$(sed -E 's/([0-9]+)m([0-9.]+)s/\1 \2/g' "$W/log/times" |
	awk -v e="$(engine_cpu)" '{ for (i = 1; i < NF; i += 2) t += $i * 60 + $(i + 1) } END { printf "%.1f", t + e }')
bench_dockerd_stop

# --- report ------------------------------------------------------------------------------------
CASES="cold edit edit+verify verify verify-new unchanged checkout cache-to cache-from node-cold node-edit"
col() { # CASE FIELD: field of the case's row (2 target, 3 median, 4 runs, 5 others, 6 check, 7 note)
	awk -F'\t' -v c="$1" -v f="$2" '$1 == c { print $f; exit }' "$RES"
}
# counter NAME STATS_LINE: the number after NAME ("—" when this lamina does not print it)
counter() { sed -nE "s/.*[ ;:]$1 ([0-9]+).*/\\1/p" <<<"$2" | head -1 | grep . || echo —; }
report() {
	mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
	echo "## lamina incremental bench: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(uname -r)"
	echo
	echo "$("$LAMINA" --version 2>/dev/null | head -1) ($LAMINA); $("$DK_BIN" --version 2>/dev/null || echo 'no docker')." \
		"Median of $RUNS runs per case (cold: $CRUNS, docker: $ORUNS); BENCH_QUIET=$QUIET."
	echo "Python workload: $PY_FILES files, $(mib "$PY_BYTES") MiB (lib + deps + one handler file)$(
		[ -z "${NODE_FILES:-}" ] || echo "; Node workload: $NODE_FILES files, $(mib "$NODE_BYTES") MiB of node_modules + index.js")."
	echo
	[ -s "$RES" ] && report_lamina
	report_docker
	report_machine
}
report_lamina() {
	local c t m runs others check note stats verify name stages
	echo "| case | target s | median s | runs s | result | others' CPU s (max) | digest = --no-cache | note |"
	echo "|---|---:|---:|---|---|---:|---|---|"
	for c in $CASES; do
		IFS=$'\t' read -r _ t m runs others check note < <(awk -F'\t' -v c="$c" '$1 == c' "$RES") || continue
		local res=—
		if [ "$m" = - ]; then
			res="not measured"
		elif [ "$t" != - ]; then
			res=$(awk -v m="$m" -v t="$t" 'BEGIN { print m <= t ? "pass" : "**FAIL**" }')
		fi
		case "$check" in FAIL*) check="**$check**" ;; esac
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" "${t/#-/—}" "${m/#-/—}" "${runs/#-/—}" "$res" \
			"${others/#-/—}" "${check/#-/—}" "${note/#-/}"
	done
	echo
	echo "Counters (\`lamina -v\`'s stats: line, last run of each case):"
	echo
	echo "| case | files | hashed | hashed bytes | compiled | layers written | reused | compressed bytes | verify | corrupt | imported | exported |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
	for c in $CASES; do
		[ -s "$W/log/$c.stats" ] || continue
		stats=$(tail -1 "$W/log/$c.stats")
		verify=$(sed -nE 's/.*; verify ([a-z ]+);.*/\1/p' <<<"$stats")
		printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$c" \
			"$(counter files "$stats")" "$(counter hashed "$stats")" \
			"$(sed -nE 's/.*hashed [0-9]+ \(([0-9]+) bytes\).*/\1/p' <<<"$stats")" \
			"$(counter compiled "$stats")" "$(counter written "$stats")" "$(counter reused "$stats")" \
			"$(counter compressed "$stats")" "${verify:-—}" "$(counter entries "$stats")" \
			"$(counter imported "$stats")" "$(counter exported "$stats")"
	done
	echo
	stages=$(find "$W/log" -name '*.time' -exec cat {} + | awk 'NF && s == "" { s = $0 } END { print s }' |
		sed -E 's/^time: //; s/ [0-9]+ ms//g; s/,//g')
	if [ -n "$stages" ]; then
		echo "Stage profile (\`lamina -v\`'s time: line, median of each stage over the case's runs, ms):"
		echo
		echo "| case | ${stages// / | } |"
		echo "|---|$(for _ in $stages; do printf -- '---:|'; done)"
		for c in $CASES; do
			[ -s "$W/log/$c.time" ] || continue
			printf '| %s |' "$c"
			for name in $stages; do
				printf ' %s |' "$(sed -nE "s/.*[ ,:]$name ([0-9]+) ms.*/\\1/p" "$W/log/$c.time" | median)"
			done
			echo
		done
	else
		echo "Stage profile: not printed by this lamina (no time: line)."
	fi
	echo
}
report_docker() {
	local c m dkb dks what
	if [ ${#DK_BUILDS[@]} -gt 0 ]; then
		dkb=$(printf '%s\n' "${DK_BUILDS[@]}" | median)
		dks=$(printf '%s\n' "${DK_SAVES[@]}" | median)
		echo "docker (legacy builder, vfs) after the same one-line handler change: rebuild ${DK_BUILDS[*]} s," \
			"\`docker save\` ${DK_SAVES[*]} s (archive $(mib "$DK_OUT_BYTES") MiB$([ -z "${PY_OUT_BYTES:-}" ] ||
				echo "; lamina's: $(mib "$PY_OUT_BYTES") MiB: docker's layers are not compressed and not pruned")); CPU of dockerd" \
			"and its containers ${DK_ENGINE[*]} s; others' CPU ≤ $(printf '%s\n' "${DK_OTHERS[@]}" | max) s$(
				[ -n "$DK_CG" ] || echo ' (the engine included: it had no cgroup of its own)'). Its first build" \
			"(empty layer cache) took $DK_COLD s (engine CPU $DK_COLD_ENGINE s), and \`docker save\` $DK_COLD_SAVE s."
		echo
		echo "| the same work | lamina s | docker s | lamina / docker |"
		echo "|---|---:|---:|---:|"
		for c in edit edit+verify cold; do
			m=$(col "$c" 3)
			[ -n "$m" ] && [ "$m" != - ] || continue
			case $c in
			edit) what="one-line handler change, verify off (edit) vs rebuild + save" ;;
			edit+verify) what="one-line handler change, verify on (edit+verify) vs rebuild + save" ;;
			cold) what="cold full pipeline (cold) vs first build + save" dkb=$DK_COLD dks=$DK_COLD_SAVE ;;
			esac
			awk -v w="$what" -v m="$m" -v b="$dkb" -v s="$dks" \
				'BEGIN { printf "| %s | %s | %.2f (%.2f + %.2f) | %.3f |\n", w, m, b + s, b, s, m / (b + s) }'
		done
	elif has_tool docker; then
		echo "docker: not measured (see the log on standard error)."
	fi
	echo
}
report_machine() {
	local others_all wall_all
	wall_all=$((T1 - T0))
	others_all=$(awk -v b=$((BUSY1 - BUSY0)) -v hz="$HZ" -v o="$OWN_CPU" 'BEGIN { x = b / hz - o; printf "%.0f", x < 0 ? 0 : x }')
	echo "The whole run: ${wall_all} s, in which this script (its children and dockerd included) used" \
		"$OWN_CPU CPU s and the rest of the machine about ${others_all} CPU s; load average" \
		"$LOAD0 at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo "others' CPU: the CPU time the rest of the machine used during a timed run (from /proc/stat);" \
		"on a shared machine a run with a large value is slower than lamina makes it."
}
report | tee "$BD/incremental.md"
# Gigabytes of caches and copies stay only when asked for (a shared machine's disk).
if [ "$KEEP" = 0 ]; then
	chmod -R u+rwX "$W" 2>/dev/null || true
	rm -rf "$W"/cache "$W"/cache-* "$W"/checkout-* "$W"/py "$W"/node "$W"/registry "$W"/base "$W/out/ref.tar"
fi
log "report in $BD/incremental.md; logs and images in $W"
