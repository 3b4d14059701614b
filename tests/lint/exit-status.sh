#!/usr/bin/env bash
# The exit statuses are defined once (src/common/err.c, lm_exit_statuses): `lamina --help`
# prints them, and docs/architecture.md's table must say the same, row for row.
set -euo pipefail
cd "$(dirname "$0")/../.."
: "${LAMINA:?LAMINA must name the lamina binary}"
# docs: "| 3 | bad input: manifest, archive, reference |" -> "3 bad input (manifest, archive, reference)"
want=$(awk '/^## Errors and exit statuses/ { on = 1 } on && /^\| [0-9]+ \|/ {
	split($0, f, "|"); code = f[2]; text = f[3]; gsub(/^ +| +$/, "", code); gsub(/^ +| +$/, "", text)
	i = index(text, ": "); if (i) text = substr(text, 1, i - 1) " (" substr(text, i + 2) ")"
	printf "%s %s, ", code, text }' docs/architecture.md | sed 's/, $/./')
got=$("$LAMINA" --help | sed -n '/^Exit status:/,$p' | tr '\n' ' ' | sed 's/^Exit status: //; s/ *$//; s/  */ /g')
if [ "$want" != "$got" ]; then
	echo "docs/architecture.md's exit statuses differ from 'lamina --help':"
	echo "  docs: $want"
	echo "  help: $got"
	exit 1
fi
echo "exit statuses: docs/architecture.md and lamina --help agree"
