#!/usr/bin/env bash
# An interrupted lamina leaves nothing half-written: SIGINT or SIGTERM while the output
# archive or zip is written, or while the image's own program runs in the sandbox, ends
# it with 128+N, no OUT, no OUT.tmp.*, no temporary directory (in $TMPDIR or the cache)
# and no process of the image still running. The next build works.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"
export TMPDIR="$T/tmp"
mkdir -p "$TMPDIR" "$T/o"

without_sigint_ignored() { # exec CMD with SIGINT at its default (a background job ignores it)
	exec python3 -c 'import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
# Stops PID as soon as GLOB matches (poll without forking; "sleeper": once the image's
# program runs), fails if it never does.
seen() {
	if [ "$1" = sleeper ]; then pgrep -f lamina-e2e-sleeper >/dev/null; else compgen -G "$1" >/dev/null; fi
}
catch() {
	local pid=$1 glob=$2 end=$((SECONDS + 120))
	until seen "$glob"; do
		[ $SECONDS -lt $end ] && kill -0 "$pid" 2>/dev/null || fail "lamina finished before $glob appeared: $(cat "$T/err")"
	done
	kill -STOP "$pid"
}
leftovers() { # what an interrupted run may not leave
	find "$T/o" "$TMPDIR" -mindepth 1 -maxdepth 1
	find "$XDG_CACHE_HOME/lamina/rootfs" "$XDG_CACHE_HOME/lamina/tmp" -mindepth 1 -maxdepth 1 -name '.*' 2>/dev/null || true
}
# interrupt SIG GLOB CMD...: runs CMD, stops it when GLOB appears, sends SIG, checks
interrupt() {
	local sig=$1 glob=$2 pid rc=0 want
	shift 2
	without_sigint_ignored "$@" >"$T/out" 2>"$T/err" &
	pid=$!
	catch "$pid" "$glob"
	kill -s "$sig" "$pid" # pending while it is stopped
	kill -CONT "$pid"
	wait "$pid" || rc=$?
	case $sig in INT) want=130 ;; TERM) want=143 ;; HUP) want=129 ;; esac
	assert_eq "$rc" "$want" "exit status after SIG$sig ($*)"
	assert_eq "$(leftovers)" "" "left behind after SIG$sig ($*)"
	[ -z "$(pgrep -f 'lamina-e2e-sleeper' || true)" ] || fail "a process of the image still runs after SIG$sig"
}

# A 64 MiB app: writing the archive and the zip takes long enough to be caught at it.
make_app "$T/app"
head -c $((64 << 20)) /dev/urandom >"$T/app/blob.bin"
cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": false}
JSON
for sig in INT TERM; do
	# (the SBOM's temporary file is there by then too, and must go with the archive's)
	interrupt $sig "$T/o/out.tar.tmp.*" "$LAMINA" build "$T/lamina.json" -o "$T/o/out.tar"
	interrupt $sig "$T/o/out.zip.tmp.*" "$LAMINA" zip "$T/lamina.json" -o "$T/o/out.zip"
done

# Interrupted while the image's program runs (an import that sleeps): the sandbox goes too.
rm "$T/app/blob.bin"
printf 'import subprocess\nsubprocess.run(["sh", "-c", "sleep 600; : lamina-e2e-sleeper"])\n' >"$T/app/slow.py"
cat >"$T/slow.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": false, "verify": {"imports": ["slow"]}}
JSON
interrupt HUP sleeper \
	"$LAMINA" build "$T/slow.json" -o "$T/o/out.tar"

# and the next build is whole
run_lamina build "$T/lamina.json" -o "$T/o/out.tar" || fail "build after the interrupts: $(cat "$T/err")"
tar -tf "$T/o/out.tar" >"$T/list" || fail "the archive after the interrupts does not read"
assert_contains "$T/list" "^index.json$"
assert_file "$T/o/out.spdx.json"
echo ok
