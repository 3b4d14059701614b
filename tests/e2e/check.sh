#!/usr/bin/env bash
# lamina check: Lambda's rules on images and zips (docs/check.md).
#  - tests/tools/mkbad.py's hand-made images and zips, each breaking one rule: check names
#    that rule (FAIL, or warn for the warnings) and exits 8 (0 for a warning);
#  - what lamina builds passes: images/python-hello as an image (archive, oci-archive:,
#    and an OCI layout copied by skopeo, oci:DIR) and a function zip
#    (with a layer zip, --with-layer); --json;
#  - images from other tools: a `docker save` of the local engine (Docker 20.10: its
#    layers are uncompressed tars, flagged), buildah's manifest list pushed to an OCI
#    archive (an index at the reference, flagged) and buildah's single image (passes);
#  - a registry reference: lamina's pushed image passes, mkbad's buildx-style index with an
#    attestation manifest (copied by skopeo) is flagged at the reference;
#  - lamina build and lamina zip stop with exit 8 and write nothing when the output
#    breaks a rule (a CMD naming no module); --no-check writes it.
. "$(dirname "$0")/lib.sh"
for t in python3 skopeo; do command -v $t >/dev/null || skip "$t is missing"; done
base=$(fixture_base) || skip "fixture base could not be built"
# lam ARGS...: run_lamina, its status in $rc (lib.sh runs under set -e)
lam() { rc=0; run_lamina "$@" || rc=$?; }

# one line per rule, in order; exit 8 for a failure
python3 "$REPO/tests/tools/mkbad.py" "$T/bad" >"$T/cases" || fail "mkbad.py failed"
[ "$(wc -l <"$T/cases")" -ge 20 ] || fail "mkbad.py made too few cases"
while read -r f rule; do
	case "$f" in
	zip-layer.zip) continue ;; # a layer: checked below with a function
	*.zip) extra=(--handler app.handler) ;;
	*) extra=() ;;
	esac
	lam check "$T/bad/$f" "${extra[@]}"
	case "$rule" in
	ok)
		[ $rc -eq 0 ] || fail "$f: exit $rc, want 0: $(cat "$T/out" "$T/err")"
		assert_not_contains "$T/out" '^(FAIL|warn) '
		;;
	permissions | layer-count | symlinks)
		[ $rc -eq 0 ] || fail "$f: exit $rc, want 0 (a warning): $(cat "$T/out" "$T/err")"
		assert_contains "$T/out" "^warn $rule: "
		assert_not_contains "$T/out" '^FAIL '
		;;
	*)
		[ $rc -eq 8 ] || fail "$f: exit $rc, want 8: $(cat "$T/out" "$T/err")"
		assert_contains "$T/out" "^FAIL $rule: "
		# exactly this rule fails
		others=$(grep '^FAIL ' "$T/out" | grep -v "^FAIL $rule: " || true)
		[ -z "$others" ] || fail "$f: other rules fail too: $others"
		assert_contains "$T/err" "^lamina: check: .*$rule: "
		;;
	esac
done <"$T/cases"
# the offending layer by number and digest, the entry by name
lam check "$T/bad/hardlink.tar"
assert_contains "$T/out" "^FAIL hardlink: layer 1 sha256:[0-9a-f]{64}: .*'var/task/copy.py'"
lam check "$T/bad/attestation.tar"
assert_contains "$T/out" "attestation manifest"
# --arch: the function's architecture
lam check "$T/bad/good.tar" --arch arm64
[ $rc -eq 8 ] || fail "an amd64 image passed --arch arm64"
assert_contains "$T/out" "^FAIL platform: config.architecture: 'amd64', not .* arm64"
run_lamina check "$T/bad/good.tar" --arch x86_64 || fail "--arch x86_64 (amd64): $(cat "$T/err")"
# zips: function and layers together; at most 5 layers
run_lamina check "$T/bad/zip-good.zip" --handler app.handler --with-layer "$T/bad/zip-layer.zip" ||
	fail "a function with one layer: $(cat "$T/out" "$T/err")"
lam check "$T/bad/zip-good.zip" --with-layer "$T/bad/zip-unzipped.zip"
[ $rc -eq 8 ] || fail "function + a 263 MB layer passed"
assert_contains "$T/out" "^FAIL unzipped-size: function and layers: "
l="$T/bad/zip-layer.zip"
lam check "$T/bad/zip-good.zip" --with-layer "$l" --with-layer "$l" --with-layer "$l" \
	--with-layer "$l" --with-layer "$l" --with-layer "$l"
[ $rc -eq 8 ] || fail "6 layers passed"
assert_contains "$T/out" "^FAIL layer-count: --with-layer: 6 layers"
run_lamina check "$T/bad/good.tar" --json || fail "--json: $(cat "$T/err")"
python3 - "$T/out" <<'EOF' || fail "--json output"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["passed"] is True and j["failures"] == 0 and j["kind"] == "image", j
assert {r["rule"] for r in j["rules"]} >= {"single-manifest", "hardlink", "handler", "layer-digest"}, j
EOF
lam check "$T/bad/hardlink.tar" --json
python3 - "$T/out" <<'EOF' || fail "--json of a failing image"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["passed"] is False and j["failures"] == 1, j
f = j["findings"][0]
assert f["rule"] == "hardlink" and f["severity"] == "fail" and f["where"].startswith("layer 1 sha256:"), f
EOF

# what lamina builds passes
hello="$REPO/images/python-hello/lamina.json"
"$LAMINA" -q build "$hello" --base "oci-archive:$base" -o "$T/hello.tar" >/dev/null || fail "build python-hello"
run_lamina check "$T/hello.tar" || fail "python-hello: $(cat "$T/out" "$T/err")"
assert_contains "$T/out" "^ok   handler$"
run_lamina check "oci-archive:$T/hello.tar" || fail "oci-archive:: $(cat "$T/err")"
skopeo copy -q "oci-archive:$T/hello.tar" "oci:$T/layout:latest" || fail "skopeo copy to an OCI layout"
run_lamina check "oci:$T/layout:latest" || fail "oci: layout: $(cat "$T/out" "$T/err")"
"$LAMINA" -q zip "$hello" --base "oci-archive:$base" -o "$T/hello.zip" >/dev/null || fail "zip python-hello"
run_lamina check "$T/hello.zip" --handler app.handler --with-layer "$T/bad/zip-layer.zip" ||
	fail "python-hello zip: $(cat "$T/out" "$T/err")"

# build and zip refuse what breaks a rule, before writing anything
mkdir -p "$T/badapp"
cp -r "$REPO/images/python-hello/src" "$T/badapp/"
sed 's/app\.handler/missing.handler/' "$hello" >"$T/badapp/lamina.json"
lam build "$T/badapp/lamina.json" --base "oci-archive:$base" -o "$T/badapp.tar"
[ $rc -eq 8 ] || fail "build of an image whose CMD names no module: exit not 8: $(cat "$T/err")"
assert_contains "$T/err" "^lamina: build: check: the image breaks 1 Lambda rule, nothing written or pushed: handler: "
assert_no_file "$T/badapp.tar"
[ -z "$(ls "$T" | grep 'badapp.tar.tmp' || true)" ] || fail "build left a temporary file"
lam zip "$T/badapp/lamina.json" --base "oci-archive:$base" -o "$T/badapp.zip"
[ $rc -eq 8 ] || fail "zip whose handler is missing: exit not 8: $(cat "$T/err")"
assert_contains "$T/err" "^lamina: zip: check: the zip breaks 1 Lambda rule, nothing written: handler: "
assert_no_file "$T/badapp.zip"
[ -z "$(ls "$T" | grep 'badapp.zip.tmp' || true)" ] || fail "zip left a temporary file"
run_lamina build "$T/badapp/lamina.json" --base "oci-archive:$base" -o "$T/badapp.tar" --no-check ||
	fail "--no-check: $(cat "$T/err")"
assert_file "$T/badapp.tar"

# buildah: a manifest list pushed to an OCI archive (index.json -> index -> image)
if command -v buildah >/dev/null; then
	ba() { buildah --root "$T/buildah/root" --runroot "$T/buildah/run" --storage-driver vfs "$@"; }
	on_exit rm -rf "$T/buildah"
	ba pull -q "oci-archive:$T/hello.tar" >/dev/null 2>"$T/ba.err" || fail "buildah pull: $(cat "$T/ba.err")"
	ba manifest create hellolist >/dev/null 2>"$T/ba.err" || fail "buildah manifest create: $(cat "$T/ba.err")"
	ba manifest add hellolist "oci-archive:$T/hello.tar" >/dev/null 2>"$T/ba.err" ||
		fail "buildah manifest add: $(cat "$T/ba.err")"
	ba manifest push -q --all hellolist "oci-archive:$T/buildah-list.tar" 2>"$T/ba.err" ||
		fail "buildah manifest push: $(cat "$T/ba.err")"
	lam check "$T/buildah-list.tar"
	[ $rc -eq 8 ] || fail "buildah's manifest list passed"
	assert_contains "$T/out" "^FAIL single-manifest: index.json manifests\[0\]: sha256:[0-9a-f]{64} is an image index"
	ba push -q python-hello:latest "oci-archive:$T/buildah-one.tar" 2>"$T/ba.err" || fail "buildah push: $(cat "$T/ba.err")"
	run_lamina check "$T/buildah-one.tar" || fail "buildah's single image: $(cat "$T/out" "$T/err")"
else
	echo "note: buildah is missing (scripts/deps.sh installs it): its index not checked"
fi

# a registry reference: the document at the reference is what Lambda gets
. "$(dirname "$0")/lib-registry.sh"
start_registry none
"$LAMINA" -q push "$T/hello.tar" "$REG/hello:1" --insecure-registry "$REG" >/dev/null || fail "push hello"
run_lamina check "$REG/hello:1" --insecure-registry "$REG" || fail "registry reference: $(cat "$T/out" "$T/err")"
assert_contains "$T/out" "^ok   single-manifest$"
skopeo copy -q --all --dest-tls-verify=false "oci-archive:$T/bad/attestation.tar" "docker://$REG/attested:1" ||
	fail "skopeo copy the attestation index"
lam check "$REG/attested:1" --insecure-registry "$REG"
[ $rc -eq 8 ] || fail "an index with an attestation at a registry reference: exit $rc: $(cat "$T/out" "$T/err")"
assert_contains "$T/out" "^FAIL single-manifest: reference: an image index \(manifest list\) of 2 manifests"
assert_contains "$T/out" "attestation manifest"

# docker save from the local engine (20.10): uncompressed layers in a docker save archive
. "$(dirname "$0")/lib-docker.sh"
start_dockerd
dk load -i "$T/hello.tar" >/dev/null || fail "docker load"
dk save -o "$T/saved.tar" python-hello:latest || fail "docker save"
lam check "$T/saved.tar"
[ $rc -eq 8 ] || fail "docker save archive: exit not 8: $(cat "$T/out" "$T/err")"
assert_contains "$T/out" "^FAIL layer-media-type: layer 1 sha256:[0-9a-f]{64}: an uncompressed tar in a docker save archive: it will be refused on push unless recompressed"
others=$(grep '^FAIL ' "$T/out" | grep -v '^FAIL layer-media-type: ' || true)
[ -z "$others" ] || fail "docker save archive: other rules fail: $others"
lam check "docker-archive:$T/saved.tar"
[ $rc -eq 8 ] || fail "docker-archive: exit not 8"
echo "check: $(grep -c . "$T/cases") mkbad cases, lamina's image and zips, buildah, docker save"
