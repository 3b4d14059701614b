#!/usr/bin/env bash
# lamina build's SPDX 2.3 SBOM (OUT.spdx.json): valid against the official schema
# (tests/fixtures/spdx, python3-jsonschema), reproducible, its packages the ones
# importlib.metadata (Python) and npm ls (Node) find in the built image's rootfs, its file
# checksums those of the rootfs's files; --sbom none writes none; lamina push --sbom
# attaches it as a referrer (Debian's registry 2.8 has no referrers API: the tag schema),
# and a registry that refuses it never fails the image push; build --push attaches the
# very document -o writes (and with --sbom none, nothing).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
command -v umoci >/dev/null || skip "missing tool: umoci"
python3 -c 'import jsonschema' 2>/dev/null || skip "missing python3-jsonschema"
chroot=$(command -v chroot)
SCHEMA="$REPO/tests/fixtures/spdx/spdx-2.3-schema.json"
FIX=$(fixture_base)
NFIX=$(fixture_node_base)
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
debs="$cache/debs-$(dpkg --print-architecture)"
deb_of() { # PACKAGE: the newest cached .deb, downloaded when missing
	compgen -G "$debs/${1}_*.deb" >/dev/null ||
		(mkdir -p "$debs" && cd "$debs" && apt-get download -q "$1" >/dev/null 2>&1) || fail "apt-get download $1"
	LC_ALL=C ls "$debs/${1}"_*.deb | sort -V | tail -1
}

validate() { # SPDX.json
	python3 - "$SCHEMA" "$1" <<'PY' || fail "$1 is not valid SPDX 2.3"
import json, sys, jsonschema
jsonschema.validate(json.load(open(sys.argv[2])), json.load(open(sys.argv[1])))
PY
}

unpack() { # ARCHIVE DIR: the image's rootfs at DIR/bundle/rootfs
	mkdir -p "$2/layout"
	tar -xf "$1" -C "$2/layout"
	umoci unpack --image "$2/layout:$3" "$2/bundle" >/dev/null 2>&1 || fail "umoci unpack $1"
}

# --- Python: Debian packages (.egg-info and .dist-info), boto3 as the base has it ----------------
mkdir -p "$T/py/x" "$T/py/deps" "$T/py/src"
for p in python3-yaml python3-jinja2 python3-markupsafe python3-boto3; do dpkg-deb -x "$(deb_of "$p")" "$T/py/x"; done
cp -a "$T/py/x/usr/lib/python3/dist-packages/." "$T/py/deps/"
printf 'import yaml, jinja2, boto3\n\ndef handler(event, context):\n    return {"ok": True}\n' >"$T/py/src/app.py"
cat >"$T/py/lamina.json" <<JSON
{ "base": "oci-archive:$FIX",
  "layers": [ {"name": "deps", "from": "deps", "to": "/var/task"}, {"name": "app", "from": "src", "to": "/var/task"} ],
  "prune": {"presets": ["python-safe"]},
  "verify": {"imports": ["yaml", "jinja2", "boto3"]},
  "config": {"cmd": ["app.handler"]}, "tag": "sbom-py:1" }
JSON
export SOURCE_DATE_EPOCH=1700000000
"$LAMINA" -q build "$T/py/lamina.json" -o "$T/py/out.tar" >"$T/py/digest" 2>"$T/err" || { cat "$T/err" >&2; fail "build"; }
S="$T/py/out.spdx.json"
assert_file "$S"
assert_eq "$(stat -c %a "$S")" 644 "the SBOM's mode (as the archive's)"
validate "$S"
assert_eq "$(jq -r .spdxVersion "$S")" SPDX-2.3 "spdxVersion"
assert_eq "$(jq -r .creationInfo.created "$S")" 2023-11-14T22:13:20Z "created from SOURCE_DATE_EPOCH"
assert_eq "$(jq -r '.packages[] | select(.SPDXID == "SPDXRef-Image") | .versionInfo' "$S")" "$(cat "$T/py/digest")" \
	"the image by its digest"
base_digest=$(skopeo inspect --raw "oci-archive:$FIX" | sha256sum | cut -c1-64)
assert_eq "$(jq -r '.packages[] | select(.SPDXID == "SPDXRef-Base") | .versionInfo' "$S")" "sha256:$base_digest" \
	"the base by its digest"
assert_eq "$(jq -r '.packages[] | select(.SPDXID == "SPDXRef-Base") | .name' "$S")" "oci-archive:$FIX" \
	"the base by reference"
# never in the archive: one manifest, no index entry for it
tar -tf "$T/py/out.tar" | grep -q spdx && fail "the SBOM went into the archive"
assert_eq "$(tar -xOf "$T/py/out.tar" index.json | jq '.manifests | length')" 1 "index.json entries"

# the packages: what importlib.metadata finds in /var/task of the image, and what prune removed
unpack "$T/py/out.tar" "$T/py/img" 1
R="$T/py/img/bundle/rootfs"
env -i PATH=/var/lang/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 "$chroot" "$R" /var/lang/bin/python3 -c '
import importlib.metadata as md
for d in md.distributions(path=["/var/task"]):
    print(d.metadata["Name"], d.version)' | LC_ALL=C sort >"$T/py/in-image.txt"
jq -r '.packages[] | select(.SPDXID | startswith("SPDXRef-Python")) | select(.comment | test("removed") | not)
	| "\(.name) \(.versionInfo)"' "$S" | LC_ALL=C sort >"$T/py/sbom.txt"
diff -u "$T/py/in-image.txt" "$T/py/sbom.txt" || fail "SBOM packages differ from importlib.metadata's"
assert_contains "$T/py/sbom.txt" '^PyYAML 6\.0$'
assert_contains "$T/py/sbom.txt" '^Jinja2 3\.1\.2$'
# boto3 is the base's (dedupe-base): listed, noted removed, and not CONTAINed by the image
assert_contains "$(jq -r '.packages[] | select(.name == "boto3") | .comment' "$S")" 'removed from the image by prune'
id=$(jq -r '.packages[] | select(.name == "boto3") | .SPDXID' "$S")
assert_eq "$(jq --arg id "$id" '[.relationships[] | select(.relatedSpdxElement == $id)] | length' "$S")" 0 \
	"relationships of a removed package"
assert_eq "$(jq -r '.packages[] | select(.name == "PyYAML") | .licenseDeclared' "$S")" MIT "PyYAML's licence"
assert_contains "$(jq -r '.packages[] | select(.name == "PyYAML") | .externalRefs[0].referenceLocator' "$S")" \
	'^pkg:pypi/pyyaml@6\.0$'

# every file of the app layers, with the checksum of what the image holds
jq -r '.files[] | "\(.checksums[0].checksumValue)  \(.fileName)"' "$S" >"$T/py/sums"
(cd "$R" && sha256sum --quiet -c "$T/py/sums") || fail "file checksums differ from the image's files"
(cd "$R" && find ./var/task -type f | LC_ALL=C sort) >"$T/py/files-image"
jq -r '.files[].fileName' "$S" | LC_ALL=C sort >"$T/py/files-sbom"
diff -u "$T/py/files-image" "$T/py/files-sbom" || fail "SBOM files differ from the image's /var/task"
assert_contains "$T/py/files-sbom" '^\./var/task/app\.py$'
assert_contains "$T/py/files-sbom" '__pycache__/.*\.pyc$'

# reproducible: the same inputs from another path and another cache give the same bytes
cp -a "$T/py" "$T/py2"
sed -i "s,\"from\": \"deps\",\"from\": \"$T/py2/deps\"," "$T/py2/lamina.json"
touch "$T/py2/src/app.py"
XDG_CACHE_HOME="$T/cache2" "$LAMINA" -q build "$T/py2/lamina.json" -o "$T/py2/out.tar" >/dev/null 2>"$T/err" ||
	{ cat "$T/err" >&2; fail "second build"; }
cmp "$S" "$T/py2/out.spdx.json" || fail "the SBOM is not reproducible"

# --sbom none: none; a name without .tar gets .spdx.json appended
"$LAMINA" -q build "$T/py/lamina.json" -o "$T/py/none.tar" --sbom none >/dev/null || fail "build --sbom none"
assert_no_file "$T/py/none.spdx.json"
"$LAMINA" -q build "$T/py/lamina.json" -o "$T/py/image.oci" >/dev/null || fail "build -o image.oci"
assert_file "$T/py/image.oci.spdx.json"
rc=0; run_lamina build "$T/py/lamina.json" -o "$T/py/x.tar" --sbom cyclonedx || rc=$?
assert_eq "$rc" 2 "exit status of --sbom cyclonedx"

# --- Node: the AWS SDK closure from the committed lock file (npm's cache: no network) -----------
mkdir -p "$T/node/app"
cp "$REPO/tests/fixtures/node-base/sdk/package.json" "$REPO/tests/fixtures/node-base/sdk/package-lock.json" "$T/node/app/"
(cd "$T/node/app" && npm_config_cache="$cache/npm/cache" npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
	--loglevel=error >/dev/null 2>"$T/npm.err") || { cat "$T/npm.err" >&2; fail "npm ci"; }
printf 'const { S3Client } = require("@aws-sdk/client-s3");\nexports.handler = async () => typeof S3Client;\n' \
	>"$T/node/app/index.js"
cat >"$T/node/lamina.json" <<JSON
{ "base": "oci-archive:$NFIX",
  "layers": [ {"name": "app", "from": "app", "to": "/var/task"} ],
  "config": {"cmd": ["index.handler"]}, "tag": "sbom-node:1" }
JSON
"$LAMINA" -q build "$T/node/lamina.json" -o "$T/node/out.tar" >/dev/null 2>"$T/err" || { cat "$T/err" >&2; fail "node build"; }
N="$T/node/out.spdx.json"
validate "$N"
unpack "$T/node/out.tar" "$T/node/img" 1
(cd "$T/node/img/bundle/rootfs/var/task" && npm ls --all --json --offline 2>/dev/null) >"$T/node/ls.json" || true
jq -r '[.. | objects | select(has("version") and has("resolved")) | .version] | length' "$T/node/ls.json" >/dev/null ||
	fail "npm ls gave no JSON"
# npm ls: every installed package once (deduped entries carry no "resolved")
python3 - "$T/node/ls.json" >"$T/node/npm.txt" <<'PY'
import json, sys
seen = set()
def walk(deps):
    for name, d in (deps or {}).items():
        if "version" in d:
            seen.add((name, d["version"]))
        walk(d.get("dependencies"))
walk(json.load(open(sys.argv[1])).get("dependencies"))
for n, v in sorted(seen):
    print(n, v)
PY
jq -r '.packages[] | select(.SPDXID | startswith("SPDXRef-npm")) | "\(.name) \(.versionInfo)"' "$N" |
	LC_ALL=C sort -u >"$T/node/sbom.txt"
LC_ALL=C sort -o "$T/node/npm.txt" "$T/node/npm.txt"
diff -u "$T/node/npm.txt" "$T/node/sbom.txt" || fail "SBOM npm packages differ from npm ls"
assert_contains "$T/node/sbom.txt" '^@aws-sdk/client-s3 3\.750\.0$'
assert_contains "$(jq -r '.packages[] | select(.name == "@aws-sdk/client-s3") | .externalRefs[0].referenceLocator' "$N")" \
	'^pkg:npm/%40aws-sdk/client-s3@3\.750\.0$'
assert_eq "$(jq -r '.packages[] | select(.name == "@aws-sdk/client-s3") | .licenseDeclared' "$N")" Apache-2.0 \
	"client-s3's licence"

# --- push --sbom ----------------------------------------------------------------------------------
start_registry none
run_lamina push "$T/py/out.tar" "$REG/fn/sbom:v1" --sbom "$S" || { cat "$T/err" >&2; fail "push --sbom"; }
assert_eq "$(cat "$T/out")" "$REG/fn/sbom:v1@$(cat "$T/py/digest")" "pushed digest"
assert_contains "$T/err" "^sbom .* attached as sha256:[0-9a-f]{64} \(referrers"
art=$(sed -n 's/^sbom .* attached as \(sha256:[0-9a-f]*\) .*/\1/p' "$T/err")
hex=$(cut -c8- "$T/py/digest")
curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/fn/sbom/manifests/$art" >"$T/art.json" ||
	fail "the artifact manifest is not in the registry"
assert_eq "$(jq -r .artifactType "$T/art.json")" application/spdx+json "artifactType"
assert_eq "$(jq -r .subject.digest "$T/art.json")" "$(cat "$T/py/digest")" "subject"
blob=$(jq -r '.layers[0].digest' "$T/art.json")
curl -sf "http://$REG/v2/fn/sbom/blobs/$blob" | cmp - "$S" || fail "the artifact's blob is not the SBOM"
if grep -q "referrers tag schema" "$T/err"; then
	curl -sf -H 'Accept: application/vnd.oci.image.index.v1+json' "http://$REG/v2/fn/sbom/manifests/sha256-$hex" \
		>"$T/refs.json" || fail "no referrers tag index"
	assert_eq "$(jq -r '.manifests[0].digest' "$T/refs.json")" "$art" "the referrers tag lists the artifact"
	assert_eq "$(jq -r '.manifests[0].artifactType' "$T/refs.json")" application/spdx+json "its artifactType"
fi
# again: the tag index lists it once
run_lamina push "$T/py/out.tar" "$REG/fn/sbom:v1" --sbom "$S" || fail "second push --sbom"
if grep -q "referrers tag schema" "$T/err"; then
	curl -sf "http://$REG/v2/fn/sbom/manifests/sha256-$hex" -H 'Accept: application/vnd.oci.image.index.v1+json' \
		>"$T/refs.json"
	assert_eq "$(jq '.manifests | length' "$T/refs.json")" 1 "referrers after a second push"
fi
# a registry that refuses it (here: the referrers tag holds an image, not an index): a warning,
# and the image push succeeds
"$LAMINA" -q push "$T/node/out.tar" "$REG/fn/sbom2:sha256-$hex" >/dev/null || fail "push an image at the tag"
run_lamina push "$T/py/out.tar" "$REG/fn/sbom2:v1" --sbom "$S" || { cat "$T/err" >&2; fail "push with a refused SBOM"; }
assert_contains "$T/err" "warning: SBOM .* not attached \(the image is pushed\)"
assert_eq "$(cat "$T/out")" "$REG/fn/sbom2:v1@$(cat "$T/py/digest")" "pushed digest with a refused SBOM"
skopeo inspect --tls-verify=false --raw "docker://$REG/fn/sbom2:v1" | sha256sum | cut -c1-64 >"$T/back"
assert_eq "sha256:$(cat "$T/back")" "$(cat "$T/py/digest")" "image read back"

# --- build --push: the SBOM attached as by push --sbom, the very document -o writes --------------
run_lamina build "$T/py/lamina.json" --push "$REG/fn/built:v1" || { cat "$T/err" >&2; fail "build --push"; }
assert_eq "$(cat "$T/out")" "$(cat "$T/py/digest")" "build --push: the same image"
assert_contains "$T/err" "^sbom attached as sha256:[0-9a-f]{64} \(referrers"
art=$(sed -n 's/^sbom attached as \(sha256:[0-9a-f]*\) .*/\1/p' "$T/err")
curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$REG/v2/fn/built/manifests/$art" \
	>"$T/art2.json" || fail "build --push: no artifact manifest"
assert_eq "$(jq -r .subject.digest "$T/art2.json")" "$(cat "$T/py/digest")" "build --push: the subject"
curl -sf "http://$REG/v2/fn/built/blobs/$(jq -r '.layers[0].digest' "$T/art2.json")" | cmp - "$S" ||
	fail "build --push: the artifact is not the SBOM that -o writes"
# --sbom none: nothing attached
run_lamina build "$T/py/lamina.json" --push "$REG/fn/built:v2" --sbom none || fail "build --push --sbom none"
assert_not_contains "$T/err" "sbom attached"
# a registry that refuses it: a warning, the push stands
"$LAMINA" -q push "$T/node/out.tar" "$REG/fn/built3:sha256-$hex" >/dev/null || fail "push an image at the tag (built3)"
run_lamina build "$T/py/lamina.json" --push "$REG/fn/built3:v1" || { cat "$T/err" >&2; fail "build --push, refused SBOM"; }
assert_contains "$T/err" "warning: SBOM not attached to '$REG/fn/built3:v1' \(the image is pushed\)"
assert_eq "$(cat "$T/out")" "$(cat "$T/py/digest")" "build --push with a refused SBOM: the image"
echo "ok"
