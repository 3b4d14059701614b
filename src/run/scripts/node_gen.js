// Loads an app's modules with the compile cache on (run by node_driver.js with `node -e`,
// so that this script is not cached itself): node -e "$(cat node_gen.js)" DIR LIST RES.
// Enables the compile cache in DIR, loads each line of LIST ("file\t<path>" or
// "pkg\t<base dir>\t<name>") and writes RES lines "ok\t<label>", "none\t<label>" (a package
// with no JavaScript entry point: types only, a CLI) or "err\t<label>\t<message>".
// process.exit() while loading is turned into an error.
'use strict';
const m = require('module');
const fs = require('fs');
const path = require('path');
const url = require('url');
const [dir, list, resFile] = process.argv.slice(1);
const r = m.enableCompileCache(dir);
if (!r || r.status !== m.constants.compileCacheStatus.ENABLED) {
  process.stderr.write('cannot enable the compile cache in ' + dir + ': ' + (r && r.message) + '\n');
  process.exit(3);
}
const exit = process.exit;
process.exit = (c) => { throw new Error('process.exit(' + c + ') called while loading'); };
process.on('uncaughtException', () => {});
process.on('unhandledRejection', () => {});
const clean = (s) => String(s).replace(/[\t\r\n]+/g, ' ').slice(0, 300);
const pick = (x) => {
  if (typeof x === 'string') return x;
  if (Array.isArray(x)) { for (const y of x) { const p = pick(y); if (p) return p; } return null; }
  if (x && typeof x === 'object')
    for (const k of ['node', 'import', 'default']) if (k in x) { const p = pick(x[k]); if (p) return p; }
  return null;
};
const esmEntry = (d) => {
  let e = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).exports;
  if (e && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).some((k) => k.startsWith('.'))) e = e['.'];
  const p = pick(e);
  return p ? path.join(d, p) : null;
};
const resolve = (base, name) => {
  try {
    return m.createRequire(path.join(base, 'noop.js')).resolve(name);
  } catch (e) {
    if (e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && e.code !== 'MODULE_NOT_FOUND') throw e;
    let p = null;
    try { p = esmEntry(path.join(base, 'node_modules', name)); } catch (e2) {}
    return p && fs.existsSync(p) ? p : null;
  }
};
const load = async (file) => {
  if (file.endsWith('.mjs')) return import(url.pathToFileURL(file).href);
  try {
    require(file);
  } catch (e) {
    if (e.code !== 'ERR_REQUIRE_ESM' && e.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw e;
    await import(url.pathToFileURL(file).href);
  }
};
(async () => {
  const res = [];
  for (const line of fs.readFileSync(list, 'utf8').split('\n')) {
    if (!line) continue;
    const f = line.split('\t');
    const label = f[0] === 'pkg' ? f[2] : f[1];
    try {
      const file = f[0] === 'pkg' ? resolve(f[1], f[2]) : f[1];
      if (!file || !/\.(c|m)?js$|\.json$|\.node$/.test(file)) {
        res.push('none\t' + label);
        continue;
      }
      await load(file);
      res.push('ok\t' + label);
    } catch (e) {
      const msg = (e && e.name ? e.name + ': ' : '') + (e && e.message !== undefined ? e.message : e);
      res.push('err\t' + label + '\t' + clean(msg));
    }
    if (m.flushCompileCache) m.flushCompileCache();
  }
  fs.writeFileSync(resFile, res.join('\n') + '\n');
  exit(0);
})();
