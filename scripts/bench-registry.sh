#!/usr/bin/env bash
# Registry benchmark: lamina vs skopeo copy on the same work, in one run, against a
# loopback docker-registry (no auth) behind the pass-through proxy that counts bytes.
#   LAMINA=build/lamina scripts/bench-registry.sh
# Prints a table: cold pull, warm pull, first push, second push after a code-only change
# (seconds, bytes sent/received over the wire).
set -euo pipefail
LAMINA=${LAMINA:-$(cd "$(dirname "$0")/.." && pwd)/build/lamina}
LAMINA=$(cd "$(dirname "$LAMINA")" && pwd)/$(basename "$LAMINA")
export LAMINA
. "$(dirname "$0")/../tests/e2e/lib.sh"
. "$(dirname "$0")/../tests/e2e/lib-registry.sh"

FIX=$(fixture_base)
start_registry none
seed_fixture lambda/python:3.12
start_fault_proxy
cp -r "$REPO/images/python-hello" "$T/app"
"$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" -o "$T/v1.tar" >/dev/null
echo "# changed" >>"$T/app/src/app.py"
"$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" -o "$T/v2.tar" >/dev/null

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# run LABEL TOOL CMD...: time and proxy bytes of one command
run() {
	local label=$1 tool=$2 t0 t1 up down
	shift 2
	: >"$PROXY_LOG"
	t0=$(now_ms)
	"$@" >/dev/null 2>"$T/bench.err" || { cat "$T/bench.err" >&2; fail "$label ($tool) failed"; }
	t1=$(now_ms)
	sleep 0.2
	up=$(sed -n 's/.* in=\([0-9]*\) .*/\1/p' "$PROXY_LOG" | awk '{s+=$1} END {print s+0}')
	down=$(sed -n 's/.* out=\([0-9]*\) .*/\1/p' "$PROXY_LOG" | awk '{s+=$1} END {print s+0}')
	printf '%-28s %-7s %7.2f s %12d B up %12d B down %4d requests\n' "$label" "$tool" \
		"$(echo "scale=3; ($t1 - $t0) / 1000" | bc)" "$up" "$down" "$(grep -vc '^---' "$PROXY_LOG")"
}

ref="$PROXY/lambda/python:3.12"
export XDG_CACHE_HOME="$T/lcache"
run "cold pull" lamina "$LAMINA" -q pull "$ref"
run "cold pull" skopeo skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$T/sk:base"
run "warm pull" lamina "$LAMINA" -q pull "$ref"
run "warm pull" skopeo skopeo copy -q --src-tls-verify=false "docker://$ref" "oci:$T/sk:base"
run "first push" lamina "$LAMINA" -q push "$T/v1.tar" "$PROXY/bench/lamina:v1"
run "first push" skopeo skopeo copy -q --dest-tls-verify=false "oci-archive:$T/v1.tar" "docker://$PROXY/bench/skopeo:v1"
run "second push (code change)" lamina "$LAMINA" -q push "$T/v2.tar" "$PROXY/bench/lamina:v2"
run "second push (code change)" skopeo skopeo copy -q --dest-tls-verify=false "oci-archive:$T/v2.tar" "docker://$PROXY/bench/skopeo:v2"
