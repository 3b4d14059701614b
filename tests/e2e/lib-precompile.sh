# Helpers for the precompile and verify tests (sourced after lib.sh).
#   make_app DIR          a small handler app: app.py (handler), pkg/__init__.py, pkg/util.py
#   image_root OUT.tar DIR  unpack every layer of the built image into DIR with tar
#                          (independent of lamina's own rootfs code)
#   layer_list OUT.tar    list the app (last) layer's entries
#   in_image DIR CMD...   run CMD chrooted in DIR with /var/task bound read-only

need_root_ns() {
	[ "$(id -u)" = 0 ] || skip "needs root (chroot, mount namespace)"
	unshare -m true 2>/dev/null || skip "mount namespaces are not available"
	command -v jq >/dev/null || skip "jq is missing"
}

make_app() {
	mkdir -p "$1/pkg"
	cat >"$1/app.py" <<'PY'
import json
from pkg import util


def handler(event, context):
    return {"y": util.times7(event.get("x", 1)), "fn": context.function_name}
PY
	: >"$1/pkg/__init__.py"
	printf 'def times7(x):\n    return x * 7\n' >"$1/pkg/util.py"
}

_manifest_blob() { # OUT.tar DIR -> path of the manifest blob in DIR (unpacked archive)
	local d
	d=$(jq -r '.manifests[0].digest' "$2/index.json")
	echo "$2/blobs/sha256/${d#sha256:}"
}

image_root() {
	local x="$T/.unpack.$$" m d
	rm -rf "$x"; mkdir -p "$x" "$2"
	tar -xf "$1" -C "$x"
	m=$(_manifest_blob "$1" "$x")
	for d in $(jq -r '.layers[].digest' "$m"); do
		tar -xzf "$x/blobs/sha256/${d#sha256:}" -C "$2"
	done
	rm -rf "$x"
}

layer_list() {
	local x="$T/.unpack.$$" m d
	rm -rf "$x"; mkdir -p "$x"
	tar -xf "$1" -C "$x"
	m=$(_manifest_blob "$1" "$x")
	d=$(jq -r '.layers[-1].digest' "$m")
	tar -tzf "$x/blobs/sha256/${d#sha256:}"
	rm -rf "$x"
}

layer_digests() {
	local x="$T/.unpack.$$" m
	rm -rf "$x"; mkdir -p "$x"
	tar -xf "$1" -C "$x"
	m=$(_manifest_blob "$1" "$x")
	jq -r '.layers[].digest' "$m"
	rm -rf "$x"
}

in_image() {
	local root=$1
	shift
	unshare -m sh -c 'mount --bind "$1/var/task" "$1/var/task" && mount -o remount,bind,ro "$1/var/task" &&
		shift && exec chroot "$@"' sh "$root" "$root" /usr/bin/env -i PATH=/var/lang/bin:/usr/bin:/bin PYTHONPATH=/var/task "$@"
}
