#!/usr/bin/env bash
# A syntax error in the user's code fails the build naming file and line (exit 3); the
# same error in a file a prune rule removes, or in third-party code (site-packages),
# does not fail it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"

make_app "$T/app"
printf 'x = 1\n\ndef broken(:\n    pass\n' >"$T/app/bad.py"
cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": {"python": {}}}
JSON
rc=0; run_lamina build "$T/lamina.json" -o "$T/out.tar" || rc=$?
assert_eq "$rc" 3 "exit status for a compile error"
assert_contains "$T/err" "app/bad\.py:3: SyntaxError"
assert_contains "$T/err" "/var/task/bad\.py"
assert_no_file "$T/out.tar"

# Removed by a prune rule: not compiled, build passes.
mkdir -p "$T/app/tests"
mv "$T/app/bad.py" "$T/app/tests/test_bad.py"
cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app", "prune": {"remove": ["tests/"]}}],
 "config": {"cmd": ["app.handler"]}, "precompile": {"python": {}}}
JSON
prune=1
if ! run_lamina build "$T/lamina.json" -o "$T/out.tar"; then
	grep -q 'prune rules are not implemented' "$T/err" || { cat "$T/err"; fail "build with the bad file pruned failed"; }
	echo "note: prune is not implemented yet; the pruned-file part is not checked"
	prune=0
	rm -rf "$T/app/tests"
else
	layer_list "$T/out.tar" >"$T/list"
	assert_not_contains "$T/list" 'test_bad'
	assert_contains "$T/list" '__pycache__/app\.cpython'
fi

# Third-party code: warned about and left as source.
mkdir -p "$T/deps/python/lib/python3.11/site-packages/oldlib"
printf 'print "python 2"\n' >"$T/deps/python/lib/python3.11/site-packages/oldlib/__init__.py"
printf 'X = 1\n' >"$T/deps/python/lib/python3.11/site-packages/oldlib/ok.py"
cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "deps", "from": "deps", "to": "/opt"},
 {"name": "app", "from": "app"$( [ $prune = 1 ] && echo ', "prune": {"remove": ["tests/"]}')}],
 "config": {"cmd": ["app.handler"]}, "precompile": {"python": {}}}
JSON
run_lamina build "$T/lamina.json" -o "$T/out.tar" || { cat "$T/err"; fail "build with a py2 file in site-packages failed"; }
assert_contains "$T/err" "warning: skipped '/opt/python/lib/python3.11/site-packages/oldlib/__init__\.py' line 1"
echo ok
