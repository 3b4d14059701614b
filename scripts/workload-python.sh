#!/usr/bin/env bash
# Assembles the Python prune workload: Debian 12's python3-* packages for boto3, numpy,
# pydantic, httpx, jinja2, yaml, requests, cryptography, aiohttp, sqlalchemy ... and their
# python3-* dependencies, unpacked from .debs into a site-packages-shaped directory, plus
# the C libraries their extensions need (libblas.so.3, liblapack.so.3, libyaml ...) in lib/,
# which the Lambda runtime puts on LD_LIBRARY_PATH as /var/task/lib.
#   scripts/workload-python.sh [OUT]
# OUT defaults to ${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}/workload-python.
# WORKLOAD_PYTHON_EXTRA="python3-scipy python3-matplotlib" adds those packages (and their
# dependencies) to the default list, for benchmarks that want a larger tree; OUT then
# defaults to a separate directory (workload-python+scipy+matplotlib), so the default
# tree, which the prune tests count on, never changes.
# Prints OUT on stdout. Cached: reused while OUT.key stamps it (scripts/lib-fixture.sh).
set -euo pipefail
cache=${LAMINA_FIXTURES:-$HOME/.cache/lamina-fixtures}
read -r -a extra <<<"${WORKLOAD_PYTHON_EXTRA:-}"
suffix=
for p in "${extra[@]}"; do
	[[ $p =~ ^[a-z0-9][a-z0-9.+-]*$ ]] || { echo "workload-python: bad package name '$p' in WORKLOAD_PYTHON_EXTRA" >&2; exit 2; }
	suffix+="+${p#python3-}"
done
out=${1:-$cache/workload-python$suffix}
log() { echo "workload-python: $*" >&2; }
die() { log "error: $*"; exit 1; }
for t in apt-get apt-cache dpkg-deb; do command -v "$t" >/dev/null || die "missing tool: $t"; done
. "$(dirname "${BASH_SOURCE[0]}")/lib-fixture.sh"
key=$( { fixture_key "$0"; printf '%s\n' "${extra[@]}"; } | sha256sum | cut -c1-64)
if fixture_fresh "$out" "$key"; then echo "$out"; exit 0; fi

roots=(python3-boto3 python3-botocore python3-s3transfer python3-numpy python3-pydantic python3-httpx
	python3-httpcore python3-anyio python3-jinja2 python3-markupsafe python3-yaml python3-requests
	python3-urllib3 python3-charset-normalizer python3-cryptography python3-aiohttp python3-sqlalchemy
	"${extra[@]}")
# Already in the Lambda-shaped base (tests/fixtures via scripts/make-fixture-base.sh) or the
# interpreter itself: not part of the workload.
base_re='^(python3|python3-minimal|python3\.11.*|libpython3.*|python3-distutils|python3-lib2to3|libc6|libgcc-s1|libstdc\+\+6|gcc-12-base|libssl3|zlib1g|libexpat1|libffi8|libbz2-1\.0|liblzma5|libsqlite3-0|libzstd1|libcrypt1|libuuid1|media-types|tzdata|debconf|dpkg|.*:any)$'

arch=$(dpkg --print-architecture)
debs="$cache/debs-$arch"
mkdir -p "$debs" "$(dirname "$out")"
mapfile -t all < <(apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
	--no-replaces --no-enhances "${roots[@]}" 2>/dev/null | grep -v '^ ' | sed 's/[<>]//g' | sort -u)
pkgs=()
for p in "${all[@]}"; do
	[[ $p =~ $base_re ]] && continue
	case "$p" in python3-* | lib*) ;; *) continue ;; esac
	# virtual packages have no candidate
	[ -n "$(apt-cache policy "$p" 2>/dev/null | sed -n 's/^ *Candidate: //p' | grep -v '(none)')" ] || continue
	pkgs+=("$p")
done
need=()
for p in "${pkgs[@]}"; do compgen -G "$debs/${p}_*.deb" >/dev/null || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
	log "downloading ${#need[@]} packages"
	(cd "$debs" && apt-get download -q "${need[@]}" >/dev/null 2>"$debs/.apt-workload.log") || {
		apt-get update -qq >&2 || true
		(cd "$debs" && apt-get download -q "${need[@]}" >/dev/null 2>"$debs/.apt-workload.log") ||
			{ cat "$debs/.apt-workload.log" >&2; die "apt-get download failed"; }
	}
fi
deb_of() { LC_ALL=C ls "$debs/${1}"_*.deb | sort -V | tail -1; }

work=$(mktemp -d "$cache/.wlpy.XXXXXX")
trap 'rm -rf "$work"' EXIT
for p in "${pkgs[@]}"; do dpkg-deb -x "$(deb_of "$p")" "$work/root"; done
stage="$work/out"
mkdir -p "$stage/lib"
cp -a "$work/root/usr/lib/python3/dist-packages/." "$stage/"
# C libraries the extensions need, flattened into lib/: the closure of DT_NEEDED over the
# extracted libraries (Debian's alternatives symlinks for BLAS/LAPACK are made by postinst
# scripts, which dpkg-deb -x does not run: look in blas/ and lapack/ too). Libraries the
# base image carries are not in the extracted set and are left to it.
libdir="$work/root/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)"
find_lib() {
	local d
	for d in "$libdir" "$libdir/blas" "$libdir/lapack"; do
		[ -e "$d/$1" ] && { echo "$d/$1"; return 0; }
	done
	return 1
}
needed() { readelf -dW "$1" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
mapfile -t queue < <(find "$stage" -name '*.so' -type f | while read -r f; do needed "$f"; done | sort -u)
declare -A seen=()
while [ ${#queue[@]} -gt 0 ]; do
	n=${queue[0]}
	queue=("${queue[@]:1}")
	[ -n "${seen[$n]:-}" ] && continue
	seen[$n]=1
	f=$(find_lib "$n") || continue
	cp -L "$f" "$stage/lib/$n"
	mapfile -t more < <(needed "$f")
	queue+=("${more[@]}")
done
rm -rf "$out"
mv "$stage" "$out"
fixture_stamp "$out" "$key"
log "$(find "$out" -type f | wc -l) files, $(du -sb "$out" | cut -f1) bytes, ${#pkgs[@]} packages"
echo "$out"
