#!/usr/bin/env bash
# lamina report and build --report on the fixture base: a deps layer (a package with a
# 1 MiB incompressible file, tests/ and .pyi that python-safe removes, a module that takes
# 0.3 s to import) and an app layer. The numbers are checked against what is known: the
# files' sizes, inspect's layer sizes, the zip's figures (the function zip of the app
# layer counts the deps layer in the unzipped limit), the import time of the slow
# module. Text, JSON and Markdown are read back; the HTML is rendered in Debian's
# headless Chromium: a screenshot, and the DOM (--dump-dom) has the treemap's boxes, the
# gauges and the rule bars with the same numbers as the JSON.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-precompile.sh"
need_root_ns
base=$(fixture_base) || skip "fixture base could not be built"

app="$T/app"
mkdir -p "$app/deps/mypkg/tests" "$app/deps/mypkg-1.0.dist-info" "$app/src"
head -c 1048576 /dev/urandom >"$app/deps/mypkg/big.bin"
printf 'X = 1\n' >"$app/deps/mypkg/__init__.py"
for i in $(seq 1 40); do printf 'def f%d(x):\n    return x + %d\n' "$i" "$i"; done >"$app/deps/mypkg/more.py"
printf 'def test_x():\n    assert True\n%04000d\n' 0 >"$app/deps/mypkg/tests/test_x.py"
printf 'def f(x: int) -> int: ...\n' >"$app/deps/mypkg/more.pyi"
printf 'Metadata-Version: 2.1\nName: mypkg\nVersion: 1.0\n' >"$app/deps/mypkg-1.0.dist-info/METADATA"
printf 'import time\ntime.sleep(0.3)\n' >"$app/deps/slowmod.py"
cat >"$app/src/app.py" <<'PY'
import mypkg
import slowmod


def handler(event, context):
    return {"x": mypkg.X}
PY
cat >"$app/lamina.json" <<'JSON'
{
  "base": "public.ecr.aws/lambda/python:3.12",
  "layers": [
    { "name": "deps", "from": "deps", "to": "/var/task" },
    { "name": "app", "from": "src", "to": "/var/task" }
  ],
  "prune": { "presets": ["python-safe"] },
  "verify": { "imports": ["mypkg", "slowmod"], "handler": true },
  "config": { "cmd": ["app.handler"] },
  "zip": { "layers": ["app"] }
}
JSON
test_size=$(stat -c %s "$app/deps/mypkg/tests/test_x.py")
B=(--base "oci-archive:$base")

# 1. JSON: exact bytes
run_lamina report "$app/lamina.json" "${B[@]}" --format json || { cat "$T/err"; fail "report --format json"; }
cp "$T/out" "$T/r.json"
jq -e . "$T/r.json" >/dev/null || fail "report JSON does not parse"
# one key style: camelCase everywhere
assert_eq "$(jq -r '[paths | .[] | strings | select(test("_"))] | unique | join(",")' "$T/r.json")" "" "snake_case keys"
assert_eq "$(jq -r '[.layers[].name] | join(",")' "$T/r.json")" "base 1,base 2,base 3,deps,app" "layer names"
# the largest files of the whole image, the base's included; the app's biggest is big.bin
jq -e '.largestFiles | length == 20 and (map(.size) == (map(.size) | sort | reverse))' "$T/r.json" >/dev/null ||
	fail "20 largest files, biggest first"
assert_eq "$(jq -r '[.largestFiles[] | select(.layer != "base 1" and .layer != "base 2" and .layer != "base 3")][0].path' "$T/r.json")" \
	"var/task/mypkg/big.bin" "largest file of the app"
assert_eq "$(jq -r '[.largestFiles[] | select(.layer == "deps")][0].size' "$T/r.json")" 1048576 "largest file's size"
assert_eq "$(jq -r '.packages[0].name + " " + .packages[0].layer' "$T/r.json")" "mypkg deps" "biggest package"
# the package: every file of mypkg that stays (big.bin, the sources, their .pyc, METADATA)
jq -e '.packages[0].uncompressedSize > 1048576 and .packages[0].zippedSize >= 1048576' "$T/r.json" >/dev/null ||
	fail "mypkg's bytes: $(jq -c '.packages[0]' "$T/r.json")"
# shared with the base = the base layers, as inspect counts them
run_lamina build "$app/lamina.json" "${B[@]}" -o "$T/img.tar" || { cat "$T/err"; fail "build"; }
run_lamina inspect "$T/img.tar" --json || { cat "$T/err"; fail "inspect"; }
cp "$T/out" "$T/i.json"
assert_eq "$(jq '[.layers[] | select(.base) | .size] | add' "$T/i.json")" "$(jq .sharedWithBase.size "$T/r.json")" "bytes shared with the base"
assert_eq "$(jq -c '[.layers[].uncompressedSize]' "$T/i.json")" "$(jq -c '[.layers[].uncompressedSize]' "$T/r.json")" "layers' uncompressed sizes"
assert_eq "$(jq -r .digest "$T/r.json")" "$(jq -r .manifestDigest "$T/i.json")" "the report's image is the build's"
# prune: the tests/ rule removed the one test file, in every measure
jq -e --argjson n "$test_size" '.prune.rules[] | select(.name == "python-safe: tests/" and .layer == "deps")
	| .filesBefore == 1 and .filesAfter == 0 and .before.uncompressed == $n and .after.uncompressed == 0
	  and .before.zip > 0 and .before.zip < $n' "$T/r.json" >/dev/null ||
	fail "the tests/ rule: $(jq -c '.prune.rules' "$T/r.json")"
jq -e '.prune.rules[] | select(.name == "python-safe: *.pyi") | .filesBefore == 1' "$T/r.json" >/dev/null ||
	fail "the *.pyi rule"
jq -e '.prune.layers[] | select(.name == "deps") | .before.uncompressed > .after.uncompressed
	and .before.zip > .after.zip and .before.gzip > .after.gzip and .filesBefore - .filesAfter == 2' "$T/r.json" >/dev/null ||
	fail "deps before/after: $(jq -c '.prune.layers' "$T/r.json")"
jq -e '.prune.pycAdded.files >= 4 and .prune.pycAdded.bytes > 0' "$T/r.json" >/dev/null || fail "pyc added"
# limits: the function zip holds the app layer; the deps layer counts as a Lambda layer
jq -e '.zip.kind == "function" and .zip.lambdaLayers == 1 and .zip.otherLayersUncompressedSize > 1048576' "$T/r.json" >/dev/null ||
	fail "zip: $(jq -c .zip "$T/r.json")"
jq -e '(.limits[] | select(.name == "zip unzipped") | .value) == (.zip.uncompressedSize + .zip.otherLayersUncompressedSize)' \
	"$T/r.json" >/dev/null || fail "zip unzipped counts the other layers: $(jq -c .limits "$T/r.json")"
assert_eq "$(jq -r '[.limits[].name] | join(",")' "$T/r.json")" "image uncompressed,zip direct upload,zip unzipped,Lambda layers" "limits"
jq -e 'all(.limits[]; .ok and .headroom == .limit - .value)' "$T/r.json" >/dev/null || fail "headroom"
assert_contains "$(jq -r .recommendation "$T/r.json")" '^zip'
# cold start: the slow module's 0.3 s
jq -e '.runtime == "python" and ([.imports[] | select(.module == "slowmod") | .cumulativeMs] | .[0] >= 290)
	and (.imports | length) <= 15' "$T/r.json" >/dev/null || fail "imports: $(jq -c .imports "$T/r.json")"
assert_eq "$(jq -r '.imports[0].module' "$T/r.json")" slowmod "slowest import"
echo "ok: json"

# the same zip through lamina zip: the deps layer is counted there too
run_lamina zip "$app/lamina.json" "${B[@]}" --json || { cat "$T/err"; fail "zip --json"; }
jq -e '.zip.otherLayers == 1 and (.limits[] | select(.name == "zip unzipped") | .value) == (.zip.uncompressedSize + .zip.otherLayersUncompressedSize)' \
	"$T/out" >/dev/null || fail "lamina zip's unzipped limit: $(cat "$T/out")"

# 2. text: biggest first, aligned, no -0.0 %, no "1 packages"
run_lamina report "$app/lamina.json" "${B[@]}" || { cat "$T/err"; fail "report (text)"; }
cp "$T/out" "$T/r.txt"
assert_contains "$T/r.txt" '^where the bytes go$'
assert_contains "$T/r.txt" '^  zip unzipped .* OK, .* to spare'
assert_contains "$T/r.txt" '^  recommendation: zip'
assert_contains "$T/r.txt" '^  slowmod +[0-9]{3}\.[0-9]'
assert_not_contains "$T/r.txt" '-0\.0'
assert_not_contains "$T/r.txt" '(^|[^0-9])1 (packages|files)'
assert_eq "$(sed -n '/^packages/,/^largest/p' "$T/r.txt" | sed -n 3p | awk '{print $1}')" mypkg "first package row"
# the layer rows' size columns end at the same column as the header's
python3 - "$T/r.txt" <<'PY' || fail "text columns are not aligned"
import re, sys
lines = open(sys.argv[1]).read().split('\n')
i = lines.index('where the bytes go')
hdr = lines[i + 1]
end_c = hdr.index('compressed') + len('compressed')
end_u = hdr.index('uncompressed') + len('uncompressed')
for row in lines[i + 2:]:
    if not row.startswith('  ') or row.startswith('  shared'):
        break
    m = list(re.finditer(r'\d+(\.\d)? (B|KiB|MiB|GiB)', row))
    assert m[0].end() == end_c and m[1].end() == end_u, row
PY
echo "ok: text"

# 3. Markdown
run_lamina report "$app/lamina.json" "${B[@]}" --format markdown -o "$T/r.md" || { cat "$T/err"; fail "report markdown"; }
assert_eq "$(cat "$T/out")" "" "nothing on stdout with -o"
assert_contains "$T/r.md" '^## lamina report: .* ✅$'
assert_contains "$T/r.md" '^\| zip unzipped \| [0-9.]+ (KiB|MiB) \| 250\.0 MiB \| ✅ OK, '
assert_contains "$T/r.md" '^\| mypkg \| deps \| [0-9]+ \| 1\.[0-9] MiB \| 1\.[0-9] MiB \|$'
assert_contains "$T/r.md" '^\| `python-safe: tests/` \| deps \| 1 \| '
assert_contains "$T/r.md" '^\| `slowmod` \| [0-9]{3}\.[0-9] \|'
echo "ok: markdown"

# 4. HTML, rendered by Chromium
run_lamina report "$app/lamina.json" "${B[@]}" -o "$T/r.html" || { cat "$T/err"; fail "report html"; }
assert_contains "$T/r.html" '^<!DOCTYPE html>'
assert_not_contains "$T/r.html" '<script|<link|https?://|src='
if command -v chromium >/dev/null; then
	chrome() { timeout 60 chromium --headless --no-sandbox --disable-gpu --user-data-dir="$T/chrome" "$@" 2>>"$T/chrome.log"; }
	chrome --screenshot="$T/r.png" --window-size=1280,2000 "file://$T/r.html" >/dev/null || fail "chromium --screenshot"
	[ "$(head -c 8 "$T/r.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "the screenshot is not a PNG"
	[ "$(stat -c %s "$T/r.png")" -gt 20000 ] || fail "the screenshot is nearly empty"
	[ -n "${REPORT_SHOT:-}" ] && cp "$T/r.png" "$REPORT_SHOT"
	chrome --dump-dom "file://$T/r.html" >"$T/dom.html" || fail "chromium --dump-dom"
	python3 - "$T/dom.html" "$T/r.json" <<'PY' || fail "the rendered charts do not hold the report's numbers"
import json, sys
from html.parser import HTMLParser

dom, rep = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.el, self.stack = [], []
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        a['_tag'] = tag
        a['_in'] = [s.get('id') for s in self.stack if s.get('id')]
        self.el.append(a)
        if tag not in ('br', 'meta', 'img', 'link', 'hr'):
            self.stack.append(a)
    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if self.stack and self.stack[-1]['_tag'] == tag:
            self.stack.pop()
    def handle_endtag(self, tag):
        if not any(s['_tag'] == tag for s in self.stack):
            return
        while self.stack[-1]['_tag'] != tag:
            self.stack.pop()
        self.stack.pop()
p = P()
p.feed(dom)
tm = [e for e in p.el if e['_tag'] == 'rect' and e.get('class') == 'tm']
assert tm and all('treemap' in e['_in'] for e in tm), 'treemap boxes'
box = {e['data-name']: int(e['data-bytes']) for e in tm}
for pkg in rep['packages']:
    if pkg['name'] in box:
        assert box[pkg['name']] == pkg['uncompressedSize'], pkg
assert box['mypkg'] == rep['packages'][0]['uncompressedSize']
# areas proportional to bytes
area = {e['data-name']: float(e['width']) * float(e['height']) for e in tm}
tot_a, tot_b = sum(area.values()), sum(box.values())
for k in box:
    assert abs(area[k] / tot_a - box[k] / tot_b) < 0.01, (k, area[k] / tot_a, box[k] / tot_b)
g = [e for e in p.el if e['_tag'] == 'figure' and 'gauge' in e.get('class', '')]
assert [e['data-limit'] for e in g] == [l['name'] for l in rep['limits']], 'gauges'
for e, l in zip(g, rep['limits']):
    assert int(e['data-value']) == l['value'] and int(e['data-max']) == l['limit'], (e, l)
fills = [e for e in p.el if e['_tag'] == 'path' and e.get('class') == 'fill']
assert len(fills) >= 2, 'gauge arcs'
bars = {e['data-rule']: e for e in p.el if e.get('class') == 'rule-bar'}
for r in rep['prune']['rules']:
    if r['name'] in bars:
        b = bars[r['name']]
        assert int(b['data-before']) == r['before']['uncompressed'] and int(b['data-after']) == r['after']['uncompressed'], r
assert 'python-safe: tests/' in bars
imp = [e for e in p.el if e.get('class') == 'import-bar']
assert imp and imp[0]['data-module'] == 'slowmod' and float(imp[0]['data-ms']) >= 290, imp[:1]
assert 'Recommendation:' in dom
PY
	echo "ok: html (chromium)"
else
	echo "chromium is missing: the HTML was not rendered"
fi

# 5. build --report: a summary by default, a file beside -o for a format
run_lamina build "$app/lamina.json" "${B[@]}" -o "$T/b.tar" --report || { cat "$T/err"; fail "build --report"; }
assert_eq "$(wc -l <"$T/out")" 1 "build --report: only the digest on stdout"
assert_contains "$T/err" "^against Lambda's limits$"
assert_contains "$T/err" '^  recommendation: '
assert_not_contains "$T/err" '^largest files'
run_lamina -v build "$app/lamina.json" "${B[@]}" -o "$T/b.tar" --report || { cat "$T/err"; fail "build --report -v"; }
assert_contains "$T/err" '^largest files'
assert_contains "$T/err" 'python-safe: tests/ +deps +1 '
run_lamina build "$app/lamina.json" "${B[@]}" -o "$T/b.tar" --report html || { cat "$T/err"; fail "build --report html"; }
assert_file "$T/b.report.html"
assert_contains "$T/b.report.html" 'id="treemap"'
run_lamina build "$app/lamina.json" "${B[@]}" --report=json --report-file "$T/b.json" || { cat "$T/err"; fail "build --report=json"; }
assert_eq "$(jq -r '[.largestFiles[] | select(.layer == "deps")][0].size' "$T/b.json")" 1048576 "build --report json"
run_lamina build "$app/lamina.json" "${B[@]}" --report html && fail "--report html without a file should fail"
assert_contains "$T/err" 'needs --report-file'
echo "ok: build --report"

# 6. report IMAGE: the archive, its label's checks timing the imports
run_lamina report "$T/img.tar" --format json || { cat "$T/err"; fail "report IMAGE"; }
assert_eq "$(jq -c '[.layers[].name]' "$T/out")" '["base 1","base 2","base 3","deps","app"]' "layer names from the history"
assert_eq "$(jq -r '[.largestFiles[] | select(.layer == "deps")][0].path' "$T/out")" var/task/mypkg/big.bin "largest file of the image"
assert_eq "$(jq -r '.prune' "$T/out")" null "no prune figures for an image"
jq -e '[.imports[] | select(.module == "slowmod")] | length == 1' "$T/out" >/dev/null || fail "imports timed from the label"
run_lamina report "$T/img.tar" --no-verify --format json || { cat "$T/err"; fail "report IMAGE --no-verify"; }
assert_eq "$(jq -r .imports "$T/out")" null "--no-verify: no import times"
# 7. a failed check: the report still, then exit status 7 with the failure
jq '.verify.imports += ["nosuchmodule"]' "$app/lamina.json" >"$app/bad.json"
rc=0
run_lamina report "$app/bad.json" "${B[@]}" --format json || rc=$?
assert_eq "$rc" 7 "report with a failing import: exit status"
jq -e '[.imports[] | select(.module == "slowmod")] | length == 1' "$T/out" >/dev/null || fail "the report of a failed verify"
assert_contains "$T/err" "import 'nosuchmodule'"
run_lamina report "$T/img.tar" --format pdf && fail "an unknown format should fail"
assert_contains "$T/err" "report format 'pdf'"
echo ok
