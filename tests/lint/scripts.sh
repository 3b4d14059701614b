#!/usr/bin/env bash
# The programs lamina runs inside images (src/run/scripts/) are real .py and .js files:
# each must compile with the host's python3 (py_compile) and node (--check), so a syntax
# error fails here, not in somebody's image. Their behaviour is tested in the images
# (tests/e2e/verify_*.sh, precompile_*.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
n=0
for f in "$here"/src/run/scripts/*.py; do
	python3 - "$f" <<'PY'
import sys
src = open(sys.argv[1], encoding="utf-8").read()
compile(src, sys.argv[1], "exec", dont_inherit=True)
PY
	n=$((n + 1))
done
command -v node >/dev/null || { echo "scripts: node is missing (make test installs it)" >&2; exit 1; }
for f in "$here"/src/run/scripts/*.js; do
	node --check "$f"
	n=$((n + 1))
done
echo "scripts: $n scripts compile"
