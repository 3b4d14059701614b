# Base layers are verified, not trusted: a config whose diff_id does not belong to the
# layer, a layer blob of random bytes (with the right sha256), a plain tar under a gzip
# media type. build refuses each (exit 3, naming the layer), inspect flags each (exit 7),
# and a good base is checked once (a marker in the cache), not on every build.
. "$(dirname "$0")/lib.sh"
FIX=$(fixture_base)
command -v python3 >/dev/null || skip "python3 is missing"

# tamper FIX OUT MODE: a copy of the fixture archive with its last layer changed
tamper() {
	python3 - "$1" "$2" "$3" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
src, out, mode = sys.argv[1:]
blobs = {}
with tarfile.open(src) as t:
    for m in t.getmembers():
        if m.isfile():
            blobs[m.name] = t.extractfile(m).read()
index = json.loads(blobs["index.json"])
def blob(d):
    return blobs["blobs/sha256/" + d.split(":")[1]]
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs["blobs/sha256/" + d.split(":")[1]] = data
    return d
man = json.loads(blob(index["manifests"][0]["digest"]))
cfg = json.loads(blob(man["config"]["digest"]))
last = man["layers"][-1]
if mode == "diffid":
    cfg["rootfs"]["diff_ids"][-1] = "sha256:" + "0" * 64
elif mode == "random":
    data = os.urandom(4096)
    last["digest"], last["size"] = put(data), len(data)
elif mode == "plain":
    data = gzip.decompress(blob(last["digest"]))  # a plain tar, still called gzip
    last["digest"], last["size"] = put(data), len(data)
c = json.dumps(cfg).encode()
man["config"]["digest"], man["config"]["size"] = put(c), len(c)
m = json.dumps(man).encode()
index["manifests"][0]["digest"], index["manifests"][0]["size"] = put(m), len(m)
blobs["index.json"] = json.dumps(index).encode()
with tarfile.open(out, "w") as t:
    for name in sorted(blobs):
        ti = tarfile.TarInfo(name)
        ti.size = len(blobs[name])
        t.addfile(ti, io.BytesIO(blobs[name]))
PY
}

mkdir -p "$T/app"
echo 'x = 1' >"$T/app/m.py"
for mode in diffid random plain; do
	tamper "$FIX" "$T/$mode.tar" "$mode" || fail "could not make the $mode base"
	cat >"$T/$mode.json" <<JSON
{ "base": "oci-archive:$T/$mode.tar", "layers": [ { "name": "app", "from": "app" } ], "precompile": false }
JSON
	rc=0
	run_lamina -q build "$T/$mode.json" -o "$T/$mode-out.tar" || rc=$?
	assert_eq "$rc" 3 "build on a base with a bad layer ($mode): exit status"
	assert_eq "$(grep -c . "$T/err")" 1 "lines of the error ($mode)"
	assert_contains "$T/err" "^lamina: build: base .oci-archive:.*.: layer 3 \\(sha256:"
	case $mode in
	diffid) assert_contains "$T/err" "config's diff_id is sha256:0000" ;;
	random) assert_contains "$T/err" "not gzip data|gzip" ;;
	plain) assert_contains "$T/err" "not gzip data" ;;
	esac
	assert_no_file "$T/$mode-out.tar"
	rc=0
	run_lamina inspect "$T/$mode.tar" || rc=$?
	assert_eq "$rc" 7 "inspect of the $mode base: exit status"
	assert_contains "$T/out" "\\(BAD\\)"
done

# a good base: checked on first use, remembered, and the build is the same
run_lamina build "$T/diffid.json" --base "oci-archive:$FIX" -o "$T/good.tar" || fail "build on the good base: $(cat "$T/err")"
n=$(find "$XDG_CACHE_HOME/lamina/verified" -type f | wc -l)
[ "$n" -ge 3 ] || fail "expected a marker per base layer, found $n"
run_lamina inspect "$T/good.tar" || fail "inspect of a good build: $(cat "$T/err")"
run_lamina inspect --json "oci-archive:$T/good.tar" || fail "inspect --json oci-archive:"
assert_eq "$(jq -r '[.layers[].verified] | all' "$T/out")" true "every layer verified"
assert_eq "$(jq -r '.layers[-1].createdBy' "$T/out")" "lamina: layer 'app' -> /var/task" "layer history"
echo ok
