/* precompile_node.c - NODE_COMPILE_CACHE files for the app layers, made by the image's node.
 *
 * The app files are staged (hard links, else copies) at their image paths in a directory
 * laid over the base rootfs, and one sandboxed node runs the driver below. For each flag
 * set it starts a child node with those flags that enables the compile cache in the io
 * directory and require()s (import()s) each entry, so the cache keys are the modules'
 * final paths. The children run with --predictable --random-seed when those leave V8's
 * cached-data tag unchanged (V8 leaves them out of its flag hash): without a fixed seed
 * every file differs between runs (V8's string hash seed is random), and without
 * --predictable a few still do now and then (background compilation and GC timing). */
#include "run/precompile_node.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/buf.h"
#include "image/oci.h"
#include "run/rootfs.h"
#include "run/sandbox.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

/* The seed for --random-seed (any fixed value; V8 excludes it from the flag hash). */
#define DET_SEED "1"

/* argv: io seed mode ("default": flag set made up by lamina, refuse a Lambda bootstrap).
 * Reads io/flags (a line per flag set, flags separated by tabs) and io/gen.js; writes
 * io/res: "node\t<version>\t<uid>\t<has compile cache>", then "boot" (a Lambda bootstrap
 * that needs memory sizes) or per flag set "set\t<i>\t<deterministic>\t<exit status>" or
 * "bad\t<i>\t<message>" (node rejects the flags). */
static const char driver_js[] =
	"'use strict';\n"
	"const fs = require('fs');\n"
	"const cp = require('child_process');\n"
	"const [io, seed, mode] = process.argv.slice(1);\n"
	"const out = [];\n"
	"const clean = (s) => String(s).replace(/[\\t\\r\\n]+/g, ' ').trim();\n"
	"const ok = typeof require('module').enableCompileCache === 'function';\n"
	"out.push(['node', process.version, process.getuid(), ok ? 1 : 0].join('\\t'));\n"
	"let boot = '';\n"
	"try { boot = fs.readFileSync('/var/runtime/bootstrap', 'utf8'); } catch (e) {}\n"
	"if (mode === 'default' && /AWS_LAMBDA_FUNCTION_MEMORY_SIZE/.test(boot) && /max-old-space-size/.test(boot)) {\n"
	"  out.push('boot');\n"
	"} else if (ok) {\n"
	"  const env = Object.assign({}, process.env);\n"
	"  delete env.NODE_COMPILE_CACHE;\n"
	"  delete env.NODE_DISABLE_COMPILE_CACHE;\n"
	"  const gen = fs.readFileSync(io + '/gen.js', 'utf8');\n"
	"  const det = ['--predictable', '--random-seed=' + seed];\n"
	"  const tag = (flags) => {\n"
	"    const r = cp.spawnSync(process.execPath, [...flags, '-p', 'require(\"v8\").cachedDataVersionTag()'],\n"
	"      { env, encoding: 'utf8' });\n"
	"    if (r.status === 0) return r.stdout.trim();\n"
	"    return { err: clean(String(r.stderr || r.error || 'exit status ' + r.status).trim().split('\\n')[0]) };\n"
	"  };\n"
	"  const log = fs.openSync(io + '/log', 'a');\n"
	"  fs.readFileSync(io + '/flags', 'utf8').split('\\n').slice(0, -1).forEach((line, i) => {\n"
	"    const flags = line ? line.split('\\t') : [];\n"
	"    const plain = tag(flags);\n"
	"    if (typeof plain !== 'string') return out.push(['bad', i, plain.err].join('\\t'));\n"
	"    const same = tag([...det, ...flags]) === plain ? 1 : 0;\n"
	"    const r = cp.spawnSync(process.execPath, [...(same ? det : []), ...flags, '-e', gen,\n"
	"      io + '/cache-' + i, io + '/entries', io + '/gen-' + i], { env, stdio: ['ignore', log, log] });\n"
	"    out.push(['set', i, same, r.status === null ? 'signal ' + r.signal : r.status].join('\\t'));\n"
	"  });\n"
	"}\n"
	"fs.writeFileSync(io + '/res', out.join('\\n') + '\\n');\n";

/* argv: dir list res. Enables the compile cache in dir, loads each line of list
 * ("file\t<path>" or "pkg\t<base dir>\t<name>") and writes res lines "ok\t<label>",
 * "none\t<label>" (a package with no JavaScript entry point: types only, a CLI) or
 * "err\t<label>\t<message>". process.exit() while loading is turned into an error. */
static const char gen_js[] =
	"'use strict';\n"
	"const m = require('module');\n"
	"const fs = require('fs');\n"
	"const path = require('path');\n"
	"const url = require('url');\n"
	"const [dir, list, resFile] = process.argv.slice(1);\n"
	"const r = m.enableCompileCache(dir);\n"
	"if (!r || r.status !== m.constants.compileCacheStatus.ENABLED) {\n"
	"  process.stderr.write('cannot enable the compile cache in ' + dir + ': ' + (r && r.message) + '\\n');\n"
	"  process.exit(3);\n"
	"}\n"
	"const exit = process.exit;\n"
	"process.exit = (c) => { throw new Error('process.exit(' + c + ') called while loading'); };\n"
	"process.on('uncaughtException', () => {});\n"
	"process.on('unhandledRejection', () => {});\n"
	"const clean = (s) => String(s).replace(/[\\t\\r\\n]+/g, ' ').slice(0, 300);\n"
	"const pick = (x) => {\n"
	"  if (typeof x === 'string') return x;\n"
	"  if (Array.isArray(x)) { for (const y of x) { const p = pick(y); if (p) return p; } return null; }\n"
	"  if (x && typeof x === 'object')\n"
	"    for (const k of ['node', 'import', 'default']) if (k in x) { const p = pick(x[k]); if (p) return p; }\n"
	"  return null;\n"
	"};\n"
	"const esmEntry = (d) => {\n"
	"  let e = JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).exports;\n"
	"  if (e && typeof e === 'object' && !Array.isArray(e) && Object.keys(e).some((k) => k.startsWith('.'))) e = e['.'];\n"
	"  const p = pick(e);\n"
	"  return p ? path.join(d, p) : null;\n"
	"};\n"
	"const resolve = (base, name) => {\n"
	"  try {\n"
	"    return m.createRequire(path.join(base, 'noop.js')).resolve(name);\n"
	"  } catch (e) {\n"
	"    if (e.code !== 'ERR_PACKAGE_PATH_NOT_EXPORTED' && e.code !== 'MODULE_NOT_FOUND') throw e;\n"
	"    let p = null;\n"
	"    try { p = esmEntry(path.join(base, 'node_modules', name)); } catch (e2) {}\n"
	"    return p && fs.existsSync(p) ? p : null;\n"
	"  }\n"
	"};\n"
	"const load = async (file) => {\n"
	"  if (file.endsWith('.mjs')) return import(url.pathToFileURL(file).href);\n"
	"  try {\n"
	"    require(file);\n"
	"  } catch (e) {\n"
	"    if (e.code !== 'ERR_REQUIRE_ESM' && e.code !== 'ERR_REQUIRE_ASYNC_MODULE') throw e;\n"
	"    await import(url.pathToFileURL(file).href);\n"
	"  }\n"
	"};\n"
	"(async () => {\n"
	"  const res = [];\n"
	"  for (const line of fs.readFileSync(list, 'utf8').split('\\n')) {\n"
	"    if (!line) continue;\n"
	"    const f = line.split('\\t');\n"
	"    const label = f[0] === 'pkg' ? f[2] : f[1];\n"
	"    try {\n"
	"      const file = f[0] === 'pkg' ? resolve(f[1], f[2]) : f[1];\n"
	"      if (!file || !/\\.(c|m)?js$|\\.json$|\\.node$/.test(file)) {\n"
	"        res.push('none\\t' + label);\n"
	"        continue;\n"
	"      }\n"
	"      await load(file);\n"
	"      res.push('ok\\t' + label);\n"
	"    } catch (e) {\n"
	"      const msg = (e && e.name ? e.name + ': ' : '') + (e && e.message !== undefined ? e.message : e);\n"
	"      res.push('err\\t' + label + '\\t' + clean(msg));\n"
	"    }\n"
	"    if (m.flushCompileCache) m.flushCompileCache();\n"
	"  }\n"
	"  fs.writeFileSync(resFile, res.join('\\n') + '\\n');\n"
	"  exit(0);\n"
	"})();\n";

static const long default_uids[] = { 993, 0 };

void pn_flags_release(struct pn_flags *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

void precompile_node_spec_release(struct precompile_node_spec *s)
{
	if (!s)
		return;
	free(s->dir);
	free(s->memory_sizes);
	for (size_t i = 0; i < s->nnode_args; i++)
		pn_flags_release(&s->node_args[i]);
	free(s->node_args);
	for (size_t i = 0; i < s->nentries; i++)
		free(s->entries[i]);
	free(s->entries);
	free(s->uids);
	memset(s, 0, sizeof(*s));
}

const char *precompile_node_dir(const struct precompile_node_spec *s)
{
	return s->dir ? s->dir : PRECOMPILE_NODE_DIR;
}

void precompile_node_lambda_flags(int mb, struct pn_flags *f)
{
	int new_space = mb / 10;
	f->n = 3;
	f->v = lm_xcalloc(f->n + 1, sizeof(*f->v));
	f->v[0] = lm_xstrdup("--expose-gc");
	f->v[1] = lm_asprintf("--max-semi-space-size=%d", new_space / 2);
	f->v[2] = lm_asprintf("--max-old-space-size=%d", mb - new_space);
}

char *precompile_node_handler_module(const char *cmd0)
{
	const char *base, *dot;
	if (!cmd0 || !*cmd0 || cmd0[0] == '/')
		return NULL;
	base = strrchr(cmd0, '/');
	base = base ? base + 1 : cmd0;
	/* as Lambda's Node runtime reads it: the module is the file name up to its first
	 * '.', the rest names the export ("app.handlers.get" -> app, handlers.get) */
	dot = strchr(base, '.');
	if (!dot || dot == base || !dot[1])
		return NULL;
	return lm_xstrndup(cmd0, (size_t)(dot - cmd0));
}

int precompile_node_split_tag(const char *name, long uid, char **base)
{
	char suffix[32];
	size_t nl = strlen(name), sl;
	snprintf(suffix, sizeof(suffix), "-%ld", uid);
	sl = strlen(suffix);
	if (nl <= sl || strcmp(name + nl - sl, suffix) != 0)
		return 0;
	*base = lm_xstrndup(name, nl - sl);
	return 1;
}

size_t precompile_node_layer(const char *dir, char *const *roots, size_t nroots)
{
	size_t best = nroots ? nroots - 1 : 0, bestlen = 0;
	int found = 0;
	for (size_t i = 0; i < nroots; i++) {
		size_t rl = strlen(roots[i]);
		if (rl && (strncmp(dir, roots[i], rl) != 0 || (dir[rl] != '/' && dir[rl] != '\0')))
			continue;
		if (!found || rl >= bestlen) {
			best = i;
			bestlen = rl;
			found = 1;
		}
	}
	return best;
}

/* Copies src to dst (created 0644), for when a hard link cannot be made. */
static int copy_file(const char *src, const char *dst, struct lm_err *err)
{
	char buf[1 << 16];
	int in = -1, out = -1, ret = -1;
	ssize_t n;
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0) {
		lm_err_sys(err, "open '%s'", src);
		goto out;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		lm_err_sys(err, "create '%s'", dst);
		goto out;
	}
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lm_err_sys(err, "read '%s'", src);
			goto out;
		}
		if (lm_write_all(out, buf, (size_t)n) < 0) {
			lm_err_sys(err, "write '%s'", dst);
			goto out;
		}
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && ret == 0)
		ret = lm_err_sys(err, "close '%s'", dst);
	return ret;
}

/* Puts every entry of the trees at its image path under dir, later trees over earlier
 * ones: files as hard links (copies across file systems), symlinks as symlinks. */
static int stage_trees(const char *dir, const struct lm_tree *trees, size_t ntrees, struct lm_err *err)
{
	for (size_t t = 0; t < ntrees; t++)
		for (size_t i = 0; i < trees[t].n; i++) {
			const struct lm_entry *e = &trees[t].v[i];
			char *dst, *parent = NULL;
			int r = 0;
			if (e->removed)
				continue;
			dst = lm_path_join(dir, e->path);
			if (e->type == LM_F_DIR) {
				r = lm_mkdir_p(dst, err);
			} else {
				parent = lm_path_dirname(dst);
				r = lm_mkdir_p(parent, err);
				if (r == 0 && unlink(dst) < 0 && errno != ENOENT)
					r = lm_err_sys(err, "replace '%s'", dst);
				if (r == 0 && e->type == LM_F_SYMLINK && symlink(e->link, dst) < 0)
					r = lm_err_sys(err, "symlink '%s'", dst);
				if (r == 0 && e->type == LM_F_REG && link(e->src, dst) < 0)
					r = copy_file(e->src, dst, err);
			}
			free(parent);
			free(dst);
			if (r < 0)
				return lm_err_wrap(err, "stage '/%s'", e->path);
		}
	return 0;
}

static int tree_has(const struct lm_tree *trees, size_t ntrees, const char *path)
{
	for (size_t t = 0; t < ntrees; t++) {
		const struct lm_entry *e = tree_find(&trees[t], path);
		if (e && !e->removed)
			return 1;
	}
	return 0;
}

/* "P/node_modules/NAME" or "P/node_modules/@scope/NAME" with no node_modules in P: sets
 * *base ("/P") and *name; 0 for anything else, dot names and @types. */
static int top_package(const char *path, char **base, char **name)
{
	const char *nm = NULL, *p = path, *rest, *slash;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 12 && strncmp(p, "node_modules", 12) == 0) {
			nm = p;
			break;
		}
		if (!end)
			return 0;
		p = end + 1;
	}
	rest = nm + 12;
	if (*rest != '/' || rest[1] == '.' || !rest[1])
		return 0;
	rest++;
	slash = strchr(rest, '/');
	if (rest[0] == '@') {
		if (!slash || slash[1] == '.' || !slash[1] || strchr(slash + 1, '/') ||
		    strncmp(rest, "@types/", 7) == 0)
			return 0;
	} else if (slash) {
		return 0;
	}
	*base = lm_asprintf("/%.*s", nm > path ? (int)(nm - path - 1) : 0, path);
	*name = lm_xstrdup(rest);
	return 1;
}

/* The list the generator reads, one "file\t<path>" or "pkg\t<base>\t<name>" a line. */
static void make_entries(const struct precompile_node_spec *s, const struct lm_tree *trees, size_t ntrees,
			 const char *task_root, char *const *cmd, size_t ncmd, const struct lm_opts *o,
			 struct lm_buf *b, size_t *n)
{
	*n = 0;
	if (s->entries) {
		for (size_t i = 0; i < s->nentries; i++) {
			const char *x = s->entries[i];
			char *line;
			if (x[0] == '/')
				line = lm_asprintf("file\t%s\n", x);
			else if (lm_str_startswith(x, "./") || lm_str_startswith(x, "../"))
				line = lm_asprintf("file\t%s/%s\n", task_root, x);
			else
				line = lm_asprintf("pkg\t%s\t%s\n", task_root, x);
			buf_appends(b, line);
			free(line);
			(*n)++;
		}
		return;
	}
	if (ncmd > 0) {
		char *mod = precompile_node_handler_module(cmd[0]);
		char *rel = mod ? lm_asprintf("%s/%s", task_root, mod) : NULL;
		char *img = rel ? tree_norm_path(rel) : NULL;
		int found = 0;
		for (size_t k = 0; img && k < 3 && !found; k++) {
			static const char *const ext[] = { ".js", ".mjs", ".cjs" };
			char *p = lm_asprintf("%s%s", img, ext[k]);
			if (tree_has(trees, ntrees, p)) {
				char *line = lm_asprintf("file\t/%s\n", p);
				buf_appends(b, line);
				free(line);
				(*n)++;
				found = 1;
			}
			free(p);
		}
		if (img && !found && !o->quiet)
			fprintf(stderr, "lamina: precompile: node: warning: no /%s.js, .mjs or .cjs in the app layers for "
					"handler '%s'\n", img, cmd[0]);
		free(img);
		free(rel);
		free(mod);
	}
	{
		char **seen = NULL;
		size_t nseen = 0, cap = 0;
		for (size_t t = 0; t < ntrees; t++)
			for (size_t i = 0; i < trees[t].n; i++) {
				const struct lm_entry *e = &trees[t].v[i];
				char *base = NULL, *name = NULL, *pj, *key;
				int dup = 0;
				if (e->removed || e->type == LM_F_REG || !top_package(e->path, &base, &name))
					continue;
				pj = lm_asprintf("%s/package.json", e->path);
				key = lm_asprintf("%s\t%s", base, name);
				for (size_t j = 0; j < nseen && !dup; j++)
					dup = strcmp(seen[j], key) == 0;
				if (!dup && tree_has(trees, ntrees, pj)) {
					char *line = lm_asprintf("pkg\t%s\n", key);
					buf_appends(b, line);
					free(line);
					lm_grow((void **)&seen, &cap, nseen + 1, sizeof(*seen));
					seen[nseen++] = key;
					key = NULL;
					(*n)++;
				}
				free(key);
				free(pj);
				free(base);
				free(name);
			}
		for (size_t j = 0; j < nseen; j++)
			free(seen[j]);
		free(seen);
	}
}

/* The image's node: /var/lang/bin/node, else node on the image's PATH, in the app
 * layers (overlay) or the base (root). Caller frees; NULL when there is none. */
static char *find_node(const char *root, const char *app, char *const *env)
{
	const char *path = sandbox_env_get(env, "PATH");
	char *copy, *save = NULL, *found = NULL;
	if (rootfs_is_executable(app, "/var/lang/bin/node") || rootfs_is_executable(root, "/var/lang/bin/node"))
		return lm_xstrdup("/var/lang/bin/node");
	copy = lm_xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *p;
		if (d[0] != '/')
			continue;
		p = lm_asprintf("%s/node", d);
		if (rootfs_is_executable(app, p) || rootfs_is_executable(root, p))
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* Splits text into lines and each line into at most max tab-separated fields (the last
 * keeps any further tabs). Modifies text. Returns the field count of the next line, 0 at
 * the end. */
static size_t next_line(char **cur, char **f, size_t max)
{
	char *line = *cur, *nl;
	size_t n = 0;
	if (!line || !*line)
		return 0;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*cur = nl + 1;
	} else {
		*cur = line + strlen(line);
	}
	for (char *p = line; n < max;) {
		f[n++] = p;
		char *t = n < max ? strchr(p, '\t') : NULL;
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	return n;
}

static char *log_tail(const char *io)
{
	char *p = lm_path_join(io, "log"), *text = NULL, *r;
	size_t len = 0;
	struct lm_err e = LM_ERR_INIT;
	if (lm_read_file(p, (size_t)16 << 20, &text, &len, &e) < 0) {
		lm_err_release(&e);
		free(p);
		return lm_xstrdup("");
	}
	r = lm_xstrdup(len > 4000 ? text + len - 4000 : text);
	free(text);
	free(p);
	return r;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the cache files of one flag set (io/cache-<i>/<tag>/<files>) to t under dir as
 * <tag base>-<uids[0]>, with symlinks for the other uids. Tags already added (seen) are
 * skipped. Adds to *nfiles. */
static int add_cache(struct lm_tree *t, const char *dir, const char *cachedir, long uid, const long *uids,
		     size_t nuids, char ***seen, size_t *nseen, size_t *seencap, size_t *nfiles, struct lm_err *err)
{
	DIR *d = opendir(cachedir);
	struct dirent *de;
	int ret = -1;
	if (!d) {
		if (errno == ENOENT)
			return 0; /* nothing was compiled */
		return lm_err_sys(err, "open '%s'", cachedir);
	}
	while ((de = readdir(d))) {
		char *base = NULL, *real, *sub;
		char **files = NULL;
		size_t nf = 0, fcap = 0;
		int dup = 0, split;
		DIR *fd;
		struct dirent *fe;
		if (de->d_name[0] == '.')
			continue;
		split = precompile_node_split_tag(de->d_name, uid, &base);
		real = split ? lm_asprintf("%s-%ld", base, uids[0]) : lm_xstrdup(de->d_name);
		for (size_t j = 0; j < *nseen && !dup; j++)
			dup = strcmp((*seen)[j], real) == 0;
		if (dup) {
			free(real);
			free(base);
			continue;
		}
		sub = lm_path_join(cachedir, de->d_name);
		if (!(fd = opendir(sub))) {
			lm_err_sys(err, "open '%s'", sub);
			free(sub);
			free(real);
			free(base);
			goto out;
		}
		while ((fe = readdir(fd)))
			if (fe->d_name[0] != '.' && !strchr(fe->d_name, '.')) { /* not node's temporary files */
				lm_grow((void **)&files, &fcap, nf + 1, sizeof(*files));
				files[nf++] = lm_xstrdup(fe->d_name);
			}
		closedir(fd);
		if (nf)
			qsort(files, nf, sizeof(*files), cmp_str);
		for (size_t k = 0; k < nf; k++) {
			char *host = lm_path_join(sub, files[k]), *img = lm_asprintf("%s/%s/%s", dir, real, files[k]);
			struct stat st;
			if (lstat(host, &st) == 0 && S_ISREG(st.st_mode)) {
				struct lm_entry *e = tree_add(t, LM_F_REG, img, host, NULL, 0644, (uint64_t)st.st_size);
				e->generated = 1;
				(*nfiles)++;
			}
			free(host);
			free(img);
			free(files[k]);
		}
		free(files);
		if (nf && split)
			for (size_t k = 1; k < nuids; k++) {
				char *ln = lm_asprintf("%s-%ld", base, uids[k]), *img = lm_asprintf("%s/%s", dir, ln);
				if (strcmp(ln, real) != 0) {
					struct lm_entry *e = tree_add(t, LM_F_SYMLINK, img, NULL, real, 0777, 0);
					e->generated = 1;
				}
				free(ln);
				free(img);
			}
		lm_grow((void **)seen, seencap, *nseen + 1, sizeof(**seen));
		(*seen)[(*nseen)++] = real;
		free(sub);
		free(base);
	}
	ret = 0;
out:
	closedir(d);
	return ret;
}

/* Reports what the generator could not load (from the first flag set's results). */
static void report_entries(const char *io, size_t nentries, size_t nfiles, size_t nsets, const struct lm_opts *o)
{
	char *p = lm_path_join(io, "gen-0"), *text = NULL, *cur, *f[3];
	size_t len, nok = 0, nnone = 0, nerr = 0, nf;
	struct lm_err e = LM_ERR_INIT;
	struct lm_buf msg;
	buf_init(&msg, 0);
	if (lm_read_file(p, (size_t)16 << 20, &text, &len, &e) < 0)
		lm_err_release(&e);
	cur = text;
	while ((nf = next_line(&cur, f, 3)) > 0) {
		if (strcmp(f[0], "ok") == 0) {
			nok++;
		} else if (strcmp(f[0], "none") == 0) {
			nnone++;
		} else if (nf == 3) {
			if (nerr++ < 20) {
				char *m = lm_asprintf("\n  %s: %s", f[1], f[2]);
				buf_appends(&msg, m);
				free(m);
			}
		}
	}
	if (!o->quiet) {
		if (nerr)
			fprintf(stderr,
				"lamina: precompile: node: warning: %zu of %zu entries did not load (what they loaded before "
				"failing is cached):%s%s\n",
				nerr, nentries, msg.data ? msg.data : "", nerr > 20 ? "\n  ..." : "");
		fprintf(stderr,
			"precompile: node: %zu cache files for %zu flag set%s (%zu of %zu entries loaded, %zu without a "
			"JavaScript entry point)\n",
			nfiles, nsets, nsets == 1 ? "" : "s", nok, nentries, nnone);
	}
	buf_release(&msg);
	free(text);
	free(p);
}

/* The flag sets to make a cache for: Lambda's flags for each memory size, then nodeArgs;
 * one empty set when neither is given. */
static struct pn_flags *flag_sets(const struct precompile_node_spec *s, size_t *n)
{
	size_t k = 0, total = s->nmemory_sizes + s->nnode_args;
	struct pn_flags *v = lm_xcalloc(total ? total : 1, sizeof(*v));
	for (size_t i = 0; i < s->nmemory_sizes; i++)
		precompile_node_lambda_flags(s->memory_sizes[i], &v[k++]);
	for (size_t i = 0; i < s->nnode_args; i++, k++) {
		v[k].n = s->node_args[i].n;
		v[k].v = lm_xcalloc(v[k].n + 1, sizeof(char *));
		for (size_t j = 0; j < v[k].n; j++)
			v[k].v[j] = lm_xstrdup(s->node_args[i].v[j]);
	}
	*n = total ? total : 1;
	return v;
}

static int write_io(const char *io, const char *name, const char *data, size_t len, struct lm_err *err)
{
	char *p = lm_path_join(io, name);
	int r = lm_write_file_atomic(p, data, len, err);
	free(p);
	return r;
}

int precompile_node(const struct precompile_node_spec *s, const struct lm_image *base, struct cache *c,
		    struct lm_tree *trees, char *const *roots, size_t ntrees, char *const *cmd, size_t ncmd,
		    const struct lm_opts *o, const char *workdir, int *made, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	struct lm_buf entries, flags;
	struct pn_flags *sets = NULL;
	size_t nsets = 0, nentries = 0, nfiles = 0, nseen = 0, seencap = 0, target;
	char **env = NULL, **seen = NULL;
	char *root = NULL, *node = NULL, *tmp = NULL, *app = NULL, *io = NULL, *scratch = NULL, *dir = NULL;
	char *res = NULL, *cur, *f[5];
	const char *task_root;
	const long *uids = s->uids ? s->uids : default_uids;
	size_t nuids = s->uids ? s->nuids : sizeof(default_uids) / sizeof(default_uids[0]), nf, len;
	long uid = -1;
	int ret = -1, logfd = -1, status, deterministic = 1, have_node = 0;

	*made = 0;
	buf_init(&entries, 0);
	buf_init(&flags, 0);
	if (!s->set || !s->compile_cache)
		return 0;
	if (ntrees == 0)
		return 0;
	dir = tree_norm_path(precompile_node_dir(s));
	if (!dir) {
		lm_err_set(err, LM_E_INPUT, "precompile.node.dir '%s' is not a directory below '/'", precompile_node_dir(s));
		goto out;
	}
	for (size_t t = 0; t < ntrees; t++) {
		size_t dl = strlen(dir);
		tree_finish(&trees[t]);
		for (size_t i = 0; i < trees[t].n; i++) {
			const struct lm_entry *e = &trees[t].v[i];
			if (!e->removed && strncmp(e->path, dir, dl) == 0 && (e->path[dl] == '/' || !e->path[dl])) {
				lm_err_set(err, LM_E_INPUT,
					   "precompile.node.dir '/%s': the app layers already have '/%s' (exclude it or "
					   "choose another dir)",
					   dir, e->path);
				goto out;
			}
		}
	}

	if (oci_config_parse(base->config_raw, base->config_len, &cfg, err) < 0) {
		lm_err_wrap(err, "precompile: node: base image config");
		goto out;
	}
	oci_config_view_get(cfg, &view);
	env = sandbox_env(view.env, view.nenv, NULL, 0);
	task_root = sandbox_env_get(env, "LAMBDA_TASK_ROOT");
	if (!task_root || task_root[0] != '/')
		task_root = "/var/task";
	if (!cmd && view.cmd) {
		cmd = view.cmd;
		ncmd = view.ncmd;
	}
	make_entries(s, trees, ntrees, task_root, cmd, ncmd, o, &entries, &nentries);
	if (nentries == 0) {
		ret = 0; /* no handler module and no packages: nothing to compile */
		goto out;
	}
	sets = flag_sets(s, &nsets);
	for (size_t i = 0; i < nsets; i++) {
		for (size_t j = 0; j < sets[i].n; j++) {
			buf_appends(&flags, j ? "\t" : "");
			buf_appends(&flags, sets[i].v[j]);
		}
		buf_appends(&flags, "\n");
	}

	root = rootfs_get(c, base->manifest.layers, base->manifest.nlayers, err);
	if (!root) {
		lm_err_wrap(err, "precompile: node: root filesystem of the base image");
		goto out;
	}
	if (!(tmp = lm_mkdtemp(workdir, "precompile-node-", err)))
		goto out;
	app = lm_path_join(tmp, "app");
	io = lm_path_join(tmp, "io");
	scratch = lm_path_join(tmp, "scratch");
	if (lm_mkdir_p(app, err) < 0 || lm_mkdir_p(io, err) < 0 || lm_mkdir_p(scratch, err) < 0)
		goto out;
	if (stage_trees(app, trees, ntrees, err) < 0) {
		lm_err_wrap(err, "precompile: node");
		goto out;
	}
	node = find_node(root, app, env);
	if (!node) {
		lm_err_set(err, LM_E_INPUT,
			   "precompile.node: the image has no node (no /var/lang/bin/node, no node on its PATH)");
		goto out;
	}
	if (write_io(io, "entries", entries.data, entries.len, err) < 0 ||
	    write_io(io, "flags", flags.data, flags.len, err) < 0 ||
	    write_io(io, "gen.js", gen_js, sizeof(gen_js) - 1, err) < 0)
		goto out;
	{
		char *logp = lm_path_join(io, "log");
		logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		free(logp);
		if (logfd < 0) {
			lm_err_sys(err, "precompile: node: create log");
			goto out;
		}
	}
	{
		int given = s->nmemory_sizes + s->nnode_args > 0;
		char *argv[] = { node, "-e", (char *)driver_js, SANDBOX_IO, DET_SEED, given ? "given" : "default", NULL };
		struct sandbox_spec sp = { .rootfs = root, .overlay = app, .io = io, .scratch = scratch, .argv = argv,
					   .env = env, .workdir = task_root, .stdout_fd = logfd, .stderr_fd = logfd };
		if (sandbox_run(&sp, &status, err) < 0) {
			lm_err_wrap(err, "precompile: node");
			goto out;
		}
	}
	{
		char *rp = lm_path_join(io, "res");
		struct lm_err e2 = LM_ERR_INIT;
		int r = status == 0 ? lm_read_file(rp, (size_t)1 << 20, &res, &len, &e2) : -1;
		free(rp);
		lm_err_release(&e2);
		if (r < 0) {
			char *tail = log_tail(io);
			lm_err_set(err, LM_E_GENERIC, "precompile: node: '%s' in the image exited with status %d%s%s", node,
				   status, *tail ? ":\n" : "", tail);
			free(tail);
			goto out;
		}
	}
	cur = res;
	while ((nf = next_line(&cur, f, 5)) > 0) {
		if (strcmp(f[0], "node") == 0 && nf >= 4) {
			uid = strtol(f[2], NULL, 10);
			if (strcmp(f[3], "1") != 0) {
				lm_err_set(err, LM_E_INPUT,
					   "precompile.node: node %s in the image has no compile cache (Node.js 22.1 or later "
					   "has)",
					   f[1]);
				goto out;
			}
			have_node = 1;
		} else if (strcmp(f[0], "boot") == 0) {
			lm_err_set(err, LM_E_INPUT,
				   "precompile.node.memorySizes: the base image's /var/runtime/bootstrap starts node with "
				   "V8 heap flags taken from the function's memory size, and node uses a compile cache only "
				   "when it was made with the same flags: list the memory sizes (MB) the function runs with, "
				   "e.g. \"memorySizes\": [1024], or give \"nodeArgs\"");
			goto out;
		} else if (strcmp(f[0], "bad") == 0 && nf >= 3) {
			size_t i = strtoul(f[1], NULL, 10);
			char *line = NULL;
			for (size_t j = 0; i < nsets && j < sets[i].n; j++) {
				char *t = lm_asprintf("%s%s%s", line ? line : "", j ? " " : "", sets[i].v[j]);
				free(line);
				line = t;
			}
			lm_err_set(err, LM_E_INPUT, "precompile.node: node rejects the flags '%s': %s", line ? line : "", f[2]);
			free(line);
			goto out;
		} else if (strcmp(f[0], "set") == 0 && nf >= 4) {
			if (strcmp(f[3], "0") != 0) {
				char *tail = log_tail(io);
				lm_err_set(err, LM_E_GENERIC, "precompile: node: loading the app with flag set %s failed (%s)%s%s",
					   f[1], f[3], *tail ? ":\n" : "", tail);
				free(tail);
				goto out;
			}
			deterministic &= strcmp(f[2], "1") == 0;
		}
	}
	if (!have_node) {
		lm_err_set(err, LM_E_INTERNAL, "precompile: node: no result from the driver");
		goto out;
	}

	target = precompile_node_layer(dir, roots, ntrees);
	for (size_t i = 0; i < nsets; i++) {
		char *name = lm_asprintf("cache-%zu", i), *cd = lm_path_join(io, name);
		int r = add_cache(&trees[target], dir, cd, uid, uids, nuids, &seen, &nseen, &seencap, &nfiles, err);
		free(cd);
		free(name);
		if (r < 0) {
			lm_err_wrap(err, "precompile: node");
			goto out;
		}
	}
	report_entries(io, nentries, nfiles, nsets, o);
	if (!deterministic && !o->quiet)
		fprintf(stderr, "lamina: precompile: node: warning: this node counts --predictable in V8's flag hash, so "
				"the cache was made without it and its files may differ between builds\n");
	*made = nfiles > 0;
	ret = 0;
out:
	if (logfd >= 0)
		close(logfd);
	/* the staged app is no longer needed; the cache files (in io) are */
	if (app)
		lm_rm_rf_quiet(app);
	for (size_t i = 0; i < nsets; i++)
		pn_flags_release(&sets[i]);
	free(sets);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	buf_release(&entries);
	buf_release(&flags);
	sandbox_env_free(env);
	oci_config_view_release(&view);
	oci_config_free(cfg);
	free(res);
	free(root);
	free(node);
	free(tmp);
	free(app);
	free(io);
	free(scratch);
	free(dir);
	return ret;
}
