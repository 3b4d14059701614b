#!/usr/bin/env bash
# Prune presets on real Python packages (Debian's python3-* .debs: boto3, numpy, pydantic,
# cryptography, sqlalchemy ...): after python-safe and python-aggressive every package still
# imports and does real work in the fixture base's own interpreter (chroot), and
# importlib.metadata.version() answers for each distribution. The traps: boto3/docs and
# botocore/docs are kept (imported), dist-info stays. Stripping is shown on a C library
# built here with -g: bytes saved, and it still loads (ctypes).
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root for chroot"
command -v umoci >/dev/null || skip "umoci not installed"
chroot=$(command -v chroot) || skip "no chroot"
base=$(fixture_base) || skip "fixture base could not be built"
wl=$("$REPO/scripts/workload-python.sh") || skip "python workload could not be assembled (apt)"

# The base image's root file system (whiteouts honoured by umoci).
mkdir -p "$T/oci"
tar -xf "$base" -C "$T/oci"
umoci unpack --image "$T/oci:3.12" "$T/bundle" >/dev/null 2>&1 || fail "umoci unpack of the fixture base failed"
root="$T/bundle/rootfs"

# A C library with debug info, in its own layer.
mkdir -p "$T/ext"
printf 'static int sq(int x) { return x * x; }\nint demo_add(int a, int b) { return sq(a) + b; }\n' >"$T/demo.c"
cc -g -O0 -shared -fPIC -o "$T/ext/libdemo.so" "$T/demo.c" || skip "no C compiler"
before_so=$(stat -c %s "$T/ext/libdemo.so")

cat >"$T/check.py" <<'PY'
import importlib.metadata as md, sys
sys.path.insert(0, "/var/task")
import boto3, botocore
c = boto3.client("s3", region_name="us-east-1")
assert c.meta.region_name == "us-east-1"
import boto3.docs, botocore.docs
import s3transfer
import numpy as np
a = np.arange(12.0).reshape(3, 4)
assert float((a @ a.T).trace()) == 506.0, (a @ a.T).trace()
assert abs(np.linalg.inv(np.array([[2.0, 0], [0, 4.0]]))[1, 1] - 0.25) < 1e-12
import numpy.testing
import pydantic
class M(pydantic.BaseModel):
    x: int
    y: str = "d"
assert M(x="3").x == 3
import jinja2
assert jinja2.Template("{{ a|upper }}").render(a="x") == "X"
import markupsafe
assert str(markupsafe.escape("<")) == "&lt;"
import yaml
assert yaml.safe_load("a: [1, 2]") == {"a": [1, 2]}
import requests, urllib3, charset_normalizer
requests.Request("GET", "http://example.com", params={"q": 1}).prepare()
assert charset_normalizer.from_bytes("héllo wörld".encode("utf-8")).best().encoding
import httpx, httpcore, anyio
httpx.Client().close()
assert anyio.run(lambda: anyio.sleep(0)) is None
from cryptography.hazmat.primitives import hashes
h = hashes.Hash(hashes.SHA256()); h.update(b"x")
assert h.finalize().hex().startswith("2d711642")
import aiohttp
assert aiohttp.ClientTimeout(total=1).total == 1
import sqlalchemy
e = sqlalchemy.create_engine("sqlite://")
with e.connect() as conn:
    assert conn.execute(sqlalchemy.text("select 6*7")).scalar() == 42
import ctypes, os
if os.path.exists("/var/task/ext/libdemo.so"):
    assert ctypes.CDLL("/var/task/ext/libdemo.so").demo_add(3, 4) == 13
for d in ["boto3", "botocore", "s3transfer", "numpy", "pydantic", "httpx", "httpcore", "anyio", "Jinja2",
          "MarkupSafe", "PyYAML", "requests", "urllib3", "charset-normalizer", "cryptography", "aiohttp",
          "SQLAlchemy"]:
    assert md.version(d), d
print("ok")
PY

run_in_root() { # TASKDIR: run check.py with TASKDIR as /var/task
	rm -rf "$root/var/task"
	cp -a "$1" "$root/var/task"
	cp "$T/check.py" "$root/tmp/check.py"
	env -i PATH=/var/lang/bin:/usr/bin:/bin LD_LIBRARY_PATH=/var/lang/lib:/var/task/lib PYTHONDONTWRITEBYTECODE=1 \
		LANG=C.UTF-8 "$chroot" "$root" /var/lang/bin/python3 /tmp/check.py
}

# Unpruned first: a failure here is the fixture's, not prune's.
mkdir -p "$T/plain/ext"
cp -a "$wl/." "$T/plain/"
out=$(run_in_root "$T/plain" 2>&1) || fail "unpruned workload does not work in the base: $out"

for preset in python-safe python-aggressive; do
	cat >"$T/$preset.json" <<JSON
{"base": "oci-archive:$base",
 "layers": [{"name": "deps", "from": "$wl", "to": "/var/task"},
            {"name": "ext", "from": "$T/ext", "to": "/var/task/ext"}],
 "prune": {"presets": ["$preset"]}}
JSON
	rm -rf "$T/mat"
	run_lamina prune --dry-run "$T/$preset.json" --materialize "$T/mat" || { cat "$T/err"; fail "$preset: prune failed"; }
	cp "$T/out" "$T/$preset.txt"
	assert_contains "$T/$preset.txt" 'boto3/docs/ \(imported\)'
	assert_contains "$T/$preset.txt" 'botocore/docs/ \(imported\)'
	assert_file "$T/mat/var/task/boto3/docs/__init__.py" "$T/mat/var/task/botocore/docs/__init__.py"
	assert_no_file "$T/mat/var/task/numpy/core/tests"
	ls -d "$T"/mat/var/task/*.egg-info "$T"/mat/var/task/*.dist-info >/dev/null 2>&1 || fail "$preset: metadata removed"
	after_so=$(stat -c %s "$T/mat/var/task/ext/libdemo.so")
	[ "$after_so" -lt "$before_so" ] || fail "$preset: libdemo.so not stripped ($before_so -> $after_so)"
	readelf -lW "$T/ext/libdemo.so" | grep -E '^ +(LOAD|DYNAMIC)' >"$T/ph.before"
	readelf -lW "$T/mat/var/task/ext/libdemo.so" | grep -E '^ +(LOAD|DYNAMIC)' >"$T/ph.after"
	cmp -s "$T/ph.before" "$T/ph.after" || fail "$preset: program headers changed by stripping"
	out=$(run_in_root "$T/mat/var/task" 2>&1) || fail "$preset broke a package: $out"
	assert_eq "$out" ok "$preset check"
	run_lamina prune --dry-run "$T/$preset.json" --json || fail "$preset: --json failed"
	jq -e '.layers[0].saved.bytes > 0 and .layers[1].strip.bytes_saved > 0' "$T/out" >/dev/null ||
		fail "$preset: JSON report lacks savings"
	echo "$preset: $(head -1 "$T/$preset.txt")"
	echo "$preset: $(grep 'layer .ext' "$T/$preset.txt") $(grep 'strip debug' "$T/$preset.txt" | tail -1)"
done
