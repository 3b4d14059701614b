#!/usr/bin/env bash
# Prune presets on real Python packages (Debian's python3-* .debs: boto3, numpy, pydantic,
# cryptography, sqlalchemy ...), proven twice per preset:
#  1. `lamina prune --dry-run --materialize`: the pruned tree runs at /var/task in the
#     fixture base's own interpreter (chroot): every package imports and does real work
#     (tests/fixtures/prune-python/prunecheck.py: every botocore service model loads, real
#     requests are serialized and their answers parsed per protocol, docstrings generate,
#     numpy, pydantic, jinja2, SQLAlchemy ..., importlib.metadata for each distribution);
#     every kept file is byte for byte the original or a rewrite that loads the same
#     (compare.py: JSON objects equal, METADATA headers equal).
#  2. `lamina build` with the preset and "verify" on the fixture base: the build prints
#     the same prune report as the dry run, its verify step imports the packages, and
#     `lamina verify OUT.tar --event` runs prunecheck as the image's handler.
# The traps: boto3/docs and botocore/docs are kept (imported), numpy.testing stays,
# .dist-info stays. Stripping is shown on a C library built here with -g: bytes saved, the
# program headers identical, and it still loads (ctypes).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
command -v umoci >/dev/null || skip "umoci not installed"
chroot=$(command -v chroot) || skip "no chroot"
fixture=$(fixture_base) || skip "fixture base could not be built"
# The presets' rules are tested here on the workload's own boto3, botocore ... The fixture
# base ships the same ones, as the real image does, and dedupe-base would drop them
# (tests/e2e/dedupe_base.sh): so here the base's site-packages is emptied by an opaque
# whiteout in one more layer, as a base without the SDK.
python3 "$REPO/tests/tools/add-layer.py" "$fixture" "$T/base-nosdk.tar" \
	"var/lang/lib/python3.11/site-packages/.wh..wh..opq=/dev/null:0644" || fail "add-layer.py"
base="$T/base-nosdk.tar"
wl=$("$REPO/scripts/workload-python.sh") || skip "python workload could not be assembled (apt)"
fx="$REPO/tests/fixtures/prune-python"

# The base image's root file system (whiteouts honoured by umoci).
mkdir -p "$T/oci"
tar -xf "$base" -C "$T/oci"
umoci unpack --image "$T/oci:3.12" "$T/bundle" >/dev/null 2>&1 || fail "umoci unpack of the fixture base failed"
root="$T/bundle/rootfs"
cp "$fx/prunecheck.py" "$fx/compare.py" "$root/tmp/"
cp -a "$wl" "$root/tmp/orig"

# A C library with debug info, in its own layer.
mkdir -p "$T/ext"
printf 'static int sq(int x) { return x * x; }\nint demo_add(int a, int b) { return sq(a) + b; }\n' >"$T/demo.c"
cc -g -O0 -shared -fPIC -o "$T/ext/libdemo.so" "$T/demo.c" || skip "no C compiler"
before_so=$(stat -c %s "$T/ext/libdemo.so")

in_root() { # CMD...: run with the fixture's interpreter, /var/task as Lambda has it
	env -i PATH=/var/lang/bin:/usr/bin:/bin LD_LIBRARY_PATH=/var/lang/lib:/var/task/lib PYTHONDONTWRITEBYTECODE=1 \
		LANG=C.UTF-8 "$chroot" "$root" "$@"
}
run_in_root() { # TASKDIR: run prunecheck with TASKDIR as /var/task
	rm -rf "$root/var/task"
	cp -a "$1" "$root/var/task"
	in_root /var/lang/bin/python3 /tmp/prunecheck.py
}

# Unpruned first: a failure here is the fixture's, not prune's.
mkdir -p "$T/plain/ext"
cp -a "$wl/." "$T/plain/"
out=$(run_in_root "$T/plain" 2>&1) || fail "unpruned workload does not work in the base: $out"
assert_eq "$(tail -1 <<<"$out")" ok "unpruned check"
wl_bytes=$(find "$wl" -type f -printf "%s\n" | awk "{s+=\$1} END {print s}")

mkdir -p "$T/app"
echo '{}' >"$T/event.json"
for preset in python-safe python-aggressive; do
	# --- 1. the dry run's materialized tree ---
	cat >"$T/$preset.json" <<JSON
{"base": "oci-archive:$base",
 "layers": [{"name": "deps", "from": "$wl", "to": "/var/task"},
            {"name": "ext", "from": "$T/ext", "to": "/var/task/ext"}],
 "prune": {"presets": ["$preset"]}}
JSON
	rm -rf "$T/mat"
	run_lamina prune --dry-run "$T/$preset.json" --materialize "$T/mat" || { cat "$T/err"; fail "$preset: prune failed"; }
	cp "$T/out" "$T/$preset.txt"
	assert_not_contains "$T/$preset.txt" 'dedupe-base'
	assert_contains "$T/$preset.txt" 'boto3/docs/ \(imported\)'
	assert_contains "$T/$preset.txt" 'botocore/docs/ \(imported\)'
	assert_contains "$T/$preset.txt" 'botocore/data/\*\*/\*.json \(JSON minified\)'
	m="$T/mat/var/task"
	assert_file "$m/boto3/docs/__init__.py" "$m/botocore/docs/__init__.py" "$m/numpy/testing/__init__.py"
	assert_no_file "$m/numpy/core/tests"
	assert_no_file "$m/numpy/core/lib/libnpymath.a"
	ls -d "$m"/*.egg-info "$m"/*.dist-info >/dev/null 2>&1 || fail "$preset: metadata removed"
	s3="$m/botocore/data/s3/2006-03-01/service-2.json"
	[ "$(head -c 12 "$s3")" = '{"version":"' ] || fail "$preset: S3 model not minified: $(head -c 40 "$s3")"
	if [ $preset = python-safe ]; then
		grep -q '"documentation":"<p>' "$s3" || fail "python-safe dropped model documentation"
	else
		grep -q '"documentation":"<p>' "$s3" && fail "python-aggressive kept model documentation"
		assert_file "$m/botocore/data/s3/2006-03-01/paginators-1.json"
		assert_no_file "$m/botocore/data/s3/2006-03-01/examples-1.json"
		assert_no_file "$m/numpy/core/include"
	fi
	after_so=$(stat -c %s "$m/ext/libdemo.so")
	[ "$after_so" -lt "$before_so" ] || fail "$preset: libdemo.so not stripped ($before_so -> $after_so)"
	readelf -lW "$T/ext/libdemo.so" | grep -E '^ +(LOAD|DYNAMIC)' >"$T/ph.before"
	readelf -lW "$m/ext/libdemo.so" | grep -E '^ +(LOAD|DYNAMIC)' >"$T/ph.after"
	cmp -s "$T/ph.before" "$T/ph.after" || fail "$preset: program headers changed by stripping"
	out=$(run_in_root "$m" 2>&1) || fail "$preset broke a package: $out"
	assert_eq "$(tail -1 <<<"$out")" ok "$preset check"
	out=$(in_root /var/lang/bin/python3 /tmp/compare.py /tmp/orig /var/task $preset 2>&1) ||
		fail "$preset: a kept file changed in a way no rewrite rule explains: $out"
	echo "$preset: files: $out"
	run_lamina prune --dry-run "$T/$preset.json" --json || fail "$preset: --json failed"
	jq -e '.layers[0].saved.bytes > 0 and .layers[1].strip.bytesSaved > 0 and
		([.layers[0].rules[] | select(.action == "rewrite" and .files > 0)] | length) > 0' "$T/out" >/dev/null ||
		fail "$preset: JSON report lacks savings"
	echo "$preset: $(head -1 "$T/$preset.txt")"
	echo "$preset: $(grep 'layer .ext' "$T/$preset.txt") $(grep 'strip debug' "$T/$preset.txt" | tail -1)"

	# --- 2. the real build path: lamina build + verify, then the image's handler ---
	cp "$fx/prunecheck.py" "$T/app/prunecheck.py"
	cat >"$T/b-$preset.json" <<JSON
{"base": "oci-archive:$base",
 "layers": [{"name": "deps", "from": "$wl", "to": "/var/task"},
            {"name": "app", "from": "$T/app", "to": "/var/task"}],
 "prune": {"presets": ["$preset"]},
 "config": {"cmd": ["prunecheck.handler"]},
 "verify": {"imports": ["boto3", "botocore.docs", "numpy", "numpy.testing", "pydantic", "jinja2", "yaml",
                        "requests", "httpx", "cryptography", "aiohttp", "sqlalchemy"], "handler": true}}
JSON
	run_lamina build "$T/b-$preset.json" -o "$T/$preset.tar" || { cat "$T/err"; fail "$preset: build failed"; }
	# the build prunes exactly what the dry run reported for the layer
	assert_contains "$T/err" "$(head -1 "$T/$preset.txt" | sed 's/[][().*+?^$|\\]/\\&/g')"
	assert_contains "$T/err" 'boto3/docs/ \(imported\)'
	run_lamina verify "$T/$preset.tar" --event "$T/event.json" || { cat "$T/err"; fail "$preset: verify of the image failed"; }
	assert_eq "$(cat "$T/out")" '"ok"' "$preset: handler result in the built image"
	rm -rf "$T/img"
	image_root "$T/$preset.tar" "$T/img"
	assert_file "$T/img/var/task/boto3/docs/__init__.py" "$T/img/var/task/prunecheck.py"
	assert_no_file "$T/img/var/task/numpy/core/tests"
	[ "$(head -c 12 "$T/img/var/task/botocore/data/s3/2006-03-01/service-2.json")" = '{"version":"' ] ||
		fail "$preset: the image's S3 model is not the rewritten one"
	echo "$preset: image /var/task: $(find "$T/img/var/task" -type f ! -path "*/__pycache__/*" -printf "%s\n" | awk "{s+=\$1} END {print s}") bytes in files, without __pycache__ (workload $wl_bytes)"
	rm -rf "$T/img" "$T/$preset.tar"
done
