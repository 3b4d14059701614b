#!/usr/bin/env bash
# Cold import time with a read-only /var/task in the fixture base, without .pyc and with
# lamina's .pyc (each invalidation mode, and sourceless). Not a test: prints a table.
#   LAMINA=build/lamina scripts/bench-coldstart.sh [RUNS]
# RUNS (default 15) timed runs per cell after one warm-up run; the page cache is warm, so
# the numbers are the interpreter's own work (unmarshal vs compile), as on a warm Lambda
# worker. Each run is a fresh interpreter: `chroot ROOT python3 -c WORKLOAD` in a mount
# namespace with /var/task bound read-only. Needs root.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
LAMINA=${LAMINA:-$repo/build/lamina}
runs=${1:-15}
[ "$(id -u)" = 0 ] || { echo "bench-coldstart: needs root (chroot, mount namespace)" >&2; exit 1; }
base=$("$repo/scripts/make-fixture-base.sh")
wl=$("$repo/scripts/workload-python.sh")
work=$(mktemp -d "${TMPDIR:-/tmp}/lamina-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
export XDG_CACHE_HOME="$work/cache"

mkdir -p "$work/app"
cp -a "$wl/." "$work/app/"
rm -f "$work/app/.complete"
printf 'def handler(event, context):\n    return "ok"\n' >"$work/app/app.py"

variants=(none unchecked-hash checked-hash timestamp sourceless)
declare -A names=([none]="no .pyc" [unchecked-hash]="unchecked-hash" [checked-hash]="checked-hash"
	[timestamp]="timestamp" [sourceless]="sourceless")
workloads=(
	"boto3 + S3 client|import boto3; boto3.client('s3', region_name='us-east-1')"
	"numpy|import numpy"
	"pydantic+httpx+jinja2+yaml|import pydantic, httpx, jinja2, yaml"
)

. "$repo/scripts/lib-bench.sh"
unpack() { bench_unpack "$1" "$2" "$work/x"; } # OUT.tar ROOT

for v in "${variants[@]}"; do
	case $v in
	none) pc=false ;;
	sourceless) pc='{"python": {"sourceless": true}}' ;;
	*) pc="{\"python\": {\"invalidation\": \"$v\"}}" ;;
	esac
	cat >"$work/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": $pc}
JSON
	s=$(date +%s%N)
	"$LAMINA" -q build "$work/lamina.json" -o "$work/$v.tar" >/dev/null
	echo "bench-coldstart: built '$v' in $(( ($(date +%s%N) - s) / 1000000 )) ms" >&2
	unpack "$work/$v.tar" "$work/root-$v"
done

run_once() { # ROOT CODE -> ms
	local s e
	s=$(date +%s%N)
	unshare -m sh -c 'mount --bind "$1/var/task" "$1/var/task" && mount -o remount,bind,ro "$1/var/task" &&
		cd / && exec chroot "$1" /usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin LANG=C.UTF-8 \
		LD_LIBRARY_PATH=/var/lang/lib:/var/task/lib PYTHONPATH=/var/task /var/lang/bin/python3 -c "$2"' \
		sh "$1" "$2" >/dev/null
	e=$(date +%s%N)
	echo $(( (e - s) / 1000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }

printf '\nCold import, median of %d runs (ms), read-only /var/task, warm page cache\n\n' "$runs"
printf '| %-28s |' workload
for v in "${variants[@]}"; do printf ' %-14s |' "${names[$v]}"; done
printf '\n|%s|' "$(printf -- '-%.0s' {1..30})"
for v in "${variants[@]}"; do printf '%s|' "$(printf -- '-%.0s' {1..16})"; done
echo
for w in "${workloads[@]}"; do
	label=${w%%|*} code=${w#*|}
	printf '| %-28s |' "$label"
	declare -A med=()
	for v in "${variants[@]}"; do
		run_once "$work/root-$v" "$code" >/dev/null # warm-up (and check it runs)
		med[$v]=$(for ((i = 0; i < runs; i++)); do run_once "$work/root-$v" "$code"; done | median)
	done
	for v in "${variants[@]}"; do
		ms=$(awk -v u="${med[$v]}" 'BEGIN {printf "%.0f", u / 1000}')
		if [ "$v" = none ]; then printf ' %-14s |' "$ms"; else
			printf ' %-14s |' "$ms ($(awk -v a="${med[$v]}" -v b="${med[none]}" 'BEGIN {printf "%.2fx", a / b}'))"; fi
	done
	echo
done

py=$(find "$work/root-none/var/task" -name '*.py' -printf '%s\n' | awk '{s+=$1} END {print s}')
pyc=$(find "$work/root-unchecked-hash/var/task" -name '*.pyc' -printf '%s\n' | awk '{s+=$1} END {print s}')
npyc=$(find "$work/root-unchecked-hash/var/task" -name '*.pyc' | wc -l)
printf '\n.py in the app layer: %d bytes; lamina .pyc: %d files, %d bytes (%.2fx the .py)\n' "$py" "$npyc" "$pyc" \
	"$(awk -v a="$pyc" -v b="$py" 'BEGIN {print a / b}')"
printf 'app layer gzip size: no .pyc %d, unchecked-hash %d (+%d), sourceless %d\n' "$(cat "$work/root-none.gz")" \
	"$(cat "$work/root-unchecked-hash.gz")" "$(( $(cat "$work/root-unchecked-hash.gz") - $(cat "$work/root-none.gz") ))" \
	"$(cat "$work/root-sourceless.gz")"
