#!/usr/bin/env bash
# Prune presets on real npm installs: the seed's layer (@distube/ytdl-core, @ffmpeg-installer,
# fluent-ffmpeg, form-data, google-auth-library) and a larger app (openai, langchain,
# @langchain/core, pdfjs-dist, pdf-parse, js-tiktoken, @libsql/client, puppeteer-core,
# better-sqlite3). After node-safe and node-aggressive every top-level package still
# require()s and does a real call with the host's node; langchain's
# dist/agents/tests/utils.cjs (required at run time) is kept; better-sqlite3's addon is
# stripped in place and still loads.
. "$(dirname "$0")/lib.sh"
command -v node >/dev/null || skip "node not installed"
seed=$("$REPO/scripts/workload-node.sh" seed) || skip "npm install of the seed workload failed (registry?)"
app=$("$REPO/scripts/workload-node.sh" app) || skip "npm install of the app workload failed (registry?)"

cat >"$T/check-seed.js" <<'JS'
const dir = process.argv[2];
const r = (m) => require(require.resolve(m, { paths: [dir] }));
const ytdl = r('@distube/ytdl-core');
if (!ytdl.validateURL('https://www.youtube.com/watch?v=dQw4w9WgXcQ')) throw new Error('ytdl');
const ff = r('@ffmpeg-installer/ffmpeg');
if (!require('fs').existsSync(ff.path)) throw new Error('ffmpeg binary missing: ' + ff.path);
const fluent = r('fluent-ffmpeg');
fluent.setFfmpegPath(ff.path);
const FormData = r('form-data');
const fd = new FormData(); fd.append('a', 'b');
if (!fd.getHeaders()['content-type'].startsWith('multipart/form-data')) throw new Error('form-data');
const { GoogleAuth, OAuth2Client } = r('google-auth-library');
new GoogleAuth(); new OAuth2Client('id', 'secret');
console.log('ok');
JS
cat >"$T/check-app.mjs" <<'JS'
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const dir = process.argv[2];
const require = createRequire(dir + '/package.json');
const OpenAI = require('openai');
const c = new (OpenAI.default || OpenAI)({ apiKey: 'x' });
if (!c.chat) throw new Error('openai');
const core = require('@langchain/core/prompts');
const p = core.PromptTemplate.fromTemplate('hi {x}');
if ((await p.format({ x: 'y' })) !== 'hi y') throw new Error('langchain core');
const lc = require('langchain');
if (!lc) throw new Error('langchain');
await import(pathToFileURL(require.resolve('langchain')).href);
const tiktoken = require('js-tiktoken');
if (tiktoken.getEncoding('cl100k_base').encode('hello world').length !== 2) throw new Error('tiktoken');
const pdfjs = await import(pathToFileURL(dir + '/node_modules/pdfjs-dist/legacy/build/pdf.mjs').href);
if (!pdfjs.getDocument) throw new Error('pdfjs');
const pdfParse = require('pdf-parse');
if (typeof (pdfParse.default || pdfParse.PDFParse || pdfParse) === 'undefined') throw new Error('pdf-parse');
const libsql = require('@libsql/client');
const db = libsql.createClient({ url: ':memory:' });
const rs = await db.execute('select 6*7 as v');
if (Number(rs.rows[0].v) !== 42) throw new Error('libsql');
const puppeteer = require('puppeteer-core');
if (typeof puppeteer.launch !== 'function') throw new Error('puppeteer');
try {
  const Database = require('better-sqlite3');
  const s = new Database(':memory:');
  if (s.prepare('select 6*7 as v').get().v !== 42) throw new Error('better-sqlite3');
} catch (e) {
  if (!/Could not locate the bindings file/.test(String(e))) throw e;
  console.error('better-sqlite3: native addon not built (no node headers offline)');
}
console.log('ok');
JS

# Unpruned first: a failure here is the workload's, not prune's.
out=$(node "$T/check-seed.js" "$seed" 2>&1) || fail "unpruned seed does not work: $out"
out=$(node "$T/check-app.mjs" "$app" 2>&1) || fail "unpruned app does not work: $out"

for preset in node-safe node-aggressive; do
	for w in seed app; do
		src=$seed
		[ $w = app ] && src=$app
		cat >"$T/$w-$preset.json" <<JSON
{"base": "oci-archive:/nonexistent.tar", "layers": [{"name": "$w", "from": "$src", "to": "/var/task"}],
 "prune": {"presets": ["$preset"]}}
JSON
		rm -rf "$T/mat"
		run_lamina prune --dry-run "$T/$w-$preset.json" --materialize "$T/mat" ||
			{ cat "$T/err"; fail "$w/$preset: prune failed"; }
		cp "$T/out" "$T/$w-$preset.txt"
		if [ $w = app ]; then
			out=$(node "$T/check-app.mjs" "$T/mat/var/task" 2>&1) || fail "$preset broke the app: $out"
			assert_contains "$T/$w-$preset.txt" 'langchain/dist/agents/tests/utils.cjs \(required\)'
			assert_file "$T/mat/var/task/node_modules/langchain/dist/agents/tests/utils.cjs"
		else
			out=$(node "$T/check-seed.js" "$T/mat/var/task" 2>&1) || fail "$preset broke the seed layer: $out"
		fi
		assert_contains "$out" 'ok$'
		echo "$w $preset: $(head -1 "$T/$w-$preset.txt") $(grep 'strip debug' "$T/$w-$preset.txt")"
	done
done
