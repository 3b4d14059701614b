# Credentials never travel in clear: a registry whose Bearer challenge names a plain-HTTP
# token realm on another host gets no request to it from lamina (no Basic credentials,
# no anonymous token request either), exit status 6 with one line; on loopback, or with
# --insecure-registry for that host, plain HTTP stays allowed (tests/e2e/registry_pull_auth).
# A challenge of 80 KiB or 1 MiB (a hostile registry) is refused by name, not "Out of memory";
# a 900 KB tag is cut in the message.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is missing"
PORT=$(free_port)
cat >"$T/server.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        pad = int(sys.argv[2]) if len(sys.argv) > 2 else 0
        self.send_header("WWW-Authenticate", 'Bearer realm="http://192.0.2.1/token",service="test"' + ",x=" + "a" * pad)
        self.send_header("Content-Length", "0")
        self.end_headers()
        print("request", self.path, self.headers.get("Authorization"), flush=True)
    def log_message(self, *a):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$T/server.py" "$PORT" >"$T/server.log" 2>&1 &
pid=$!
on_exit kill "$pid"
wait_for curl -s -o /dev/null "http://127.0.0.1:$PORT/v2/"

start=$SECONDS
rc=0
echo 's3cret' | run_lamina pull "127.0.0.1:$PORT/app:1" --username me --password-stdin || rc=$?
assert_eq "$rc" 6 "exit status with a plain-HTTP token realm on another host"
assert_eq "$(grep -c . "$T/err")" 1 "lines of the error"
assert_contains "$T/err" "not HTTPS: lamina sends no credentials in clear"
assert_contains "$T/err" "http://192.0.2.1/token"
[ $((SECONDS - start)) -lt 10 ] || fail "lamina tried to reach the realm (took $((SECONDS - start)) s)"
assert_not_contains "$T/server.log" "Basic"
# anonymous: the same
rc=0
run_lamina pull "127.0.0.1:$PORT/app:1" || rc=$?
assert_eq "$rc" 6 "exit status, anonymous"
assert_contains "$T/err" "not HTTPS"

# oversized challenges: one line naming the request and the bound
for size in $((80 << 10)) $((1 << 20)); do
	p=$(free_port)
	python3 "$T/server.py" "$p" "$size" >/dev/null 2>&1 &
	on_exit kill $!
	wait_for bash -c "exec 3<>/dev/tcp/127.0.0.1/$p"
	rc=0
	run_lamina pull "127.0.0.1:$p/app:1" || rc=$?
	assert_eq "$rc" 5 "exit status, $size-byte challenge"
	assert_eq "$(grep -c . "$T/err")" 1 "lines of the error, $size-byte challenge"
	assert_contains "$T/err" "GET http://127.0.0.1:$p/v2/: the response's headers are larger than 64 KiB: refused"
done

# a 900 KB tag (in a manifest: argv cannot hold it) is cut in the message
python3 -c 'import json, sys; print(json.dumps({"base": "127.0.0.1:%s/app:%s" % (sys.argv[1], "a" * 900000), "layers": []}))' "$PORT" >"$T/long.json"
rc=0
run_lamina build "$T/long.json" -o "$T/long.tar" || rc=$?
assert_eq "$rc" 3 "exit status, 900 KB tag"
[ "$(wc -c <"$T/err")" -lt 1000 ] || fail "the error for a 900 KB tag is $(wc -c <"$T/err") bytes"
assert_contains "$T/err" "bad tag 'a+\\.\\.\\.'"
echo ok
