#!/usr/bin/env bash
# lamina inspect on every kind of source the other commands take: the archive by path,
# oci-archive:PATH, docker-archive:PATH, oci:DIR and a registry reference (Debian's
# docker-registry on loopback, when installed). The listing names the layers (from the
# history lamina writes) and shows the labels; --tree gives the files with the bytes
# under each directory (checked against the layer's own tar listing, whiteouts
# applied), --largest N the largest files.
. "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq is missing"
base=$(fixture_base) || skip "fixture base could not be built"

app="$T/app"
mkdir -p "$app/deps/pkg/sub" "$app/src"
head -c 300000 /dev/urandom >"$app/deps/pkg/blob.bin"
head -c 120000 /dev/urandom >"$app/deps/pkg/sub/mid.bin"
printf 'X = 1\n' >"$app/deps/pkg/__init__.py"
printf 'def handler(event, context):\n    return 1\n' >"$app/src/app.py"
cat >"$app/lamina.json" <<'JSON'
{
  "base": "public.ecr.aws/lambda/python:3.12",
  "layers": [
    { "name": "deps", "from": "deps", "to": "/var/task" },
    { "name": "app", "from": "src", "to": "/var/task" }
  ],
  "precompile": false,
  "config": { "cmd": ["app.handler"], "labels": { "team": "blue" } }
}
JSON
run_lamina build "$app/lamina.json" --base "oci-archive:$base" --no-verify -o "$T/img.tar" || { cat "$T/err"; fail "build"; }
digest=$(cat "$T/out")

# 1. every source: the same image
mkdir -p "$T/layout"
tar -xf "$T/img.tar" -C "$T/layout"
sources=("$T/img.tar" "oci-archive:$T/img.tar" "docker-archive:$T/img.tar" "oci:$T/layout")
if command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
	. "$(dirname "$0")/lib-registry.sh"
	start_registry none
	skopeo copy -q --dest-tls-verify=false "oci-archive:$T/img.tar" "docker://$REG/fn/app:1" >"$T/skopeo.log" 2>&1 ||
		{ cat "$T/skopeo.log"; fail "skopeo copy to the registry"; }
	sources+=("$REG/fn/app:1")
	REGOPT=(--insecure-registry "$REG")
else
	echo "docker-registry or skopeo missing: no registry source"
	REGOPT=()
fi
for s in "${sources[@]}"; do
	run_lamina inspect "$s" "${REGOPT[@]}" --json || { cat "$T/err"; fail "inspect $s"; }
	jq -e --arg d "$digest" '.manifestDigest == $d and .problems == 0' "$T/out" >/dev/null ||
		fail "inspect $s: $(jq -c '{manifestDigest, problems}' "$T/out")"
	assert_eq "$(jq -c '[.layers[].name]' "$T/out")" '[null,null,null,"deps","app"]' "$s: layer names"
	echo "ok: $s"
done

# 2. the listing: names and labels
run_lamina inspect "$T/img.tar" || { cat "$T/err"; fail "inspect"; }
assert_contains "$T/out" '^layers +# +name +compressed +uncompressed'
assert_contains "$T/out" '^ +4 +deps +[0-9.]+ KiB'
assert_contains "$T/out" '^ +5 +app +'
assert_contains "$T/out" '^ +1 +base +'
assert_contains "$T/out" '^labels +team=blue$'
assert_contains "$T/out" '^shared +[0-9.]+ MiB compressed, [0-9.]+ MiB uncompressed with the base \([0-9.]+ %\); unique to this image: 4[0-9.]+ KiB, 4[0-9.]+ KiB$'
run_lamina inspect "$T/img.tar" --json || fail "inspect --json"
jq -e '.sharedWithBase.size == ([.layers[] | select(.base) | .size] | add) and
	.uniqueToImage.uncompressedSize == ([.layers[] | select(.base | not) | .uncompressedSize] | add)' "$T/out" >/dev/null ||
	fail "shared and unique bytes: $(jq -c '{sharedWithBase, uniqueToImage}' "$T/out")"

# 3. --tree of the deps layer: the bytes under each directory are the files' in its tar
layer_blob="$T/layout/blobs/sha256/$(jq -r '.layers[3].digest' "$T/layout/blobs/sha256/$(jq -r '.manifests[0].digest' "$T/layout/index.json" | cut -d: -f2)" | cut -d: -f2)"
tar -tvzf "$layer_blob" | awk '$1 ~ /^-/ { s += $3 } END { print s }' >"$T/tarsum"
run_lamina inspect "$T/img.tar" --tree --layer 4 --depth 0 --json || { cat "$T/err"; fail "inspect --tree --json"; }
assert_eq "$(jq '[.[] | select(.type == "f") | .size] | add' "$T/out")" "$(cat "$T/tarsum")" "files' bytes of layer 4"
run_lamina inspect "$T/img.tar" --tree --layer 4 --depth 0 || { cat "$T/err"; fail "inspect --tree"; }
cp "$T/out" "$T/tree"
assert_contains "$T/tree" '^ +[0-9.]+ KiB  /$'
assert_contains "$T/tree" '^ +410\.2 KiB      pkg/$'          # 300000 + 120000 + 6 bytes
assert_contains "$T/tree" '^ +117\.2 KiB        sub/$'
assert_contains "$T/tree" '^ +117\.2 KiB          mid\.bin$'
assert_contains "$T/tree" '^ +293\.0 KiB        blob\.bin$'
# --depth 2 stops at var/task
run_lamina inspect "$T/img.tar" --tree --layer 4 --depth 2 || fail "inspect --tree --depth 2"
assert_eq "$(grep -c . "$T/out")" 3 "/, var/, task/ only"
# the whole image: every layer, later over earlier
run_lamina inspect "$T/img.tar" --tree --depth 1 || fail "inspect --tree (image)"
assert_contains "$T/out" '^ +[0-9.]+ MiB  var/$'
assert_contains "$T/out" '^ +[0-9.]+ MiB  usr/$'

# 4. --largest
run_lamina inspect "$T/img.tar" --largest 3 --layer 4 || { cat "$T/err"; fail "inspect --largest"; }
assert_eq "$(awk '{print $NF}' "$T/out" | tr '\n' ' ')" "/var/task/pkg/blob.bin /var/task/pkg/sub/mid.bin /var/task/pkg/__init__.py " "largest files of layer 4"
assert_contains "$T/out" '^ +293\.0 KiB  4   deps +/var/task/pkg/blob\.bin$'
run_lamina inspect "$T/img.tar" --largest 5 --json || fail "inspect --largest --json"
jq -e 'length == 5 and (map(.size) == (map(.size) | sort | reverse))' "$T/out" >/dev/null || fail "largest 5, biggest first"

# 5. whiteouts: an image whose last layer deletes a file of the deps layer
mkdir -p "$T/wh/var/task/pkg"
: >"$T/wh/var/task/pkg/.wh.blob.bin"
tar -C "$T/wh" -czf "$T/wh.tar.gz" var
wh_diff=$(gzip -dc "$T/wh.tar.gz" | sha256sum | cut -d' ' -f1)
wh_dig=$(sha256sum "$T/wh.tar.gz" | cut -d' ' -f1)
cp "$T/wh.tar.gz" "$T/layout/blobs/sha256/$wh_dig"
mdig=$(jq -r '.manifests[0].digest' "$T/layout/index.json" | cut -d: -f2)
cdig=$(jq -r '.config.digest' "$T/layout/blobs/sha256/$mdig" | cut -d: -f2)
jq -c --arg d "sha256:$wh_diff" '.rootfs.diff_ids += [$d] | .history += [{"created_by": "whiteout"}]' \
	"$T/layout/blobs/sha256/$cdig" >"$T/cfg.json"
ncdig=$(sha256sum "$T/cfg.json" | cut -d' ' -f1)
cp "$T/cfg.json" "$T/layout/blobs/sha256/$ncdig"
jq -c --arg c "sha256:$ncdig" --argjson cs "$(stat -c %s "$T/cfg.json")" --arg l "sha256:$wh_dig" \
	--argjson ls "$(stat -c %s "$T/wh.tar.gz")" \
	'.config.digest = $c | .config.size = $cs | .layers += [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": $l, "size": $ls}]' \
	"$T/layout/blobs/sha256/$mdig" >"$T/m.json"
nmdig=$(sha256sum "$T/m.json" | cut -d' ' -f1)
cp "$T/m.json" "$T/layout/blobs/sha256/$nmdig"
jq -c --arg m "sha256:$nmdig" --argjson ms "$(stat -c %s "$T/m.json")" '.manifests[0].digest = $m | .manifests[0].size = $ms' \
	"$T/layout/index.json" >"$T/index.json"
cp "$T/index.json" "$T/layout/index.json"
run_lamina inspect "oci:$T/layout" --largest 2 --layer 4 || { cat "$T/err"; fail "inspect the layout with a whiteout layer"; }
assert_contains "$T/out" 'blob\.bin'                              # the layer itself still has it
run_lamina inspect "oci:$T/layout" --tree --depth 0 || { cat "$T/err"; fail "inspect --tree with a whiteout"; }
assert_not_contains "$T/out" 'blob\.bin'                          # the image does not
assert_contains "$T/out" 'mid\.bin'
assert_not_contains "$T/out" '\.wh\.'

# 6. usage errors
run_lamina inspect "$T/img.tar" --layer 9 --tree && fail "--layer 9 of 5 should fail"
assert_contains "$T/err" "has 5 layers"
run_lamina inspect "$T/img.tar" --layer 2 && fail "--layer alone should fail"
assert_contains "$T/err" '--layer goes with --tree or --largest'
echo ok
