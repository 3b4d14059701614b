#!/usr/bin/env bash
# The fixture cache (scripts/lib-fixture.sh) trusts a cached fixture only while its stamp
# names the inputs and the very output that was made. A CI run once used a Python base
# built before the AWS SDK was added to it: its .key had been hard-linked from another
# cache and rewritten in place by a later build there. Each of these must hold.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
. "$here/scripts/lib-fixture.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
die() { echo "FAIL: $*" >&2; exit 1; }
mkdir "$t/a" "$t/b"

echo one >"$t/a/base.tar"
! fixture_fresh "$t/a/base.tar" K1 || die "fresh without a stamp"
fixture_stamp "$t/a/base.tar" K1
fixture_fresh "$t/a/base.tar" K1 || die "not fresh right after its stamp"
! fixture_fresh "$t/a/base.tar" K2 || die "fresh for other inputs"

# a rebuild replaces the output (a new file renamed over it): the old stamp no longer holds
echo one >"$t/a/base.tar.new" && touch -d @1 "$t/a/base.tar.new" && mv "$t/a/base.tar.new" "$t/a/base.tar"
! fixture_fresh "$t/a/base.tar" K1 || die "fresh after the output was replaced"

# two caches whose stamps are hard links of each other: stamping one leaves the other alone
echo old >"$t/b/base.tar"
fixture_stamp "$t/a/base.tar" K3
ln -f "$t/a/base.tar.key" "$t/b/base.tar.key"
! fixture_fresh "$t/b/base.tar" K3 || die "a stamp hard-linked from another cache vouches for this output"
fixture_stamp "$t/a/base.tar" K4
[ "$(stat -c %h "$t/b/base.tar.key")" = 1 ] || die "stamping wrote through a hard link"
grep -q '^K3 ' "$t/b/base.tar.key" || die "stamping one cache changed the other's stamp"

# a directory fixture: its contents may change (caches), its identity is the directory
mkdir "$t/a/wl" && fixture_stamp "$t/a/wl" K5
touch "$t/a/wl/__pycache__" && fixture_fresh "$t/a/wl" K5 || die "a directory fixture went stale from a file added inside"
rm -rf "$t/a/wl" && mkdir "$t/a/wl"
! fixture_fresh "$t/a/wl" K5 || die "fresh after the directory was made again"
echo "fixture stamps: ok"
