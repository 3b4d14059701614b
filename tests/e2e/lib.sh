# Shared helpers for end-to-end tests. Source it first:  . "$(dirname "$0")/lib.sh"
# A test exits 0 (pass), 77 (skip) or anything else (fail).
#
#   $LAMINA          the lamina binary under test (required)
#   $T               a fresh temp dir for this test, removed on exit
#   $REPO            repository root
#   XDG_CACHE_HOME   $T/cache (own lamina cache per test; override after sourcing if wanted)
#   fail MSG         print "FAIL: MSG" to stderr, exit 1
#   skip WHY         print "SKIP: WHY", exit 77
#   on_exit CMD...   register cleanup, run in reverse order on exit (before $T is removed)
#   assert_eq A B [WHAT]     A = B or fail
#   assert_file F...         each is an existing file (or dir)
#   assert_no_file F...      none exists (not even a dangling symlink)
#   assert_contains FILE|STRING PATTERN   grep -E PATTERN (FILE if it is a file, else the string)
#   assert_not_contains FILE|STRING PATTERN
#   fixture_base     echo path of the fixture OCI archive (tag 3.12), building it if needed
#   fixture_node_base  echo path of the Node fixture OCI archive (tag 22; npm fetches node once)
#   free_port        print a free TCP port on 127.0.0.1
#   wait_for [-t SECS] CMD...   retry CMD (0.2 s apart) until it succeeds, default 30 s; fails the test
#   run_lamina ARGS...  run $LAMINA, stdout to $T/out, stderr to $T/err; returns its status (no abort)
set -euo pipefail

: "${LAMINA:?LAMINA must name the lamina binary under test}"
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export LAMINA REPO
unset SOURCE_DATE_EPOCH

T=$(mktemp -d "${TMPDIR:-/tmp}/lamina-e2e.XXXXXX")
export T
export XDG_CACHE_HOME="$T/cache"
mkdir -p "$XDG_CACHE_HOME"

_lib_cleanups=()
on_exit() { _lib_cleanups+=("$(printf '%q ' "$@")"); }
_lib_exit() {
	local rc=$? i
	set +e
	for ((i = ${#_lib_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${_lib_cleanups[i]}" >/dev/null 2>&1
	done
	# Files made by containers may be read-only or owned elsewhere; try hard, never fail.
	chmod -R u+rwX "$T" 2>/dev/null
	rm -rf "$T" 2>/dev/null
	exit "$rc"
}
trap _lib_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*"; exit 77; }

assert_eq() {
	[ "$1" = "$2" ] || fail "${3:-values differ}: expected [$2], got [$1]"
}
assert_file() {
	local f
	for f in "$@"; do [ -e "$f" ] || fail "missing file: $f"; done
}
assert_no_file() {
	local f
	for f in "$@"; do
		[ ! -e "$f" ] && [ ! -L "$f" ] || fail "file should not exist: $f"
	done
}
assert_contains() {
	if [ -f "$1" ]; then
		grep -Eq -- "$2" "$1" || { sed 's/^/    | /' "$1" | tail -20 >&2; fail "$1 does not contain /$2/"; }
	else
		grep -Eq -- "$2" <<<"$1" || fail "[$1] does not contain /$2/"
	fi
}
assert_not_contains() {
	if [ -f "$1" ]; then
		! grep -Eq -- "$2" "$1" || fail "$1 contains /$2/: $(grep -Em1 -- "$2" "$1")"
	else
		! grep -Eq -- "$2" <<<"$1" || fail "[$1] contains /$2/"
	fi
}

fixture_base() {
	"$REPO/scripts/make-fixture-base.sh" || fail "could not build the fixture base image"
}

fixture_node_base() {
	"$REPO/scripts/make-fixture-node.sh" || fail "could not build the Node fixture base image"
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for() {
	local secs=30
	if [ "${1:-}" = -t ]; then secs=$2; shift 2; fi
	local end=$((SECONDS + secs))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || fail "timed out after ${secs}s waiting for: $*"
		sleep 0.2
	done
}

run_lamina() {
	local rc=0
	"$LAMINA" "$@" >"$T/out" 2>"$T/err" || rc=$?
	return $rc
}
