#!/usr/bin/env bash
# A full disk is one line naming the file and the reason, exit 4 (I/O), and nothing
# half-written: the output archive or zip on a full filesystem, or the cache on one.
# Each case runs in its own mount namespace with a 2 MiB tmpfs (nothing to undo).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"

make_app "$T/app"
head -c $((3 << 20)) /dev/urandom >"$T/app/blob.bin"
cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": false}
JSON
mkdir -p "$T/full"
# on_full CMD...: runs CMD with a 2 MiB tmpfs on $T/full; leaves the listing of the
# tmpfs afterwards in $T/left
on_full() {
	local rc=0
	unshare -m sh -c 'mount -t tmpfs -o size=2m tmpfs "$0" && "$@"; rc=$?; find "$0" -mindepth 1 >"'"$T/left"'"; exit $rc' \
		"$T/full" "$@" >"$T/out" 2>"$T/err" || rc=$?
	return $rc
}

rc=0; on_full "$LAMINA" -q build "$T/lamina.json" -o "$T/full/out.tar" || rc=$?
assert_eq "$rc" 4 "exit status of a build whose output does not fit"
assert_eq "$(cat "$T/err")" "lamina: build: write '$T/full/out.tar': No space left on device"
assert_eq "$(cat "$T/left")" "" "left on the full filesystem by build"

rc=0; on_full "$LAMINA" -q zip "$T/lamina.json" -o "$T/full/out.zip" || rc=$?
assert_eq "$rc" 4 "exit status of a zip that does not fit"
assert_eq "$(cat "$T/err")" "lamina: zip: write '$T/full/out.zip': No space left on device"
assert_eq "$(cat "$T/left")" "" "left on the full filesystem by zip"

# the cache on the full filesystem: the blob being written is named, and removed
rc=0; on_full env XDG_CACHE_HOME="$T/full" "$LAMINA" -q build "$T/lamina.json" -o "$T/out.tar" || rc=$?
assert_eq "$rc" 4 "exit status of a build whose cache is full"
assert_eq "$(wc -l <"$T/err")" 1 "lines of the message"
assert_contains "$T/err" "^lamina: build: .*write '$T/full/lamina/tmp/[^']+': No space left on device$"
assert_eq "$(grep -v '/lamina/tmp$' "$T/left" | grep -c '/lamina/tmp/' || true)" 0 "temporary blobs left in the full cache"
assert_no_file "$T/out.tar"
echo ok
