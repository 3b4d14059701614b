# Reproducible layers: two copies of the inputs at different paths, with different file
# times, give the same manifest digest; the layer tar follows Lambda's rules.
. "$(dirname "$0")/lib.sh"

FIX=$(fixture_base)
mk() { # DIR MTIME
	mkdir -p "$1/src/pkg/sub" "$1/deps/lib"
	printf 'def handler(e, c):\n    return {"ok": True}\n' >"$1/src/app.py"
	printf 'X = 1\n' >"$1/src/pkg/__init__.py"
	printf 'Y = 2\n' >"$1/src/pkg/sub/mod.py"
	printf '#!/bin/sh\necho hi\n' >"$1/src/run.sh"
	chmod 0700 "$1/src/run.sh"       # executable: normalised to 0755
	chmod 0600 "$1/src/pkg/__init__.py" # private: normalised to 0644
	# over 2 MiB: the deps layer spans several gzip members
	head -c 3000000 /dev/urandom >"$1/deps/lib/blob.bin"
	ln "$1/deps/lib/blob.bin" "$1/deps/lib/blob-hardlink.bin" # Lambda rejects hardlink entries
	ln -s blob.bin "$1/deps/lib/link"
	echo "noise" >"$1/src/debug.log"
	cat >"$1/lamina.json" <<JSON
{
  "base": "oci-archive:$FIX",
  "layers": [
    { "name": "deps", "from": "deps", "to": "/var/task" },
    { "name": "app", "from": "src", "to": "/var/task", "exclude": ["*.log"] }
  ],
  "config": { "cmd": ["app.handler"] },
  "precompile": { "python": { "invalidation": "unchecked-hash" } }
}
JSON
	find "$1" -exec touch -h -d "$2" {} +
}
mk "$T/a" "2001-02-03 04:05:06"
mk "$T/b/deeper/path" "2020-12-31 23:59:59"
cp "$T/a/deps/lib/blob.bin" "$T/b/deeper/path/deps/lib/blob.bin"
cp "$T/a/deps/lib/blob.bin" "$T/b/deeper/path/deps/lib/blob-hardlink.bin"

d1=$("$LAMINA" -q build "$T/a/lamina.json" -o "$T/a.tar") || fail "build a"
d2=$(XDG_CACHE_HOME=$T/cache2 "$LAMINA" -q build "$T/b/deeper/path/lamina.json" -o "$T/b.tar") || fail "build b"
assert_eq "$d2" "$d1" "manifest digest of two builds from different paths and mtimes"
cmp -s "$T/a.tar" "$T/b.tar" || fail "the archives differ byte for byte"
assert_eq "$(stat -c %a "$T/a.tar")" 644 "the archive's mode (not mkstemp's 0600)"

# the thread count does not change a byte (-j 1 compresses in one thread, -j 3 in three)
for j in 1 3; do
	dj=$(XDG_CACHE_HOME=$T/cache-j$j "$LAMINA" -q -j $j build "$T/a/lamina.json" -o "$T/a-j$j.tar") || fail "build -j $j"
	assert_eq "$dj" "$d1" "manifest digest with -j $j"
	cmp -s "$T/a.tar" "$T/a-j$j.tar" || fail "the archive built with -j $j differs"
done

# SOURCE_DATE_EPOCH changes file times, hence the digest
d3=$(SOURCE_DATE_EPOCH=1700000000 "$LAMINA" -q build "$T/a/lamina.json") || fail "build with SOURCE_DATE_EPOCH"
[ "$d3" != "$d1" ] || fail "SOURCE_DATE_EPOCH did not change the layers"

# the app layer tar, entry by entry
mkdir "$T/x" && tar -xf "$T/a.tar" -C "$T/x"
layers=$(jq -r '.[0].Layers[]' "$T/x/manifest.json")
deps=$(sed -n 4p <<<"$layers")
app=$(sed -n 5p <<<"$layers")
head -c 10 "$T/x/$app" | od -An -tx1 | tr -d ' \n' >"$T/gzhdr"
assert_eq "$(cat "$T/gzhdr")" 1f8b08000000000000ff "gzip header: MTIME 0, no name"
# the deps layer: one gzip member per MiB of tar, each with the same fixed header and its
# own CRC-32/ISIZE trailer, decompressing (members in a row) to the layer's diff_id
python3 - "$T/x/$deps" >"$T/members" <<'PY' || fail "gzip members of the deps layer"
import hashlib, struct, sys, zlib
data = open(sys.argv[1], "rb").read()
off, n, tar = 0, 0, b""
while off < len(data):
    assert data[off:off + 10] == bytes.fromhex("1f8b08000000000000ff"), f"member {n} header {data[off:off + 10].hex()}"
    d = zlib.decompressobj(-15)
    out = d.decompress(data[off + 10:])
    assert d.eof, f"member {n} truncated"
    trailer = d.unused_data[:8]
    crc, size = struct.unpack("<II", trailer)
    assert crc == zlib.crc32(out) and size == len(out), f"member {n} trailer"
    assert len(out) == 1 << 20 or len(d.unused_data) == 8, f"member {n} holds {len(out)} bytes"
    off = len(data) - len(d.unused_data) + 8
    tar += out
    n += 1
print(n, "sha256:" + hashlib.sha256(tar).hexdigest())
PY
read -r nmem diff_deps <"$T/members"
[ "$nmem" -ge 3 ] || fail "deps layer has $nmem gzip members, expected one per MiB (>= 3)"
cfg=$(jq -r '.[0].Config' "$T/x/manifest.json")
assert_eq "$diff_deps" "$(jq -r '.rootfs.diff_ids[3]' "$T/x/$cfg")" "diff_id of the deps layer"
tar -tvzf "$T/x/$deps" --numeric-owner --full-time >"$T/deps.lst"
tar -tvzf "$T/x/$app" --numeric-owner --full-time >"$T/app.lst"
cat "$T/deps.lst" "$T/app.lst" >&2
assert_not_contains "$T/deps.lst" '^h'          # no hardlink entries
assert_contains "$T/deps.lst" '^-rw-r--r-- 0/0 +3000000 1980-01-01 00:00:00 var/task/lib/blob-hardlink.bin$'
assert_contains "$T/deps.lst" '^lrwxrwxrwx 0/0 .* var/task/lib/link -> blob.bin$'
assert_contains "$T/app.lst" '^-rwxr-xr-x 0/0 .* var/task/run.sh$'
assert_contains "$T/app.lst" '^-rw-r--r-- 0/0 .* var/task/pkg/__init__.py$'
assert_not_contains "$T/app.lst" 'debug.log'    # excluded
# every parent directory present, before its children, and names sorted
for lst in "$T/deps.lst" "$T/app.lst"; do
	awk '{ for (i = 6; i <= NF; i++) if ($i ~ /^var\//) { print $i; break } }' "$lst" | sed 's|/$||' >"$T/names"
	sort -c "$T/names" 2>/dev/null || LC_ALL=C sort -c "$T/names" || fail "entries not sorted in $lst"
	while read -r n; do
		p=$(dirname "$n")
		[ "$p" = . ] && continue
		grep -qx "$p" "$T/names" || fail "parent '$p' of '$n' missing in $lst"
	done <"$T/names"
	assert_contains "$(head -1 "$T/names")" '^var$'
done
bad=$(grep -hv ' 1980-01-01 00:00:00 ' "$T/deps.lst" "$T/app.lst" || true)
[ -z "$bad" ] || fail "an entry has another mtime: $(head -1 <<<"$bad")"
echo "ok: $d1"
