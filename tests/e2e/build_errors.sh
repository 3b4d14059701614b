# Bad input: one clear line naming the file, field or reference; a documented non-zero
# exit; nothing at the output path; nothing unverified in the cache.
. "$(dirname "$0")/lib.sh"

FIX=$(fixture_base)
mkdir -p "$T/app/src"
echo 'def handler(e, c): return 1' >"$T/app/src/app.py"
OUT=$T/out.tar

# expect STATUS PATTERN MANIFEST [ARGS...]: build fails with that status and message
expect() {
	local want=$1 pat=$2 rc=0
	shift 2
	"$LAMINA" -q build "$@" -o "$OUT" >"$T/stdout" 2>"$T/stderr" || rc=$?
	[ "$rc" -eq "$want" ] || { cat "$T/stderr" >&2; fail "exit $rc, expected $want for: $*"; }
	[ "$(wc -l <"$T/stderr")" -eq 1 ] || { cat "$T/stderr" >&2; fail "expected exactly one line on stderr"; }
	assert_contains "$T/stderr" "$pat"
	assert_no_file "$OUT"
	! ls "$T"/out.tar.tmp.* >/dev/null 2>&1 || fail "a temporary output was left behind"
	echo "ok ($rc): $(cat "$T/stderr")"
}
manifest() { cat >"$T/app/lamina.json"; }

expect 4 "lamina: build: manifest: open '$T/app/missing.json': No such file" "$T/app/missing.json"

printf '{\n  "base": "oci-archive:%s",\n  "layers": [ { "from": "src" }, ]\n}\n' "$FIX" | manifest
expect 3 "lamina.json:3:.*: invalid JSON" "$T/app/lamina.json"

manifest <<JSON
{ "base": "oci-archive:$FIX", "layrs": [] }
JSON
expect 3 "lamina.json:1:[0-9]+: layrs: unknown field \(did you mean 'layers'\?\)" "$T/app/lamina.json"

manifest <<JSON
{ "base": "oci-archive:$FIX",
  "layers": [ { "name": "app", "frm": "src" } ] }
JSON
expect 3 "lamina.json:2:[0-9]+: layers\[0\]\.frm: unknown field \(did you mean 'from'\?\)" "$T/app/lamina.json"

manifest <<JSON
{ "base": "oci-archive:$FIX", "layers": [ { "from": "src" } ], "config": { "env": { "N": 3 } } }
JSON
expect 3 "config\.env\.N: must be a string" "$T/app/lamina.json"

manifest <<JSON
{ "base": "oci-archive:$FIX", "layers": [ { "name": "deps", "from": "no-such-dir" } ] }
JSON
expect 4 "layer 'deps' \(layers\[0\]\.from\): source '$T/app/no-such-dir': No such file or directory" "$T/app/lamina.json"

manifest <<JSON
{ "base": "oci-archive:$FIX", "layers": [ { "from": "src" } ], "config": { "cmd": ["app.handler"] } }
JSON
# unreadable file: as an unprivileged user (root reads everything)
if command -v setpriv >/dev/null && [ "$(id -u)" -eq 0 ]; then
	cp -r "$T/app" "$T/app2" && echo secret >"$T/app2/src/secret.py" && chmod 000 "$T/app2/src/secret.py"
	chmod -R o+rX "$T/app2" && chmod 777 "$T" && mkdir -m 777 "$T/nobody-cache"
	chmod 000 "$T/app2/src/secret.py"
	cp "$FIX" "$T/fix.tar" && chmod 644 "$T/fix.tar"
	rc=0
	XDG_CACHE_HOME=$T/nobody-cache setpriv --reuid 65534 --regid 65534 --clear-groups \
		"$LAMINA" -q build "$T/app2/lamina.json" --base "oci-archive:$T/fix.tar" -o "$T/nobody.tar" 2>"$T/stderr" >/dev/null || rc=$?
	assert_eq "$rc" 4 "exit status for an unreadable file"
	assert_contains "$T/stderr" "open '$T/app2/src/secret.py': Permission denied"
	assert_no_file "$T/nobody.tar"
fi

# base problems: missing, not an archive, truncated, a blob that does not match its digest
expect 4 "base 'oci-archive:$T/nope.tar'.*open '$T/nope.tar'" "$T/app/lamina.json" --base "oci-archive:$T/nope.tar"
echo "not a tar" >"$T/junk.tar"
expect 3 "base 'oci-archive:$T/junk.tar'" "$T/app/lamina.json" --base "oci-archive:$T/junk.tar"
head -c 3000000 "$FIX" >"$T/truncated.tar"
expect 3 "base 'oci-archive:$T/truncated.tar'" "$T/app/lamina.json" --base "oci-archive:$T/truncated.tar"
mkdir "$T/bad" && tar -xf "$FIX" -C "$T/bad"
big=$(ls -S "$T/bad/blobs/sha256" | head -1)
printf 'X' | dd of="$T/bad/blobs/sha256/$big" bs=1 seek=5000 conv=notrunc status=none
tar -cf "$T/bad.tar" -C "$T/bad" .
export XDG_CACHE_HOME=$T/cache-bad # a cold cache: a warm one already holds the good blob
expect 7 "blob sha256:$big: digest mismatch" "$T/app/lamina.json" --base "oci-archive:$T/bad.tar"
# the cache holds only blobs whose content hashes to their name, and no temporaries
for f in "$XDG_CACHE_HOME"/lamina/blobs/sha256/*; do
	[ -e "$f" ] || continue
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || fail "cache holds a bad blob: $f"
done
[ -z "$(ls -A "$XDG_CACHE_HOME/lamina/tmp" 2>/dev/null | grep -v '^build\.' || true)" ] || fail "temporaries left in the cache"
[ ! -e "$XDG_CACHE_HOME/lamina/blobs/sha256/$big" ] || fail "the corrupt blob entered the cache"

# unusable output paths
"$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" >/dev/null || fail "the good manifest must build"
echo file >"$T/afile"
rc=0; "$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" -o "$T/afile/out.tar" 2>"$T/stderr" >/dev/null || rc=$?
assert_eq "$rc" 4 "exit for an output under a file"
assert_contains "$T/stderr" "'$T/afile/out.tar'.*Not a directory"
rc=0; "$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" -o /proc/version 2>"$T/stderr" >/dev/null || rc=$?
[ "$rc" -ne 0 ] || fail "writing over /proc/version succeeded?"

# usage errors
rc=0; "$LAMINA" build 2>"$T/stderr" || rc=$?
assert_eq "$rc" 2 "exit for a missing argument"
rc=0; "$LAMINA" frobnicate 2>"$T/stderr" || rc=$?
assert_eq "$rc" 2 "exit for an unknown command"
assert_contains "$T/stderr" "'frobnicate' is not a command"
rc=0; "$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" --platform linux/s390x 2>"$T/stderr" || rc=$?
[ "$rc" -ne 0 ] || fail "s390x accepted"
assert_contains "$T/stderr" "linux/amd64 or linux/arm64"
rc=0; "$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" --platform linux/arm64 2>"$T/stderr" || rc=$?
assert_contains "$T/stderr" "is linux/amd64, not the requested linux/arm64"
echo "all bad inputs rejected"
