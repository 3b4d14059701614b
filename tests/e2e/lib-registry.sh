# Registry test harness. Source after lib.sh:
#   . "$(dirname "$0")/lib.sh"; . "$(dirname "$0")/lib-registry.sh"
#
#   start_registry none|htpasswd|token
#        Debian's docker-registry (distribution 2.8) on 127.0.0.1:$REG_PORT, storage in
#        $T, stopped by PID on exit. Sets REG=127.0.0.1:$REG_PORT, REG_LOG.
#        htpasswd: user $REG_USER / $REG_PASS (bcrypt, htpasswd -B).
#        token: tests/tools/token_server.py on $TOKEN_PORT (log $TOKEN_LOG): anonymous
#        pull tokens, push tokens for $REG_USER / $REG_PASS (Basic to the token server).
#   reg_creds            "--dest-creds U:P" style creds for skopeo ("" for none)
#   seed_fixture REPO:TAG   skopeo copy the fixture base into the registry
#   start_fault_proxy    tests/tools/fault_proxy.py on 127.0.0.1:$PROXY_PORT in front of
#                        the registry (PROXY=127.0.0.1:$PROXY_PORT, $PROXY_LOG), with a
#                        redirect target on 127.0.0.2:$REDIRECT_PORT
#   proxy_mode WORD      pass | 500:N | 429:N:S | cut:N | corrupt:N | truncate:N | redirect
#   check_cache_clean    every cached blob hashes to its name (fails the test otherwise)

TOOLS="$REPO/tests/tools"
REG_USER=lamina-tester
REG_PASS=s3cret-$$-pw
REG_REFRESH=refresh-$$-tok

_need() {
	local t
	for t in "$@"; do command -v "$t" >/dev/null 2>&1 || skip "missing tool: $t"; done
}

_wait_http() { # URL: any HTTP answer
	curl -s -o /dev/null -m 2 "$1"
}

start_registry() {
	local mode=${1:-none} dir
	_need docker-registry skopeo curl python3 openssl
	dir="$T/registry"
	mkdir -p "$dir/data"
	REG_PORT=$(free_port)
	REG="127.0.0.1:$REG_PORT"
	REG_LOG="$dir/registry.log"
	REG_MODE=$mode
	{
		echo "version: 0.1"
		echo "log: {level: info, accesslog: {disabled: false}}"
		echo "storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}"
		echo "http: {addr: 127.0.0.1:$REG_PORT, secret: lamina-test-secret}"
	} >"$dir/config.yml"
	case "$mode" in
	none) ;;
	htpasswd)
		_need htpasswd
		htpasswd -Bbn "$REG_USER" "$REG_PASS" >"$dir/htpasswd" 2>/dev/null
		printf 'auth: {htpasswd: {realm: lamina-test, path: %s}}\n' "$dir/htpasswd" >>"$dir/config.yml"
		;;
	token)
		TOKEN_PORT=$(free_port)
		TOKEN_LOG="$dir/token.log"
		openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=lamina-token \
			-keyout "$dir/token.key" -out "$dir/token.crt" >/dev/null 2>&1 || fail "openssl req"
		python3 "$TOOLS/token_server.py" --port "$TOKEN_PORT" --key "$dir/token.key" --cert "$dir/token.crt" \
			--service lamina-test --issuer lamina-test-issuer --user "$REG_USER:$REG_PASS" \
			--refresh-token "$REG_REFRESH" --log "$TOKEN_LOG" --max-seconds 1800 >"$dir/token.out" 2>&1 &
		TOKEN_PID=$!
		on_exit kill "$TOKEN_PID"
		wait_for _wait_http "http://127.0.0.1:$TOKEN_PORT/"
		printf 'auth: {token: {realm: "http://127.0.0.1:%s/token", service: lamina-test, issuer: lamina-test-issuer, rootcertbundle: %s}}\n' \
			"$TOKEN_PORT" "$dir/token.crt" >>"$dir/config.yml"
		;;
	*) fail "start_registry: unknown mode $mode" ;;
	esac
	docker-registry serve "$dir/config.yml" >"$REG_LOG" 2>&1 &
	REG_PID=$!
	on_exit kill "$REG_PID"
	wait_for _wait_http "http://$REG/v2/"
	export REG REG_PORT REG_LOG REG_MODE
}

reg_creds() {
	[ "$REG_MODE" = none ] || echo "$REG_USER:$REG_PASS"
}

seed_fixture() { # REPO:TAG [SRC]
	local dst=$1 src=${2:-oci-archive:$(fixture_base)} creds
	creds=$(reg_creds)
	skopeo copy -q --dest-tls-verify=false ${creds:+--dest-creds "$creds"} "$src" "docker://$REG/$dst" \
		>"$T/skopeo-seed.log" 2>&1 || { cat "$T/skopeo-seed.log" >&2; fail "skopeo could not seed $dst"; }
}

start_fault_proxy() {
	PROXY_PORT=$(free_port)
	REDIRECT_PORT=$(free_port)
	PROXY="127.0.0.1:$PROXY_PORT"
	PROXY_LOG="$T/proxy.log"
	PROXY_CTL="$T/proxy.ctl"
	echo pass >"$PROXY_CTL"
	: >"$PROXY_LOG"
	python3 "$TOOLS/fault_proxy.py" --port "$PROXY_PORT" --upstream "$REG_PORT" --control "$PROXY_CTL" \
		--log "$PROXY_LOG" --redirect-port "$REDIRECT_PORT" --redirect-host 127.0.0.2 --max-seconds 1800 \
		>"$T/proxy.out" 2>&1 &
	PROXY_PID=$!
	on_exit kill "$PROXY_PID"
	wait_for _wait_http "http://$PROXY/v2/"
	export PROXY PROXY_LOG PROXY_CTL
}

proxy_mode() { echo "$1" >"$PROXY_CTL"; }

check_cache_clean() {
	local f n bad=0
	for f in "$XDG_CACHE_HOME"/lamina/blobs/sha256/*; do
		[ -f "$f" ] || continue
		n=$(sha256sum "$f" | cut -c1-64)
		[ "$n" = "$(basename "$f")" ] || { echo "bad blob in cache: $f" >&2; bad=1; }
	done
	[ $bad -eq 0 ] || fail "the cache holds a blob whose content does not match its name"
}
