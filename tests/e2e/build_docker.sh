# The build spine against real parts: lamina builds images/python-hello on the fixture
# base; skopeo and umoci read the archive; a real dockerd loads and runs it; a docker
# save archive works as a base; Dockerfile.lambda built by Docker holds the same files.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-docker.sh"

FIX=$(fixture_base)
OUT=$T/hello.tar
"$LAMINA" -q build "$REPO/images/python-hello/lamina.json" --base "oci-archive:$FIX" -o "$OUT" >"$T/digest" ||
	fail "lamina build failed"
digest=$(cat "$T/digest")
assert_contains "$digest" '^sha256:[0-9a-f]{64}$'

# independent readers
skopeo inspect --raw "oci-archive:$OUT" >"$T/raw.json" || fail "skopeo cannot read the archive"
assert_eq "sha256:$(sha256sum <"$T/raw.json" | cut -d' ' -f1)" "$digest" "manifest digest (skopeo vs lamina)"
assert_eq "$(jq -r .mediaType "$T/raw.json")" application/vnd.oci.image.manifest.v1+json "manifest mediaType"
skopeo inspect --config "oci-archive:$OUT" >"$T/config.json"
assert_eq "$(jq -c .config.Entrypoint "$T/config.json")" '["/lambda-entrypoint.sh"]' "entrypoint kept from the base"
assert_eq "$(jq -c .config.Cmd "$T/config.json")" '["app.handler"]' "cmd"
assert_eq "$(jq -r .config.WorkingDir "$T/config.json")" /var/task "workdir"
assert_contains "$(jq -r '.config.Env[]' "$T/config.json")" '^LOG_LEVEL=info$'
assert_contains "$(jq -r '.config.Env[]' "$T/config.json")" '^LAMBDA_TASK_ROOT=/var/task$'
assert_eq "$(jq '.rootfs.diff_ids | length' "$T/config.json")" 4 "diff_ids: 3 base + 1 app"
assert_eq "$(jq '.history | length' "$T/config.json")" 4 "history entries"

# base layers byte-identical, first and in order
skopeo inspect --raw "oci-archive:$FIX" | jq -r '.layers[].digest' >"$T/base.layers"
jq -r '.layers[].digest' "$T/raw.json" | head -3 >"$T/out.layers"
cmp -s "$T/base.layers" "$T/out.layers" || fail "base layers changed: $(paste -sd' ' "$T/out.layers")"

mkdir "$T/layout" && tar -xf "$OUT" -C "$T/layout"
umoci unpack --image "$T/layout:latest" "$T/bundle" >/dev/null 2>&1 || fail "umoci unpack failed"
assert_file "$T/bundle/rootfs/var/task/app.py" "$T/bundle/rootfs/var/lang/bin/python3"
assert_no_file "$T/bundle/rootfs/etc/fixture-removed"

# a real Docker engine loads and runs it
start_dockerd
dk load -i "$OUT" >"$T/load.log" 2>&1 || { cat "$T/load.log" >&2; fail "docker load rejected the archive"; }
assert_contains "$T/load.log" 'python-hello:latest'
got=$(dk run --rm --network none --entrypoint /var/lang/bin/python3 python-hello:latest \
	-c 'import app; print(app.handler({"x": 1}, None))')
assert_contains "$got" "'statusCode': 200"
assert_contains "$got" 'hello, world'
# through the Lambda entrypoint and the base's bootstrap (event on stdin)
got=$(echo '{"name": "lamina"}' | dk run -i --rm --network none -e LAMINA_EVENT=- python-hello:latest)
assert_contains "$got" 'hello, lamina'

# a layer of several gzip members (one per MiB of tar): umoci and Docker read them all
mkdir -p "$T/big/data/sub"
head -c 2500000 /dev/urandom >"$T/big/data/random.bin"
seq 1 400000 >"$T/big/data/sub/numbers.txt" # compressible, 2.6 MB
cat >"$T/big/lamina.json" <<JSON
{ "base": "oci-archive:$FIX", "tag": "multi:latest",
  "layers": [ { "name": "data", "from": "data", "to": "/var/task/data" } ] }
JSON
"$LAMINA" -q build "$T/big/lamina.json" -o "$T/big.tar" >/dev/null || fail "build with a multi-member layer"
"$LAMINA" inspect "$T/big.tar" >"$T/big.inspect" || { cat "$T/big.inspect" >&2; fail "inspect: multi-member layer not verified"; }
mkdir "$T/big/layout" && tar -xf "$T/big.tar" -C "$T/big/layout"
umoci unpack --image "$T/big/layout:latest" "$T/big/bundle" >/dev/null 2>&1 || fail "umoci unpack (multi-member) failed"
cmp "$T/big/data/random.bin" "$T/big/bundle/rootfs/var/task/data/random.bin" || fail "umoci: random.bin differs"
cmp "$T/big/data/sub/numbers.txt" "$T/big/bundle/rootfs/var/task/data/sub/numbers.txt" || fail "umoci: numbers.txt differs"
dk load -i "$T/big.tar" >"$T/big-load.log" 2>&1 || { cat "$T/big-load.log" >&2; fail "docker load (multi-member)"; }
got=$(dk run --rm --network none --entrypoint /var/lang/bin/python3 multi:latest -c \
	'import hashlib; print(*(hashlib.sha256(open("/var/task/data/" + f, "rb").read()).hexdigest() for f in ("random.bin", "sub/numbers.txt")))')
want="$(sha256sum <"$T/big/data/random.bin" | cut -c1-64) $(sha256sum <"$T/big/data/sub/numbers.txt" | cut -c1-64)"
assert_eq "$got" "$want" "files read back inside the container (multi-member layer)"

# a docker save archive (Docker 20.10: legacy layout, uncompressed layers) as a base
dk save -o "$T/saved.tar" python-hello:latest
"$LAMINA" -q build "$REPO/images/python-hello/lamina.json" --base "docker-archive:$T/saved.tar" \
	-o "$T/from-docker.tar" >/dev/null || fail "build on a docker-archive base failed"
"$LAMINA" inspect "$T/from-docker.tar" >"$T/inspect2" || fail "inspect of the docker-archive build"
assert_eq "$(grep -c 'sha256:' "$T/inspect2")" 6 "manifest + 5 layers (4 from the saved image + app)"
dk load -i "$T/from-docker.tar" >/dev/null
# our own archive read back as a Docker 25+ style docker-archive (manifest.json -> blobs/)
"$LAMINA" -q build "$REPO/images/python-hello/lamina.json" --base "docker-archive:$OUT" -o "$T/again.tar" \
	>/dev/null || fail "build on our archive read as docker-archive failed"

# Dockerfile.lambda: the docker build equivalent holds the same files under /var/task
cat >"$T/base-only.json" <<JSON
{ "base": "oci-archive:$FIX", "layers": [], "tag": "public.ecr.aws/lambda/python:3.12" }
JSON
"$LAMINA" -q build "$T/base-only.json" -o "$T/base.tar" >/dev/null || fail "base-only build"
dk load -i "$T/base.tar" >/dev/null
dk build -q --network none -f "$REPO/Dockerfile.lambda" -t python-hello:docker "$REPO/images/python-hello" \
	>"$T/dbuild.log" 2>&1 || { cat "$T/dbuild.log" >&2; fail "docker build -f Dockerfile.lambda failed"; }
list='import os; print("\n".join(sorted(os.path.relpath(os.path.join(d, f), "/var/task") for d, _, fs in os.walk("/var/task") for f in fs)))'
dk run --rm --network none --entrypoint /var/lang/bin/python3 python-hello:docker -c "$list" >"$T/files.docker"
dk run --rm --network none --entrypoint /var/lang/bin/python3 python-hello:latest -c "$list" >"$T/files.lamina"
diff "$T/files.docker" "$T/files.lamina" >&2 || fail "docker build and lamina hold different files under /var/task"
assert_contains "$T/files.lamina" '^app.py$'
echo "ok: $(wc -l <"$T/files.lamina") files under /var/task in both"
