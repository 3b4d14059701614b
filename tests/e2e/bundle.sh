#!/usr/bin/env bash
# "bundle": {"node": {...}}: esbuild (npm, pinned, scripts/esbuild-fixture.sh) bundles a Node
# app before it becomes a layer:
#  - the seed's five-package app (@distube/ytdl-core, @ffmpeg-installer/ffmpeg, fluent-ffmpeg,
#    form-data, google-auth-library) with a handler calling each: the image builds, verify
#    resolves and calls the handler in the image; the report names what was bundled and what
#    stayed external and why; the layer holds index.js and only the externals' closure in
#    node_modules (the ffmpeg binary of the platform package, not form-data);
#  - reproducible: a second build from a copy at another path, another cache, gives the
#    same image digest;
#  - lamina zip: index.js at the zip's root, the externals under node_modules/;
#  - ESM + minify + sourcemap on a small local app: index.mjs and its map, sources relative
#    to the project, NODE_OPTIONS=--enable-source-maps in the config, a stack trace in the
#    image names the original source file;
#  - failures, each one lamina line, a documented exit status and no output file: esbuild
#    missing (3), a syntax error in the entry (3, esbuild's own error passed through), a
#    bundle that fails verify (7: an asset read through __dirname of the entry is not in
#    the bundle); a misspelt field (3, did you mean);
#  - SIGINT during esbuild: the child is killed, exit 130, nothing left in the cache's tmp.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
NODE=$(fixture_node_base) || skip "node fixture could not be built"
seed=$("$REPO/scripts/workload-node.sh" seed) || skip "npm install of the seed workload failed (registry?)"
ESBUILD=$("$REPO/scripts/esbuild-fixture.sh") || skip "npm install of esbuild failed (registry?)"
unset LAMINA_ESBUILD

# ---- the seed app
mkdir -p "$T/seed"
cp -al "$seed/node_modules" "$T/seed/" 2>/dev/null || cp -r "$seed/node_modules" "$T/seed/"
# esbuild where a project has it: node_modules/.bin/esbuild (the first place lamina looks)
ln -s "$ESBUILD" "$T/seed/node_modules/.bin/esbuild" 2>/dev/null ||
	{ mkdir -p "$T/seed/node_modules/.bin" && ln -sf "$ESBUILD" "$T/seed/node_modules/.bin/esbuild"; }
cp "$REPO/tests/fixtures/node-apps/seed-index.js" "$T/seed/index.js"
cat >"$T/seed.json" <<JSON
{ "base": "oci-archive:$NODE",
  "layers": [ { "name": "app", "from": "seed",
                "bundle": { "node": { "entry": ["index.js"], "minify": true } } } ],
  "config": { "cmd": ["index.handler"] }, "verify": {} }
JSON
echo '{"name": "lamina"}' >"$T/event.json"
run_lamina build "$T/seed.json" -o "$T/seed.tar" || fail "build of the bundled seed app: $(cat "$T/err")"
assert_contains "$T/err" "bundle 'app': esbuild \\($T/seed/node_modules/.bin/esbuild\\) wrote index.js"
assert_contains "$T/err" "bundled: [0-9]+ packages: @distube/ytdl-core, .*form-data, .*google-auth-library"
assert_contains "$T/err" "@ffmpeg-installer/ffmpeg \\(reads its own files \\(documented list\\)\\)"
assert_contains "$T/err" "fluent-ffmpeg \\(reads its own files through __dirname or import.meta.url: lib/fluent-ffmpeg.js\\)"
assert_contains "$T/err" "node_modules beside the bundle: 6 packages"
layer_list "$T/seed.tar" >"$T/seed.list"
assert_contains "$T/seed.list" "^var/task/index.js$"
assert_contains "$T/seed.list" "^var/task/node_modules/@ffmpeg-installer/linux-x64/ffmpeg$"
assert_contains "$T/seed.list" "^var/task/node_modules/fluent-ffmpeg/lib/presets/"
assert_not_contains "$T/seed.list" "node_modules/(form-data|google-auth-library|esbuild|@esbuild)/"
assert_not_contains "$T/seed.list" "^var/task/package.json$"
run_lamina verify "$T/seed.tar" --event "$T/event.json" || fail "verify --event of the bundled seed app: $(cat "$T/err")"
assert_eq "$(jq -c . "$T/out")" \
	'{"ytdl":"dQw4w9WgXcQ","ffmpeg":true,"fluent":"function","multipart":"multipart/form-data","auth":true,"google":"function"}' \
	"the handler's result"
assert_contains "$T/err" "ok \\(Node.js, 0 imports, handler resolved and called"
d1=$(jq -r '.manifests[0].digest' <(tar -xOf "$T/seed.tar" index.json))

# reproducible: a copy elsewhere (new file times), another cache, the same bytes
mkdir -p "$T/elsewhere/deeper"
cp -r "$T/seed" "$T/elsewhere/deeper/seed"
sed "s|\"from\": \"seed\"|\"from\": \"deeper/seed\"|" "$T/seed.json" >"$T/elsewhere/seed.json"
XDG_CACHE_HOME="$T/cache2" run_lamina build "$T/elsewhere/seed.json" -o "$T/seed2.tar" ||
	fail "second build: $(cat "$T/err")"
d2=$(jq -r '.manifests[0].digest' <(tar -xOf "$T/seed2.tar" index.json))
assert_eq "$d2" "$d1" "digest of the same bundle built twice"

# zip: the bundle at the zip's root
run_lamina zip "$T/seed.json" -o "$T/seed.zip" || fail "zip of the bundled seed app: $(cat "$T/err")"
unzip -Z1 "$T/seed.zip" >"$T/zip.list"
assert_eq "$(head -1 "$T/zip.list")" "index.js" "first entry of the zip"
assert_contains "$T/zip.list" "^node_modules/@ffmpeg-installer/linux-x64/ffmpeg$"
assert_not_contains "$T/zip.list" "^node_modules/form-data/"
image_root "$T/seed.tar" "$T/root"
unzip -p "$T/seed.zip" index.js | cmp - "$T/root/var/task/index.js" || fail "the zip's index.js differs from the image's"

# ---- ESM, minify, sourcemap on a small local app; esbuild from $LAMINA_ESBUILD
mkdir -p "$T/esm/src" "$T/esm/node_modules/greet"
printf '{ "name": "greet", "version": "1.0.0", "main": "index.js" }\n' >"$T/esm/node_modules/greet/package.json"
printf 'exports.greet = (n) => "hello " + n;\n' >"$T/esm/node_modules/greet/index.js"
cat >"$T/esm/src/lib.js" <<'JS'
export function where() {
  return new Error('here').stack.split('\n')[1];
}
JS
cat >"$T/esm/src/index.mjs" <<'JS'
import { greet } from 'greet';
import { where } from './lib.js';
export const handler = async (event) => ({ msg: greet(event.name), at: where(), opts: process.env.NODE_OPTIONS });
JS
cat >"$T/esm.json" <<JSON
{ "base": "oci-archive:$NODE",
  "layers": [ { "name": "web", "from": "esm",
                "bundle": { "node": { "entry": "src/index.mjs", "format": "esm", "minify": true, "sourcemap": true,
                                      "target": "node22" } } } ],
  "config": { "cmd": ["index.handler"] }, "verify": { "handler": true } }
JSON
LAMINA_ESBUILD=$ESBUILD run_lamina build "$T/esm.json" -o "$T/esm.tar" || fail "build of the ESM app: $(cat "$T/err")"
assert_contains "$T/err" "bundle 'web': esbuild \\($ESBUILD\\) wrote index.mjs, index.mjs.map"
assert_contains "$T/err" "bundled: 1 package: greet"
assert_contains "$T/err" "external: 0 packages"
layer_list "$T/esm.tar" >"$T/esm.list"
assert_eq "$(grep -c '^var/task/.*[^/]$' "$T/esm.list")" 2 "files in the ESM layer"
image_root "$T/esm.tar" "$T/eroot"
assert_eq "$(jq -c .sources "$T/eroot/var/task/index.mjs.map")" '["node_modules/greet/index.js","src/index.mjs","src/lib.js"]' \
	"source map sources"
run_lamina verify "$T/esm.tar" --event "$T/event.json" || fail "verify of the ESM app: $(cat "$T/err")"
assert_eq "$(jq -r .msg "$T/out")" "hello lamina" "the ESM handler's result"
assert_eq "$(jq -r .opts "$T/out")" "--enable-source-maps" "NODE_OPTIONS in the image"
assert_contains "$(jq -r .at "$T/out")" "/var/task/src/lib.js:2:"

# ---- failures: one lamina line, the exit status, no output
mkdir -p "$T/bad"
printf 'exports.handler = async () => {\n  return { a: 1 ;\n};\n' >"$T/bad/index.js"
cat >"$T/bad.json" <<JSON
{ "base": "oci-archive:$NODE", "layers": [ { "name": "app", "from": "bad",
  "bundle": { "node": { "entry": ["index.js"] } } } ], "config": { "cmd": ["index.handler"] }, "verify": {} }
JSON
# esbuild missing: no node_modules/.bin/esbuild, no $LAMINA_ESBUILD, not on PATH
rc=0
PATH=/usr/bin:/bin run_lamina build "$T/bad.json" -o "$T/bad.tar" || rc=$?
assert_eq "$rc" 3 "exit status without esbuild"
assert_eq "$(grep -c '^lamina:' "$T/err")" 1 "lamina lines without esbuild"
assert_contains "$T/err" "^lamina: build: .*bad.json: layer 'app' \\(layers\\[0\\].bundle.node\\): esbuild not found .*npm install --save-dev esbuild"
assert_no_file "$T/bad.tar"
# a syntax error: esbuild's message passed through, then one lamina line naming the entry and field
rc=0
LAMINA_ESBUILD=$ESBUILD run_lamina build "$T/bad.json" -o "$T/bad.tar" || rc=$?
assert_eq "$rc" 3 "exit status of an esbuild error"
assert_contains "$T/err" 'ERROR\] Expected "}" but found ";"'
assert_contains "$T/err" 'index.js:2:16:'
assert_eq "$(grep -c '^lamina:' "$T/err")" 1 "lamina lines of an esbuild error"
assert_contains "$T/err" "^lamina: build: .*layer 'app' \\(layers\\[0\\].bundle.node\\): esbuild failed \\(exit status 1\\) bundling 'index.js'"
assert_no_file "$T/bad.tar"
# a bundle that fails verify: the entry reads an asset beside it, which a bundle leaves out
cat >"$T/bad/index.js" <<'JS'
const path = require('path');
const cfg = JSON.parse(require('fs').readFileSync(path.join(__dirname, 'config.json'), 'utf8'));
exports.handler = async () => cfg;
JS
echo '{"a": 1}' >"$T/bad/config.json"
rc=0
LAMINA_ESBUILD=$ESBUILD run_lamina build "$T/bad.json" -o "$T/bad.tar" || rc=$?
assert_eq "$rc" 7 "exit status of a bundle that fails verify"
assert_eq "$(grep -c '^lamina:' "$T/err")" 1 "lamina lines of a failed verify"
assert_contains "$T/err" "handler 'index.handler'"
assert_contains "$T/err" "ENOENT.*/var/task/config.json"
assert_no_file "$T/bad.tar"
# a misspelt field
sed 's/"entry"/"entyr"/' "$T/bad.json" >"$T/typo.json"
rc=0
run_lamina build "$T/typo.json" -o "$T/bad.tar" || rc=$?
assert_eq "$rc" 3 "exit status of a misspelt bundle field"
assert_contains "$T/err" "typo.json:2:[0-9]+: layers\\[0\\].bundle.node.entyr: unknown field \\(did you mean 'entry'\\?\\)"

# ---- SIGINT while esbuild runs: killed, exit 130, the bundle directory removed
cat >"$T/slow-esbuild" <<'SH'
#!/bin/sh
echo $$ >"$SLOW_PID"
exec sleep 60
SH
chmod +x "$T/slow-esbuild"
XDG_CACHE_HOME="$T/cache3" SLOW_PID="$T/slow.pid" LAMINA_ESBUILD="$T/slow-esbuild" \
	"$LAMINA" build "$T/bad.json" -o "$T/int.tar" >/dev/null 2>"$T/int.err" &
lp=$!
on_exit kill "$lp"
wait_for test -s "$T/slow.pid"
kill -INT "$lp"
rc=0
wait "$lp" || rc=$?
assert_eq "$rc" 130 "exit status after SIGINT"
sp=$(cat "$T/slow.pid")
wait_for -t 5 sh -c "! kill -0 $sp 2>/dev/null"
assert_eq "$(find "$T/cache3/lamina/tmp" -mindepth 1 2>/dev/null | wc -l)" 0 "files left in the cache's tmp"
assert_no_file "$T/int.tar"
echo "bundle: ok"
