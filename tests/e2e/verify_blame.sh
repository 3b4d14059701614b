#!/usr/bin/env bash
# A build whose prune rules break an import fails verification (exit 7, nothing
# written) and names the rule: a user "remove" glob that deletes a module the app
# imports; a preset rule (python-safe's tests/) that deletes the tests helper a package
# imports by a computed name, which the static import guard cannot see; both at once;
# and an import that fails whatever prune does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"

mkdir -p "$T/deps/mylib/tests" "$T/deps/mylib/docs" "$T/app"
cat >"$T/app/app.py" <<'PY'
import helpers


def handler(event, context):
    return {"x": helpers.X}
PY
echo 'X = 1' >"$T/app/helpers.py"
echo 'hello' >"$T/app/README.md"
# The package loads its fixtures by a computed name: no import statement to see.
cat >"$T/deps/mylib/__init__.py" <<'PY'
import importlib

_fixtures = importlib.import_module(".".join([__name__, "tests", "fixtures"]))
VALUE = _fixtures.VALUE
PY
: >"$T/deps/mylib/tests/__init__.py"
echo 'VALUE = 2' >"$T/deps/mylib/tests/fixtures.py"
echo 'not needed' >"$T/deps/mylib/tests/data.txt"
echo '# docs' >"$T/deps/mylib/docs/index.md"
echo 'readme' >"$T/deps/README.md"

manifest() { # PRESETS-JSON REMOVE-JSON IMPORTS-JSON
	cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base",
 "layers": [{"name": "deps", "from": "deps"}, {"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]},
 "prune": {"presets": $1, "remove": $2},
 "verify": {"imports": $3}}
JSON
}

# 1. A user glob removes a module the handler imports.
manifest '[]' '["helpers.py"]' '[]'
rc=0; run_lamina build "$T/lamina.json" -o "$T/out.tar" || rc=$?
assert_eq "$rc" 7 "exit status when prune broke the handler's import"
assert_no_file "$T/out.tar"
assert_contains "$T/err" "No module named 'helpers'"
assert_contains "$T/err" "^verify: handler 'app\.handler': import 'app' failed; it passes with prune rule 'remove: helpers\.py' disabled \(removed 1 file, 6 B in layer 'app'\)$"

# 2. A preset rule removes what a package imports dynamically; other rules of the same
#    preset removed files too and are not named.
manifest '["python-safe"]' '[]' '["mylib"]'
rc=0; run_lamina build "$T/lamina.json" -o "$T/out.tar" || rc=$?
assert_eq "$rc" 7 "exit status when a preset broke an import"
assert_no_file "$T/out.tar"
assert_contains "$T/err" 'python-safe: README\*' # the prune report: it removed something
assert_contains "$T/err" "No module named 'mylib\.tests'"
assert_contains "$T/err" "^verify: import 'mylib' failed; it passes with prune rule 'python-safe: tests/' disabled \(removed 3 files, [0-9.]+ [KMG]?i?B in layer 'deps'\)$"
assert_eq "$(grep -c '^verify: ' "$T/err")" 1 "blame lines"
# the same through lamina verify MANIFEST
rc=0; run_lamina verify "$T/lamina.json" || rc=$?
assert_eq "$rc" 7 "exit status of verify MANIFEST"
assert_contains "$T/err" "^verify: import 'mylib' failed; it passes with prune rule 'python-safe: tests/' disabled"

# 3. Both at once, and the app importing the package too: the app's import needs both
#    rules disabled.
sed -i '1a import mylib' "$T/app/app.py"
manifest '["python-safe"]' '["helpers.py"]' '["mylib"]'
rc=0; run_lamina build "$T/lamina.json" -o "$T/out.tar" || rc=$?
assert_eq "$rc" 7 "exit status with two culprits"
assert_contains "$T/err" "^verify: import 'mylib' failed; it passes with prune rule 'python-safe: tests/' disabled"
assert_contains "$T/err" "^verify: handler 'app\.handler': import 'app' failed; it passes with prune rules 'python-safe: tests/' \(removed 3 files, .*\) and 'remove: helpers\.py' \(removed 1 file, 6 B in layer 'app'\) disabled together$"
sed -i '/^import mylib$/d' "$T/app/app.py"

# 4. Not prune's doing: said so, no rule named.
manifest '["python-safe"]' '[]' '["json", "not_installed"]'
echo 'import mylib' >"$T/deps/guard.py" # keeps mylib/tests through the static guard
rc=0; run_lamina build "$T/lamina.json" -o "$T/out.tar" || rc=$?
assert_eq "$rc" 7 "exit status for a missing module"
assert_contains "$T/err" "^verify: import 'not_installed' fails with every prune rule disabled too: pruning is not the cause$"
assert_not_contains "$T/err" "passes with prune rule"
rm "$T/deps/guard.py"

# 5. And with nothing broken the build passes (the blame never runs).
manifest '["python-safe"]' '[]' '["json"]'
run_lamina build "$T/lamina.json" -o "$T/out.tar" || { cat "$T/err"; fail "build without a broken import failed"; }
assert_file "$T/out.tar"
# no scratch directories left in the cache
assert_eq "$(find "$XDG_CACHE_HOME/lamina/rootfs" -maxdepth 1 -name '.*' ! -name . | wc -l)" 0 "temporary directories left"
echo ok
