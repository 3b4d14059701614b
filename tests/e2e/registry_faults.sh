#!/usr/bin/env bash
# lamina pull through a fault-injecting proxy in front of a token-auth registry:
# 500s, 429 + Retry-After, a connection cut mid-blob (resumed with Range), corrupted
# bytes, a truncated body, a redirect to another host (no Authorization may reach it),
# and a warm cache that makes no blob request. The cache never holds a bad blob.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"

start_registry token
seed_fixture lambda/python:3.12
start_fault_proxy
ref="$PROXY/lambda/python:3.12"

pull_with() { # MODE [expect-fail]
	local mode=$1 rc=0
	proxy_mode "$mode"
	export XDG_CACHE_HOME="$T/cache-${mode//:/_}"
	echo "--- $mode" >>"$PROXY_LOG"
	"$LAMINA" -v pull "$ref" >"$T/out" 2>"$T/err" || rc=$?
	proxy_mode pass
	if [ "${2:-}" = expect-fail ]; then
		[ $rc -ne 0 ] || fail "$mode: pull should have failed"
	else
		[ $rc -eq 0 ] || { cat "$T/err" >&2; fail "$mode: pull failed (exit $rc)"; }
		assert_eq "$(grep -c '^layer ' "$T/out")" 3 "$mode: layers"
	fi
	check_cache_clean
	assert_not_contains "$T/err" "$REG_PASS"
}

pull_with 500:2
assert_eq "$(grep -c ' 500 .*500' "$PROXY_LOG")" 2 "injected 500s"

start=$(date +%s%N)
pull_with 429:2:1
assert_eq "$(grep -c ' 429 .*429' "$PROXY_LOG")" 2 "injected 429s"
# the two 429s may hit two blobs downloaded in parallel: at least one second in all
[ $(( ($(date +%s%N) - start) / 1000000 )) -ge 1000 ] || fail "429: Retry-After: 1 was not honoured"

pull_with cut:1:big
assert_contains "$PROXY_LOG" " 206 .*range=bytes=[1-9][0-9]*-"

pull_with truncate:1:big
assert_contains "$PROXY_LOG" "truncate.*"
awk '/^--- truncate/{f=1} f' "$PROXY_LOG" >"$T/section"
assert_contains "$T/section" "range=bytes="

pull_with corrupt:1:big

# a blob that is always corrupt: one clear error naming the reference, the blob and the problem
pull_with corrupt:1000 expect-fail
assert_eq "$(grep -c '^lamina: pull:' "$T/err")" 1 "error lines"
assert_contains "$T/err" "^lamina: pull: blob sha256:[0-9a-f]{64} of '$PROXY/lambda/python:3\.12': digest mismatch"
rc=0; XDG_CACHE_HOME=$T/cache-corrupt-rc "$LAMINA" -q pull "$ref" >/dev/null 2>&1 || rc=$? # proxy_mode was reset
proxy_mode corrupt:1000
rc=0; XDG_CACHE_HOME=$T/cache-corrupt-rc2 "$LAMINA" -q pull "$ref" >/dev/null 2>&1 || rc=$?
assert_eq "$rc" 7 "exit status of a digest mismatch (verification failed)"
proxy_mode pass

# a registry that drips one byte a second: every wait has an end, and the error names the
# blob and how long it waited
proxy_mode drip:1000
start=$SECONDS
rc=0
XDG_CACHE_HOME=$T/cache-drip "$LAMINA" -q pull "$ref" --low-speed-time 2 >"$T/out" 2>"$T/err" || rc=$?
proxy_mode pass
assert_eq "$rc" 5 "exit status of a dripping registry"
[ $((SECONDS - start)) -lt 90 ] || fail "the dripping pull took $((SECONDS - start)) s"
assert_eq "$(grep -c . "$T/err")" 1 "lines of the error"
assert_contains "$T/err" "^lamina: pull: blob sha256:[0-9a-f]{64} of '.*': .*transferred the last 2 seconds.* \\(after 5 tries\\)"
check_cache_clean

# a registry that keeps answering 503: one line with the status
echo "--- 500 forever" >>"$PROXY_LOG"
pull_with 500:1000 expect-fail
assert_contains "$T/err" "^lamina: pull: blob sha256:[0-9a-f]{64} of '$PROXY/lambda/python:3\.12': registry answered 500"

# redirect to another host: the blob arrives, the Authorization header does not follow
pull_with redirect
assert_contains "$PROXY_LOG" "^GET /v2/lambda/python/blobs/sha256:.* 307 .*auth=yes"
assert_contains "$PROXY_LOG" "^redirect-target /v2/lambda/python/blobs/sha256:"
assert_not_contains "$PROXY_LOG" "^redirect-target .*auth=yes"

# warm cache: the manifest only, no blob request
export XDG_CACHE_HOME="$T/cache-500_2"
echo "--- warm" >>"$PROXY_LOG"
run_lamina pull "$ref" || { cat "$T/err" >&2; fail "warm pull"; }
blobreqs=$(awk '/^--- warm/{f=1; next} f' "$PROXY_LOG" | grep -c '/blobs/' || true)
assert_eq "$blobreqs" 0 "blob requests with a warm cache"
awk '/^--- warm/{f=1; next} f' "$PROXY_LOG" >"$T/section"
assert_contains "$T/section" '/manifests/3\.12' 
# chunked push (a layer above 16 MiB goes up in 16 MiB PATCH chunks) when a chunk's answer
# is lost, or the chunk reached the registry only in part. Debian's registry (distribution
# 2.8) then drops the session (404 to the chunk sent again and to the status query), so
# that blob's upload starts over in a new session (5 blobs, 6 sessions). A registry that
# answers 416 as the distribution spec requires keeps the session: lamina asks it for the
# offset it holds (GET LOCATION -> Range) and resumes there (5 blobs, 5 sessions).
mkdir -p "$T/big/data"
head -c $((40 << 20)) /dev/urandom >"$T/big/data/blob.bin"
printf '{"base":"oci-archive:%s","layers":[{"name":"big","from":"data","to":"/var/task"}]}\n' "$(fixture_base)" \
	>"$T/big/lamina.json"
XDG_CACHE_HOME="$T/cache-push" "$LAMINA" -q build "$T/big/lamina.json" -o "$T/big.tar" >"$T/big.digest" ||
	fail "build the big image"
push_with() { # MODE REPO SESSIONS
	local rc=0
	proxy_mode "$1"
	echo "--- push $1" >>"$PROXY_LOG"
	printf '%s\n' "$REG_PASS" | XDG_CACHE_HOME="$T/cache-push" "$LAMINA" -v push --username "$REG_USER" \
		--password-stdin "$T/big.tar" "$PROXY/$2:v1" >"$T/out" 2>"$T/err" || rc=$?
	proxy_mode pass
	[ $rc -eq 0 ] || { cat "$T/err" >&2; fail "push $1 (exit $rc)"; }
	assert_eq "$(cat "$T/out")" "$PROXY/$2:v1@$(cat "$T/big.digest")" "push $1: digest"
	assert_not_contains "$T/err" "$REG_PASS"
	assert_contains "$T/err" "5 blobs uploaded, 0 mounted, 0 already there"
	section "$1"
	assert_eq "$(grep -c "^POST /v2/$2/blobs/uploads/" "$T/section")" "$3" "push $1: upload sessions"
	cp "$T/err" "$T/push-err"
	# read back through a fresh cache: every blob's digest is checked
	XDG_CACHE_HOME="$T/cache-back-${2//\//_}" run_lamina pull "$PROXY/$2:v1" || { cat "$T/err" >&2; fail "pull back $2"; }
}
section() { awk -v m="--- push $1" '$0==m{f=1; next} /^---/{f=0} f' "$PROXY_LOG" >"$T/section"; }
push_with patchlost:1 fn/big 6
section patchlost:1
assert_contains "$T/section" "^PATCH .* 500 .*patchlost upstream=202"
push_with patchhalf:1 fn/big2 6 # a new repository: nothing is there to skip
section patchhalf:1
assert_contains "$T/section" "^PATCH .* 500 in=8388608 .*patchhalf upstream=202"
push_with patch416:1 fn/big3 5
assert_contains "$T/push-err" "registry holds 16777216 bytes, resuming there"
section patch416:1
assert_contains "$T/section" "^PATCH .* 416 .*patch416-retry"
assert_contains "$T/section" "^GET .* 204 .*patch416-status"

cp "$PROXY_LOG" "${KEEP_PROXY_LOG:-/dev/null}" 2>/dev/null || true
echo ok
