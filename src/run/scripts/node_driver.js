// Makes the V8 compile cache of an app with the image's own node (src/run/precompile_node.c).
//   node node_driver.js IO SEED MODE
// MODE "default": the flag set is lamina's own, so a Lambda bootstrap that derives V8 flags
// from the memory size is refused ("boot"). IO holds "flags" (a line per flag set, flags
// separated by tabs) and node_gen.js. For each flag set a child node with those flags
// (and --predictable --random-seed=SEED when V8 leaves them out of its flag hash) runs
// node_gen.js, which loads the entries into IO/cache-<i>. Writes IO/res:
// "node\t<version>\t<uid>\t<has compile cache>", then "boot", or per flag set
// "set\t<i>\t<deterministic>\t<exit status>" or "bad\t<i>\t<message>" (node refuses the flags).
'use strict';
const fs = require('fs');
const cp = require('child_process');
const [io, seed, mode] = process.argv.slice(2);
const out = [];
const clean = (s) => String(s).replace(/[\t\r\n]+/g, ' ').trim();
const ok = typeof require('module').enableCompileCache === 'function';
out.push(['node', process.version, process.getuid(), ok ? 1 : 0].join('\t'));
let boot = '';
try { boot = fs.readFileSync('/var/runtime/bootstrap', 'utf8'); } catch (e) {}
if (mode === 'default' && /AWS_LAMBDA_FUNCTION_MEMORY_SIZE/.test(boot) && /max-old-space-size/.test(boot)) {
  out.push('boot');
} else if (ok) {
  const env = Object.assign({}, process.env);
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  const gen = fs.readFileSync(io + '/node_gen.js', 'utf8');
  const det = ['--predictable', '--random-seed=' + seed];
  const tag = (flags) => {
    const r = cp.spawnSync(process.execPath, [...flags, '-p', 'require("v8").cachedDataVersionTag()'],
      { env, encoding: 'utf8' });
    if (r.status === 0) return r.stdout.trim();
    return { err: clean(String(r.stderr || r.error || 'exit status ' + r.status).trim().split('\n')[0]) };
  };
  const log = fs.openSync(io + '/log', 'a');
  fs.readFileSync(io + '/flags', 'utf8').split('\n').slice(0, -1).forEach((line, i) => {
    const flags = line ? line.split('\t') : [];
    const plain = tag(flags);
    if (typeof plain !== 'string') return out.push(['bad', i, plain.err].join('\t'));
    const same = tag([...det, ...flags]) === plain ? 1 : 0;
    const r = cp.spawnSync(process.execPath, [...(same ? det : []), ...flags, '-e', gen,
      io + '/cache-' + i, io + '/entries', io + '/gen-' + i], { env, stdio: ['ignore', log, log] });
    out.push(['set', i, same, r.status === null ? 'signal ' + r.signal : r.status].join('\t'));
  });
}
fs.writeFileSync(io + '/res', out.join('\n') + '\n');
