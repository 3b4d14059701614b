# Shared by the benchmark scripts: the private Docker engine that bench-build.sh and
# bench-incremental.sh measure lamina against, and the unpacking of an image that the
# cold-start benchmarks run from. The engine's functions call the script's own log MSG,
# on_exit CMD and apt_install PKG:
#   bench_dockerd_start DIR [CGROUP]   start dockerd (vfs storage, no bridge, no iptables)
#                                      with its data under DIR/docker; with CGROUP (a
#                                      cgroup directory), the engine and all it starts run
#                                      in it. Sets DOCKER_HOST; 1 (logged) when it cannot run.
#   bench_dockerd_stop                 stop only that engine, by pid, and what it spawned
#   dk ARGS...                         /usr/bin/docker against it
#   bench_unpack OUT.tar ROOT SCRATCH  an image archive's layers extracted into ROOT
DK_BIN=/usr/bin/docker
DK_STOPPED=1
dk() { "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" "$@"; }

bench_dockerd_start() {
	local dir=$1 cg=${2:-} ns
	[ "$(id -u)" -eq 0 ] || { log "docker: needs root, skipped"; return 1; }
	if [ ! -x "$DK_BIN" ] || ! command -v dockerd >/dev/null; then
		apt_install docker.io || { log "docker: could not install docker.io, skipped"; return 1; }
	fi
	DK_RUN=$(mktemp -d /tmp/lmbk.XXXXXX)
	DK_DIR="$dir/docker" DK_DATA="$dir/docker/data" DK_CONFIG="$dir/docker/client"
	mkdir -p "$DK_DATA" "$DK_CONFIG" "$DK_RUN/exec"
	echo '{}' >"$DK_CONFIG/config.json"
	echo '{}' >"$DK_RUN/daemon.json"
	export DOCKER_HOST="unix://$DK_RUN/sock"
	ns="lamina-bench-$(basename "$DK_RUN" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
	local args=(--config-file "$DK_RUN/daemon.json"
		--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none
		--storage-driver=vfs --data-root "$DK_DATA" --exec-root "$DK_RUN/exec"
		--pidfile "$DK_RUN/pid" -H "$DOCKER_HOST"
		--containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins"
		--shutdown-timeout 3 --log-level warn)
	[ -z "$cg" ] || args+=(--cgroup-parent "/$(basename "$cg")")
	# the subshell joins the cgroup, then becomes dockerd: containerd and the rest start inside
	(
		[ -z "$cg" ] || echo "$BASHPID" >"$cg/cgroup.procs"
		exec dockerd "${args[@]}"
	) >"$DK_DIR/dockerd.log" 2>&1 </dev/null &
	DOCKERD_PID=$! DK_STOPPED=0
	on_exit bench_dockerd_stop
	local end=$((SECONDS + 60))
	until dk info >/dev/null 2>&1; do
		kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -5 "$DK_DIR/dockerd.log" >&2; log "dockerd exited, docker skipped"; return 1; }
		[ $SECONDS -lt $end ] || { log "dockerd did not answer in 60 s, docker skipped"; return 1; }
		sleep 0.2
	done
	DK_CHILDREN=$(ps -o pid= --ppid "$DOCKERD_PID" 2>/dev/null | tr -s ' \n' ' ')
}

bench_dockerd_stop() { # only the engine bench_dockerd_start started, by pid
	local i c
	[ "$DK_STOPPED" = 0 ] || return 0
	DK_STOPPED=1
	if kill -0 "$DOCKERD_PID" 2>/dev/null; then
		kill -TERM "$DOCKERD_PID" 2>/dev/null || true
		for ((i = 0; i < 100; i++)); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$DOCKERD_PID" 2>/dev/null || true
	fi
	wait "$DOCKERD_PID" 2>/dev/null || true
	for c in ${DK_CHILDREN:-}; do
		kill -0 "$c" 2>/dev/null || continue
		kill -TERM "$c" 2>/dev/null || true
		for ((i = 0; i < 25; i++)); do kill -0 "$c" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$c" 2>/dev/null || true
	done
	# only mounts under this engine's own directories (both are set and non-empty here)
	[ -n "$DK_RUN" ] && [ -n "$DK_DATA" ] &&
		awk -v a="$DK_RUN/" -v b="$DK_DATA/" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do umount -l "$m" || true; done
	rm -rf "$DK_RUN" "$DK_DIR" || true
}

# bench_unpack OUT.tar ROOT SCRATCH: the image's layers of an OCI archive extracted in
# order into ROOT (no whiteouts: lamina's own images have none), the last layer's
# compressed size into ROOT.gz. SCRATCH is removed.
bench_unpack() {
	local x=$3 m d
	rm -rf "$x" "$2"; mkdir -p "$x" "$2"
	tar -xf "$1" -C "$x"
	d=$(jq -r '.manifests[0].digest' "$x/index.json"); m="$x/blobs/sha256/${d#sha256:}"
	for d in $(jq -r '.layers[].digest' "$m"); do tar -xzf "$x/blobs/sha256/${d#sha256:}" -C "$2"; done
	jq -r '.layers[-1].size' "$m" >"$2.gz"
	rm -rf "$x"
}
