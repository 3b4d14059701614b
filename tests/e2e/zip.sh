#!/usr/bin/env bash
# lamina zip on real parts: images/python-hello and the Python workload (Debian's
# python3-* packages) on the fixture base. The zips are checked with zipinfo, unzip and
# Python's zipfile (sorted entries, 0644/0755 modes, symlinks, no extra fields, one DOS
# time), hold what the image's app layer holds, are byte-identical when built from
# copies at other paths with other file times, and once unzipped into the fixture's
# root filesystem the fixture's own interpreter uses their .pyc (python -v: "matches",
# never "bytecode is stale"). A layer zip unpacks as python/... under /opt. The size
# report gives verdicts against Lambda's limits (a zip over 50 MB; one over 250 MiB
# unzipped is refused), and bad input fails with one line, exit 3 and no output file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
for t in zipinfo unzip python3 openssl; do command -v $t >/dev/null || skip "$t is missing"; done
base=$(fixture_base) || skip "fixture base could not be built"

# The fixture base's root filesystem, with /var/task and /opt emptied for each zip.
root="$T/root"
image_root "$base" "$root"
[ -x "$root/var/lang/bin/python3" ] || fail "no interpreter in the fixture's root filesystem"
fresh_root() {
	rm -rf "$root/var/task" "$root/opt"
	mkdir -p "$root/var/task" "$root/opt"
}

# zip_format ZIP: what Lambda needs and reproducibility asks for, entry by entry.
zip_format() {
	local z=$1
	python3 -m zipfile -t "$z" >/dev/null || fail "$z: python's zipfile finds errors"
	unzip -tq "$z" >/dev/null || fail "$z: unzip -t finds errors"
	zipinfo "$z" | sed '1,2d;$d' >"$T/zi"
	[ -s "$T/zi" ] || fail "$z: no entries"
	# modes: 0644 files, 0755 dirs and executables, symlinks; 'b-'/'t-': no extra field, no data descriptor
	awk '$1 !~ /^(-rw-r--r--|-rwxr-xr-x|drwxr-xr-x|lrwxrwxrwx)$/ || $3 != "unx" || $5 !~ /^[tb]-$/ {
		print "bad entry: " $0; bad = 1 } END { exit bad }' "$T/zi" || fail "$z: entries with other modes or extra fields"
	zipinfo -v "$z" | sed -n 's/^ *length of extra field: *//p' | sort -u >"$T/zx"
	assert_eq "$(cat "$T/zx")" "0 bytes" "$z: extra field lengths"
	zipinfo -1 "$z" | sed 's,/$,,' | LC_ALL=C sort -c || fail "$z: entries are not in bytewise path order"
	# every parent directory is an entry
	zipinfo -1 "$z" >"$T/names"
	grep '/.' "$T/names" | sed 's|/[^/]*/\{0,1\}$|/|' | sort -u | while read -r d; do
		grep -qxF "$d" "$T/names" || fail "$z: directory $d has no entry"
	done
}

# pyc_used ROOT MODULE... : python -v in the fixture shows every app module's .pyc
# "matches" its source, nothing recompiled.
pyc_used() {
	local r=$1 code="import sys" m
	shift
	for m in "$@"; do code="$code; import $m"; done
	in_image "$r" /usr/bin/env PYTHONPATH=/var/task:/opt/python LD_LIBRARY_PATH=/var/task/lib:/opt/lib /var/lang/bin/python3 -v -c "$code" \
		>"$T/py.out" 2>"$T/py.v" || { grep -v '^#' "$T/py.v" | tail -20; fail "import $* failed in the fixture"; }
	assert_not_contains "$T/py.v" 'bytecode is stale'
	assert_not_contains "$T/py.v" 'code object from /(var/task|opt)/.*\.py$'
}

# 1. images/python-hello: a function zip, the same files as the image's app layer
cp -r "$REPO/images/python-hello" "$T/hello"
printf 'noise\n' >"$T/hello/src/debug.log" # excluded by the manifest
run_lamina zip "$T/hello/lamina.json" --base "oci-archive:$base" -o "$T/hello.zip" || { cat "$T/err"; fail "zip python-hello"; }
assert_eq "$(cat "$T/out")" "sha256:$(sha256sum "$T/hello.zip" | cut -d' ' -f1)" "digest printed on stdout"
zip_format "$T/hello.zip"
zipinfo -1 "$T/hello.zip" >"$T/hello.names"
assert_contains "$T/hello.names" '^app\.py$'
assert_contains "$T/hello.names" '^__pycache__/app\.cpython-3[0-9]+\.pyc$'
assert_not_contains "$T/hello.names" 'debug\.log'
assert_contains "$T/err" 'function zip +zipped +unzipped'
assert_contains "$T/err" 'zip direct upload .* OK, .* to spare'
assert_contains "$T/err" 'zip unzipped .* OK'
assert_contains "$T/err" 'image uncompressed .* OK'
assert_eq "$(zipinfo -T "$T/hello.zip" | sed '1,2d;$d' | awk '{print $7}' | sort -u)" "19800101.000000" "DOS time of every entry"
run_lamina build "$T/hello/lamina.json" --base "oci-archive:$base" -o "$T/hello.tar" || { cat "$T/err"; fail "build python-hello"; }
layer_list "$T/hello.tar" | sed -n 's,^var/task/,,p' | grep . | LC_ALL=C sort >"$T/layer.names"
assert_eq "$(LC_ALL=C sort "$T/hello.names" | tr '\n' ' ')" "$(tr '\n' ' ' <"$T/layer.names")" "zip entries vs the image's app layer"
fresh_root
unzip -q "$T/hello.zip" -d "$root/var/task"
pyc_used "$root" app
assert_contains "$T/py.v" 'matches /var/task/app\.py'
echo "ok: python-hello"

# SOURCE_DATE_EPOCH is the zip's one time (UTC)
SOURCE_DATE_EPOCH=1700000001 TZ=Asia/Tokyo "$LAMINA" -q zip "$T/hello/lamina.json" --base "oci-archive:$base" \
	-o "$T/hello-sde.zip" >/dev/null || fail "zip with SOURCE_DATE_EPOCH"
assert_eq "$(zipinfo -T "$T/hello-sde.zip" | sed '1,2d;$d' | awk '{print $7}' | sort -u)" "20231114.221320" "DOS time from SOURCE_DATE_EPOCH"

# --json: exact bytes, the zip's sha256 and Lambda's CodeSha256
run_lamina zip "$T/hello/lamina.json" --base "oci-archive:$base" -o "$T/hello2.zip" --json || fail "zip --json"
cmp -s "$T/hello.zip" "$T/hello2.zip" || fail "two zips of the same manifest differ"
j=$(cat "$T/out")
assert_eq "$(jq -r .zip.sha256 <<<"$j")" "$(sha256sum "$T/hello.zip" | cut -d' ' -f1)" "zip.sha256"
assert_eq "$(jq -r .zip.codeSha256 <<<"$j")" "$(openssl dgst -sha256 -binary "$T/hello.zip" | base64)" "zip.codeSha256"
assert_eq "$(jq -r .zip.size <<<"$j")" "$(stat -c %s "$T/hello.zip")" "zip.size"
assert_eq "$(jq -r .zip.kind <<<"$j")" function
assert_eq "$(jq -r '.image.layers | length' <<<"$j")" 4 "image layers: 3 base + app"
assert_eq "$(jq -r '[.limits[].ok] | all' <<<"$j")" true "limits"
assert_eq "$(jq -r .ok <<<"$j")" true "ok"

# 2. the Python workload: reproducible from copies, the .pyc in the zip are used
wl=$("$REPO/scripts/workload-python.sh") || skip "python workload could not be assembled (apt)"
mkwl() { # DIR MTIME
	mkdir -p "$1/app/lib"
	cp -a "$wl/." "$1/deps/"
	make_app "$1/app"
	printf 'import boto3, yaml, jinja2\n' >>"$1/app/app.py"
	printf '#!/bin/sh\necho hi\n' >"$1/app/run.sh"
	chmod 0700 "$1/app/run.sh"
	printf 'x' >"$1/app/lib/libdemo.so.1"
	ln -s libdemo.so.1 "$1/app/lib/libdemo.so"
	cat >"$1/lamina.json" <<JSON
{"base": "oci-archive:$base",
 "layers": [{"name": "deps", "from": "deps"}, {"name": "app", "from": "app"}],
 "prune": {"presets": ["python-safe"]},
 "verify": {"imports": ["boto3", "yaml", "numpy"]},
 "config": {"cmd": ["app.handler"]}}
JSON
	find "$1" -exec touch -h -d "$2" {} +
}
mkwl "$T/a" "2001-02-03 04:05:06"
mkwl "$T/b/deeper/path" "2030-12-31 23:59:59"
run_lamina zip "$T/a/lamina.json" -o "$T/a.zip" || { tail -5 "$T/err"; fail "zip the workload"; }
cp "$T/err" "$T/a.err"
XDG_CACHE_HOME="$T/cache2" "$LAMINA" -q -j 1 zip "$T/b/deeper/path/lamina.json" -o "$T/b.zip" >/dev/null ||
	fail "zip the workload's copy"
cmp -s "$T/a.zip" "$T/b.zip" || fail "zips from copies at other paths with other mtimes (and -j 1) differ"
zip_format "$T/a.zip"
assert_contains "$T/a.err" 'removed by prune|python-safe'
zipinfo "$T/a.zip" >"$T/a.zi"
assert_contains "$T/a.zi" '^-rwxr-xr-x .* run\.sh$'
assert_contains "$T/a.zi" '^lrwxrwxrwx .* lib/libdemo\.so$'
assert_contains "$T/a.zi" ' boto3/__pycache__/__init__\.cpython-3[0-9]+\.pyc$'
assert_not_contains "$T/a.zi" ' numpy/.*/tests/'
fresh_root
unzip -q "$T/a.zip" -d "$root/var/task"
[ -L "$root/var/task/lib/libdemo.so" ] || fail "the symlink did not unzip as a symlink"
assert_eq "$(readlink "$root/var/task/lib/libdemo.so")" libdemo.so.1 "symlink target"
pyc_used "$root" app boto3 yaml jinja2 numpy botocore.session
for m in boto3/__init__ yaml/__init__ jinja2/environment botocore/session numpy/core/multiarray; do
	assert_contains "$T/py.v" "matches /var/task/$m\.py"
done
echo "ok: workload $(stat -c %s "$T/a.zip") bytes, reproducible, .pyc used"

# 3. a layer zip (python/... under /opt) and the function zip that uses it
mkdir -p "$T/lz/lib/mylib" "$T/lz/app"
printf 'def answer():\n    return 42\n' >"$T/lz/lib/mylib/__init__.py"
printf 'import mylib\n\ndef handler(e, c):\n    return mylib.answer()\n' >"$T/lz/app/fn.py"
cat >"$T/lz/lamina.json" <<JSON
{"base": "oci-archive:$base",
 "layers": [{"name": "lib", "from": "lib", "to": "/opt/python"}, {"name": "app", "from": "app"}],
 "config": {"cmd": ["fn.handler"]},
 "zip": {"kind": "layer", "layers": ["lib"]}}
JSON
run_lamina zip "$T/lz/lamina.json" -o "$T/lib.zip" || { cat "$T/err"; fail "layer zip"; }
zip_format "$T/lib.zip"
zipinfo -1 "$T/lib.zip" >"$T/lib.names"
assert_eq "$(head -1 "$T/lib.names")" "python/" "first entry of the layer zip"
assert_contains "$T/lib.names" '^python/mylib/__init__\.py$'
assert_contains "$T/lib.names" '^python/mylib/__pycache__/__init__\.cpython-3[0-9]+\.pyc$'
assert_not_contains "$T/lib.names" '^(opt|fn\.py)'
assert_contains "$T/err" 'layer zip +zipped'
run_lamina zip "$T/lz/lamina.json" --kind function --layer app -o "$T/fn.zip" || { cat "$T/err"; fail "function zip of the app layer"; }
assert_eq "$(zipinfo -1 "$T/fn.zip" | sort | tr '\n' ' ')" "__pycache__/ __pycache__/fn.cpython-311.pyc fn.py " "function zip entries"
fresh_root
unzip -q "$T/lib.zip" -d "$root/opt"
unzip -q "$T/fn.zip" -d "$root/var/task"
pyc_used "$root" fn mylib
assert_contains "$T/py.v" 'matches /opt/python/mylib/__init__\.py'
assert_contains "$T/py.v" 'matches /var/task/fn\.py'
in_image "$root" /usr/bin/env PYTHONPATH=/var/task:/opt/python /var/lang/bin/python3 -c 'import fn; print(fn.handler({}, None))' >"$T/fn.out"
assert_eq "$(cat "$T/fn.out")" 42 "handler result through the layer"
echo "ok: layer zip"

# 4. limits: over 50 MB zipped is reported (and written); over 250 MiB unzipped is refused
mkdir -p "$T/big/app"
printf 'def handler(e, c):\n    return 1\n' >"$T/big/app/app.py"
head -c $((60 * 1024 * 1024)) /dev/urandom >"$T/big/app/model.bin"
printf '{"base": "oci-archive:%s", "layers": [{"name": "app", "from": "app"}]}\n' "$base" >"$T/big/lamina.json"
run_lamina zip "$T/big/lamina.json" -o "$T/big.zip" || { cat "$T/err"; fail "zip over 50 MB"; }
assert_file "$T/big.zip"
assert_contains "$T/err" 'zip direct upload .* over by [0-9.]+ MiB: upload it through S3'
assert_contains "$T/err" 'zip unzipped .* OK'
run_lamina zip "$T/big/lamina.json" --json || fail "zip --json without -o"
j=$(cat "$T/out")
assert_eq "$(jq -r '.limits[] | select(.name == "zip direct upload") | .ok' <<<"$j")" false "direct upload verdict"
assert_eq "$(jq -r '.limits[] | select(.name == "zip direct upload") | .over == .value - 52428800' <<<"$j")" true "over by"
assert_eq "$(jq -r '.zip.size' <<<"$j")" "$(stat -c %s "$T/big.zip")" "measured size = written size"
assert_eq "$(jq -r '.zip.path' <<<"$j")" null "no zip written without -o"
assert_eq "$(jq -r .ok <<<"$j")" false "ok"
truncate -s $((251 * 1024 * 1024)) "$T/big/app/model.bin"
rc=0; run_lamina -q zip "$T/big/lamina.json" -o "$T/huge.zip" || rc=$?
assert_eq "$rc" 3 "exit status over 250 MiB unzipped"
assert_eq "$(wc -l <"$T/err")" 1 "one line of error"
assert_contains "$T/err" "^lamina: zip: the function zip would hold 251\.0 MiB \(263192[0-9]+ bytes\) unzipped; Lambda's limit .*\(262144000 bytes\)$"
assert_no_file "$T/huge.zip"
echo "ok: limits"

# 5. bad input: one line, exit 3 (2 for the command line), no output file, nothing half-written
rc=0; run_lamina -q zip "$T/lz/lamina.json" --kind function -o "$T/bad.zip" || rc=$?
assert_eq "$rc" 3 "exit status for a file outside /var/task"
assert_eq "$(wc -l <"$T/err")" 1 "one line of error"
assert_contains "$T/err" "^lamina: zip: layer 'lib': '/opt/python/mylib/__init__\.py' is outside /var/task, where Lambda unpacks a function zip$"
assert_no_file "$T/bad.zip"
[ -z "$(ls "$T" | grep 'bad\.zip')" ] || fail "a temporary file was left behind"
rc=0; run_lamina -q zip "$T/lz/lamina.json" --kind layer --layer app -o "$T/bad.zip" || rc=$?
assert_eq "$rc" 3 "exit status for a file outside /opt"
assert_contains "$T/err" "^lamina: zip: layer 'app': '/var/task/fn\.py' is outside /opt, where Lambda unpacks a layer zip$"
rc=0; run_lamina -q zip "$T/lz/lamina.json" --layer nope -o "$T/bad.zip" || rc=$?
assert_eq "$rc" 2 "exit status for an unknown --layer"
assert_contains "$T/err" "^lamina: zip: --layer 'nope'"
rc=0; run_lamina -q zip "$T/lz/lamina.json" --kind image -o "$T/bad.zip" || rc=$?
assert_eq "$rc" 2 "exit status for a bad --kind"
sed -i 's/"kind": "layer"/"kind": "layers"/' "$T/lz/lamina.json"
rc=0; run_lamina -q zip "$T/lz/lamina.json" -o "$T/bad.zip" || rc=$?
assert_eq "$rc" 3 "exit status for a bad zip.kind"
assert_contains "$T/err" 'zip\.kind: must be "function" or "layer"'
assert_no_file "$T/bad.zip"
sed -i 's/"kind": "layers"/"kind": "layer"/' "$T/lz/lamina.json"
echo "ok: bad input"

# 6. lamina build --report: the image as usual, plus the zip's figures
run_lamina build "$T/hello/lamina.json" --base "oci-archive:$base" --report || { cat "$T/err"; fail "build --report"; }
assert_eq "$(wc -l <"$T/out")" 1 "build --report prints only the digest on stdout"
assert_contains "$T/out" '^sha256:[0-9a-f]{64}$'
assert_contains "$T/err" 'function zip +zipped'
assert_contains "$T/err" 'image uncompressed .* OK'
# a layout a function zip cannot hold is a finding, not an error, for build
jq 'del(.zip)' "$T/lz/lamina.json" >"$T/lz/nozip.json"
run_lamina build "$T/lz/nozip.json" --report || { cat "$T/err"; fail "build --report of a layer under /opt"; }
assert_contains "$T/err" "function zip: not possible: layer 'lib': '/opt/python/mylib/__init__\.py' is outside /var/task"
assert_contains "$T/err" 'image uncompressed .* OK'
echo ok
