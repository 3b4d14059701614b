#!/usr/bin/env bash
# The command line as people use it (issue 16, "A CLI that fits habits"):
#  - global options anywhere, also under POSIXLY_CORRECT; lamina help COMMAND; "did you
#    mean" for a command, a long option and a --layer name; one line per refused option;
#  - --tag checked as a reference before any work ('UPPER/Case:tag', 'Bad Tag': exit 2,
#    one line); a good tag reaches the archive's RepoTags;
#  - every manifest error in one run; a missing "from" reported before the base is pulled
#    (the base is an unreachable registry: the error is the directory's, fast);
#  - lamina zip --kind layer of JavaScript and data without a base image;
#  - stdout carries only results (build: the digest; zip: the digest; init: the path);
#  - lamina init for a Python and a Node.js project, then build and verify on the fixture
#    bases; no overwrite without --force;
#  - make install into a DESTDIR: man -l renders every page, and each page holds the
#    command's options (from --help); bash completion loads and completes; zsh's too
#    (tests/tools/zsh-completion.zsh: commands, options, values, files; scripts/deps.sh
#    installs zsh);
#  - progress in an 80-column tmux: a pull through a throttling proxy shows one status
#    line per blob, every screen row starts with "pull: " (nothing wrapped, nothing left
#    of an erased line), and the final screen has one line per blob with a short digest
#    and the result; a 50-column window cuts the lines instead of wrapping them;
#  - docs/manifest.schema.json (python3-jsonschema) accepts the example manifests, the
#    documented ones and init's, rejects bad ones, and names the keys manifest.c knows.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
. "$(dirname "$0")/lib-registry.sh"
need_root_ns
PY=$(fixture_base) || skip "python fixture could not be built"
cd "$T"

# --- habits ------------------------------------------------------------------------------
printf '{"base": "oci-archive:%s", "layers": [{"name": "app", "from": "app"}, {"name": "deps", "from": "deps"}]}\n' \
	"$PY" >m.json
mkdir -p app deps
echo 'def handler(event, context):
    return {"ok": True}' >app/app.py
echo 'X = 1' >deps/dep.py
for env in "" "POSIXLY_CORRECT=1"; do
	run_lamina_env() { env $env "$LAMINA" "$@" >"$T/out" 2>"$T/err"; }
	run_lamina_env build m.json -q -o a.tar --no-verify || { cat err; fail "build m.json -q ($env)"; }
	assert_eq "$(wc -l <out)" 1 "stdout of build ($env): one line"
	assert_contains "$(cat out)" '^sha256:[0-9a-f]{64}$'
	assert_eq "$(wc -c <err)" 0 "stderr of build -q ($env)"
	run_lamina_env zip m.json --kind layer -j 1 -q && fail "a layer zip of /var/task files was accepted"
	run_lamina_env build m.json --outptu x.tar && fail "--outptu accepted"
	assert_eq "$(cat err)" "lamina: build: unknown option '--outptu' (did you mean '--output'?)"
done
run_lamina biuld m.json && fail "biuld accepted"
[ $? -eq 2 ] || true
assert_eq "$(cat err)" "lamina: 'biuld' is not a command (did you mean 'build'?); see 'lamina --help'"
set +e; "$LAMINA" biuld m.json 2>/dev/null; rc=$?; set -e
assert_eq "$rc" 2 "exit status of a misspelt command"
run_lamina --verbsoe build m.json && fail "--verbsoe accepted"
assert_contains "$(cat err)" "did you mean '--verbose'"
run_lamina build m.json -Z && fail "-Z accepted"
assert_eq "$(cat err)" "lamina: build: unknown option '-Z'"
run_lamina build m.json --no && fail "--no accepted"
assert_eq "$(cat err)" "lamina: build: option '--no' is ambiguous: --no-verify, --no-check, --no-cache"
run_lamina build m.json -o && fail "-o without a value accepted"
assert_eq "$(cat err)" "lamina: build: option '-o' needs a value"
run_lamina zip m.json --layer ap -o z.zip && fail "--layer ap accepted"
assert_eq "$(cat err)" "lamina: zip: --layer 'ap': m.json has no layer of that name (did you mean 'app'?)"
run_lamina prune --dry-run m.json --layer dep && fail "prune --layer dep accepted"
assert_contains "$(cat err)" "did you mean 'deps'"
for c in build zip verify init push pull inspect prune cache; do
	"$LAMINA" help "$c" >help.txt
	"$LAMINA" "$c" --help >dash.txt
	cmp -s help.txt dash.txt || fail "lamina help $c differs from lamina $c --help"
done
run_lamina help frob && fail "help frob accepted"
"$LAMINA" help >help.txt
grep -q '^  init ' help.txt || fail "lamina help lists no init"

# --- tags --------------------------------------------------------------------------------
for bad in 'UPPER/Case:tag' 'Bad Tag' 'app:.x' 'a@sha256:0000'; do
	set +e; "$LAMINA" build m.json --tag "$bad" -o t.tar >out 2>err; rc=$?; set -e
	assert_eq "$rc" 2 "exit status of --tag '$bad'"
	assert_eq "$(wc -l <err)" 1 "one line for --tag '$bad'"
	assert_contains err "^lamina: build: --tag: image reference '"
	assert_no_file t.tar
done
assert_contains "$(set +e; "$LAMINA" build m.json --tag 'UPPER/Case:tag' 2>&1)" "must be lowercase"
run_lamina build m.json --tag my-org/app:v1.2_rc -o t.tar --no-verify || { cat err; fail "good tag refused"; }
tar -xOf t.tar manifest.json | jq -e '.[0].RepoTags == ["my-org/app:v1.2_rc"]' >/dev/null || fail "RepoTags"

# --- input checks before slow work -------------------------------------------------------
cat >bad.json <<'EOF'
{
  "bsae": "x",
  "tag": "Bad Tag",
  "layers": [ { "name": "app", "from": "app", "to": "var/task" }, { "form": "x" } ],
  "verify": { "imports": "boto3" }
}
EOF
set +e; "$LAMINA" build bad.json >out 2>err; rc=$?; set -e
assert_eq "$rc" 3 "exit status of a bad manifest"
assert_eq "$(wc -l <err)" 5 "one line per manifest error"
assert_contains err "bsae: unknown field \(did you mean 'base'\?\)"
assert_contains err "layers\[1\]\.form: unknown field"
assert_contains err "verify.imports: must be an array"
# an unreachable registry base: the missing directories are named first, at once
printf '{"base": "127.0.0.1:1/nothing:here", "layers": [{"name": "a", "from": "nope1"}, {"name": "b", "from": "nope2"}]}\n' >miss.json
start=$(date +%s)
set +e; "$LAMINA" build miss.json >out 2>err; rc=$?; set -e
assert_eq "$rc" 4 "exit status of a missing from"
assert_contains err "layer 'a' \(layers\[0\]\.from\): source '.*/nope1': No such file or directory"
assert_contains err "layer 'b' \(layers\[1\]\.from\): source '.*/nope2'"
assert_not_contains err "127.0.0.1|registry"
[ $(($(date +%s) - start)) -lt 5 ] || fail "the missing from took a registry's retries to report"

# --- a layer zip without a base ----------------------------------------------------------
mkdir -p zl/nodejs/node_modules/leftpad zl/data
echo 'module.exports = (s) => s;' >zl/nodejs/node_modules/leftpad/index.js
echo 'a,b' >zl/data/x.csv
cat >zl/lamina.json <<'EOF'
{ "layers": [ { "name": "js", "from": "nodejs", "to": "/opt/nodejs" },
              { "name": "data", "from": "data", "to": "/opt/data" } ],
  "zip": { "kind": "layer" } }
EOF
run_lamina zip zl/lamina.json -o zl.zip || { cat err; fail "layer zip without a base"; }
assert_eq "$(wc -l <out)" 1 "stdout of zip: one line"
assert_contains "$(cat out)" '^sha256:[0-9a-f]{64}$'
unzip -Z1 zl.zip >zl.list
grep -qx 'nodejs/node_modules/leftpad/index.js' zl.list || fail "zip content"
run_lamina zip zl/lamina.json --kind function && fail "a function zip without a base was accepted"
assert_contains err 'no base image'
mkdir zl/data/p && echo 'x = 1' >zl/data/p/m.py
run_lamina zip zl/lamina.json -o zl2.zip && fail "Python files without a base were accepted"
assert_contains err "has Python files"
rm -r zl/data/p

# --- init --------------------------------------------------------------------------------
mkdir -p pyapp/build/deps/mylib
cat >pyapp/requirements.txt <<'EOF'
# only our own
mylib
EOF
echo 'VALUE = 41' >pyapp/build/deps/mylib/__init__.py
cat >pyapp/lambda_function.py <<'EOF'
import mylib


def helper(x):
    return x


def lambda_handler(event, context):
    return {"value": mylib.VALUE + 1}
EOF
run_lamina init pyapp || { cat err; fail "init pyapp"; }
assert_eq "$(cat out)" "pyapp/lamina.json" "init prints the path"
assert_contains err "handler lambda_function.lambda_handler"
jq -e '.config.cmd == ["lambda_function.lambda_handler"] and .verify.handler == true and
	.prune.presets == ["python-safe"] and .layers[0].from == "build/deps" and .tag == "pyapp:latest"' \
	pyapp/lamina.json >/dev/null || { cat pyapp/lamina.json; fail "pyapp's manifest"; }
cp pyapp/lamina.json saved.json
set +e; "$LAMINA" init pyapp >out 2>err; rc=$?; set -e
assert_eq "$rc" 4 "init over an existing lamina.json"
assert_contains err "exists: pass --force"
cmp -s pyapp/lamina.json saved.json || fail "init replaced the file without --force"
run_lamina init --force pyapp || fail "init --force"
ls pyapp/lamina.json.tmp* 2>/dev/null && fail "a temporary file was left"
run_lamina build pyapp/lamina.json --base "oci-archive:$PY" -o py.tar || { cat err; fail "build of init's manifest"; }
echo '{}' >ev.json
run_lamina verify py.tar --event ev.json || { cat err; fail "verify of init's image"; }
assert_eq "$(jq -c . out)" '{"value":42}' "the handler's result"

NODE=$(fixture_node_base) || NODE=
if [ -n "$NODE" ]; then
	mkdir -p nodeapp/node_modules/greet
	echo '{"name": "@acme/Node-App", "dependencies": {"greet": "1.0.0"}}' >nodeapp/package.json
	echo '{"name": "greet", "version": "1.0.0", "main": "index.js"}' >nodeapp/node_modules/greet/package.json
	echo 'module.exports = (n) => "hi " + n;' >nodeapp/node_modules/greet/index.js
	cat >nodeapp/index.mjs <<'EOF'
import { createRequire } from 'node:module';
const greet = createRequire(import.meta.url)('greet');
export const handler = async (event) => ({ msg: greet(event.name) });
EOF
	run_lamina init nodeapp || { cat err; fail "init nodeapp"; }
	jq -e '.config.cmd == ["index.handler"] and .prune.presets == ["node-safe"] and
		.layers[0].from == "node_modules" and .tag == "node-app:latest"' nodeapp/lamina.json >/dev/null ||
		{ cat nodeapp/lamina.json; fail "nodeapp's manifest"; }
	run_lamina build nodeapp/lamina.json --base "oci-archive:$NODE" -o node.tar || { cat err; fail "build nodeapp"; }
	echo '{"name": "you"}' >ev2.json
	run_lamina verify node.tar --event ev2.json || { cat err; fail "verify nodeapp"; }
	assert_eq "$(jq -c . out)" '{"msg":"hi you"}' "the Node handler's result"
else
	echo "note: no Node fixture base: init for Node.js not built" >&2
fi
mkdir both && touch both/package.json both/requirements.txt
run_lamina init both && fail "init of a mixed directory without --runtime"
assert_contains err "--runtime"
run_lamina init --runtime pyhton both && fail "--runtime pyhton accepted"
run_lamina init --runtime python both || fail "init --runtime python"

# --- make install: man pages and completion -----------------------------------------------
# installs the lamina under test: its build directory is make's BUILD (it must be one)
bin_dir=$(cd "$(dirname "$LAMINA")" && pwd)
[ -f "$bin_dir/liblamina.a" ] || fail "\$LAMINA is not in a build directory (no liblamina.a beside it): cannot make install"
make -s -C "$REPO" BUILD="$bin_dir" install DESTDIR="$T/dest" PREFIX=/usr \
	>make.log 2>&1 || { cat make.log; fail "make install"; }
cmp -s "$LAMINA" dest/usr/bin/lamina || fail "make install installed another binary"
assert_file dest/usr/bin/lamina dest/usr/share/man/man1/lamina.1 dest/usr/share/lamina/manifest.schema.json \
	dest/usr/share/bash-completion/completions/lamina dest/usr/share/zsh/site-functions/_lamina
for c in "" build zip verify init push pull inspect prune cache; do
	page=dest/usr/share/man/man1/lamina${c:+-$c}.1
	assert_file "$page"
	MANWIDTH=100 man --warnings -l "$page" >page.txt 2>warn.txt || fail "man -l $page"
	[ ! -s warn.txt ] || { cat warn.txt; fail "man warnings for $page"; }
	assert_contains page.txt "^LAMINA${c:+-${c^^}}\(1\)"
	# every long option of the command's --help is in its page
	if [ -n "$c" ]; then "$LAMINA" help "$c" >help.txt; else "$LAMINA" --help >help.txt; fi
	n=0
	for o in $(grep -oE -- '(^|[ ,])--[a-z][a-z0-9-]*' help.txt | sed 's/^[ ,]//' | sort -u); do
		grep -q -- "$o" page.txt || fail "$page lacks $o"
		n=$((n + 1))
	done
	[ "$n" -ge 2 ] || fail "$page: only $n options checked"
done
man -l dest/usr/share/man/man1/lamina.1 >page.txt
assert_contains page.txt "lamina-init\(1\)"
PATH="$T/dest/usr/bin:$PATH" bash -c '
	set -e
	. "$1"
	complete -p lamina | grep -q _lamina
	COMP_WORDS=(lamina bu); COMP_CWORD=1; _lamina; [ "${COMPREPLY[*]}" = build ]
	COMP_WORDS=(lamina zip m.json --lay); COMP_CWORD=3; _lamina; [ "${COMPREPLY[*]}" = --layer ]
	COMP_WORDS=(lamina zip m.json --layer d); COMP_CWORD=4; _lamina; [ "${COMPREPLY[*]}" = deps ]
	COMP_WORDS=(lamina init --runtime n); COMP_CWORD=3; _lamina; [ "${COMPREPLY[*]}" = node ]
	COMP_WORDS=(lamina help ver); COMP_CWORD=2; _lamina; [ "${COMPREPLY[*]}" = verify ]
' _ dest/usr/share/bash-completion/completions/lamina || fail "bash completion"
if command -v zsh >/dev/null; then
	zsh -fc "fpath=($T/dest/usr/share/zsh/site-functions \$fpath); autoload -Uz compinit && compinit -u && (( \${+_comps[lamina]} ))" ||
		fail "zsh completion does not load"
	# what it offers: commands, options from the binary's help, values, files
	out=$(zsh -f "$REPO/tests/tools/zsh-completion.zsh" "$T/dest/usr/share/zsh/site-functions" "$T/dest/usr/bin" 2>&1) ||
		fail "$out"
else
	echo "note: zsh is not installed: its completion not loaded" >&2
fi

# --- progress in tmux -------------------------------------------------------------------
if command -v tmux >/dev/null && command -v docker-registry >/dev/null && command -v skopeo >/dev/null; then
	start_registry none
	seed_fixture fixture:3.12
	# a TCP proxy that sends at most 4 MiB/s per connection: the pull lasts a few seconds
	SLOW_PORT=$(free_port)
	python3 - "$SLOW_PORT" "$REG_PORT" <<'PYX' &
import socket, sys, threading, time
port, up = int(sys.argv[1]), int(sys.argv[2])
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", port)); ls.listen(16)
def pump(a, b, slow):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
            if slow:
                time.sleep(len(d) / (4 << 20))
    except OSError:
        pass
    finally:
        for s in (a, b):
            try: s.shutdown(socket.SHUT_RDWR)
            except OSError: pass
deadline = time.time() + 300
ls.settimeout(1)
while time.time() < deadline:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        continue
    u = socket.create_connection(("127.0.0.1", up))
    threading.Thread(target=pump, args=(c, u, False), daemon=True).start()
    threading.Thread(target=pump, args=(u, c, True), daemon=True).start()
PYX
	slow_pid=$!
	on_exit kill "$slow_pid"
	wait_for curl -s -o /dev/null "http://127.0.0.1:$SLOW_PORT/v2/"
	sock="lamina-cli-test-$$"
	on_exit tmux -L "$sock" kill-server
	for cols in 80 50; do
		rm -rf "$T/pcache"
		tmux -L "$sock" -f /dev/null new-session -d -s p$cols -x $cols -y 30 \
			"XDG_CACHE_HOME=$T/pcache $LAMINA pull 127.0.0.1:$SLOW_PORT/fixture:3.12 -j 2 >$T/pull.out; echo EXIT=\$?; sleep 600"
		frames=0 status_seen=0
		for _ in $(seq 1 200); do
			tmux -L "$sock" capture-pane -p -t p$cols >pane.txt
			frames=$((frames + 1))
			# every row is a whole line of ours: no wrapped tail, no half-erased status
			# (the pane shows standard error only: the results went to a file)
			if grep -vE '^(pull: |EXIT=|$)' pane.txt >bad.txt; then
				cat pane.txt >&2; fail "progress ($cols columns): a row that is not a line of ours: $(head -1 bad.txt)"
			fi
			awk -v w=$cols 'length($0) >= w {bad = 1} END {exit bad}' pane.txt ||
				{ cat pane.txt >&2; fail "a row of $cols columns or more"; }
			grep -qE '^pull: sha256:[0-9a-f]{12} .*/s$' pane.txt && status_seen=1
			grep -q '^EXIT=' pane.txt && break
			sleep 0.1
		done
		grep -q '^EXIT=0' pane.txt || { cat pane.txt >&2; fail "pull in tmux ($cols columns)"; }
		[ "$status_seen" = 1 ] || { cat pane.txt >&2; fail "no status line was seen in $frames frames ($cols columns)"; }
		# the end: one line per blob, no status line left
		n_done=$(grep -cE '^pull: sha256:[0-9a-f]{12} .* done' pane.txt || true)
		[ "$n_done" -ge 3 ] || { cat pane.txt >&2; fail "expected a done line per blob ($cols columns)"; }
		grep -qE '%' pane.txt && { cat pane.txt >&2; fail "a status line was left on the screen"; }
		tmux -L "$sock" kill-session -t p$cols
		grep -q "^127.0.0.1:$SLOW_PORT/fixture:3.12@sha256:" pull.out || fail "pull's result"
	done
else
	echo "note: tmux, docker-registry or skopeo missing: progress not checked in tmux" >&2
fi

# --- the manifest's JSON Schema -----------------------------------------------------------
python3 -c 'import jsonschema, yaml' 2>/dev/null || skip "python3-jsonschema is missing"
# the manifests the docs show (their JSON blocks with a "layers" key)
python3 - "$REPO" <<'PYX'
import json, re, sys
repo = sys.argv[1]
n = 0
for doc in ("README.md", "docs/manifest.md", "docs/zip.md", "docs/ci.md"):
    try:
        text = open(f"{repo}/{doc}").read()
    except FileNotFoundError:
        continue
    for block in re.findall(r"```json\n(.*?)```", text, re.S):
        try:
            m = json.loads(block)
        except ValueError:
            continue
        if isinstance(m, dict) and "layers" in m:
            n += 1
            json.dump(m, open(f"doc-{n}.json", "w"))
print(n, "documented manifests")
PYX
ls doc-*.json >/dev/null || fail "no manifest found in the docs"
python3 - "$REPO/docs/manifest.schema.json" "$REPO"/images/*/lamina.json doc-*.json pyapp/lamina.json \
	zl/lamina.json m.json ${NODE:+nodeapp/lamina.json} <<'PYX' || fail "schema: a good manifest was rejected"
import json, sys
from jsonschema import Draft202012Validator
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
v = Draft202012Validator(schema)
bad = 0
for f in sys.argv[2:]:
    errs = list(v.iter_errors(json.load(open(f))))
    for e in errs:
        print(f"{f}: {'/'.join(map(str, e.path))}: {e.message}")
    bad += bool(errs)
sys.exit(1 if bad else 0)
PYX
# bad ones: each refused by lamina and by the schema
cat >bad2.json <<'EOF'
{ "base": "x", "layers": [ { "name": "a", "from": "app", "to": "/var/task" } ], "zip": { "kind": "lib" } }
EOF
cat >bad3.json <<'EOF'
{ "base": "x", "tag": "UPPER/Case:tag" }
EOF
cat >bad4.json <<'EOF'
{ "base": "x", "prune": { "presets": ["python-sfe"] } }
EOF
for f in bad.json bad2.json bad3.json bad4.json; do
	set +e; "$LAMINA" build "$f" >/dev/null 2>&1; rc=$?; set -e
	assert_eq "$rc" 3 "lamina on $f"
	python3 - "$REPO/docs/manifest.schema.json" "$f" <<'PYX' && fail "schema accepted $f"
import json, sys
from jsonschema import Draft202012Validator
v = Draft202012Validator(json.load(open(sys.argv[1])))
sys.exit(0 if v.is_valid(json.load(open(sys.argv[2]))) else 1)
PYX
done
# the schema names the keys manifest.c knows, no more, no fewer
python3 - "$REPO" <<'PYX' || fail "schema and manifest.c disagree on keys"
import json, re, sys
repo = sys.argv[1]
src = open(f"{repo}/src/build/manifest.c").read()
s = json.load(open(f"{repo}/docs/manifest.schema.json"))
def keys(name):
    m = re.search(r"static const char \*const %s\[\] = \{(.*?)\};" % name, src, re.S)
    return set(re.findall(r'"([^"]+)"', m.group(1)))
p = s["properties"]
pc = [x for x in p["precompile"]["oneOf"] if x.get("type") == "object"][0]["properties"]
obj = lambda o: [x for x in o["oneOf"] if x.get("type") == "object"][0]["properties"]
pairs = {
    "top_keys": p, "layer_keys": s["$defs"]["layer"]["properties"], "config_keys": p["config"]["properties"],
    "prune_keys": s["$defs"]["prune"]["properties"], "precompile_keys": pc, "python_keys": obj(pc["python"]),
    "node_keys": obj(pc["node"]), "verify_keys": p["verify"]["properties"], "zip_keys": p["zip"]["properties"],
    "compression_keys": p["compression"]["properties"],
}
bad = 0
for name, props in pairs.items():
    if keys(name) != set(props):
        print(name, sorted(keys(name) ^ set(props)))
        bad = 1
presets = open(f"{repo}/src/prune/presets.c").read()
m = re.search(r"static const char \*const names\[\] = \{(.*?)\};", presets, re.S)
if set(re.findall(r'"([^"]+)"', m.group(1))) != set(s["$defs"]["prune"]["properties"]["presets"]["items"]["enum"]):
    print("presets differ"); bad = 1
sys.exit(bad)
PYX
echo "cli: ok"
