#!/usr/bin/env bash
# The built image's interpreter uses lamina's .pyc, in every invalidation mode and
# sourceless, with /var/task read-only: `python -v` shows "matches" (or the sourceless
# .pyc) for the app modules and never "bytecode is stale" or a code object compiled
# from the source. Two builds (sources touched in between) give identical layers.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"

make_app "$T/app"
for mode in unchecked-hash checked-hash timestamp sourceless; do
	if [ "$mode" = sourceless ]; then
		pc='{"python": {"sourceless": true}}'
	else
		pc="{\"python\": {\"invalidation\": \"$mode\"}}"
	fi
	cat >"$T/lamina.json" <<JSON
{"base": "oci-archive:$base", "layers": [{"name": "app", "from": "app"}],
 "config": {"cmd": ["app.handler"]}, "precompile": $pc}
JSON
	run_lamina build "$T/lamina.json" -o "$T/$mode.tar" || { cat "$T/err"; fail "$mode: build failed"; }
	layer_list "$T/$mode.tar" >"$T/$mode.list"
	if [ "$mode" = sourceless ]; then
		assert_contains "$T/$mode.list" '^var/task/app\.pyc$'
		assert_contains "$T/$mode.list" '^var/task/pkg/util\.pyc$'
		assert_not_contains "$T/$mode.list" '\.py$'
	else
		assert_contains "$T/$mode.list" '^var/task/__pycache__/app\.cpython-3[0-9]+\.pyc$'
		assert_contains "$T/$mode.list" '^var/task/pkg/__pycache__/util\.cpython-3[0-9]+\.pyc$'
		assert_contains "$T/$mode.list" '^var/task/app\.py$'
	fi
	root="$T/root-$mode"
	image_root "$T/$mode.tar" "$root"
	# PEP 552 flags word: 0 timestamp, 1 unchecked hash, 3 checked hash
	if [ "$mode" = sourceless ]; then pyc="$root/var/task/app.pyc"; else pyc=$(ls "$root"/var/task/__pycache__/app.*.pyc); fi
	flags=$(od -An -tu4 -j4 -N4 "$pyc" | tr -d ' ')
	case $mode in
	unchecked-hash | sourceless) assert_eq "$flags" 1 "$mode: pyc flags" ;;
	checked-hash) assert_eq "$flags" 3 "$mode: pyc flags" ;;
	timestamp)
		assert_eq "$flags" 0 "$mode: pyc flags"
		assert_eq "$(od -An -tu4 -j8 -N4 "$pyc" | tr -d ' ')" "$(stat -c %Y "$root/var/task/app.py")" "timestamp in the pyc"
		;;
	esac
	in_image "$root" /var/lang/bin/python3 -v -c 'import app, pkg.util; print(app.handler({"x": 6}, type("C", (), {"function_name": "f"})()))' \
		>"$T/$mode.out" 2>"$T/$mode.v" || { grep -v "^#" "$T/$mode.v" | tail -20; fail "$mode: python failed in the image"; }
	assert_contains "$T/$mode.out" "'y': 42"
	assert_not_contains "$T/$mode.v" 'bytecode is stale'
	assert_not_contains "$T/$mode.v" 'code object from /var/task/.*\.py$'
	if [ "$mode" = sourceless ]; then
		assert_contains "$T/$mode.v" "code object from '/var/task/app\.pyc'"
		assert_contains "$T/$mode.v" "code object from '/var/task/pkg/util\.pyc'"
	else
		assert_contains "$T/$mode.v" 'matches /var/task/app\.py'
		assert_contains "$T/$mode.v" 'matches /var/task/pkg/util\.py'
		assert_contains "$T/$mode.v" 'matches /var/task/pkg/__init__\.py'
	fi
	echo "ok: $mode"
done

# Reproducible: new host mtimes, same layer digests (timestamp mode included).
touch -d '2030-01-02 03:04:05' "$T/app/app.py" "$T/app/pkg/util.py"
for mode in unchecked-hash timestamp; do
	sed -i "s/\"precompile\": .*/\"precompile\": {\"python\": {\"invalidation\": \"$mode\"}}}/" "$T/lamina.json"
	run_lamina build "$T/lamina.json" -o "$T/again-$mode.tar" || { cat "$T/err"; fail "rebuild failed"; }
	assert_eq "$(layer_digests "$T/again-$mode.tar" | tr '\n' ' ')" "$(layer_digests "$T/$mode.tar" | tr '\n' ' ')" \
		"$mode: layer digests of two builds"
done
echo ok
