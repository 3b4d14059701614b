#!/usr/bin/env bash
# The fixture base image (scripts/make-fixture-base.sh) looks like public.ecr.aws/lambda/python:3.12
# to independent OCI tools, its layers apply (whiteouts, opaque dir), python runs in it, and the
# per-test Docker engine runs containers with --network none.
# Needs no lamina:  LAMINA=/bin/true bash tests/e2e/fixture_base.sh
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-docker.sh"
chroot=$(command -v chroot) || skip "no chroot"

for t in skopeo umoci jq; do command -v $t >/dev/null || skip "$t not installed (scripts/deps.sh)"; done

img=$(fixture_base)
assert_file "$img"
# Cached: a second call reuses the archive.
assert_eq "$(fixture_base)" "$img" "fixture path is stable"

# --- as skopeo sees it --------------------------------------------------------------------------
skopeo inspect --raw "oci-archive:$img" >"$T/manifest.json" || fail "skopeo cannot read the manifest"
skopeo inspect --config "oci-archive:$img" >"$T/config.json" || fail "skopeo cannot read the config"
assert_eq "$(jq -r .mediaType "$T/manifest.json")" application/vnd.oci.image.manifest.v1+json "manifest mediaType"
assert_eq "$(jq -r '.layers | length' "$T/manifest.json")" 3 "layer count"
assert_eq "$(jq -r '[.layers[].mediaType] | unique | .[]' "$T/manifest.json")" \
	application/vnd.oci.image.layer.v1.tar+gzip "layer mediaType"
assert_eq "$(jq -c .config.Env "$T/config.json")" \
	'["LANG=en_US.UTF-8","TZ=:/etc/localtime","PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin","LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib","LAMBDA_TASK_ROOT=/var/task","LAMBDA_RUNTIME_DIR=/var/runtime"]' \
	"config Env"
assert_eq "$(jq -c .config.Entrypoint "$T/config.json")" '["/lambda-entrypoint.sh"]' "Entrypoint"
assert_eq "$(jq -c .config.Cmd "$T/config.json")" null "Cmd"
assert_eq "$(jq -r .config.WorkingDir "$T/config.json")" /var/task "WorkingDir"
assert_eq "$(jq -r .architecture "$T/config.json")" "$(dpkg --print-architecture)" "architecture"
assert_eq "$(jq -r '.rootfs.diff_ids | length' "$T/config.json")" 3 "diff_ids"
assert_eq "$(jq -r '.history | length' "$T/config.json")" 3 "history entries"

# --- layout and layer contents --------------------------------------------------------------------
mkdir -p "$T/layout"
tar -xf "$img" -C "$T/layout"
assert_eq "$(cat "$T/layout/oci-layout")" '{"imageLayoutVersion":"1.0.0"}' "oci-layout"
assert_eq "$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' "$T/layout/index.json")" 3.12 "ref name"
i=0
for d in $(jq -r '.layers[].digest' "$T/manifest.json"); do
	f="$T/layout/blobs/sha256/${d#sha256:}"
	assert_eq "sha256:$(sha256sum "$f" | cut -c1-64)" "$d" "layer blob digest"
	diff="sha256:$(gzip -dc "$f" | sha256sum | cut -c1-64)"
	assert_eq "$diff" "$(jq -r ".rootfs.diff_ids[$i]" "$T/config.json")" "diff_id $i"
	tar -tvzf "$f" >"$T/layer$i.txt"
	assert_not_contains "$T/layer$i.txt" '^h' # no hardlinks
	awk '{ if ($2 != "0/0") { print; exit 1 } }' "$T/layer$i.txt" || fail "layer $i: entry not owned by 0/0"
	# Every entry's parent directory is an entry of the same layer.
	tar -tzf "$f" | python3 -c '
import sys
names = [l.rstrip("\n") for l in sys.stdin]
dirs = {n.rstrip("/") for n in names if n.endswith("/")}
for n in names:
    p = n.rstrip("/").rpartition("/")[0]
    if p and p not in dirs:
        sys.exit("missing parent dir %s/ for %s" % (p, n))
' || fail "layer $i: missing parent directory entry"
	i=$((i + 1))
done
assert_contains "$T/layer2.txt" ' etc/\.wh\.fixture-removed$'
assert_contains "$T/layer2.txt" ' var/lang/share/fixture-opaque/\.wh\.\.wh\.\.opq$'
assert_contains "$T/layer0.txt" ' etc/fixture-removed$'
assert_contains "$T/layer1.txt" ' var/lang/share/fixture-opaque/one$'

# --- unpacked by umoci (applies whiteouts) ----------------------------------------------------------
umoci unpack --image "$T/layout:3.12" "$T/bundle" >"$T/umoci.log" 2>&1 || { cat "$T/umoci.log" >&2; fail "umoci unpack"; }
R="$T/bundle/rootfs"
assert_file "$R/var/lang/bin/python3" "$R/var/lang/bin/python3.11" "$R/var/lang/bin/python" \
	"$R/lambda-entrypoint.sh" "$R/var/runtime/bootstrap" "$R/etc/passwd" "$R/etc/localtime" \
	"$R/lib64/ld-linux-x86-64.so.2" "$R/bin/sh" "$R/var/lang/lib/python3.11/site-packages"
[ -d "$R/var/task" ] || fail "/var/task missing"
[ ! -L "$R/lambda-entrypoint.sh" ] || fail "entrypoint must not be a symlink"
assert_eq "$(stat -c %a "$R/tmp")" 1777 "/tmp mode"
assert_no_file "$R/etc/fixture-removed"
assert_eq "$(ls -A "$R/var/lang/share/fixture-opaque" | tr '\n' ' ')" "new " "opaque dir content"

# --- python in a chroot -------------------------------------------------------------------------------
out=$(env -i PATH=/var/lang/bin:/usr/bin:/bin "$chroot" "$R" /var/lang/bin/python3 -c \
	'import ssl, sqlite3, json, sys; print(1, sys.prefix)') || fail "python does not run in the rootfs"
assert_eq "$out" "1 /var/lang" "python in chroot"
mkdir -p "$R/var/task"
printf 'def handler(event, context):\n    return {"sum": sum(event["n"]), "fn": context.function_name}\n' >"$R/var/task/app.py"
out=$(echo '{"n": [1, 2, 3]}' | env -i PATH=/var/lang/bin:/usr/bin:/bin LAMBDA_TASK_ROOT=/var/task LAMINA_EVENT=- \
	"$chroot" "$R" /lambda-entrypoint.sh app.handler) || fail "bootstrap run failed: $out"
assert_eq "$out" '{"sum": 6, "fn": "function"}' "handler via entrypoint"
rc=0
env -i "$chroot" "$R" /lambda-entrypoint.sh >/dev/null 2>"$T/noarg.err" || rc=$?
assert_eq "$rc" 142 "entrypoint without handler"
rm -rf "$R/var/task/app.py" "$R/var/task/__pycache__"

# --- Docker engine: import the rootfs, run it without network ----------------------------------------
start_dockerd
docker_import_dir "$R" lamina-fixture:rootfs 'WORKDIR /var/task' 'ENTRYPOINT ["/lambda-entrypoint.sh"]'
out=$(dk run --rm --network none --entrypoint /var/lang/bin/python3 lamina-fixture:rootfs -c 'print(6*7)') ||
	fail "docker run failed (see $DOCKERD_LOG): $out"
assert_eq "$out" 42 "docker run python"
printf 'def handler(event, context):\n    return {"got": event}\n' >"$T/app.py"
out=$(echo '{"a": 1}' | dk run --rm -i --network none -v "$T/app.py:/var/task/app.py:ro" \
	-e PYTHONDONTWRITEBYTECODE=1 -e LAMINA_EVENT=- lamina-fixture:rootfs app.handler) || fail "docker run entrypoint: $out"
assert_eq "$out" '{"got": {"a": 1}}' "docker run via /lambda-entrypoint.sh"
echo "ok: fixture $img"
