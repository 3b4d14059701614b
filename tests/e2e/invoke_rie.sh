# Local invoke as with the real lambda/* images: `docker run` starts the runtime interface
# emulator (the fixture's aws-lambda-rie) when AWS_LAMBDA_RUNTIME_API is unset, and an
# HTTP POST to /2015-03-31/functions/function/invocations goes through the image's own
# bootstrap over the Runtime API (next / response / error). Python and Node images, an
# ESM async handler and a CommonJS callback handler, an error, and `lamina verify --event`
# for the same Python image without Docker.
# The engine here has no bridge network, so the container shares the host's network and
# the emulator listens on free loopback ports (AWS_LAMBDA_RIE_ADDRESS for the invoke API,
# AWS_LAMBDA_RIE_API_ADDRESS for the Runtime API: fixture knobs); with a bridge it is the
# documented `docker run -p 9000:8080`. Every request is bounded in time.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-docker.sh"
command -v curl >/dev/null || skip "curl is missing"
PY=$(fixture_base)
NODE=$(fixture_node_base)
start_dockerd

# PORT IMAGE [HANDLER]: a detached container with the emulator on 127.0.0.1:PORT and its
# Runtime API on $API, a free port of its own (the container before is removed first)
CID=
run_rie() {
	local port=$1 img=$2 cid
	shift 2
	[ -z "$CID" ] || dk rm -f "$CID" >/dev/null
	API=127.0.0.1:$(free_port)
	cid=$(dk run -d --network host -e AWS_LAMBDA_RIE_ADDRESS=127.0.0.1:$port -e AWS_LAMBDA_RIE_API_ADDRESS=$API \
		-e AWS_LAMBDA_FUNCTION_NAME=fn-under-test "$img" "$@") || fail "docker run $img"
	on_exit dk rm -f "$cid"
	local end=$((SECONDS + 30))
	until curl -s --max-time 5 -o /dev/null "http://127.0.0.1:$port/"; do
		[ $SECONDS -lt $end ] || fail "the emulator of $img did not answer on $port: $(dk logs "$cid" 2>&1 | tail -5)"
		sleep 0.2
	done
	CID=$cid
}
invoke() { # PORT JSON -> body on stdout, headers in $T/h
	curl -s --max-time 60 -D "$T/h" -X POST -d "$2" "http://127.0.0.1:$1/2015-03-31/functions/function/invocations" ||
		fail "invoke on $1 with $2: curl exit $? (the container: $(dk logs "$CID" 2>&1 | tail -5))"
}

# --- Python -----------------------------------------------------------------------------------
mkdir -p "$T/py"
cat >"$T/py/app.py" <<'PY'
import os

def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"hello": event.get("name"), "fn": context.function_name,
            "left": context.get_remaining_time_in_millis() > 0, "api": os.environ.get("AWS_LAMBDA_RUNTIME_API")}
PY
cat >"$T/py/lamina.json" <<JSON
{ "base": "oci-archive:$PY", "layers": [ { "name": "app", "from": "." } ],
  "config": { "cmd": ["app.handler"] }, "tag": "rie-py:1" }
JSON
"$LAMINA" -q build "$T/py/lamina.json" -o "$T/py.tar" >/dev/null || fail "build python"
dk load -i "$T/py.tar" >/dev/null || fail "docker load python"
port=$(free_port)
run_rie "$port" rie-py:1
got=$(invoke "$port" '{"name": "rie"}')
assert_eq "$(jq -c '{hello, fn, left}' <<<"$got")" '{"hello":"rie","fn":"fn-under-test","left":true}' "python invoke"
assert_eq "$(jq -r .api <<<"$got")" "$API" "the bootstrap talked to the Runtime API"
got=$(invoke "$port" '{"name": "again"}')
assert_eq "$(jq -r .hello <<<"$got")" again "second invocation of the same runtime"
got=$(invoke "$port" '{"fail": true}')
assert_eq "$(jq -r .errorType <<<"$got")" ValueError "python error type"
assert_contains "$(cat "$T/h")" "X-Amz-Function-Error: Unhandled"

# the same image, no Docker: lamina verify --event
echo '{"name": "verify"}' >"$T/ev.json"
run_lamina verify "$T/py.tar" --event "$T/ev.json" || fail "lamina verify --event: $(cat "$T/err")"
assert_eq "$(jq -r .hello "$T/out")" verify "lamina verify --event result"

# --- Node: an ESM async handler and a CommonJS callback handler --------------------------------
mkdir -p "$T/node/lib"
cat >"$T/node/index.mjs" <<'JS'
export const handler = async (event, context) => ({
  hello: event.name, fn: context.functionName, id: typeof context.awsRequestId,
  left: context.getRemainingTimeInMillis() > 0,
});
JS
cat >"$T/node/lib/cb.js" <<'JS'
exports.handler = (event, context, callback) => {
  if (event.fail) return callback(new TypeError('asked to fail'));
  setTimeout(() => callback(null, { cb: event.name }), 10);
};
JS
cat >"$T/node/lamina.json" <<JSON
{ "base": "oci-archive:$NODE", "layers": [ { "name": "app", "from": "." } ],
  "config": { "cmd": ["index.handler"] }, "tag": "rie-node:1" }
JSON
"$LAMINA" -q build "$T/node/lamina.json" -o "$T/node.tar" >/dev/null || fail "build node"
dk load -i "$T/node.tar" >/dev/null || fail "docker load node"
port=$(free_port)
run_rie "$port" rie-node:1
got=$(invoke "$port" '{"name": "esm"}')
assert_eq "$(jq -c . <<<"$got")" '{"hello":"esm","fn":"fn-under-test","id":"string","left":true}' "node ESM invoke"
port=$(free_port)
run_rie "$port" rie-node:1 lib/cb.handler
got=$(invoke "$port" '{"name": "callback"}')
assert_eq "$(jq -c . <<<"$got")" '{"cb":"callback"}' "node callback invoke"
got=$(invoke "$port" '{"fail": true}')
assert_eq "$(jq -r .errorType <<<"$got")" TypeError "node error type"
assert_contains "$(cat "$T/h")" "X-Amz-Function-Error: Unhandled"
echo ok
