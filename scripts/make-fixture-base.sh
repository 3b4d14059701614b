#!/usr/bin/env bash
# Builds a small stand-in for public.ecr.aws/lambda/python:3.12 from Debian's python3.11
# packages, as an OCI image layout in a tar (oci-archive), tag "3.12".
#   scripts/make-fixture-base.sh [OUT]
# OUT defaults to ${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}/python-base.oci.tar.
# Prints OUT (only that) on stdout. Reuses OUT when it was built from the same inputs
# (this script + tests/fixtures/base/*). Deterministic: the same .debs give the same bytes.
#
# Layers (gzip, like the real image: OS / lang / runtime):
#   1 OS:      Debian libc + libraries + dash (/bin/sh) + tzdata, /etc/{passwd,group,localtime},
#              /tmp (1777), and two things layer 3 deletes: /etc/fixture-removed and
#              /var/lang/share/fixture-opaque/{one,two} (the latter in layer 2).
#   2 lang:    /var/lang (python3.11 as bin/python3.11, python3, python; stdlib in
#              lib/python3.11; lib/python3.11/site-packages holds the AWS SDK as in the real
#              image: boto3, botocore, s3transfer, jmespath, urllib3, dateutil, six from
#              Debian's python3-* packages, with their .egg-info metadata; plus requests,
#              certifi, charset-normalizer, idna, chardet, which Debian's botocore imports);
#              bytecode (__pycache__) for all of lib/python3.11, as CPython and pip install it.
#   3 runtime: /lambda-entrypoint.sh, /var/runtime/{bootstrap,bootstrap.py}, /var/task/,
#              /usr/local/bin/aws-lambda-rie (tests/fixtures/rie/rie.c, built statically),
#              whiteout etc/.wh.fixture-removed, opaque var/lang/share/fixture-opaque/.wh..wh..opq
#              plus var/lang/share/fixture-opaque/new.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib-fixture.sh"

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
files="$repo/tests/fixtures/base"
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
out=${1:-$cache/python-base.oci.tar}
log() { echo "make-fixture-base: $*" >&2; }
die() { log "error: $*"; exit 1; }

for t in apt-get dpkg-deb jq sha256sum gzip tar ldconfig chroot; do
	command -v "$t" >/dev/null || die "missing tool: $t"
done

chroot=$(command -v chroot)
mkdir -p "$cache" "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")

# Inputs key: what the archive depends on besides the .debs.
key=$( { sha256sum "$0" "$repo/tests/fixtures/rie/rie.c"; (cd "$files" && LC_ALL=C find . -type f | LC_ALL=C sort | xargs sha256sum); } \
	| sed 's,  .*/,  ,' | sha256sum | cut -c1-64)

complete() { [ -s "$out" ] && fixture_fresh "$out" "$key"; }
if complete; then echo "$out"; exit 0; fi

exec 9>"$out.lock"
flock 9
if complete; then echo "$out"; exit 0; fi

arch=$(dpkg --print-architecture)
case "$arch" in
amd64) triplet=x86_64-linux-gnu ld=/lib64/ld-linux-x86-64.so.2 ;;
arm64) triplet=aarch64-linux-gnu ld=/lib/ld-linux-aarch64.so.1 ;;
*) die "unsupported architecture $arch" ;;
esac

pkgs=(libc6 libgcc-s1 libstdc++6 gcc-12-base dash bash coreutils tzdata
	libacl1 libattr1 libselinux1 libpcre2-8-0 libgmp10
	python3.11-minimal libpython3.11-minimal libpython3.11-stdlib python3.11 media-types
	libssl3 zlib1g libexpat1 libffi8 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 libtinfo6
	libreadline8 readline-common libuuid1 libcrypt1 libdb5.3 libgdbm6 libgdbm-compat4
	# (no libmpdec3: bookworm python3.11 bundles libmpdec)
	libzstd1 libnsl2 libtirpc3 libtirpc-common libgssapi-krb5-2 libkrb5-3 libk5crypto3
	libkrb5support0 libkeyutils1 libcom-err2)
# The AWS SDK the real image ships in /var/lang/lib/python3.12/site-packages. Debian's
# botocore imports requests where upstream's uses its vendored copy: requests and its
# dependencies come too (the real image has no requests).
sdk=(python3-boto3 python3-botocore python3-s3transfer python3-jmespath python3-urllib3 python3-dateutil
	python3-six python3-requests python3-certifi python3-charset-normalizer python3-idna python3-chardet)

# --- .debs, cached -------------------------------------------------------------------------
debs="$cache/debs-$arch"
mkdir -p "$debs"
need=()
for p in "${pkgs[@]}" "${sdk[@]}"; do
	compgen -G "$debs/${p}_*.deb" >/dev/null || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "downloading ${#need[@]} packages"
	if ! (cd "$debs" && apt-get download -q "${need[@]}" >/dev/null 2>"$debs/.apt.log"); then
		log "apt-get download failed; running apt-get update"
		apt-get update -qq >&2 || true
		(cd "$debs" && apt-get download -q "${need[@]}" >/dev/null 2>"$debs/.apt.log") ||
			{ cat "$debs/.apt.log" >&2; die "apt-get download failed"; }
	fi
fi
# Newest version of each package (several may be cached after a Debian update).
deb_of() { LC_ALL=C ls "$debs/${1}"_*.deb | sort -V | tail -1; }

# --- staging ---------------------------------------------------------------------------------
work=$(mktemp -d "$cache/.work.XXXXXX")
tmpout="$out.tmp.$$"
trap 'rm -rf "$work" "$tmpout"' EXIT
os="$work/l1" lang="$work/l2" rt="$work/l3"
mkdir -p "$os" "$lang" "$rt"

for p in "${pkgs[@]}"; do dpkg-deb -x "$(deb_of "$p")" "$os"; done

# Drop documentation and packaging leftovers.
rm -rf "$os"/usr/share/{doc,man,info,lintian,menu,pixmaps,applications,binfmts,debianutils,gdb,bug} \
	"$os"/usr/lib/binfmt.d "$os"/usr/lib/python3 "$os"/etc/python3.11 \
	"$os"/usr/bin/pydoc3.11 "$os"/usr/bin/pdb3.11 "$os"/usr/bin/pygettext3.11 \
	"$os"/usr/share/readline "$os"/usr/share/python3
[ -e "$os$ld" ] || die "$ld missing from libc6"
[ -e "$os/bin/sh" ] || ln -s dash "$os/bin/sh"

# Python -> /var/lang (layer 2).
mkdir -p "$lang/var/lang/bin" "$lang/var/lang/lib" "$lang/var/lang/share/fixture-opaque"
mv "$os/usr/bin/python3.11" "$lang/var/lang/bin/python3.11"
mv "$os/usr/lib/python3.11" "$lang/var/lang/lib/python3.11"
ln -s python3.11 "$lang/var/lang/bin/python3"
ln -s python3 "$lang/var/lang/bin/python"
py="$lang/var/lang/lib/python3.11"
rm -f "$py/EXTERNALLY-MANAGED" "$py/sitecustomize.py"
rm -rf "$py/dist-packages"
mkdir -p "$py/site-packages"
for p in "${sdk[@]}"; do dpkg-deb -x "$(deb_of "$p")" "$work/sdk"; done
cp -a "$work/sdk/usr/lib/python3/dist-packages/." "$py/site-packages/"
rm -rf "$work/sdk"
# Behave like upstream CPython (as in the real image): site-packages under the prefix is on
# sys.path (site.py is frozen into the binary, so via sitecustomize) and is the install scheme
# (sysconfig), not Debian's dist-packages/posix_local.
install -m 0644 "$files/sitecustomize.py" "$py/sitecustomize.py"
sed -i "s/^            prefix_scheme = 'posix_local'$/            prefix_scheme = 'posix_prefix'  # lamina fixture/" "$py/sysconfig.py"
grep -q "prefix_scheme = 'posix_prefix'  # lamina fixture" "$py/sysconfig.py" || die "could not patch sysconfig.py"
printf 'opaque: from layer 2, hidden by layer 3\n' >"$lang/var/lang/share/fixture-opaque/one"
printf 'opaque: from layer 2, hidden by layer 3\n' >"$lang/var/lang/share/fixture-opaque/two"

# /etc and friends (layer 1).
install -m 0644 "$files/passwd" "$os/etc/passwd"
install -m 0644 "$files/group" "$os/etc/group"
cp "$os/usr/share/zoneinfo/Etc/UTC" "$os/etc/localtime"
chmod 0644 "$os/etc/localtime"
printf 'placeholder: added by layer 1, deleted by a whiteout in layer 3\n' >"$os/etc/fixture-removed"
mkdir -p "$os/tmp" "$os/var/tmp" "$os/root" "$os/opt" "$os/usr/local/bin"
chmod 1777 "$os/tmp" "$os/var/tmp"
chmod 0700 "$os/root"
ldconfig -r "$os"

# Runtime (layer 3).
mkdir -p "$rt/var/runtime" "$rt/var/task" "$rt/etc" "$rt/var/lang/share/fixture-opaque"
install -m 0755 "$files/lambda-entrypoint.sh" "$rt/lambda-entrypoint.sh"
install -m 0755 "$files/bootstrap" "$rt/var/runtime/bootstrap"
install -m 0644 "$files/bootstrap.py" "$rt/var/runtime/bootstrap.py"
# the runtime interface emulator the real images start when AWS_LAMBDA_RUNTIME_API is unset
mkdir -p "$rt/usr/local/bin"
gcc -static -O2 -s -o "$rt/usr/local/bin/aws-lambda-rie" "$repo/tests/fixtures/rie/rie.c" ||
	die "could not build tests/fixtures/rie/rie.c (gcc -static needs libc6-dev)"
: >"$rt/etc/.wh.fixture-removed"
: >"$rt/var/lang/share/fixture-opaque/.wh..wh..opq"
printf 'opaque: the only file after layer 3\n' >"$rt/var/lang/share/fixture-opaque/new"

# Normalise modes: nothing group/world-writable except sticky /tmp dirs; dirs 0755.
for d in "$os" "$lang" "$rt"; do
	find "$d" -type d ! -path "$os/tmp" ! -path "$os/var/tmp" ! -path "$os/root" -exec chmod 0755 {} +
	find "$d" -type f -perm /022 -exec chmod go-w {} +
done

# --- check that the interpreter works in the assembled root -----------------------------------
check="$work/check"
mkdir -p "$check"
cp -a "$os/." "$check/"
cp -a "$lang/." "$check/"
rm -rf "$check/var/lang/share/fixture-opaque" "$check/etc/fixture-removed"
cp -a "$rt/." "$check/"
find "$check" -name '.wh.*' -delete
got=$(env -i PATH=/var/lang/bin:/usr/bin:/bin PYTHONDONTWRITEBYTECODE=1 "$chroot" "$check" /var/lang/bin/python3 -c '
import ssl, sqlite3, json, ctypes, zlib, bz2, lzma, hashlib, decimal, uuid, readline, zoneinfo, ctypes.util, sys, sysconfig, site
assert sys.prefix == "/var/lang", sys.prefix
sp = "/var/lang/lib/python3.11/site-packages"
assert sp in sys.path and sp in site.getsitepackages(), sys.path
assert sysconfig.get_paths()["purelib"] == sp, sysconfig.get_paths()
import boto3, botocore, s3transfer, jmespath, urllib3, dateutil, six, importlib.metadata as md
assert boto3.__file__.startswith(sp + "/"), boto3.__file__
assert md.version("boto3") == boto3.__version__, md.version("boto3")
boto3.client("s3", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
print("ok")') || die "python does not run in the fixture root"
[ "$got" = ok ] || die "python check printed: $got"
# Bytecode, as the real image ships it (CPython's make install compiles the standard
# library, pip the packages it installs): every .py under /var/lang/lib/python3.11,
# compiled by the image's own python against the mtime the layer's tar gives every file (0),
# so the .pyc files are valid in the image. Copied back into layer 2.
find "$check/var/lang/lib/python3.11" -name '*.py' -exec touch -h -d @0 {} +
env -i PATH=/var/lang/bin:/usr/bin:/bin "$chroot" "$check" /var/lang/bin/python3 -m compileall -q \
	-x '/(test|tests|idlelib|lib2to3/tests)/' /var/lang/lib/python3.11 >/dev/null 2>"$work/compileall.log" ||
	{ tail -25 "$work/compileall.log" >&2; die "compileall failed in the fixture root"; }
(cd "$check/var/lang/lib/python3.11" && find . -type d -name __pycache__ -print0) |
	while IFS= read -r -d '' d; do cp -a "$check/var/lang/lib/python3.11/$d" "$py/$d"; done
# Every ELF in the image resolves its libraries inside the image.
missing=$(find "$check" -type f \( -name '*.so*' -o -perm -0100 \) -print0 |
	while IFS= read -r -d '' f; do
		head -c4 "$f" | grep -q 'ELF' || continue
		"$chroot" "$check" "$ld" --list "${f#"$check"}" 2>/dev/null | grep 'not found' || true
	done | sort -u)
[ -z "$missing" ] || die "unresolved libraries: $missing"
mkdir -p "$check/tmp/t"
printf 'def handler(e, c):\n    return {"y": e["x"] * 7}\n' >"$check/tmp/t/app.py"
got=$(printf '{"x": 6}' | env -i LAMBDA_TASK_ROOT=/tmp/t PYTHONDONTWRITEBYTECODE=1 LAMINA_EVENT=- "$chroot" "$check" \
	/lambda-entrypoint.sh app.handler)
[ "$got" = '{"y": 42}' ] || die "bootstrap check printed: $got"
rm -rf "$check"

# --- layers ---------------------------------------------------------------------------------
layout="$work/oci"
mkdir -p "$layout/blobs/sha256"
tarflags=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --hard-dereference
	--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime)
blob() { # FILE -> moves into blobs, prints hex digest
	local h
	h=$(sha256sum "$1" | cut -c1-64)
	mv "$1" "$layout/blobs/sha256/$h"
	echo "$h"
}
layers_json='[]' diffids='[]' history='[]'
n=0
for spec in "l1:OS layer: Debian 12 libc, libraries, dash, tzdata, /etc" \
	"l2:lang layer: /var/lang (Debian python3.11 relocated, the AWS SDK in site-packages)" \
	"l3:runtime layer: /var/runtime, /lambda-entrypoint.sh, aws-lambda-rie, /var/task, whiteouts"; do
	d=${spec%%:*} what=${spec#*:}
	n=$((n + 1))
	mapfile -t top < <(cd "$work/$d" && LC_ALL=C ls -A | LC_ALL=C sort)
	(cd "$work/$d" && LC_ALL=C tar -c "${tarflags[@]}" -f "$work/layer.tar" -- "${top[@]}")
	diff=$(sha256sum "$work/layer.tar" | cut -c1-64)
	gzip -n "$work/layer.tar"
	size=$(stat -c %s "$work/layer.tar.gz")
	h=$(blob "$work/layer.tar.gz")
	log "layer $n: sha256:$h ($size bytes gz), diff_id sha256:$diff"
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
			"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"],
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
		annotations: {"org.opencontainers.image.ref.name": "3.12"}}]
}' | tr -d '\n' >"$layout/index.json"
chmod 0644 "$layout/oci-layout" "$layout/index.json" "$layout"/blobs/sha256/*
chmod 0755 "$layout" "$layout/blobs" "$layout/blobs/sha256"

(cd "$layout" && LC_ALL=C tar -c "${tarflags[@]}" -f "$tmpout" oci-layout index.json blobs)
mv -f "$tmpout" "$out"
fixture_stamp "$out" "$key"
log "built $out ($(stat -c %s "$out") bytes), manifest sha256:$mh"
echo "$out"
