# A CI fleet shares its build cache through a registry: runner A builds with --cache-to,
# runner B (an empty cache, the sources at another path with new mtimes) builds with
# --cache-from and gets the same image without compiling or compressing the unchanged
# layers. A missing ref is a warning; a cache whose blob does not match its digest is
# refused and the work is done locally.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
. "$(dirname "$0")/lib-registry.sh"
need_root_ns
FIX=$(fixture_base)
start_registry none

mkdir -p "$T/a/src" "$T/a/deps/lib"
make_app "$T/a/src"
for i in $(seq 1 40); do printf 'def f%d(x):\n    return x + %d\n' "$i" "$i" >"$T/a/deps/lib/m$i.py"; done
head -c 1500000 /dev/urandom >"$T/a/deps/lib/big.bin" # a layer over 1 MiB travels as its own blob
cat >"$T/a/lamina.json" <<JSON
{ "base": "oci-archive:$FIX",
  "layers": [ { "name": "deps", "from": "deps", "to": "/var/task" },
              { "name": "app", "from": "src", "to": "/var/task" } ],
  "verify": { "imports": ["pkg.util", "lib.m7"] },
  "config": { "cmd": ["app.handler"] } }
JSON
REF=$REG/cache/app:main
stat_of() { sed -nE "s/.*$1 ([0-9]+).*/\\1/p" "$T/err" | tail -1; }

# runner A
XDG_CACHE_HOME=$T/cacheA run_lamina -v build "$T/a/lamina.json" --cache-to "$REF" --insecure-registry "$REG" ||
	fail "runner A: $(cat "$T/err")"
dA=$(tail -1 "$T/out")
[ "$(stat_of exported)" -ge 4 ] || fail "runner A exported $(stat_of exported) entries"
skopeo inspect --tls-verify=false --raw "docker://$REF" >"$T/cache-manifest.json" || fail "skopeo cannot read the cache"
assert_eq "$(jq -r .config.mediaType "$T/cache-manifest.json")" "application/vnd.lamina.cache.config.v1+json" "cache config type"
assert_eq "$(jq -r .mediaType "$T/cache-manifest.json")" "application/vnd.oci.image.manifest.v1+json" "cache manifest type (no index)"

# runner B: another path, new mtimes, an empty cache
cp -a "$T/a" "$T/b"
find "$T/b" -exec touch -h {} +
XDG_CACHE_HOME=$T/cacheB run_lamina -v build "$T/b/lamina.json" --cache-from "$REF" --insecure-registry "$REG" ||
	fail "runner B: $(cat "$T/err")"
assert_eq "$(tail -1 "$T/out")" "$dA" "runner B's digest"
assert_eq "$(stat_of compiled)" 0 "sources runner B compiled"
assert_eq "$(stat_of compressed)" 0 "bytes runner B compressed"
assert_contains "$T/err" "verify cached"
[ "$(stat_of imported)" -ge 4 ] || fail "runner B imported $(stat_of imported) entries"

# runner C changes the handler: only the app layer is made, the deps come from the registry
cp -a "$T/a" "$T/c"
sed -i 's/x \* 7/x * 9/' "$T/c/src/pkg/util.py"
XDG_CACHE_HOME=$T/cacheC run_lamina -v build "$T/c/lamina.json" --cache-from "$REF" --insecure-registry "$REG" ||
	fail "runner C: $(cat "$T/err")"
dC=$(tail -1 "$T/out")
assert_contains "$T/err" "layers written 1, reused 1"
dCfresh=$(XDG_CACHE_HOME=$T/cacheD "$LAMINA" -q build "$T/c/lamina.json" --no-cache) || fail "uncached build of C"
assert_eq "$dC" "$dCfresh" "runner C against an uncached build"

# a ref that does not exist, and a registry that is not there: warnings, the build goes on
XDG_CACHE_HOME=$T/cacheE run_lamina build "$T/a/lamina.json" --cache-from "$REG/cache/none:x" \
	--cache-from "127.0.0.1:1/cache/app:main" --insecure-registry "$REG" || fail "build with missing caches: $(cat "$T/err")"
assert_eq "$(tail -1 "$T/out")" "$dA" "digest with missing caches"
assert_eq "$(grep -c 'warning: --cache-from' "$T/err")" 2 "warnings for the two missing caches"

# a cache whose big blob was replaced in the registry's storage: refused, work done here
blob=$(jq -r '[.layers[] | select(.mediaType == "application/vnd.lamina.cache.blob.v1")][0].digest' "$T/cache-manifest.json")
[ -n "$blob" ] && [ "$blob" != null ] || fail "no standalone blob in the cache manifest"
data=$(find "$T/registry/data" -path "*/blobs/sha256/*/${blob#sha256:}/data")
[ -f "$data" ] || fail "blob $blob not found in the registry's storage"
printf 'X' | dd of="$data" bs=1 seek=100 conv=notrunc status=none
XDG_CACHE_HOME=$T/cacheF run_lamina -v build "$T/b/lamina.json" --cache-from "$REF" --insecure-registry "$REG" ||
	fail "build with a corrupt cache blob: $(cat "$T/err")"
assert_eq "$(tail -1 "$T/out")" "$dA" "digest with a corrupt cache blob"
assert_contains "$T/err" "warning: --cache-from"
assert_contains "$T/err" "digest"
echo ok
