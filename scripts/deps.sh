#!/usr/bin/env bash
# Installs what lamina needs to build and test on Debian 12, skipping what is present.
#   scripts/deps.sh [build|test]   (default: test = everything)
set -euo pipefail

build_pkgs=(gcc make pkg-config libarchive-dev libcurl4-openssl-dev libjansson-dev libzstd-dev
	libssl-dev libdeflate-dev zlib1g-dev check ca-certificates)
# Real parts the tests run against: registry, Docker engine, independent OCI clients,
# tools for the fixture base (dpkg-deb comes with dpkg), ELF tools, htpasswd; buildah
# makes an image with an OCI index for tests/e2e/check.sh; a headless browser renders the
# HTML report (tests/e2e/report.sh).
test_pkgs=(docker.io docker-registry skopeo umoci buildah apache2-utils python3 jq binutils pigz curl
	openssl file zip unzip clang libclang-rt-14-dev chromium
	python3-yaml python3-jsonschema xxd tmux man-db bash-completion zsh)

want=("${build_pkgs[@]}")
if [ "${1:-test}" = test ]; then
	want+=("${test_pkgs[@]}")
	command -v npm >/dev/null 2>&1 || want+=(npm)
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
