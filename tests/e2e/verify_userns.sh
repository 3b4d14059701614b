#!/usr/bin/env bash
# The unprivileged path: lamina build (precompile) and lamina verify run as an ordinary
# user (nobody), with their own cache, through a user namespace. Where the machine does
# not allow unprivileged user namespaces, and also in a user namespace whose
# user.max_user_namespaces is 0 (made here, the machine's setting is not touched),
# lamina must fail with one line naming the setting. The root path is checked in
# verify_image.sh.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
[ "$(id -u)" = 0 ] || skip "needs root to switch to an unprivileged user (setpriv)"
command -v setpriv >/dev/null || skip "setpriv is missing"
command -v unshare >/dev/null || skip "unshare is missing"
base=$(fixture_base) || skip "fixture base could not be built"

# Everything the user needs, readable and writable by nobody.
U="$T/u"
mkdir -p "$U"
chmod 711 "$T"
cp "$LAMINA" "$U/lamina"
cp "$base" "$U/base.tar"
make_app "$U/app"
cat >"$U/lamina.json" <<JSON
{"base": "oci-archive:$U/base.tar", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "verify": {"imports": ["pkg.util"]}}
JSON
echo '{"x": 3}' >"$U/event.json"
chown -R nobody:nogroup "$U"

as_nobody() { # CMD... as nobody:nogroup with a clean environment and its own cache
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -i PATH=/usr/bin:/bin HOME="$U" XDG_CACHE_HOME="$U/cache" "$@"
}
run_nobody() { # like run_lamina, as nobody
	local rc=0
	(cd "$U" && as_nobody "$U/lamina" "$@") >"$T/out" 2>"$T/err" || rc=$?
	return $rc
}
assert_one_line_ns_error() { # WHAT REMEDY: the error is one line, says what is disabled and what to do
	assert_eq "$(grep -c . "$T/err")" 1 "lines of the error"
	assert_contains "$T/err" "^lamina: (build|verify): .*$1"
	assert_contains "$T/err" "${2:-run lamina as root}"
}

if as_nobody unshare --user --mount true 2>/dev/null; then
	# Works unprivileged: build (precompile runs in the sandbox, then verify), then a
	# local invoke; all of it as nobody, in the user namespace.
	run_nobody build lamina.json -o out.tar || { cat "$T/err"; fail "build as nobody failed"; }
	layer_list "$U/out.tar" >"$T/list"
	assert_contains "$T/list" '__pycache__/app\.cpython-[0-9]+\.pyc'
	run_nobody verify out.tar --event event.json || { cat "$T/err"; fail "verify as nobody failed"; }
	assert_eq "$(cat "$T/out")" '{"y": 21, "fn": "lamina-verify"}' "handler result as nobody"
	assert_contains "$T/err" 'verify: ok \(Python, 1 import, handler resolved and called; checks from the image.s lamina.verify label\)'
	# the cache is nobody's, and the rootfs inside it too
	assert_eq "$(stat -c %U "$U/cache/lamina/rootfs")" nobody "owner of the rootfs cache"
	# /var/task is read-only for the namespace's root as well
	printf 'def handler(e, c):\n    try:\n        open("/var/task/x", "w")\n    except OSError as err:\n        return {"errno": err.errno}\n    return {"errno": 0}\n' >"$U/app/rw.py"
	sed -i 's/"app.handler"/"rw.handler"/' "$U/lamina.json"
	chown -R nobody:nogroup "$U/app" "$U/lamina.json"
	run_nobody verify lamina.json --event event.json || { cat "$T/err"; fail "verify MANIFEST as nobody failed"; }
	assert_contains "$T/out" '"errno": 30' # EROFS
	sed -i 's/"rw.handler"/"app.handler"/' "$U/lamina.json"
	# A failing import is reported the same way (exit 7).
	rc=0; run_nobody verify out.tar --import not_there || rc=$?
	assert_eq "$rc" 7 "exit status of a failed verify as nobody"
	assert_contains "$T/err" "No module named 'not_there'"
else
	# The machine forbids it: one clear line, non-zero exit.
	rc=0; run_nobody verify "$U/base.tar" || rc=$?
	[ "$rc" != 0 ] || fail "verify as nobody succeeded without user namespaces"
	assert_one_line_ns_error 'user namespaces'
	echo "note: unprivileged user namespaces are not available here; only the error was checked"
fi

# user.max_user_namespaces = 0, in a user namespace of our own (root -> root, nobody ->
# nobody) so the host's limit stays as it is.
mkfifo "$T/go"
printf '0 0 1\n65534 65534 1\n' >"$T/map"
unshare --user sh -c 'read x <"$1"; exec sh -c "$2" sh' sh "$T/go" \
	'echo 0 >/proc/sys/user/max_user_namespaces &&
	 cd '"$U"' && setpriv --reuid=65534 --regid=65534 --clear-groups \
		env -i PATH=/usr/bin:/bin HOME='"$U"' XDG_CACHE_HOME='"$U"'/cache2 '"$U"'/lamina verify base.tar --no-handler' \
	>"$T/out" 2>"$T/err" &
pid=$!
in_own_ns() { [ "$(readlink "/proc/$pid/ns/user")" != "$(readlink /proc/self/ns/user)" ]; }
wait_for -t 10 in_own_ns
cat "$T/map" >"/proc/$pid/uid_map" && cat "$T/map" >"/proc/$pid/gid_map" || { kill "$pid"; skip "cannot map ids into a user namespace"; }
echo go >"$T/go"
rc=0; wait "$pid" || rc=$?
[ "$rc" != 0 ] || fail "verify succeeded with user.max_user_namespaces = 0"
assert_eq "$rc" 4 "exit status without user namespaces"
assert_one_line_ns_error 'user namespaces are disabled on this machine \(user\.max_user_namespaces = 0\)' \
	"sysctl -w user.max_user_namespaces"
assert_eq "$(cat /proc/sys/user/max_user_namespaces | grep -c '^0$')" 0 "the host's limit is untouched"
echo ok
