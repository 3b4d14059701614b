# The cache is no privilege-escalation kit: a base with a setuid-root binary and
# world-writable files keeps them in the image (its layers pass through untouched), but
# the execution copy under <cache>/rootfs has no setuid bit and nothing others may write,
# and every directory of the cache is 0700.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (a setuid-root file, and nobody to try it)"
command -v setpriv >/dev/null || skip "setpriv is missing"
FIX=$(fixture_base)
C=$XDG_CACHE_HOME/lamina

cp "$(command -v id)" "$T/suid"
echo 'anyone may write me' >"$T/open"
"$REPO/tests/tools/add-layer.py" "$FIX" "$T/base.tar" "usr/local/bin/suid-true=$T/suid:4755" \
	"usr/local/bin/sgid-true=$T/suid:2755" "etc/world-writable=$T/open:0666" || fail "base image"
mkdir -p "$T/app"
echo 'x = 1' >"$T/app/m.py"
cat >"$T/lamina.json" <<JSON
{ "base": "oci-archive:$T/base.tar", "layers": [ { "name": "app", "from": "app" } ] }
JSON
run_lamina build "$T/lamina.json" -o "$T/out.tar" || fail "build: $(cat "$T/err")" # precompile: a rootfs

# the image keeps the base's modes (its layers are the base's bytes)
mkdir "$T/x" && tar -xf "$T/out.tar" -C "$T/x"
last=$(jq -r '.[0].Layers[3]' "$T/x/manifest.json")
assert_contains "$(tar -tvzf "$T/x/$last")" '^-rwsr-xr-x .*usr/local/bin/suid-true'

# the execution copy does not
root=$(find "$C/rootfs" -mindepth 1 -maxdepth 1 -type d -name '????????????????????????????????????????????????????????????????' | head -1)
[ -n "$root" ] || fail "no root filesystem in the cache"
assert_eq "$(stat -c %a "$root/usr/local/bin/suid-true")" 755 "mode of the setuid binary in the cache"
assert_eq "$(stat -c %a "$root/usr/local/bin/sgid-true")" 755 "mode of the setgid binary in the cache"
assert_eq "$(stat -c %a "$root/etc/world-writable")" 644 "mode of the world-writable file in the cache"
[ -z "$(find "$root" -perm /6022 ! -type l -print -quit)" ] || fail "setuid/setgid or g/o-writable entries in $root: $(find "$root" -perm /6022 ! -type l | head -3)"

# every directory of the cache is private
for d in "$C" "$C/blobs" "$C/blobs/sha256" "$C/tmp" "$C/rootfs" "$root" "$C/ac" "$C/verified"; do
	[ -d "$d" ] || continue
	assert_eq "$(stat -c %a "$d")" 700 "mode of $d"
done
# run by nobody (if it can reach it at all), the cached copy of the setuid binary (id) is
# not root
got=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$root/usr/local/bin/suid-true" -u 2>/dev/null || true)
[ "$got" != 0 ] || fail "the cached copy of a setuid-root binary runs as root for nobody"
echo ok
