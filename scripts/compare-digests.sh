#!/usr/bin/env bash
# Shows that a change left what lamina makes unchanged: builds OLD (a git revision) in a
# scratch worktree, then builds the example image and the workloads with both binaries and
# compares the image manifest digests and the zip digests.
#   scripts/compare-digests.sh [OLD_REV]        (default: origin of this branch, main)
#   NEW=/abs/lamina scripts/compare-digests.sh   (default: build/lamina of this checkout)
# Cases: images/python-hello (precompile), the Python workload with python-safe + verify,
# its layer zip, the Node seed workload with node-safe and the V8 compile cache, and the
# function zip of python-hello. Prints a table; exits 1 when any digest differs.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
old_rev=${1:-main}
NEW=${NEW:-$repo/build/lamina}
[ -x "$NEW" ] || { echo "compare-digests: NEW=$NEW is not executable (run make)" >&2; exit 2; }
W=$(mktemp -d /tmp/lamina-compare.XXXXXX)
cleanup() { git -C "$repo" worktree remove --force "$W/old" >/dev/null 2>&1 || true; rm -rf "$W"; }
trap cleanup EXIT
log() { echo "compare-digests: $*" >&2; }

log "building $old_rev"
git -C "$repo" worktree add --detach "$W/old" "$old_rev" >/dev/null 2>&1
make -s -C "$W/old" -j2 BUILD="$W/oldbuild" all >/dev/null
OLD=$W/oldbuild/lamina

base=$("$repo/scripts/make-fixture-base.sh")
nbase=$("$repo/scripts/make-fixture-node.sh")
pyw=$("$repo/scripts/workload-python.sh")
seed=$("$repo/scripts/workload-node.sh" seed)
mkdir -p "$W/py" "$W/node"
cat >"$W/py/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [
  {"name": "deps", "from": "$pyw", "to": "/var/task"},
  {"name": "app", "from": "$repo/images/python-hello/src", "to": "/var/task"}],
 "prune": {"presets": ["python-safe"]},
 "verify": {"imports": ["boto3", "numpy"]},
 "config": {"cmd": ["app.handler"]}, "tag": "py:1"}
JSON
cat >"$W/py/layer.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "deps", "from": "$pyw", "to": "/opt/python"}],
 "prune": {"presets": ["python-safe"]}}
JSON
mkdir -p "$W/node/app"
echo 'exports.handler = async (e) => ({ ok: true, e });' >"$W/node/app/index.js"
cat >"$W/node/lamina.json" <<JSON
{"base": "oci-archive:$nbase", "layers": [
  {"name": "deps", "from": "$seed/node_modules", "to": "/var/task/node_modules"},
  {"name": "app", "from": "app", "to": "/var/task"}],
 "prune": {"presets": ["node-safe"]},
 "precompile": {"node": {"memorySizes": [1024]}},
 "config": {"cmd": ["index.handler"]}, "tag": "node:1"}
JSON

# case  command...   (the command's stdout's last line is the digest)
cases=(
	"python-hello image|build $repo/images/python-hello/lamina.json --base oci-archive:$base"
	"python-hello zip|zip $repo/images/python-hello/lamina.json --base oci-archive:$base -o ZIP"
	"python workload image|build $W/py/lamina.json"
	"python workload layer zip|zip $W/py/layer.json --kind layer -o ZIP"
	"node seed image (compile cache)|build $W/node/lamina.json"
)
status=0
printf '| case | %s | %s | same |\n|---|---|---|---|\n' "$old_rev" "this tree"
for c in "${cases[@]}"; do
	name=${c%%|*}
	args=${c#*|}
	row=()
	for bin in "$OLD" "$NEW"; do
		a=${args//ZIP/$W/out.zip}
		# shellcheck disable=SC2086
		d=$(cd "$W/py" && XDG_CACHE_HOME="$W/cache" "$bin" -q $a | tail -1) || { log "$name failed with $bin"; d=FAILED; }
		row+=("$d")
	done
	same=yes
	[ "${row[0]}" = "${row[1]}" ] && [ "${row[0]}" != FAILED ] || { same=NO; status=1; }
	printf '| %s | %.19s | %.19s | %s |\n' "$name" "${row[0]}" "${row[1]}" "$same"
done
exit $status
