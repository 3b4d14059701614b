// Checks a Node.js image from inside: imports, the handler, and a call of it with an event.
//
// lamina runs it in the image's sandbox (src/run/verify.c) with the image's own node:
//     node verify.js IO
// IO/spec.json: {"imports": [...], "defaultImports": bool, "handler": "src/app.handler" or
// null, "module": "src/app", "function": "handler", "files": ["src/app.js", "src/app.mjs",
// "src/app.cjs"], "event": bool}; IO/event.json: the event. Writes IO/result.json:
// {"failures": [{"what": ..., "traceback": ...}], "imports": [what was imported],
// "result": <JSON text of what the handler returned, or null>}; every failure is
// collected, so one run reports them all.
//
// Loading follows the Node.js runtime: a handler module is the first of .js, .mjs, .cjs
// under the task root (else the name through Node's resolution); .mjs and ES modules are
// import()ed, the rest require()d. An import is require()d from the task root, and
// import()ed when it is ESM only ("type": "module" without a require condition).
'use strict';
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');
const { pathToFileURL } = require('url');
const { randomUUID } = require('crypto');

const io = process.argv[2] || '/.lamina-io';
const root = process.env.LAMBDA_TASK_ROOT || '/var/task';
const req = createRequire(path.join(root, '__lamina_verify__.js'));
const failures = [];
const done = [];

function stackOf(e) {
  if (e && typeof e === 'object' && e.stack) return String(e.stack) + '\n';
  return String(e) + '\n';
}

function readJson(p) {
  try {
    return JSON.parse(fs.readFileSync(p, 'utf8'));
  } catch (e) {
    return null;
  }
}

// The directory of package name (or the package of a deep name) under the task root.
function packageDir(name) {
  const parts = name.split('/');
  const pkg = name.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  for (let d = root; ; d = path.dirname(d)) {
    const p = path.join(d, 'node_modules', pkg);
    if (fs.existsSync(path.join(p, 'package.json'))) return { dir: p, sub: parts.slice(name.startsWith('@') ? 2 : 1) };
    if (d === path.dirname(d)) return null;
  }
}

// The target of an "exports" entry for ESM: conditions node, import, default, in order.
function exportTarget(x) {
  if (typeof x === 'string') return x;
  if (Array.isArray(x)) {
    for (const y of x) {
      const t = exportTarget(y);
      if (t) return t;
    }
    return null;
  }
  if (x && typeof x === 'object') {
    for (const k of ['node', 'import', 'default']) if (k in x) {
      const t = exportTarget(x[k]);
      if (t) return t;
    }
  }
  return null;
}

// The file import() loads for a bare name, resolved as from the task root.
function resolveEsm(name) {
  const found = packageDir(name);
  if (!found) return null;
  const pj = readJson(path.join(found.dir, 'package.json')) || {};
  const sub = found.sub.length ? './' + found.sub.join('/') : '.';
  let target = null;
  if (pj.exports !== undefined) {
    const ex = typeof pj.exports === 'string' || Array.isArray(pj.exports) || !Object.keys(pj.exports).some((k) => k.startsWith('.'))
      ? { '.': pj.exports } : pj.exports;
    target = exportTarget(ex[sub]);
  } else if (sub === '.') {
    target = pj.module || pj.main || 'index.js';
  } else {
    target = sub;
  }
  return target ? path.resolve(found.dir, target) : null;
}

async function load(name) {
  // a path: relative to the task root
  if (name.startsWith('.') || name.startsWith('/')) {
    const file = path.resolve(root, name);
    if (file.endsWith('.mjs')) return import(pathToFileURL(file).href);
    try {
      return req(file);
    } catch (e) {
      if (e.code !== 'ERR_REQUIRE_ESM' && e.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw e;
      return import(pathToFileURL(file).href);
    }
  }
  try {
    return req(name);
  } catch (e) {
    // ESM only: no require condition in "exports", or an ES module require() cannot load
    if (!['ERR_REQUIRE_ESM', 'ERR_PACKAGE_PATH_NOT_EXPORTED', 'ERR_REQUIRE_ASYNC_MODULE'].includes(e.code)) throw e;
    const file = resolveEsm(name);
    if (!file) throw e;
    return import(pathToFileURL(file).href);
  }
}

// Every top-level dependency of the app's package.json that has code to load (not types
// only, not a CLI without a main), in the order listed.
function defaultImports() {
  const pj = readJson(path.join(root, 'package.json'));
  if (!pj || typeof pj.dependencies !== 'object' || !pj.dependencies) return [];
  const out = [];
  for (const name of Object.keys(pj.dependencies)) {
    if (name.startsWith('@types/')) continue;
    const found = packageDir(name);
    if (!found) {
      out.push(name); // missing: the require says so
      continue;
    }
    const dep = readJson(path.join(found.dir, 'package.json')) || {};
    const hasCode = dep.exports !== undefined || dep.main || dep.module ||
      ['index.js', 'index.cjs', 'index.mjs', 'index.json', 'index.node'].some((f) => fs.existsSync(path.join(found.dir, f)));
    if (hasCode) out.push(name);
  }
  return out;
}

async function loadHandler(spec) {
  const file = (spec.files || []).map((f) => path.join(root, f)).find((f) => fs.existsSync(f));
  let mod;
  if (file) {
    mod = await load(file);
  } else {
    // not a file of the task root: Node's resolution (NODE_PATH, node_modules)
    mod = await load(spec.module);
  }
  const get = (o) => spec.function.split('.').reduce((x, k) => (x == null ? undefined : x[k]), o);
  let fn = get(mod);
  if (fn === undefined && mod && mod.default) fn = get(mod.default);
  return { fn, file: file || spec.module };
}

function context(name) {
  const deadline = Date.now() + Number(process.env.AWS_LAMBDA_FUNCTION_TIMEOUT || 900) * 1000;
  return {
    functionName: name,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION || '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION || 'us-east-1'}:000000000000:function:${name}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE || '128',
    awsRequestId: randomUUID(),
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME || `/aws/lambda/${name}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME || 'lamina-verify',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    succeed: () => {},
    fail: () => {},
  };
}

// As the runtime calls it: a callback for handlers that take one, the promise awaited.
function invoke(fn, event, ctx) {
  if (fn.length >= 3) {
    return new Promise((resolve, reject) => {
      ctx.done = (err, value) => (err ? reject(err) : resolve(value));
      ctx.succeed = (value) => resolve(value);
      ctx.fail = (err) => reject(err);
      const r = fn(event, ctx, (err, value) => (err ? reject(err) : resolve(value)));
      if (r && typeof r.then === 'function') r.then(resolve, reject);
    });
  }
  return Promise.resolve().then(() => fn(event, ctx));
}

// Times every require() while the imports and the handler load: Module._load wrapped, each
// call's wall time including what it requires in turn (cumulative) and without it (self).
// ESM import() is not seen, only the require()s. The slowest 100 go into the result.
const timings = new Map();
function timeRequires() {
  const Module = require('module');
  const orig = Module._load;
  let stack = [];
  Module._load = function (request, parent, isMain) {
    const t0 = process.hrtime.bigint();
    stack.push(0n);
    try {
      return orig.apply(this, arguments);
    } finally {
      const dt = process.hrtime.bigint() - t0;
      const inner = stack.pop();
      if (stack.length) stack[stack.length - 1] += dt;
      // the first load is what a cold start pays; later ones hit require's cache
      if (!timings.has(request)) timings.set(request, { cum: dt, self: dt - inner });
    }
  };
  return () => {
    Module._load = orig;
    stack = [];
  };
}
function importTimes() {
  return [...timings.entries()]
    .map(([m, t]) => ({ module: m, selfUs: Number(t.self / 1000n), cumulativeUs: Number(t.cum / 1000n) }))
    .filter((t) => !t.module.startsWith('node:') && !require('module').builtinModules.includes(t.module))
    .sort((a, b) => b.cumulativeUs - a.cumulativeUs)
    .slice(0, 100);
}

async function main() {
  const spec = readJson(path.join(io, 'spec.json'));
  const untime = timeRequires();
  let result = null;
  let imports = spec.imports || [];
  if (spec.defaultImports) imports = defaultImports();
  for (const name of imports) {
    try {
      await load(name);
      done.push(name);
    } catch (e) {
      failures.push({ what: `require('${name}')`, traceback: stackOf(e) });
    }
  }
  let fn = null;
  if (spec.handler) {
    try {
      const h = await loadHandler(spec);
      if (typeof h.fn !== 'function') {
        failures.push({
          what: `handler '${spec.handler}'`,
          traceback: `${h.file} does not export '${spec.function}' as a function (Runtime.HandlerNotFound)\n`,
        });
      } else {
        fn = h.fn;
      }
    } catch (e) {
      failures.push({ what: `handler '${spec.handler}': require('${spec.module}')`, traceback: stackOf(e) });
    }
  }
  untime();
  if (fn && spec.event) {
    let event;
    try {
      event = JSON.parse(fs.readFileSync(path.join(io, 'event.json'), 'utf8'));
    } catch (e) {
      failures.push({ what: 'event file', traceback: stackOf(e) });
    }
    if (event !== undefined) {
      try {
        const name = process.env.AWS_LAMBDA_FUNCTION_NAME || 'lamina-verify';
        const r = await invoke(fn, event, context(name));
        result = JSON.stringify(r === undefined ? null : r);
      } catch (e) {
        failures.push({ what: `handler '${spec.handler}': call`, traceback: stackOf(e) });
      }
    }
  }
  fs.writeFileSync(path.join(io, 'result.json'), JSON.stringify({ failures, imports: done, result, importTimes: importTimes() }));
}

main().then(
  () => process.exit(0), // timers the app left must not keep the check alive
  (e) => {
    process.stderr.write(stackOf(e));
    process.exit(70);
  },
);
