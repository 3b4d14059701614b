#!/usr/bin/env bash
# prune's dedupe-base rule on real packages: the fixture bases ship the AWS SDK as the
# real ones do (boto3, botocore ... in the Python base's site-packages; @aws-sdk/* v3
# under the Node base's /var/runtime/node_modules).
#  - an app vendoring the same boto3 (Debian's .debs, as the base has them) loses it: the
#    prune report names the rule, the dry run agrees, and in the image the handler
#    imports boto3 from the base and verify passes;
#  - another version (or the same version with a changed file) stays, and the report
#    says it shadows the base's and what it costs;
#  - a Node app with the same @aws-sdk closure loses it and still require()s the client
#    (NODE_PATH); with another tslib of its own, what requires tslib stays; what ES module
#    code imports stays, with what it requires (import reads no NODE_PATH).
. "$(dirname "$0")/lib.sh"
FIX=$(fixture_base)
NFIX=$(fixture_node_base)
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
debs="$cache/debs-$(dpkg --print-architecture)"
deb_of() {
	compgen -G "$debs/${1}_*.deb" >/dev/null ||
		(mkdir -p "$debs" && cd "$debs" && apt-get download -q "$1" >/dev/null 2>&1) || fail "apt-get download $1"
	LC_ALL=C ls "$debs/${1}"_*.deb | sort -V | tail -1
}
export SOURCE_DATE_EPOCH=1700000000
echo '{}' >"$T/event.json"

# --- Python ------------------------------------------------------------------------------------
mkdir -p "$T/x" "$T/py/deps" "$T/py/src"
for p in python3-boto3 python3-botocore python3-s3transfer python3-jmespath python3-urllib3 python3-dateutil \
	python3-six python3-yaml; do
	dpkg-deb -x "$(deb_of "$p")" "$T/x"
done
cp -a "$T/x/usr/lib/python3/dist-packages/." "$T/py/deps/"
cat >"$T/py/src/app.py" <<'PY'
import boto3, botocore, yaml

def handler(event, context):
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    return {"boto3": boto3.__file__, "version": boto3.__version__, "botocore": botocore.__file__,
            "yaml": yaml.__file__, "s3": type(s3).__name__}
PY
manifest() { # DIR PRESET
	cat >"$1/lamina.json" <<JSON
{ "base": "oci-archive:$FIX",
  "layers": [ {"name": "deps", "from": "deps", "to": "/var/task"}, {"name": "app", "from": "src", "to": "/var/task"} ],
  "prune": {"presets": ["$2"]},
  "verify": {"imports": ["boto3", "botocore", "s3transfer", "yaml"], "handler": true},
  "config": {"cmd": ["app.handler"]}, "tag": "dedupe:1" }
JSON
}
manifest "$T/py" python-safe
run_lamina prune --dry-run "$T/py/lamina.json" || { cat "$T/err" >&2; fail "dry run"; }
cp "$T/out" "$T/dry.txt"
assert_not_contains "$T/err" "comparing with no base" # the base must be read, or the rule compares nothing
assert_contains "$T/dry.txt" '^  python-safe: dedupe-base +[0-9]+ +[0-9.]+ MiB$'
# every file of the seven distributions goes; PyYAML (not in the base) stays
for d in botocore boto3 urllib3 s3transfer python_dateutil jmespath six; do
	assert_contains "$T/dry.txt" "^  $d +[0-9]+->0 "
done
assert_not_contains "$T/dry.txt" '^  PyYAML +[0-9]+->0 '
run_lamina build "$T/py/lamina.json" -o "$T/py/out.tar" || { cat "$T/err" >&2; fail "build"; }
line=$(grep 'python-safe: dedupe-base' "$T/dry.txt")
grep -qF -- "$line" "$T/err" || fail "the build's prune report differs from the dry run's: $line"
"$LAMINA" verify "$T/py/out.tar" --event "$T/event.json" >"$T/res.json" || fail "verify --event"
assert_eq "$(jq -r .boto3 "$T/res.json")" /var/lang/lib/python3.11/site-packages/boto3/__init__.py "boto3 from the base"
assert_eq "$(jq -r .botocore "$T/res.json")" /var/lang/lib/python3.11/site-packages/botocore/__init__.py \
	"botocore from the base"
assert_eq "$(jq -r .yaml "$T/res.json")" /var/task/yaml/__init__.py "yaml from the app"
assert_eq "$(jq -r .s3 "$T/res.json")" S3 "an S3 client"
tar -xOf "$T/py/out.tar" index.json >/dev/null
# nothing of boto3 left in the app layers
mkdir "$T/lay" && tar -xf "$T/py/out.tar" -C "$T/lay"
m=$(jq -r '.manifests[0].digest' "$T/lay/index.json" | cut -c8-)
for l in $(jq -r '.layers[3:][] | .digest' "$T/lay/blobs/sha256/$m" | cut -c8-); do
	tar -tzf "$T/lay/blobs/sha256/$l"
done >"$T/app-files.txt"
assert_not_contains "$T/app-files.txt" '^var/task/(boto3|botocore|six\.py|s3transfer)'
assert_contains "$T/app-files.txt" '^var/task/yaml/__init__\.py$'

# another version of boto3: kept, and the report says it shadows the base's
cp -a "$T/py" "$T/py2"
mv "$T/py2/deps/boto3-1.26.27.egg-info" "$T/py2/deps/boto3-1.26.99.egg-info"
sed -i 's/^Version: 1.26.27$/Version: 1.26.99/' "$T/py2/deps/boto3-1.26.99.egg-info/PKG-INFO"
sed -i "s/^__version__ = '1.26.27'$/__version__ = '1.26.99'/" "$T/py2/deps/boto3/__init__.py"
grep -q "^__version__ = '1.26.99'" "$T/py2/deps/boto3/__init__.py" || fail "could not change boto3's version"
# and botocore: the same version with one changed file
printf '\n# changed\n' >>"$T/py2/deps/botocore/utils.py"
manifest "$T/py2" python-safe
run_lamina build "$T/py2/lamina.json" -o "$T/py2/out.tar" || { cat "$T/err" >&2; fail "build (other version)"; }
assert_contains "$T/err" "warning: dedupe-base: 'boto3' 1\.26\.99 shadows the base's 1\.26\.27 \(/var/lang/lib/python3\.11/site-packages\): [0-9.]+ [KM]iB more in the image; drop it unless the app needs this version"
assert_contains "$T/err" "warning: dedupe-base: 'botocore' 1\.29\.27 is in the base too .* but its files differ: kept"
assert_contains "$T/err" '^  (boto3|botocore) +[0-9]+->[1-9]'
"$LAMINA" verify "$T/py2/out.tar" --event "$T/event.json" >"$T/res2.json" || fail "verify --event (other version)"
assert_eq "$(jq -r .boto3 "$T/res2.json")" /var/task/boto3/__init__.py "the app's boto3"
assert_eq "$(jq -r .version "$T/res2.json")" 1.26.99 "the app's boto3 version"
assert_eq "$(jq -r .botocore "$T/res2.json")" /var/task/botocore/__init__.py "the app's botocore"
# s3transfer, six ... still go
assert_contains "$T/err" '^  s3transfer +[0-9]+->0 '

# the preset alone, and none: nothing removed without it
manifest "$T/py2" dedupe-base
run_lamina prune --dry-run "$T/py2/lamina.json" || fail "dry run dedupe-base"
assert_contains "$T/out" '^  dedupe-base +[0-9]+ '
assert_contains "$T/out" '^  jmespath +[0-9]+->0 '

# --- Node --------------------------------------------------------------------------------------
mkdir -p "$T/node/app"
cp "$REPO/tests/fixtures/node-base/sdk/package.json" "$REPO/tests/fixtures/node-base/sdk/package-lock.json" "$T/node/app/"
(cd "$T/node/app" && npm_config_cache="$cache/npm/cache" npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
	--loglevel=error >/dev/null 2>"$T/npm.err") || { cat "$T/npm.err" >&2; fail "npm ci"; }
cat >"$T/node/app/index.js" <<'JS'
const { S3Client } = require("@aws-sdk/client-s3");
exports.handler = async () => ({ s3: require.resolve("@aws-sdk/client-s3"), send: typeof new S3Client({ region: "us-east-1" }).send });
JS
cat >"$T/node/lamina.json" <<JSON
{ "base": "oci-archive:$NFIX",
  "layers": [ {"name": "app", "from": "app", "to": "/var/task"} ],
  "prune": {"presets": ["node-safe"]}, "verify": {"handler": true},
  "config": {"cmd": ["index.handler"]}, "tag": "dedupe-node:1" }
JSON
run_lamina build "$T/node/lamina.json" -o "$T/node/out.tar" || { cat "$T/err" >&2; fail "node build"; }
assert_contains "$T/err" '^  node-safe: dedupe-base +[0-9]+ '
assert_contains "$T/err" '^  @aws-sdk/client-s3 +[0-9]+->0 '
"$LAMINA" verify "$T/node/out.tar" --event "$T/event.json" >"$T/nres.json" || fail "node verify --event"
assert_eq "$(jq -r .s3 "$T/nres.json")" /var/runtime/node_modules/@aws-sdk/client-s3/dist-cjs/index.js \
	"client-s3 from the base"
assert_eq "$(jq -r .send "$T/nres.json")" function "an S3 client"

# another tslib in the app: it shadows the base's, and what requires it (directly or not)
# stays: from the base it would load the base's tslib
cp -a "$T/node" "$T/node2"
sed -i 's/"version": "\([0-9.]*\)"/"version": "\1-app"/' "$T/node2/app/node_modules/tslib/package.json"
grep -q -- '-app"' "$T/node2/app/node_modules/tslib/package.json" || fail "could not change tslib's version"
run_lamina prune --dry-run "$T/node2/lamina.json" || { cat "$T/err" >&2; fail "node dry run (other tslib)"; }
assert_contains "$T/out" "warning: dedupe-base: 'tslib' [0-9.]+-app shadows the base's [0-9.]+"
assert_contains "$T/out" "warning: dedupe-base: '@aws-sdk/client-s3' is in the base too .* but it requires '[^']+', which the app keeps"
assert_not_contains "$T/out" '^  @aws-sdk/client-s3 +[0-9]+->0 '

# ES module code of the app's own: kept, with a note
printf 'import { S3Client } from "@aws-sdk/client-s3";\nexport const handler = async () => typeof S3Client;\n' \
	>"$T/node/app/esm.mjs"
sed -i 's/"index.handler"/"esm.handler"/' "$T/node/lamina.json"
run_lamina build "$T/node/lamina.json" -o "$T/node/esm.tar" || { cat "$T/err" >&2; fail "node build (ESM)"; }
assert_contains "$T/err" "warning: dedupe-base: '@aws-sdk/client-s3' is in the base too .* but ES module code imports it, and import does not search NODE_PATH: kept"
assert_not_contains "$T/err" '^  @aws-sdk/client-s3 +[0-9]+->0 '
assert_not_contains "$T/err" '^  @aws-sdk/core +[0-9]+->0 ' # what client-s3 requires stays with it
# client-dynamodb is not imported as an ES module, but it requires what client-s3 does
assert_contains "$T/err" "warning: dedupe-base: '@aws-sdk/client-dynamodb' is in the base too .* but it requires '[^']+', which the app keeps"
# what only client-dynamodb requires goes (mnemonist: its endpoint cache)
assert_contains "$T/err" '^  mnemonist +[0-9]+->0 '
"$LAMINA" verify "$T/node/esm.tar" --event "$T/event.json" >"$T/eres.json" || fail "node verify --event (ESM)"
assert_eq "$(cat "$T/eres.json")" '"function"' "ESM handler"
echo ok
