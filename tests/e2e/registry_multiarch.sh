#!/usr/bin/env bash
# A multi-arch index (linux/amd64 + linux/arm64/v8) pushed with skopeo: lamina pull
# --platform picks each, refuses a platform the index lacks, and a pinned digest is checked.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
_need jq skopeo

FIX=$(fixture_base)
start_registry none

# an arm64 variant of the fixture: same layers, config architecture edited
L="$T/layout"
mkdir -p "$L" && tar -xf "$FIX" -C "$L"
blob() { echo "$L/blobs/sha256/${1#sha256:}"; }
amd_desc=$(jq -c '.manifests[0]' "$L/index.json")
amd_m=$(jq -r .digest <<<"$amd_desc")
cfg=$(jq -r .config.digest "$(blob "$amd_m")")
jq -c '.architecture = "arm64" | .variant = "v8"' "$(blob "$cfg")" >"$T/arm-config.json"
arm_cfg=sha256:$(sha256sum <"$T/arm-config.json" | cut -c1-64)
cp "$T/arm-config.json" "$(blob "$arm_cfg")"
jq -c --arg d "$arm_cfg" --argjson s "$(stat -c %s "$T/arm-config.json")" \
	'.config.digest = $d | .config.size = $s' "$(blob "$amd_m")" >"$T/arm-manifest.json"
arm_m=sha256:$(sha256sum <"$T/arm-manifest.json" | cut -c1-64)
cp "$T/arm-manifest.json" "$(blob "$arm_m")"
arm_size=$(stat -c %s "$T/arm-manifest.json")
amd_size=$(stat -c %s "$(blob "$amd_m")")
jq -nc --arg a "$amd_m" --argjson asz "$amd_size" --arg r "$arm_m" --argjson rs "$arm_size" '{
  schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
  manifests: [
    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $a, size: $asz,
     platform: {os: "linux", architecture: "amd64"}},
    {mediaType: "application/vnd.oci.image.manifest.v1+json", digest: $r, size: $rs,
     platform: {os: "linux", architecture: "arm64", variant: "v8"}}]}' >"$T/index.json"
idx=sha256:$(sha256sum <"$T/index.json" | cut -c1-64)
cp "$T/index.json" "$(blob "$idx")"
jq -c --arg d "$idx" --argjson s "$(stat -c %s "$T/index.json")" \
	'{schemaVersion: 2, manifests: [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
	  annotations: {"org.opencontainers.image.ref.name": "multi"}}]}' -n >"$L/index.json"
skopeo copy -q --all --dest-tls-verify=false "oci:$L:multi" "docker://$REG/lambda/python:multi" \
	>"$T/seed.log" 2>&1 || { cat "$T/seed.log" >&2; fail "skopeo copy --all of the index"; }
served=$(skopeo inspect --raw --tls-verify=false "docker://$REG/lambda/python:multi" | jq -r .mediaType)
assert_contains "$served" 'index|list'

run_lamina -q pull "$REG/lambda/python:multi" || { cat "$T/err" >&2; fail "default platform"; }
assert_contains "$T/out" "@$amd_m$"
run_lamina -q pull --platform linux/arm64 "$REG/lambda/python:multi" || { cat "$T/err" >&2; fail "arm64"; }
assert_contains "$T/out" "@$arm_m$"
assert_contains "$T/out" "^config $arm_cfg "
run_lamina -q pull --platform linux/arm64/v8 "$REG/lambda/python:multi" || fail "arm64/v8"
assert_contains "$T/out" "@$arm_m$"
run_lamina -q pull --platform linux/amd64 "$REG/lambda/python:multi" || fail "amd64"
assert_contains "$T/out" "@$amd_m$"

rc=0; run_lamina -q pull --platform linux/s390x "$REG/lambda/python:multi" || rc=$?
assert_eq "$rc" 2 "exit status for a platform Lambda does not run"

# an index without the wanted platform
jq -c '.manifests |= map(select(.platform.architecture == "arm64"))' "$T/index.json" >"$T/arm-index.json"
aidx=sha256:$(sha256sum <"$T/arm-index.json" | cut -c1-64)
cp "$T/arm-index.json" "$(blob "$aidx")"
jq -c --arg d "$aidx" --argjson s "$(stat -c %s "$T/arm-index.json")" \
	'.manifests += [{mediaType: "application/vnd.oci.image.index.v1+json", digest: $d, size: $s,
	  annotations: {"org.opencontainers.image.ref.name": "armonly"}}]' "$L/index.json" >"$T/top.json"
cp "$T/top.json" "$L/index.json"
skopeo copy -q --all --dest-tls-verify=false "oci:$L:armonly" "docker://$REG/lambda/python:armonly" \
	>"$T/seed.log" 2>&1 || { cat "$T/seed.log" >&2; fail "skopeo copy --all of the arm64-only index"; }
rc=0; run_lamina -q pull "$REG/lambda/python:armonly" || rc=$?
assert_eq "$rc" 3 "exit status for a missing platform"
assert_contains "$T/err" "no image for platform 'linux/amd64' \(it has: linux/arm64/v8\)"

# pinned digests: the index's and a platform manifest's; a wrong pin fails clearly
run_lamina -q pull --platform linux/arm64 "$REG/lambda/python@$idx" || { cat "$T/err" >&2; fail "pin index"; }
assert_contains "$T/out" "@$arm_m$"
run_lamina -q pull "$REG/lambda/python@$amd_m" || fail "pin manifest"
wrong=sha256:$(echo nope | sha256sum | cut -c1-64)
rc=0; run_lamina -q pull "$REG/lambda/python@$wrong" || rc=$?
[ $rc -ne 0 ] || fail "a wrong pinned digest must fail"
assert_contains "$T/err" "lambda/python"
check_cache_clean
echo ok
