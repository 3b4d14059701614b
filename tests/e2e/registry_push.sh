#!/usr/bin/env bash
# lamina push to a token-auth registry (ECR-like: push needs a login), read back by
# skopeo and by a real Docker engine (pull + run); a second push after a code-only
# change uploads only the changed blobs; a push to another repository mounts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-registry.sh"
. "$(dirname "$0")/lib-docker.sh"

FIX=$(fixture_base)
start_registry token
cp -r "$REPO/images/python-hello" "$T/app"
"$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" -o "$T/v1.tar" >"$T/d1" || fail "build v1"

# anonymous tokens only pull: a clear auth error
rc=0; run_lamina -q push "$T/v1.tar" "$REG/fn/hello:v1" || rc=$?
assert_eq "$rc" 6 "exit status of an anonymous push"
assert_contains "$T/err" "^lamina: push: .*401"

push() { # ARCHIVE REF
	local rc=0
	printf '%s\n' "$REG_PASS" | "$LAMINA" push --username "$REG_USER" --password-stdin "$1" "$2" \
		>"$T/out" 2>"$T/err" || rc=$?
	[ $rc -eq 0 ] || { cat "$T/err" >&2; fail "push $2 (exit $rc)"; }
	assert_not_contains "$T/err" "$REG_PASS"
}
push "$T/v1.tar" "$REG/fn/hello:v1"
assert_eq "$(cat "$T/out")" "$REG/fn/hello:v1@$(cat "$T/d1")" "pushed digest"
assert_contains "$T/err" "5 blobs uploaded, 0 mounted, 0 already there"

# independent readers
creds=$(reg_creds)
skopeo inspect --tls-verify=false --creds "$creds" --raw "docker://$REG/fn/hello:v1" >"$T/raw.json" ||
	fail "skopeo inspect"
assert_eq "sha256:$(sha256sum <"$T/raw.json" | cut -c1-64)" "$(cat "$T/d1")" "digest read back"
assert_eq "$(jq -r .mediaType "$T/raw.json")" application/vnd.oci.image.manifest.v1+json "mediaType"
skopeo copy -q --src-tls-verify=false --src-creds "$creds" "docker://$REG/fn/hello:v1" "oci:$T/copy:v1" ||
	fail "skopeo copy from the registry"

# second push after a code-only change: config + the code layer only
echo "# changed" >>"$T/app/src/app.py"
"$LAMINA" -q build "$T/app/lamina.json" --base "oci-archive:$FIX" -o "$T/v2.tar" >"$T/d2" || fail "build v2"
push "$T/v2.tar" "$REG/fn/hello:v2"
assert_contains "$T/err" "2 blobs uploaded, 0 mounted, 3 already there"

# another repository of the same registry: blobs are mounted, not uploaded
printf '%s\n' "$REG_PASS" | "$LAMINA" push --username "$REG_USER" --password-stdin "$REG/fn/hello:v2" \
	"$REG/fn/other:v2" >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "copy push"; }
assert_contains "$T/err" "0 blobs uploaded, 5 mounted, 0 already there"

# an archive built on a registry base records it (org.opencontainers.image.base.name), so a
# push of the archive to another repository mounts the base layers instead of uploading them
seed_fixture lambda/python:3.12
"$LAMINA" -q --cache "$T/c2" build "$T/app/lamina.json" --base "$REG/lambda/python:3.12" --insecure-registry "$REG" \
	-o "$T/v3.tar" >"$T/d3" 2>"$T/err3" || { cat "$T/err3" >&2; fail "build on a registry base"; }
run_lamina inspect --json "$T/v3.tar" || fail "inspect v3"
assert_eq "$(jq -r .baseName "$T/out")" "$REG/lambda/python:3.12" "inspect: baseName"
tar -xOf "$T/v3.tar" index.json >"$T/ix3.json"
mdig=$(jq -r '.manifests[0].digest' "$T/ix3.json")
tar -xOf "$T/v3.tar" "blobs/sha256/${mdig#sha256:}" >"$T/m3.json"
assert_eq "$(jq -r '.annotations["org.opencontainers.image.base.name"]' "$T/m3.json")" "$REG/lambda/python:3.12" "base.name"
assert_contains "$T/m3.json" '"org.opencontainers.image.base.digest":"sha256:[0-9a-f]{64}"'
push "$T/v3.tar" "$REG/fn/based:v3"
assert_contains "$T/err" "2 blobs uploaded, 3 mounted, 0 already there"
# a local base leaves no such annotation (a path says nothing to a registry)
tar -xOf "$T/v1.tar" index.json >"$T/ix1.json"
mdig=$(jq -r '.manifests[0].digest' "$T/ix1.json")
tar -xOf "$T/v1.tar" "blobs/sha256/${mdig#sha256:}" >"$T/m1.json"
assert_not_contains "$T/m1.json" "base\.name"

# a real Docker engine pulls and runs what lamina pushed
start_dockerd
printf '%s\n' "$REG_PASS" | dk login -u "$REG_USER" --password-stdin "$REG" >/dev/null 2>&1 || fail "docker login"
dk pull -q "$REG/fn/hello:v2" >/dev/null 2>"$T/dkpull" || { cat "$T/dkpull" >&2; fail "docker pull"; }
got=$(echo '{"name": "registry"}' | dk run -i --rm --network none -e LAMINA_EVENT=- "$REG/fn/hello:v2")
assert_contains "$got" 'hello, registry'
echo ok
