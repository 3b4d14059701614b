#!/usr/bin/env bash
# verify for Node.js images, with the image's own node in the sandbox:
#  - the seed's five-package layer (npm) with an ESM handler: "verify": {} imports every
#    dependency of package.json and resolves index.handler; with node-safe and
#    node-aggressive it still passes; `lamina verify OUT.tar` replays the checks from the
#    image's lamina.verify label;
#  - the broken prune (remove **/fluent-ffmpeg/lib/) fails with exit 7, names the require
#    and the rule, and writes nothing;
#  - an ESM async handler and a CommonJS callback handler are called with --event, stdout
#    holds only their JSON result, the context has the runtime's fields, --env and
#    --env-file reach the handler, Lambda's variables are set;
#  - an ESM-only package is import()ed; a missing export is Runtime.HandlerNotFound;
#  - --runtime node on a Python image is exit 3 with one line;
#  - the larger app workload (openai, langchain, pdfjs-dist ...) passes with "verify": {}.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
NODE=$(fixture_node_base) || skip "node fixture could not be built"
PY=$(fixture_base) || skip "python fixture could not be built"
seed=$("$REPO/scripts/workload-node.sh" seed) || skip "npm install of the seed workload failed (registry?)"

mkdir -p "$T/app"
cp -r "$seed/node_modules" "$seed/package.json" "$T/app/"
cat >"$T/app/index.mjs" <<'JS'
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const FormData = require('form-data');
const ffmpeg = require('fluent-ffmpeg');
export const handler = async (event, context) => {
  const fd = new FormData();
  fd.append('a', 'b');
  return {
    hello: event.name,
    multipart: fd.getHeaders()['content-type'].startsWith('multipart/form-data'),
    ffmpeg: typeof ffmpeg,
    fn: context.functionName,
    left: context.getRemainingTimeInMillis() > 0,
    id: typeof context.awsRequestId,
    greeting: process.env.GREETING ?? null,
    fromFile: process.env.FROM_FILE ?? null,
    handlerVar: process.env._HANDLER,
    region: process.env.AWS_REGION,
  };
};
JS
cat >"$T/app/cb.js" <<'JS'
exports.handler = function (event, context, callback) {
  setTimeout(() => callback(null, { cb: true, n: event.n * 2, fn: context.functionName }), 10);
};
exports.notAFunction = 42;
JS
echo '{"name": "lamina"}' >"$T/event.json"
manifest() { # OUT PRUNE CMD [VERIFY]
	cat >"$1" <<JSON
{ "base": "oci-archive:$NODE", "layers": [ { "name": "app", "from": "app" } ],
  "prune": $2, "config": { "cmd": ["$3"] }, "verify": ${4:-{\}} }
JSON
}

# "verify": {} on the seed layer, without and with the presets
for preset in none node-safe node-aggressive; do
	p='{}'
	[ $preset = none ] || p="{\"presets\": [\"$preset\"]}"
	manifest "$T/$preset.json" "$p" index.handler
	run_lamina build "$T/$preset.json" -o "$T/$preset.tar" || fail "build with $preset: $(cat "$T/err")"
	run_lamina verify "$T/$preset.tar" || fail "verify $preset.tar: $(cat "$T/err")"
	assert_contains "$T/err" "ok \\(Node.js, 5 imports, handler resolved; checks from the image's lamina.verify label\\)"
	assert_eq "$(cat "$T/out")" "" "standard output of verify without --event"
done
assert_eq "$(tar -xOf "$T/none.tar" index.json | jq -r '.manifests[0].digest' | wc -l)" 1 "an index"

# the broken prune: exit 7, the require and the rule named, nothing written
manifest "$T/broken.json" '{"presets": ["node-safe"], "remove": ["**/fluent-ffmpeg/lib/"]}' index.handler
rc=0
run_lamina build "$T/broken.json" -o "$T/broken.tar" || rc=$?
assert_eq "$rc" 7 "exit status of the broken prune"
assert_contains "$T/err" "require\\('fluent-ffmpeg'\\)"
assert_contains "$T/err" "Cannot find module"
assert_contains "$T/err" "passes with prune rule 'remove: \\*\\*/fluent-ffmpeg/lib/' disabled"
assert_no_file "$T/broken.tar"

# the ESM handler called: stdout is its result, and only that
printf 'FROM_FILE=yes\n# a comment\n\nAWS_REGION=eu-west-1\n' >"$T/env"
run_lamina verify "$T/none.tar" --event "$T/event.json" --env GREETING=hi --env-file "$T/env" ||
	fail "verify --event: $(cat "$T/err")"
assert_eq "$(wc -l <"$T/out")" 1 "lines on standard output"
r=$(cat "$T/out")
assert_eq "$(jq -r .hello <<<"$r")" lamina "event"
assert_eq "$(jq -r .multipart <<<"$r")" true "form-data works in the image"
assert_eq "$(jq -r .ffmpeg <<<"$r")" function "fluent-ffmpeg loads"
assert_eq "$(jq -r .fn <<<"$r")" lamina-verify "context.functionName"
assert_eq "$(jq -r .left <<<"$r")" true "getRemainingTimeInMillis()"
assert_eq "$(jq -r .id <<<"$r")" string "awsRequestId"
assert_eq "$(jq -r .greeting <<<"$r")" hi "--env"
assert_eq "$(jq -r .fromFile <<<"$r")" yes "--env-file"
assert_eq "$(jq -r .region <<<"$r")" eu-west-1 "--env-file over Lambda's AWS_REGION"
assert_eq "$(jq -r .handlerVar <<<"$r")" index.handler "_HANDLER"
# from the manifest too: stdout is the result, not a digest
run_lamina verify "$T/none.json" --event "$T/event.json" || fail "verify MANIFEST --event: $(cat "$T/err")"
assert_eq "$(jq -r .hello "$T/out")" lamina "verify MANIFEST --event: stdout is the result"

# a CommonJS callback handler
manifest "$T/cb.json" '{}' cb.handler '{"imports": ["form-data"]}'
run_lamina build "$T/cb.json" -o "$T/cb.tar" || fail "build cb: $(cat "$T/err")"
echo '{"n": 21}' >"$T/n.json"
run_lamina verify "$T/cb.tar" --event "$T/n.json" || fail "verify cb --event: $(cat "$T/err")"
assert_eq "$(jq -c . "$T/out")" '{"cb":true,"n":42,"fn":"lamina-verify"}' "callback handler result"
assert_contains "$T/err" "ok \\(Node.js, 1 import, handler resolved and called"

# an export that is no function, a missing package, an ESM-only package
mkdir -p "$T/app/node_modules/esm-only"
printf '{"name": "esm-only", "version": "1.0.0", "type": "module", "exports": {".": {"import": "./main.js"}}}\n' \
	>"$T/app/node_modules/esm-only/package.json"
echo 'export const x = 1;' >"$T/app/node_modules/esm-only/main.js"
manifest "$T/bad.json" '{}' cb.notAFunction '{"imports": ["esm-only", "not-installed"]}'
rc=0
run_lamina verify "$T/bad.json" || rc=$?
assert_eq "$rc" 7 "exit status of failed checks"
assert_contains "$T/err" "2 checks failed"
assert_contains "$T/err" "require\\('not-installed'\\)"
assert_contains "$T/err" "does not export 'notAFunction' as a function \\(Runtime.HandlerNotFound\\)"
assert_not_contains "$T/err" "require\\('esm-only'\\)"

# no interpreter for the check asked for: exit 3, one line
cat >"$T/py.json" <<JSON
{ "base": "oci-archive:$PY", "layers": [], "precompile": false }
JSON
run_lamina build "$T/py.json" -o "$T/py.tar" || fail "python build: $(cat "$T/err")"
rc=0
run_lamina verify "$T/py.tar" --runtime node --no-handler || rc=$?
assert_eq "$rc" 3 "exit status without node"
assert_eq "$(grep -c . "$T/err")" 1 "lines of the error"
assert_contains "$T/err" "runtime node: the image has no node"

# the larger app: every dependency of package.json imports in the image (better-sqlite3
# is left out: its addon is built for the host's node, not the image's)
app=$("$REPO/scripts/workload-node.sh" app) || skip "npm install of the app workload failed (registry?)"
mkdir -p "$T/big"
cp -r "$app/node_modules" "$T/big/"
jq 'del(.dependencies["better-sqlite3"])' "$app/package.json" >"$T/big/package.json"
echo 'exports.handler = async () => ({ ok: true });' >"$T/big/index.js"
cat >"$T/big.json" <<JSON
{ "base": "oci-archive:$NODE", "layers": [ { "name": "app", "from": "big" } ],
  "prune": { "presets": ["node-safe"] }, "config": { "cmd": ["index.handler"] }, "verify": {} }
JSON
run_lamina build "$T/big.json" -o "$T/big.tar" || fail "build of the app workload: $(cat "$T/err")"
run_lamina verify "$T/big.tar" || fail "verify of the app workload: $(cat "$T/err")"
assert_contains "$T/err" "ok \\(Node.js, 8 imports, handler resolved"
echo ok
