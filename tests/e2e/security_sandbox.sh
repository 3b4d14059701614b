# A hostile base image cannot touch the host. Its /var/lang/bin/python3 is a shell script
# that lamina runs to precompile and to verify; it tries what escaped before (writing
# through /proc/<pid>/root, mount, unshare, inherited descriptors, writing /var/task), and
# plants symlinks where lamina reads results (a .pyc, result.json) pointing at a file of
# the user's. As root and as nobody: nothing outside lamina's own directories changes, the
# sandboxed process has no capabilities, no_new_privs and a seccomp filter, is PID 1 of its
# own PID namespace, and lamina refuses the planted symlinks with one line.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root (and setpriv for the unprivileged half)"
command -v setpriv >/dev/null || skip "setpriv is missing"
FIX=$(fixture_base)

U=$T/u # everything the unprivileged half needs, owned by nobody
mkdir -p "$U/app" "$T/canary"
chmod 711 "$T"
echo 'x = 1' >"$U/app/m.py"
echo "TOP-SECRET-$$" >"$T/canary/secret"
chmod 600 "$T/canary/secret"

# the escape attempts; prints what it sees and fails, so lamina shows the log
cat >"$T/escape.sh" <<EOF
#!/bin/sh
echo "hostile: pid=\$\$ uid=\$(id -u)"
for p in /proc/[0-9]*; do echo pwned >"\$p/root$T/canary/via-proc" 2>/dev/null; done
echo pwned >"$T/canary/direct" 2>/dev/null
echo pwned >/var/task/written 2>/dev/null && echo "hostile: wrote /var/task"
echo pwned >/written 2>/dev/null && echo "hostile: wrote /"
echo "hostile: fds=\$(ls /proc/self/fd | tr '\n' ' ')"
echo "hostile: cgroup=\$(tr '\n' ' ' </proc/self/cgroup)"
/var/lang/bin/python3.11 -c '
import ctypes, os
for line in open("/proc/self/status"):
    if line.split(":")[0] in ("CapEff", "CapPrm", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp"):
        print("hostile: " + " ".join(line.split()))
print("hostile: procs=%d" % sum(1 for p in os.listdir("/proc") if p.isdigit()))
libc = ctypes.CDLL(None, use_errno=True)
for name, call in (("unshare", lambda: libc.unshare(0x10000000)),
                   ("mount", lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
                   ("chroot", lambda: libc.chroot(b"/tmp"))):
    r = call()
    print("hostile: %s=%d errno=%d" % (name, r, ctypes.get_errno()))
'
exit 3
EOF

# plants a symlink to the user's secret where lamina reads its result, then succeeds
cat >"$T/plant.sh" <<EOF
#!/bin/sh
io=/.lamina-io
case "\$*" in
*precompile.py*)
	mkdir -p \$io/pyc
	ln -s "$T/canary/secret" \$io/pyc/0
	printf 'ok\t0\t/var/task/__pycache__/m.cpython-311.pyc\n' >\$io/res.0
	;;
*verify.py*)
	ln -s "$T/canary/secret" \$io/result.json
	;;
esac
exit 0
EOF
"$REPO/tests/tools/add-layer.py" "$FIX" "$U/escape.tar" "var/lang/bin/python3=$T/escape.sh" || fail "hostile image"
"$REPO/tests/tools/add-layer.py" "$FIX" "$U/plant.tar" "var/lang/bin/python3=$T/plant.sh" || fail "hostile image"
for img in escape plant; do
	cat >"$U/$img.json" <<JSON
{ "base": "oci-archive:$U/$img.tar", "layers": [ { "name": "app", "from": "app" } ],
  "precompile": { "python": {} }, "config": { "cmd": ["m.handler"] } }
JSON
done
cp "$LAMINA" "$U/lamina"
chown -R nobody:nogroup "$U"

as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env -i PATH=/usr/bin:/bin HOME="$U" XDG_CACHE_HOME="$U/cache" "$@"
}
run_as() { # root|nobody ARGS...: lamina as that user, stdout/stderr to $T/out, $T/err
	local who=$1 rc=0
	shift
	if [ "$who" = root ]; then
		(cd "$U" && "$LAMINA" "$@") >"$T/out" 2>"$T/err" || rc=$?
	else
		(cd "$U" && as_nobody "$U/lamina" "$@") >"$T/out" 2>"$T/err" || rc=$?
	fi
	return $rc
}
canary_clean() {
	local files
	files=$(cd "$T/canary" && ls -A | tr '\n' ' ')
	assert_eq "$files" "secret " "files in the canary directory ($1)"
	assert_eq "$(cat "$T/canary/secret")" "TOP-SECRET-$$" "the secret ($1)"
}
sandboxed() { # WHAT: the log lines the escape script printed
	assert_contains "$T/err" "hostile: pid=1 "
	assert_contains "$T/err" "hostile: CapEff: 0000000000000000"
	assert_contains "$T/err" "hostile: CapPrm: 0000000000000000"
	assert_contains "$T/err" "hostile: CapBnd: 0000000000000000"
	assert_contains "$T/err" "hostile: NoNewPrivs: 1"
	assert_contains "$T/err" "hostile: Seccomp: 2"
	assert_contains "$T/err" "hostile: procs=[12]$"  # the script and its python
	assert_contains "$T/err" "hostile: fds=0 1 2 3 $" # 3: ls's own directory
	assert_contains "$T/err" "hostile: cgroup=([0-9]+:[^ ]*:/ )+$" # its own cgroup namespace: every path is /
	assert_contains "$T/err" "hostile: unshare=-1 errno=1"
	assert_contains "$T/err" "hostile: mount=-1 errno=1"
	assert_contains "$T/err" "hostile: chroot=-1 errno=1"
	assert_not_contains "$T/err" "hostile: wrote"
	canary_clean "$1"
}

for who in root nobody; do
	rc=0
	run_as $who build escape.json -o out.tar || rc=$?
	[ $rc -ne 0 ] || fail "$who: build with the escaping interpreter succeeded"
	sandboxed "$who build"
	rc=0
	run_as $who verify escape.tar -i os --no-handler || rc=$?
	[ $rc -ne 0 ] || fail "$who: verify with the escaping interpreter succeeded"
	sandboxed "$who verify"

	rc=0
	run_as $who build plant.json -o out.tar || rc=$?
	[ $rc -ne 0 ] || fail "$who: build took the planted .pyc"
	assert_contains "$T/err" "symlink or reached through one: refused"
	assert_eq "$(grep -c . "$T/err")" 2 "lines of the build's error ($who): progress and the error"
	assert_no_file "$U/out.tar"
	rc=0
	run_as $who verify plant.tar -i os --no-handler || rc=$?
	[ $rc -eq 7 ] || fail "$who: verify with a planted result.json: exit $rc"
	assert_contains "$T/err" "result.json.*refused"
	assert_not_contains "$T/err" "TOP-SECRET"
	canary_clean "$who plant"
	# nothing of the secret in lamina's cache either
	! grep -rq "TOP-SECRET-$$" "$U/cache" 2>/dev/null || fail "$who: the secret reached the cache"
done
echo ok
