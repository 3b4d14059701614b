#!/usr/bin/env bash
# The folders of src/ form layers: a folder includes only its own headers and those of
# folders below it, always with the folder in the path ("registry/registry.h"), and a
# folder-private header (*_internal.h) only from its own folder. See docs/architecture.md.
#   common < image < {registry, prune, zip} < run < build < cli
set -euo pipefail
cd "$(dirname "$0")/../.."
declare -A rank=([common]=0 [image]=1 [registry]=2 [prune]=2 [zip]=2 [run]=3 [build]=4 [cli]=5)
bad=0
for f in src/*/*.[ch]; do
	from=${f#src/}; from=${from%%/*}
	[ -n "${rank[$from]:-}" ] || { echo "$f: folder '$from' has no layer in tests/lint/layers.sh"; bad=1; continue; }
	while IFS=: read -r line inc; do
		inc=${inc#*\"}; inc=${inc%\"*}
		case "$inc" in
		*/*) ;;
		*) echo "$f:$line: include \"$inc\" does not name its folder"; bad=1; continue ;;
		esac
		to=${inc%%/*}
		if [ -z "${rank[$to]:-}" ]; then
			echo "$f:$line: include \"$inc\": no folder src/$to"; bad=1; continue
		fi
		[ -f "src/$inc" ] || { echo "$f:$line: include \"$inc\": no such header"; bad=1; continue; }
		if [ "$to" != "$from" ]; then
			if [ "${rank[$to]}" -ge "${rank[$from]}" ]; then
				echo "$f:$line: $from (layer ${rank[$from]}) must not include $inc (layer ${rank[$to]})"; bad=1
			fi
			case "$inc" in *_internal.h)
				echo "$f:$line: $inc is private to src/$to"; bad=1 ;;
			esac
		fi
	done < <(grep -n '^#include "' "$f" | sed 's/^\([0-9]*\):/\1:/')
done
[ $bad -eq 0 ] && echo "layers: $(ls src/*/*.[ch] | wc -l) files, no include against the layers"
exit $bad
