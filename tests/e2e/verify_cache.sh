#!/usr/bin/env bash
# <cache>/rootfs is bounded (the 8 most recently used root filesystems stay), and lamina
# leaves no temporary directory there: not after a failed verify, not after SIGINT or
# SIGTERM while a root filesystem is assembled; after SIGKILL the next run removes it.
# A base whose tree is deeper than PATH_MAX is assembled and removed again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"
KEEP=8 # ROOTFS_KEEP in src/run/rootfs.h

R="$XDG_CACHE_HOME/lamina/rootfs"
keys() { find "$R" -mindepth 1 -maxdepth 1 -regextype egrep -regex '.*/[0-9a-f]{64}' -printf '%f\n' | sort; }
temps() { find "$R" -mindepth 1 -maxdepth 1 -name '.*' -printf '%f\n'; }
key_of() { layer_digests "$1" | sha256sum | cut -d' ' -f1; } # sha256 of "digest\n"...
# Stops process PID as soon as it is assembling a root filesystem (a .tmp- directory
# appears): the assembly takes about a second here, so poll without forking.
catch_building() {
	local end=$((SECONDS + 60))
	until compgen -G "$R/.tmp-*" >/dev/null; do
		[ $SECONDS -lt $end ] && kill -0 "$1" 2>/dev/null || fail "lamina never assembled a root filesystem"
	done
	kill -STOP "$1"
}
without_sigint_ignored() { # exec CMD with SIGINT at its default (a background job ignores it)
	exec python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}

make_app "$T/app"
n=$((KEEP + 2))
for i in $(seq 1 $n); do
	echo "N = $i" >"$T/app/n.py"
	cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": false}
JSON
	run_lamina build "$T/lamina.json" -o "$T/img$i.tar" || { cat "$T/err"; fail "build $i failed"; }
done

# One root filesystem per image verified, the base's for cloning: bounded at KEEP.
for i in $(seq 1 $n); do
	run_lamina verify "$T/img$i.tar" --import n || { cat "$T/err"; fail "verify $i failed"; }
	[ "$(keys | wc -l)" -le $KEEP ] || { keys; fail "more than $KEEP root filesystems after verify $i"; }
done
assert_eq "$(keys | wc -l)" $KEEP "root filesystems kept"
# the most recently used stay, the oldest went
for i in $n $((n - 1)) $((n - 2)); do
	[ -d "$R/$(key_of "$T/img$i.tar")" ] || fail "the root filesystem of image $i (recent) is gone"
done
assert_no_file "$R/$(key_of "$T/img1.tar")"
# using an old one again makes it recent: rebuilt, and kept over the now-oldest
run_lamina verify "$T/img1.tar" --import n || { cat "$T/err"; fail "verify 1 again failed"; }
assert_file "$R/$(key_of "$T/img1.tar")"
assert_eq "$(keys | wc -l)" $KEEP "root filesystems kept"
assert_eq "$(temps | wc -l)" 0 "temporary directories after verify"

# A failed verify leaves nothing either.
rc=0; run_lamina verify "$T/img2.tar" --import not_there || rc=$?
assert_eq "$rc" 7 "exit status of a failed verify"
assert_eq "$(temps | wc -l)" 0 "temporary directories after a failed verify"

# Interrupted while the base's root filesystem is assembled (a fresh cache each time).
for sig in INT TERM; do
	export XDG_CACHE_HOME="$T/cache-$sig"
	R="$XDG_CACHE_HOME/lamina/rootfs"
	without_sigint_ignored "$LAMINA" verify "$T/img1.tar" >"$T/out" 2>"$T/err" &
	pid=$!
	catch_building "$pid"
	kill -s "$sig" "$pid" # pending while it is stopped
	kill -CONT "$pid"
	rc=0; wait "$pid" || rc=$?
	case $sig in INT) want=130 ;; TERM) want=143 ;; esac
	assert_eq "$rc" "$want" "exit status after SIG$sig"
	assert_eq "$(temps | wc -l)" 0 "temporary directories after SIG$sig"
	assert_eq "$(keys | wc -l)" 0 "root filesystems after SIG$sig while building the first"
done

# SIGKILL cannot be caught: the next run removes what it left.
export XDG_CACHE_HOME="$T/cache-KILL"
R="$XDG_CACHE_HOME/lamina/rootfs"
"$LAMINA" verify "$T/img1.tar" >"$T/out" 2>"$T/err" &
pid=$!
catch_building "$pid"
kill -9 "$pid"
wait "$pid" || true
left=$(temps)
assert_contains "$left" "^\.tmp-$pid\."
run_lamina verify "$T/img1.tar" --import n || { cat "$T/err"; fail "verify after SIGKILL failed"; }
assert_eq "$(temps | wc -l)" 0 "temporary directories after the run that followed SIGKILL"

# A base layer nests 25 directories of 200 bytes (5,000 bytes, past PATH_MAX): verify
# assembles it, and `cache prune --all` removes it (rm by openat, not by path).
export XDG_CACHE_HOME="$T/cache-deep"
R="$XDG_CACHE_HOME/lamina/rootfs"
deep=$(python3 -c "print('/'.join(['d' * 200] * 25))")
echo x >"$T/f"
"$REPO/tests/tools/add-layer.py" "$base" "$T/deep.tar" "$deep/f=$T/f:0644" >/dev/null || fail "deep base"
run_lamina verify "oci-archive:$T/deep.tar" --import json --no-handler || fail "verify on the deep base: $(cat "$T/err")"
[ "$(keys | wc -l)" -ge 1 ] || fail "no root filesystem for the deep base"
run_lamina cache prune --all || fail "cache prune --all: $(cat "$T/err")"
assert_eq "$(find "$R" -mindepth 1 -maxdepth 1 | wc -l)" 0 "entries under rootfs after prune --all"

# An image that differs from a verified one only in its last layer starts from the
# cached root filesystem of all its other layers (kept when the first was assembled),
# not from the base's: the unchanged layers are not extracted again.
export XDG_CACHE_HOME="$T/cache-prefix"
R="$XDG_CACHE_HOME/lamina/rootfs"
mkdir -p "$T/lib" && echo 'LIB = 1' >"$T/lib/libmod.py"
for v in 1 2; do
	echo "N = $v" >"$T/app/n.py"
	cat >"$T/two.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "lib", "from": "lib"}, {"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": false, "verify": {"imports": ["libmod", "n"]}}
JSON
	run_lamina build "$T/two.json" -o "$T/two$v.tar" || fail "build $v of the two-layer app: $(cat "$T/err")"
	prefix=$(layer_digests "$T/two$v.tar" | head -n -1 | sha256sum | cut -d' ' -f1)
	[ -d "$R/$prefix" ] || fail "no root filesystem kept for the image's layers but the last (build $v)"
	[ -d "$R/$(key_of "$T/two$v.tar")" ] || fail "no root filesystem of image $v"
done
# the same prefix both times: the second build found it (one prefix, two images)
assert_eq "$(layer_digests "$T/two1.tar" | head -n -1)" "$(layer_digests "$T/two2.tar" | head -n -1)" "prefix layers"
[ -f "$R/$prefix/var/task/libmod.py" ] || fail "the prefix lacks the lib layer"
[ ! -e "$R/$prefix/var/task/n.py" ] || fail "the prefix holds the last layer"
assert_eq "$(cat "$R/$(key_of "$T/two2.tar")/var/task/n.py")" "N = 2" "the second image's own last layer"
assert_eq "$(cat "$R/$(key_of "$T/two1.tar")/var/task/n.py")" "N = 1" "the first image's copy (hard links replaced, not written)"
echo ok
