#!/usr/bin/env bash
# lamina verify: success (imports, handler resolved and called with an event: a local
# invoke), on OUT.tar and on a MANIFEST; failures (missing module, bad handler, handler
# raising) all reported at the end with tracebacks and exit status 7.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"

make_app "$T/app"
mkdir -p "$T/app/sub"
printf 'def run(event, context):\n    return {"sub": context.get_remaining_time_in_millis() > 0}\n' >"$T/app/sub/mod.py"
cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "verify": {"imports": ["pkg.util", "json"]}}
JSON
run_lamina build "$T/lamina.json" -o "$T/out.tar" || { cat "$T/err"; fail "build failed"; }
echo '{"x": 6}' >"$T/event.json"

run_lamina verify "$T/out.tar" --import pkg --import pkg.util --event "$T/event.json" ||
	{ cat "$T/err"; fail "verify of a good image failed"; }
assert_eq "$(cat "$T/out")" '{"y": 42, "fn": "lamina-verify"}' "handler result"
assert_contains "$T/err" 'verify: ok'

# The manifest form builds into the cache and verifies (its verify.imports included).
run_lamina verify "$T/lamina.json" --event "$T/event.json" || { cat "$T/err"; fail "verify MANIFEST failed"; }
assert_contains "$T/out" '"y": 42'
assert_contains "$T/err" 'ok \(Python, 2 imports'

# /var/task is read-only and /tmp writable inside.
printf 'import os\ndef handler(e, c):\n    try:\n        open("/var/task/x", "w")\n        ro = False\n    except OSError:\n        ro = True\n    open("/tmp/y", "w").write("1")\n    return {"ro": ro, "cwd": os.getcwd()}\n' >"$T/app/rw.py"
sed -i 's/"app.handler"/"rw.handler"/' "$T/lamina.json"
run_lamina verify "$T/lamina.json" --event "$T/event.json" || { cat "$T/err"; fail "verify rw.handler failed"; }
assert_contains "$T/out" '"ro": true, "cwd": "/var/task"'

# Failures: a missing module, a handler that is not there, both reported, exit 7.
sed -i 's/"rw.handler"/"app.nosuch"/' "$T/lamina.json"
run_lamina build "$T/lamina.json" --no-verify -o "$T/bad.tar" || { cat "$T/err"; fail "build failed"; }
rc=0; run_lamina verify "$T/bad.tar" --import not_a_module || rc=$?
assert_eq "$rc" 7 "exit status of a failed verify"
assert_contains "$T/err" '2 checks failed'
assert_contains "$T/err" "import 'not_a_module'"
assert_contains "$T/err" "ModuleNotFoundError: No module named 'not_a_module'"
assert_contains "$T/err" "handler 'app.nosuch'"
assert_contains "$T/err" "has no attribute 'nosuch'"

# pkg/module.function handler paths, and a handler that raises: traceback with file:line.
printf 'def boom(event, context):\n    raise ValueError("no good")\n' >"$T/app/sub/fail.py"
sed -i 's/"app.nosuch"/"sub\/fail.boom"/' "$T/lamina.json"
run_lamina build "$T/lamina.json" --no-verify -o "$T/bad2.tar" || { cat "$T/err"; fail "build failed"; }
rc=0; run_lamina verify "$T/bad2.tar" --event "$T/event.json" || rc=$?
assert_eq "$rc" 7 "exit status of a raising handler"
assert_contains "$T/err" "handler 'sub/fail.boom': call"
assert_contains "$T/err" 'File "/var/task/sub/fail.py", line 2, in boom'
assert_contains "$T/err" 'ValueError: no good'

# A failing verify step in build fails the build and writes nothing.
sed -i 's/"verify": {"imports": \["pkg.util", "json"\]}/"verify": {"imports": ["missing_dep"]}/' "$T/lamina.json"
rc=0; run_lamina build "$T/lamina.json" -o "$T/bad3.tar" || rc=$?
assert_eq "$rc" 7 "exit status of build with a failing verify"
assert_contains "$T/err" "No module named 'missing_dep'"
assert_no_file "$T/bad3.tar"
echo ok
