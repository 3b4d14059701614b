#!/usr/bin/env bash
# Runs the Check unit tests, then every end-to-end test (tests/e2e/*.sh, or the ones
# named as arguments). Each e2e script exits 0 (pass), 77 (skip) or anything else (fail);
# one that runs past LAMINA_TEST_TIMEOUT seconds (default 900) fails.
# Ends with one line: "N passed, N failed, N skipped".
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${LAMINA:?LAMINA must name the lamina binary}"
export LAMINA
export LAMINA_TESTS="$here"
passed=0 failed=0 skipped=0
failures=()

if [ -n "${UNIT_BIN:-}" ] && [ "${SKIP_UNIT:-0}" != 1 ]; then
	out=$("$UNIT_BIN" 2>&1); rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[0-9]+%: Checks: ' | tail -1)
	n=$(sed -nE 's/.*Checks: ([0-9]+), Failures: ([0-9]+), Errors: ([0-9]+).*/\1 \2 \3/p' <<<"$line")
	if [ -n "$n" ]; then
		read -r total f e <<<"$n"
		passed=$((passed + total - f - e)); failed=$((failed + f + e))
	fi
	if [ $rc -ne 0 ] && [ -z "$n" ]; then failed=$((failed + 1)); failures+=(unit); fi
	[ $rc -ne 0 ] && failures+=(unit)
fi

# Lint checks over the source (tests/lint/*.sh: the include layers, the scripts that run
# inside images) run first: they are fast and need nothing installed.
if [ $# -eq 0 ] && [ "${SKIP_LINT:-0}" != 1 ]; then
	for t in "$here"/lint/*.sh; do
		name=lint/$(basename "$t" .sh)
		if out=$(bash "$t" 2>&1); then
			passed=$((passed + 1)); echo "PASS $name"
		else
			failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name"
			printf '%s\n' "$out" | tail -40 | sed 's/^/    /'
		fi
	done
fi

# Each suite's limit in seconds (the slowest takes about two minutes here).
limit=${LAMINA_TEST_TIMEOUT:-900}
# One line about the machine, for reading a CI log afterwards.
echo "machine: $(nproc) cores, $(awk '/MemAvailable/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) free," \
	"$(df -h --output=avail "${TMPDIR:-/tmp}" | tail -1 | tr -d ' ') free in ${TMPDIR:-/tmp}," \
	"$(df -h --output=avail "$HOME" 2>/dev/null | tail -1 | tr -d ' ') in \$HOME"

if [ $# -gt 0 ]; then tests=("$@"); else tests=("$here"/e2e/*.sh); fi
for t in "${tests[@]}"; do
	[ -f "$t" ] || t="$here/e2e/$t"
	[ -f "$t" ] || t="$t.sh"
	name=$(basename "$t" .sh)
	case "$name" in lib*) continue ;; esac
	start=$(date +%s)
	log=$(mktemp)
	# Bounded: a suite that hangs fails (TERM to its process group: its traps stop what it
	# started; KILL 60 s later) instead of holding the run.
	timeout -k 60 "$limit" bash "$t" >"$log" 2>&1 </dev/null; rc=$?
	secs=$(( $(date +%s) - start ))
	if [ $secs -ge "$limit" ] && { [ $rc -eq 124 ] || [ $rc -eq 137 ]; }; then
		failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name (timed out after ${limit}s)"
		tail -40 "$log" | sed 's/^/    /'
	elif [ $rc -eq 0 ]; then
		passed=$((passed + 1)); echo "PASS $name (${secs}s)"
	elif [ $rc -eq 77 ] && [ "${LAMINA_NO_SKIP:-0}" != 1 ]; then
		skipped=$((skipped + 1)); echo "SKIP $name: $(tail -1 "$log")"
	else
		failed=$((failed + 1)); failures+=("$name"); echo "FAIL $name (exit $rc, ${secs}s)"
		tail -40 "$log" | sed 's/^/    /'
	fi
	rm -f "$log"
done

[ ${#failures[@]} -gt 0 ] && echo "failed: ${failures[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
