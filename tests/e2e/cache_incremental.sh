# The content-keyed cache: after every kind of edit a cached build gives the same image as
# a build with --no-cache, does only the work the edit needs, and a corrupt entry is
# found, removed, redone and reported once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
FIX=$(fixture_base)

A=$T/app
mkdir -p "$A/src" "$A/deps/lib"
make_app "$A/src"
printf 'import json\nVALUE = 1\n' >"$A/deps/lib/helper.py"
printf 'data\n' >"$A/deps/lib/data.txt"
ln -s data.txt "$A/deps/lib/link"
cat >"$A/lamina.json" <<JSON
{ "base": "oci-archive:$FIX",
  "layers": [ { "name": "deps", "from": "deps", "to": "/var/task", "prune": { "remove": ["**/*.md"] } },
              { "name": "app", "from": "src", "to": "/var/task" } ],
  "verify": { "imports": ["pkg.util", "lib.helper"] },
  "config": { "cmd": ["app.handler"] } }
JSON

stats() { grep '^stats:' "$T/err" | tail -1; }
stat_of() { # NAME -> the number after NAME in the stats line
	stats | sed -nE "s/.*$1 ([0-9]+).*/\\1/p"
}
build() { # cached build; prints the digest
	run_lamina -v build "$A/lamina.json" -o "$T/out.tar" || { cat "$T/err" >&2; fail "cached build: $1"; }
	tail -1 "$T/out"
}
fresh() { # a build that uses no cache (and a cache of its own)
	XDG_CACHE_HOME=$T/fresh "$LAMINA" -q build "$A/lamina.json" --no-cache -o "$T/fresh.tar" ||
		fail "uncached build: $1"
}
check() { # WHAT: the cached build equals the uncached one, byte for byte
	local c f
	c=$(build "$1")
	f=$(fresh "$1")
	assert_eq "$c" "$f" "digest after '$1' (cached vs --no-cache)"
	cmp -s "$T/out.tar" "$T/fresh.tar" || fail "archives differ after '$1'"
}

check "first build"
# nothing changed: nothing read, compressed, compiled or verified again
build "again" >/dev/null
build "again" >/dev/null
assert_eq "$(stat_of hashed)" 0 "files hashed when nothing changed"
assert_eq "$(stat_of 'layers written')" 0 "layers written when nothing changed"
assert_eq "$(stat_of compressed)" 0 "bytes compressed when nothing changed"
assert_contains "$(stats)" "verify cached"
assert_contains "$T/err" "layer 'deps': prune and precompile unchanged"

# one line of the handler: only the app layer is made again
sed -i 's/x \* 7/x * 8/' "$A/src/pkg/util.py"
check "one-line change"
assert_eq "$(stat_of 'layers written')" 1 "layers written after a one-line change"
assert_eq "$(stat_of reused)" 1 "layers reused after a one-line change"

# the edits of the issue, each checked against an uncached build
printf 'NEW = 1\n' >"$A/src/new.py";                 check "add a file"
rm "$A/src/new.py";                                     check "remove a file"
mv "$A/deps/lib/data.txt" "$A/deps/lib/data2.txt";     check "rename a file (dangling link)"
ln -sfn data2.txt "$A/deps/lib/link";                   check "retarget a symlink"
chmod 0755 "$A/deps/lib/helper.py";                     check "chmod +x"
echo "# notes" >"$A/deps/lib/README.md";                check "add a file a prune rule removes"
# same size, same mtime, other content
f=$A/deps/lib/helper.py
touch -d '2020-01-01 00:00:00' "$f"
build "aged" >/dev/null
sed -i 's/VALUE = 1/VALUE = 2/' "$f"
touch -d '2020-01-01 00:00:00' "$f"
check "content change with size and mtime kept"

# a fresh checkout: every mtime new, the same content: nothing compiled or compressed
cp -a "$A" "$T/app2"
find "$T/app2" -exec touch -h {} +
sed -i "s|\"from\": \"deps\"|\"from\": \"$T/app2/deps\"|; s|\"from\": \"src\"|\"from\": \"$T/app2/src\"|" "$A/lamina.json"
d1=$(build "fresh checkout")
assert_eq "$(stat_of compressed)" 0 "bytes compressed for a fresh checkout"
assert_contains "$(stats)" "verify cached"
sed -i "s|\"from\": \"$T/app2/deps\"|\"from\": \"deps\"|; s|\"from\": \"$T/app2/src\"|\"from\": \"src\"|" "$A/lamina.json"

# corrupt cache entries: a record, a layer blob; each found, redone, reported once
for rec in "$XDG_CACHE_HOME"/lamina/ac/*/*; do printf 'junk' >>"$rec"; done
d2=$(build "corrupt records")
assert_eq "$d2" "$d1" "digest after corrupt records"
assert_eq "$(grep -c 'found corrupt' "$T/err")" 1 "lines reporting the corrupt entries"
app_layer=$(layer_digests "$T/out.tar" | tail -1)
blob="$XDG_CACHE_HOME/lamina/blobs/sha256/${app_layer#sha256:}"
printf '\0' | dd of="$blob" bs=1 seek=30 conv=notrunc status=none
d3=$(build "corrupt layer blob")
assert_eq "$d3" "$d1" "digest after a corrupt layer blob"
assert_contains "$T/err" "found corrupt"
assert_eq "$(stat_of 'layers written')" 1 "layers written after a corrupt blob"

# two builds sharing one cache at once, from scratch: both right
rm -rf "$XDG_CACHE_HOME/lamina"
"$LAMINA" -q build "$A/lamina.json" -o "$T/c1.tar" >"$T/c1" 2>&1 &
p1=$!
"$LAMINA" -q build "$A/lamina.json" -o "$T/c2.tar" >"$T/c2" 2>&1 &
p2=$!
wait $p1 || fail "concurrent build 1: $(cat "$T/c1")"
wait $p2 || fail "concurrent build 2: $(cat "$T/c2")"
assert_eq "$(tail -1 "$T/c1")" "$d1" "concurrent build 1"
assert_eq "$(tail -1 "$T/c2")" "$d1" "concurrent build 2"
echo "ok"
