# Credentials never travel in clear: a registry whose Bearer challenge names a plain-HTTP
# token realm on another host gets no request to it from lamina (no Basic credentials,
# no anonymous token request either), exit status 6 with one line; on loopback, or with
# --insecure-registry for that host, plain HTTP stays allowed (tests/e2e/registry_pull_auth).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || skip "python3 is missing"
PORT=$(free_port)
cat >"$T/server.py" <<'PY'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(401)
        self.send_header("WWW-Authenticate", 'Bearer realm="http://192.0.2.1/token",service="test"')
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
echo ok
