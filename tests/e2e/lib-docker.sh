# A private Docker engine (Debian docker.io, dockerd 20.10) per test. Source after lib.sh:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/lib-docker.sh"
#   start_dockerd            start it (skips the test if it cannot run here), stopped on exit
#   dk ARGS...               /usr/bin/docker against it (own client config: no credential helpers)
#   DOCKER_HOST              exported: unix://<socket> of this engine (for lamina and other clients)
#   DOCKERD_PID              its pid;  DOCKERD_LOG  its log file
#   docker_import_dir DIR IMG [CHANGE...]   docker import a directory as image IMG
#                            (CHANGE: Dockerfile-style lines for --change, e.g. 'ENTRYPOINT ["/x"]')
#
# Engine: vfs storage, no iptables, no bridge (use `--network none`), its own containerd
# (supervised by dockerd, state under the exec root; own containerd namespace in case a
# system containerd exists), data under $T/docker, sockets under a short /tmp/lmdk.XXXXXX.
# Always /usr/bin/docker: /usr/local/bin/docker may be a newer client that shadows it.

DK_BIN=/usr/bin/docker
DOCKERD_BIN=${DOCKERD_BIN:-$(command -v dockerd || echo /usr/sbin/dockerd)}

_dk_need_engine() {
	[ "$(id -u)" -eq 0 ] || skip "dockerd needs root here"
	if [ ! -x "$DK_BIN" ] || [ ! -x "$DOCKERD_BIN" ]; then
		echo "lib-docker: installing docker.io" >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io \
			>/dev/null 2>&1 || skip "docker.io is not installed and could not be installed"
		DOCKERD_BIN=$(command -v dockerd || echo /usr/sbin/dockerd)
		[ -x "$DK_BIN" ] && [ -x "$DOCKERD_BIN" ] || skip "docker.io installed but $DK_BIN/dockerd missing"
	fi
}

dk() { "$DK_BIN" --config "$DK_CONFIG" -H "$DOCKER_HOST" "$@"; }

start_dockerd() {
	_dk_need_engine
	DK_RUN=$(mktemp -d /tmp/lmdk.XXXXXX) # short: unix socket paths are limited to 108 bytes
	DK_DATA="$T/docker/data"
	DK_CONFIG="$T/docker/client"
	DOCKERD_LOG="$T/docker/dockerd.log"
	mkdir -p "$DK_DATA" "$DK_CONFIG" "$DK_RUN/exec"
	echo '{}' >"$DK_CONFIG/config.json"
	echo '{}' >"$DK_RUN/daemon.json"
	export DOCKER_HOST="unix://$DK_RUN/sock"
	export DK_RUN DK_DATA DK_CONFIG DOCKERD_LOG
	local ns
	ns="lamina-$(basename "$DK_RUN" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
	"$DOCKERD_BIN" --config-file "$DK_RUN/daemon.json" \
		--iptables=false --ip6tables=false --ip-forward=false --ip-masq=false --bridge=none \
		--storage-driver=vfs --data-root "$DK_DATA" --exec-root "$DK_RUN/exec" \
		--pidfile "$DK_RUN/pid" -H "$DOCKER_HOST" \
		--containerd-namespace "$ns" --containerd-plugins-namespace "$ns-plugins" \
		--shutdown-timeout 3 --log-level info \
		>"$DOCKERD_LOG" 2>&1 </dev/null &
	DOCKERD_PID=$!
	export DOCKERD_PID
	on_exit _dk_stop "$DOCKERD_PID" "$DK_RUN" "$DK_DATA"

	local end=$((SECONDS + 60))
	until dk info >/dev/null 2>&1; do
		if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
			tail -15 "$DOCKERD_LOG" >&2
			skip "dockerd exited at start: $(grep -E 'level=(fatal|error)|failed' "$DOCKERD_LOG" | tail -1)"
		fi
		if [ $SECONDS -ge $end ]; then
			tail -15 "$DOCKERD_LOG" >&2
			fail "dockerd did not answer within 60 s"
		fi
		sleep 0.2
	done
	# Remember what dockerd spawned (its containerd), to stop it too if dockerd dies badly.
	DK_CHILDREN=$(ps -o pid= --ppid "$DOCKERD_PID" 2>/dev/null | tr -s ' \n' ' ')
	echo "$DK_CHILDREN" >"$DK_RUN/children"
}

# Every process of a container of this engine: each shim of its containerd namespace
# (reparented to init once dockerd and containerd are gone) and what runs under it.
_dk_shims() { # NAMESPACE
	local p
	for p in $(pgrep -f -- "containerd-shim.* -namespace $1 " 2>/dev/null); do
		pgrep -P "$p" 2>/dev/null
		echo "$p"
	done
}

_dk_stop() { # PID RUNDIR DATADIR
	local pid=$1 run=$2 data=$3 i c ns
	ns="lamina-$(basename "$run" | tr -dc 'a-zA-Z0-9' | tr 'A-Z' 'a-z')"
	# containers first (bounded: a wedged engine must not hold the test), so that no
	# container outlives the test holding a port or a mount
	if kill -0 "$pid" 2>/dev/null && [ -S "$run/sock" ]; then
		c=$(timeout 20 "$DK_BIN" --config "$DK_CONFIG" -H "unix://$run/sock" ps -aq 2>/dev/null)
		[ -z "$c" ] || timeout 30 "$DK_BIN" --config "$DK_CONFIG" -H "unix://$run/sock" rm -f $c >/dev/null 2>&1
	fi
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	for c in $(cat "$run/children" 2>/dev/null); do
		kill -0 "$c" 2>/dev/null || continue
		kill -TERM "$c" 2>/dev/null
		for ((i = 0; i < 25; i++)); do kill -0 "$c" 2>/dev/null || break; sleep 0.2; done
		kill -KILL "$c" 2>/dev/null
	done
	# what a killed engine left running: the container's init first (its PID namespace goes
	# with it), then its shim
	for c in $(_dk_shims "$ns"); do kill -KILL "$c" 2>/dev/null; done
	# Leftover mounts (shm, container rootfs) would make rm -rf fail.
	awk -v a="$run" -v b="$data" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/self/mounts |
		sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
	rm -rf "$run"
}

docker_import_dir() { # DIR IMAGE [CHANGE...]
	local dir=$1 img=$2 c
	shift 2
	local args=()
	for c in "$@"; do args+=(--change "$c"); done
	tar -C "$dir" -c --numeric-owner . | dk import "${args[@]}" - "$img" >/dev/null
}
