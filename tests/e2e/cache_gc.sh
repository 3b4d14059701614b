# The cache's bound: lamina cache du / prune, --cache-max, least recently used first, and
# nothing removed under a running build.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
FIX=$(fixture_base)
C=$XDG_CACHE_HOME/lamina

mk() { # DIR N: an app with a 2 MB file of random bytes (its layer does not compress)
	mkdir -p "$1"
	make_app "$1"
	head -c 2000000 /dev/urandom >"$1/blob.bin"
	cat >"$1/lamina.json" <<JSON
{ "base": "oci-archive:$FIX", "layers": [ { "name": "app", "from": "." } ],
  "precompile": false, "config": { "cmd": ["app.handler"] } }
JSON
}
du_bytes() { "$LAMINA" cache du --json | jq "$1"; }

mk "$T/a"
run_lamina build "$T/a/lamina.json" || fail "build a: $(cat "$T/err")"
da=$(tail -1 "$T/out")
blobs=$(du_bytes .blobs.count)
[ "$blobs" -ge 4 ] || fail "du counts $blobs blobs after a build"
[ "$(du_bytes .blobs.bytes)" -ge 2000000 ] || fail "du: blobs smaller than the app layer"
run_lamina cache du || fail "cache du"
assert_contains "$T/out" "blobs"
assert_contains "$T/out" "bound +10.0 GiB"

# under a small bound, older builds' entries go first and the newest stay: the base's blobs
# (their size follows the fixture's: it ships the AWS SDK) and room for about four of the
# 2 MB app layers
bound=$(( ($(stat -c %s "$FIX") >> 20) + 9 ))
for n in b c d e; do
	mk "$T/$n"
	sleep 1 # mtime granularity for least-recently-used
	run_lamina --cache-max ${bound}M build "$T/$n/lamina.json" || fail "build $n: $(cat "$T/err")"
done
total=$(( $(du_bytes .blobs.bytes) + $(du_bytes .records.bytes) ))
[ "$total" -le $((bound * 1024 * 1024)) ] || fail "the cache holds $total bytes over a ${bound}M bound"
assert_contains "$T/err" "cache: removed"
# the base and the last build are there: building e again reuses its layer
run_lamina -v --cache-max ${bound}M build "$T/e/lamina.json" || fail "rebuild e"
assert_contains "$T/err" "reused 1"
# a's layer was the least recently used: gone, and a builds again all the same
run_lamina -v build "$T/a/lamina.json" || fail "rebuild a"
assert_eq "$(tail -1 "$T/out")" "$da" "digest of a after its entries were removed"
assert_contains "$T/err" "layers written 1"

# prune to a size, then everything
run_lamina cache prune --max 3M || fail "prune --max"
total=$(( $(du_bytes .blobs.bytes) + $(du_bytes .records.bytes) ))
[ "$total" -le $((3 * 1024 * 1024)) ] || fail "prune --max 3M left $total bytes"
run_lamina cache prune --all || fail "prune --all"
assert_eq "$(du_bytes .blobs.count)" 0 "blobs after prune --all"
assert_eq "$(du_bytes .records.count)" 0 "records after prune --all"
run_lamina build "$T/a/lamina.json" || fail "build after prune --all"
assert_eq "$(tail -1 "$T/out")" "$da" "digest after prune --all"

# a running build holds the cache: prune waits for it
exec 9>"$C/lock"
flock -s 9
( "$LAMINA" cache prune --all >"$T/p.out" 2>&1; echo "$?" >"$T/p.rc" ) &
pid=$!
sleep 1
[ ! -e "$T/p.rc" ] || fail "prune did not wait for the running build"
[ "$(du_bytes .blobs.count)" -gt 0 ] || fail "prune removed blobs under a running build"
flock -u 9
exec 9>&-
wait $pid
assert_eq "$(cat "$T/p.rc")" 0 "prune after the build ended"

# bad sizes are usage errors
run_lamina --cache-max 10X cache du && fail "--cache-max 10X accepted"
assert_contains "$T/err" "must be a size"
run_lamina cache prune --max abc && fail "--max abc accepted"
[ $? -ne 0 ]
LAMINA_CACHE_MAX=zz run_lamina cache du && fail "LAMINA_CACHE_MAX=zz accepted"
echo ok
