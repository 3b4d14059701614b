#!/usr/bin/env bash
# Runs every libFuzzer harness in DIR (built by `make fuzz`) for SECONDS each.
#   scripts/fuzz.sh DIR SECONDS
# Seeds: tests/fuzz/corpus/<name>/ (read only). New inputs go to DIR/corpus/<name>/, a
# crash, leak or slow input to DIR/findings/<name>/ (and the run fails). Prints one line
# per harness: runs, seconds, corpus size, and "no finding" or the finding.
set -uo pipefail
dir=$1 secs=$2
repo=$(cd "$(dirname "$0")/.." && pwd)
export TMPDIR="$dir/tmp"
rm -rf "$TMPDIR" && mkdir -p "$TMPDIR"
# binary seeds (small images and layers) are made, not committed
python3 "$repo/tests/fuzz/make-seeds.py" "$dir/seeds" || { echo "fuzz: could not make the seeds" >&2; exit 1; }
status=0
for bin in "$dir"/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	case $bin in *.d) continue ;; esac
	name=$(basename "$bin")
	name=${name#fuzz_}
	work="$dir/corpus/$name" findings="$dir/findings/$name" seeds="$repo/tests/fuzz/corpus/$name"
	mkdir -p "$work" "$findings"
	args=("$work")
	[ -d "$seeds" ] && args+=("$seeds")
	[ -d "$dir/seeds/$name" ] && args+=("$dir/seeds/$name")
	case $name in manifest | oci | archive | auth) args=(-dict="$repo/tests/fuzz/json.dict" "${args[@]}") ;; esac
	log="$dir/fuzz_$name.log"
	start=$(date +%s)
	# -timeout: one input may take 10 s at most (a slow matcher is a finding);
	# -rss_limit_mb: a reader that balloons is a finding too
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$findings/" "${args[@]}" >"$log" 2>&1
	rc=$?
	took=$(( $(date +%s) - start ))
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
	files=$(find "$work" -type f | wc -l)
	if [ $rc -eq 0 ]; then
		echo "fuzz $name: ${runs:-?} runs in ${took}s, corpus $files inputs, no finding"
	else
		status=1
		echo "fuzz $name: FINDING after ${took}s (exit $rc): $(ls "$findings" | head -3 | tr '\n' ' ')"
		grep -E 'ERROR: |SUMMARY: |runtime error' "$log" | head -5 | sed 's/^/    /'
		echo "    log: $log"
	fi
done
rm -rf "$TMPDIR"
exit $status
