# Valid file names always work, and sources are read as what they were scanned as.
# - café.txt and a symlink to it with a non-ASCII name: build and zip, in the C locale
#   and a UTF-8 one, give the same bytes; the tar's PAX headers and the zip's names
#   carry the name's UTF-8 bytes (zip flag bit 11).
# - a name that is not UTF-8 is refused with one line naming it (exit 3).
# - an oci: layout whose blob is a FIFO is refused, not waited on forever.
. "$(dirname "$0")/lib.sh"
FIX=$(fixture_base)
mkdir -p "$T/app"
echo hi >"$T/app/café.txt"
ln -s café.txt "$T/app/lien-é"
cat >"$T/lamina.json" <<JSON
{ "base": "oci-archive:$FIX", "layers": [ { "name": "app", "from": "app" } ], "precompile": false }
JSON
d1=$(LANG=C LC_ALL=C "$LAMINA" -q build "$T/lamina.json" -o "$T/c.tar") || fail "build in the C locale"
d2=$(LC_ALL=C.UTF-8 "$LAMINA" -q build "$T/lamina.json" --no-cache -o "$T/u.tar") || fail "build in C.UTF-8"
assert_eq "$d1" "$d2" "digest in the C and a UTF-8 locale"
z1=$(LANG=C LC_ALL=C "$LAMINA" -q zip "$T/lamina.json" -o "$T/c.zip") || fail "zip in the C locale"
z2=$(LC_ALL=C.UTF-8 "$LAMINA" -q zip "$T/lamina.json" --no-cache -o "$T/u.zip") || fail "zip in C.UTF-8"
assert_eq "$z1" "$z2" "zip digest in the C and a UTF-8 locale"
python3 - "$T/c.tar" "$T/c.zip" <<'PY' || fail "names in the layer or the zip"
import json, sys, tarfile, zipfile
with tarfile.open(sys.argv[1]) as outer:
    man = json.load(outer.extractfile("manifest.json"))
    layer = tarfile.open(fileobj=outer.extractfile(man[0]["Layers"][-1]))
    names = {m.name: m for m in layer.getmembers()}
    f = names["var/task/café.txt"]
    assert f.pax_headers.get("path") == "var/task/café.txt", f.pax_headers
    l = names["var/task/lien-é"]
    assert l.issym() and l.linkname == "café.txt", (l.type, l.linkname)
z = zipfile.ZipFile(sys.argv[2])
info = {i.filename: i for i in z.infolist()}
assert info["café.txt"].flag_bits & 0x800, hex(info["café.txt"].flag_bits)
assert "lien-é" in info
print("ok")
PY

# a name that is not UTF-8
mkdir -p "$T/bad"
echo x >"$T/bad/$(printf 'latin1-\xe9.txt')"
sed "s|\"from\": \"app\"|\"from\": \"bad\"|" "$T/lamina.json" >"$T/bad.json"
rc=0
run_lamina -q build "$T/bad.json" || rc=$?
assert_eq "$rc" 3 "exit status for a name that is not UTF-8"
assert_eq "$(grep -c . "$T/err")" 1 "lines of the error"
assert_contains "$T/err" "latin1-\\\\xe9\\.txt.: the name is not valid UTF-8"

# an oci: layout whose blob is a FIFO
mkdir -p "$T/layout"
tar -xf "$FIX" -C "$T/layout"
blob=$(jq -r '.manifests[0].digest' "$T/layout/index.json")
mdata=$(cat "$T/layout/blobs/sha256/${blob#sha256:}")
layer=$(jq -r '.layers[-1].digest' <<<"$mdata")
rm "$T/layout/blobs/sha256/${layer#sha256:}"
mkfifo "$T/layout/blobs/sha256/${layer#sha256:}"
rc=0
XDG_CACHE_HOME=$T/fresh timeout 60 "$LAMINA" -q inspect "oci:$T/layout" >"$T/out" 2>"$T/err" || rc=$?
[ $rc -ne 124 ] || fail "lamina waited on a FIFO blob"
[ $rc -ne 0 ] || fail "a FIFO blob was accepted"
assert_contains "$T/err" "not a regular file"
echo ok
