#!/usr/bin/env bash
# precompile.node: lamina makes a V8 compile cache with the image's node (the Node fixture:
# node 22 from npm, a bootstrap that passes Lambda's V8 flags) and the built image uses it:
# run through /lambda-entrypoint.sh as Lambda's uid 993 (and as root) with /var/task
# read-only, node's compile-cache debug log shows every app module read from lamina's cache
# and accepted by V8; with a memory size the cache was not made for, none is (the control).
# Two builds from copies at different paths with new mtimes give the same digests. Bad
# setups fail with one message: a Lambda bootstrap without memorySizes, a base without
# node, a dir the app already has.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_node_base) || fail "Node fixture base could not be built"

# --- an app: a CommonJS handler, a CommonJS and an ES-only package, a package that throws
# on load, one that calls process.exit() on load, a types-only package --------------------------
app="$T/app"
mkdir -p "$app/lib" "$app/node_modules/greet" "$app/node_modules/@acme/esm-only" "$app/node_modules/thrower" \
	"$app/node_modules/exiter" "$app/node_modules/@types/greet"
cat >"$app/index.js" <<'JS'
const greet = require('greet');
const { times7 } = require('./lib/math');
exports.handler = async (event) => {
  const { shout } = await import('@acme/esm-only');
  return { msg: shout(greet(event.name || 'world')), y: times7(event.x || 1) };
};
JS
printf 'exports.times7 = (x) => x * 7;\n' >"$app/lib/math.js"
printf '{"name": "greet", "version": "1.0.0", "main": "lib.js"}\n' >"$app/node_modules/greet/package.json"
printf 'module.exports = (n) => "hello " + n;\n' >"$app/node_modules/greet/lib.js"
printf '{"name": "@acme/esm-only", "version": "1.0.0", "type": "module", "exports": {"import": "./index.js"}}\n' \
	>"$app/node_modules/@acme/esm-only/package.json"
printf 'export const shout = (s) => s.toUpperCase() + "!";\n' >"$app/node_modules/@acme/esm-only/index.js"
printf '{"name": "thrower", "version": "1.0.0"}\n' >"$app/node_modules/thrower/package.json"
printf 'const x = 1;\nthrow new Error("needs a database at load time");\n' >"$app/node_modules/thrower/index.js"
printf '{"name": "exiter", "version": "1.0.0"}\n' >"$app/node_modules/exiter/package.json"
printf 'process.exit(5);\n' >"$app/node_modules/exiter/index.js"
printf '{"name": "@types/greet", "version": "1.0.0", "types": "index.d.ts"}\n' >"$app/node_modules/@types/greet/package.json"
printf 'export {};\n' >"$app/node_modules/@types/greet/index.d.ts"
printf '{"name": "app", "version": "1.0.0"}\n' >"$app/package.json"

manifest() { # FROM PRECOMPILE_NODE_JSON [EXTRA_TOP_LEVEL]
	cat <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "$1"}],
 "config": {"cmd": ["index.handler"]}, "precompile": {"node": $2}${3:-}}
JSON
}
spec='{"memorySizes": [1024], "nodeArgs": [[]]}'
manifest app "$spec" >"$T/lamina.json"
run_lamina build "$T/lamina.json" -o "$T/a.tar" || { cat "$T/err"; fail "build failed"; }
digest=$(cat "$T/out")
# the failures are warnings naming the package; process.exit() did not end the run
assert_contains "$T/err" "warning: 2 of 5 entries did not load"
assert_contains "$T/err" "thrower: Error: needs a database at load time"
assert_contains "$T/err" "exiter: Error: process.exit\(5\) called while loading"
assert_not_contains "$T/err" "@types/greet"
assert_contains "$T/err" "for 2 flag sets \(3 of 5 entries loaded"

layer_list "$T/a.tar" >"$T/a.list"
# one cache directory per flag set, under Lambda's uid, with a symlink for root's
ntags=$(grep -Ec '^var/task/\.node-compile-cache/v22\.[0-9.]+-[a-z0-9]+-[0-9a-f]{8}-993/$' "$T/a.list" || true)
assert_eq "$ntags" 2 "cache directories (one per flag set)"
assert_eq "$(grep -Ec '^var/task/\.node-compile-cache/v22\.[^/]*-0$' "$T/a.list")" 2 "uid 0 symlinks"
# every module that was compiled: index.js, lib/math.js, greet/lib.js, esm-only/index.js,
# thrower/index.js and exiter/index.js (compiled before they failed), for each flag set
assert_eq "$(grep -Ec '^var/task/\.node-compile-cache/[^/]+-993/[0-9a-f]{8}$' "$T/a.list")" 12 "cache files"
cfg=$(mktemp -d "$T/cfg.XXXXXX")
tar -xf "$T/a.tar" -C "$cfg"
m=$(jq -r '.manifests[0].digest' "$cfg/index.json")
c=$(jq -r .config.digest "$cfg/blobs/sha256/${m#sha256:}")
assert_contains "$(jq -c .config.Env "$cfg/blobs/sha256/${c#sha256:}")" '"NODE_COMPILE_CACHE=/var/task/.node-compile-cache"'

root="$T/root"
image_root "$T/a.tar" "$root"
printf '{"name": "lamina", "x": 6}' >"$root/tmp/event.json"
# CMD... chrooted in the image as USER, /var/task read-only, the image's ENV plus the
# invoke's, node's compile-cache debug log on stderr
run_in_image() { # USER MEMORY_MB CMD...
	local user=$1 mem=$2
	shift 2
	unshare -m sh -c 'mount --bind "$1/var/task" "$1/var/task" && mount -o remount,bind,ro "$1/var/task" &&
		r=$1 && u=$2 && shift 2 && exec chroot --userspec="$u" "$r" "$@"' sh "$root" "$user:$user" \
		/usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime \
		NODE_PATH=/opt/nodejs/node22/node_modules:/opt/nodejs/node_modules:/var/runtime/node_modules:/var/runtime:/var/task \
		NODE_COMPILE_CACHE=/var/task/.node-compile-cache NODE_DEBUG_NATIVE=COMPILE_CACHE \
		AWS_LAMBDA_FUNCTION_MEMORY_SIZE="$mem" LAMINA_EVENT=/tmp/event.json "$@"
}
accepted() { # LOG: the app modules whose cache V8 accepted
	grep -Eo 'cache for (file://)?/var/task/[^ ]+ was accepted' "$1" | sed -E 's,^cache for (file://)?,,; s, was accepted$,,' |
		LC_ALL=C sort -u | tr '\n' ' '
}
want="/var/task/index.js /var/task/lib/math.js /var/task/node_modules/@acme/esm-only/index.js /var/task/node_modules/greet/lib.js "
for who in 993:1024 0:1024; do
	user=${who%%:*} mem=${who#*:}
	run_in_image "$user" "$mem" /lambda-entrypoint.sh index.handler >"$T/run.out" 2>"$T/run.log" ||
		{ tail -20 "$T/run.log"; fail "uid $user: the handler failed"; }
	assert_eq "$(cat "$T/run.out")" '{"msg":"HELLO LAMINA!","y":42}' "uid $user: handler result"
	assert_eq "$(accepted "$T/run.log")" "$want" "uid $user, ${mem} MB: modules read from the cache"
	assert_contains "$T/run.log" "reading cache from /var/task/\.node-compile-cache/v22[^ ]*-$user/"
	assert_not_contains "$T/run.log" 'for (CommonJS|ESM) (file://)?/var/task/[^ ]* was rejected'
	# read-only: writing new entries fails quietly (the runtime's own index.mjs is not cached)
	assert_contains "$T/run.log" 'read-only file system'
	echo "ok: uid $user, ${mem} MB"
done
# node started without V8 flags (the nodeArgs [] set)
run_in_image 993 0 /var/lang/bin/node -e 'require("/var/task/lib/math.js")' 2>"$T/plain.log" >/dev/null ||
	{ tail "$T/plain.log"; fail "plain node failed"; }
assert_eq "$(accepted "$T/plain.log")" "/var/task/lib/math.js " "plain node reads the cache"
# control: a memory size the cache was not made for gives other V8 flags, so another tag
# directory (not there, and /var/task is read-only): the handler still works, uncached
run_in_image 993 512 /lambda-entrypoint.sh index.handler >"$T/run.out" 2>"$T/run.log" ||
	{ tail -20 "$T/run.log"; fail "512 MB: the handler failed"; }
assert_eq "$(cat "$T/run.out")" '{"msg":"HELLO LAMINA!","y":42}' "512 MB: handler result"
assert_eq "$(accepted "$T/run.log")" "" "512 MB: no module from the cache"
echo "ok: uncached at 512 MB"

# --- reproducible: a copy at another path, new mtimes, another lamina cache ----------------------
cp -a "$app" "$T/copy"
find "$T/copy" -exec touch -d '2001-02-03 04:05:06' {} +
manifest copy "$spec" >"$T/copy.json"
XDG_CACHE_HOME="$T/cache2" run_lamina -q build "$T/copy.json" -o "$T/b.tar" || { cat "$T/err"; fail "second build failed"; }
assert_eq "$(cat "$T/out")" "$digest" "image digest of the second build"
assert_eq "$(layer_digests "$T/b.tar" | tail -1)" "$(layer_digests "$T/a.tar" | tail -1)" "app layer digest"
echo "ok: reproducible"

# --- entries from the manifest: only what they load is cached -------------------------------------
manifest app '{"memorySizes": [128], "entries": ["./lib/math.js", "greet"]}' >"$T/entries.json"
run_lamina build "$T/entries.json" -o "$T/c.tar" || { cat "$T/err"; fail "entries: build failed"; }
assert_eq "$(layer_list "$T/c.tar" | grep -Ec '^var/task/\.node-compile-cache/[^/]+-993/[0-9a-f]{8}$')" 2 "entries: cache files"
assert_contains "$T/err" "for 1 flag set \(2 of 2 entries loaded"

# --- errors -----------------------------------------------------------------------------------------
manifest app '{}' >"$T/noflags.json"
rc=0
run_lamina -q build "$T/noflags.json" -o "$T/x.tar" || rc=$?
assert_eq "$rc" 3 "exit status without memorySizes"
assert_eq "$(grep -c . "$T/err")" 1 "one error line"
assert_contains "$T/err" '^lamina: .*precompile\.node\.memorySizes: the base image.s /var/runtime/bootstrap starts node with V8 heap flags'
assert_no_file "$T/x.tar"

mkdir -p "$app/.node-compile-cache"
: >"$app/.node-compile-cache/stale"
rc=0
run_lamina -q build "$T/lamina.json" -o "$T/x.tar" || rc=$?
assert_eq "$rc" 3 "exit status with the dir in the app"
assert_contains "$T/err" "precompile\.node\.dir '/var/task/\.node-compile-cache': the app layers already have '/var/task/\.node-compile-cache"
rm -rf "$app/.node-compile-cache"

pybase=$(fixture_base)
cat >"$T/py.json" <<JSON
{"base": "oci-archive:$pybase", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["index.handler"]}, "precompile": {"node": {"nodeArgs": [[]]}}}
JSON
rc=0
run_lamina -q build "$T/py.json" -o "$T/x.tar" || rc=$?
assert_eq "$rc" 3 "exit status without node"
assert_contains "$T/err" 'precompile\.node: the image has no node'
assert_no_file "$T/x.tar"
echo "ok: errors"
