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
#include "run/imagerun.h"
#include "run/sandbox.h"
#include "run/scripts.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

/* The seed for --random-seed (any fixed value; V8 excludes it from the flag hash). */
#define DET_SEED "1"

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
			 const char *task_root, char *const *cmd, size_t ncmd, struct precompile_result *res,
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
		if (img && !found)
			precompile_result_add(res, lm_asprintf("lamina: precompile: node: warning: no /%s.js, .mjs or .cjs "
							       "in the app layers for handler '%s'",
							       img, cmd[0]));
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


/* Adds the cache files of one flag set (cache-<i>/<tag>/<files> in the run's output) to t
 * under dir as <tag base>-<uids[0]>, with symlinks for the other uids; the files are
 * copied out through imagerun's checks into hostdir. Tags already added (seen) are
 * skipped. Adds to *nfiles. */
static int add_cache(struct lm_tree *t, const char *dir, const struct imagerun_out *out, size_t set,
		     const char *hostdir, long uid, const long *uids, size_t nuids, char ***seen, size_t *nseen,
		     size_t *seencap, size_t *nfiles, struct lm_err *err)
{
	char *cachedir = lm_asprintf("cache-%zu", set), **tags = NULL;
	size_t ntags = 0;
	int ret = -1;
	if (imagerun_type(out, cachedir) == 0) {
		ret = 0; /* nothing was compiled */
		goto out;
	}
	if (imagerun_list(out, cachedir, 64, &tags, &ntags, err) < 0)
		goto out;
	for (size_t ti = 0; ti < ntags; ti++) {
		char *base = NULL, *real, *sub, **files = NULL;
		size_t nf = 0, added = 0;
		int dup = 0, split;
		if (tags[ti][0] == '.')
			continue;
		split = precompile_node_split_tag(tags[ti], uid, &base);
		real = split ? lm_asprintf("%s-%ld", base, uids[0]) : lm_xstrdup(tags[ti]);
		for (size_t j = 0; j < *nseen && !dup; j++)
			dup = strcmp((*seen)[j], real) == 0;
		if (dup) {
			free(real);
			free(base);
			continue;
		}
		sub = lm_path_join(cachedir, tags[ti]);
		if (imagerun_list(out, sub, 1 << 20, &files, &nf, err) < 0) {
			free(sub);
			free(real);
			free(base);
			goto out;
		}
		for (size_t k = 0; k < nf; k++) {
			char *rel, *host, *img;
			uint64_t size = 0;
			if (files[k][0] == '.' || strchr(files[k], '.'))
				continue; /* node's temporary files */
			rel = lm_path_join(sub, files[k]);
			host = lm_asprintf("%s/%zu-%zu-%s", hostdir, set, ti, files[k]);
			img = lm_asprintf("%s/%s/%s", dir, real, files[k]);
			if (imagerun_type(out, rel) == 'f') {
				if (imagerun_copy_out(out, rel, host, (uint64_t)256 << 20, &size, err) < 0) {
					free(rel);
					free(host);
					free(img);
					imagerun_names_free(files);
					free(sub);
					free(real);
					free(base);
					goto out;
				}
				struct lm_entry *e = tree_add(t, LM_F_REG, img, host, NULL, 0644, size);
				e->generated = 1;
				(*nfiles)++;
				added++;
			}
			free(rel);
			free(host);
			free(img);
		}
		imagerun_names_free(files);
		if (added && split)
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
	imagerun_names_free(tags);
	free(cachedir);
	return ret;
}

/* What the generator could not load (from the first flag set's results), for res. */
static void report_entries(const struct imagerun_out *out, size_t nentries, size_t nfiles, size_t nsets,
			   struct precompile_result *res)
{
	char *text = NULL, *cur, *f[3];
	size_t len, nok = 0, nnone = 0, nerr = 0, nf;
	struct lm_err e = LM_ERR_INIT;
	struct lm_buf msg;
	buf_init(&msg, 0);
	if (imagerun_read(out, "gen-0", (size_t)16 << 20, &text, &len, &e) < 0)
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
	if (nerr)
		precompile_result_add(res, lm_asprintf("lamina: precompile: node: warning: %zu of %zu entries did not load "
						       "(what they loaded before failing is cached):%s%s",
						       nerr, nentries, msg.data ? msg.data : "", nerr > 20 ? "\n  ..." : ""));
	precompile_result_add(res, lm_asprintf("precompile: node: %zu cache files for %zu flag set%s (%zu of %zu entries "
					       "loaded, %zu without a JavaScript entry point)",
					       nfiles, nsets, nsets == 1 ? "" : "s", nok, nentries, nnone));
	buf_release(&msg);
	free(text);
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

int precompile_node(const struct precompile_node_spec *s, const struct lm_image *base, struct cache *c,
		    struct lm_tree *trees, char *const *roots, size_t ntrees, char *const *cmd, size_t ncmd,
		    const struct lm_opts *o, const char *workdir, int *made, struct precompile_result *res,
		    struct lm_err *err)
{
	struct imagerun *ir = NULL;
	struct imagerun_out out = { 0, -1, NULL };
	struct imagerun_opts io = { workdir, NULL, 0 };
	struct lm_buf entries, flags;
	struct pn_flags *sets = NULL;
	size_t nsets = 0, nentries = 0, nfiles = 0, nseen = 0, seencap = 0, target;
	char **seen = NULL;
	char *node = NULL, *dir = NULL, *resl = NULL, *hostdir = NULL, *cur, *f[5];
	const char *task_root, *overlay;
	const long *uids = s->uids ? s->uids : default_uids;
	size_t nuids = s->uids ? s->nuids : sizeof(default_uids) / sizeof(default_uids[0]), nf, len;
	long uid = -1;
	int ret = -1, deterministic = 1, have_node = 0;

	(void)o;
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
	if (imagerun_open(&ir, base, c, &io, err) < 0) {
		lm_err_wrap(err, "precompile: node");
		goto out;
	}
	task_root = imagerun_getenv(ir, "LAMBDA_TASK_ROOT");
	if (!task_root || task_root[0] != '/')
		task_root = "/var/task";
	if (!cmd && imagerun_config(ir)->cmd) {
		cmd = imagerun_config(ir)->cmd;
		ncmd = imagerun_config(ir)->ncmd;
	}
	make_entries(s, trees, ntrees, task_root, cmd, ncmd, res, &entries, &nentries);
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
	/* the whole app, at its image paths (links: node reads every file) */
	if (!(overlay = imagerun_overlay(ir, err)))
		goto out;
	for (size_t t = 0; t < ntrees; t++)
		if (tree_materialize(&trees[t], overlay, NULL, err) < 0) {
			lm_err_wrap(err, "precompile: node: stage");
			goto out;
		}
	node = imagerun_find(ir, "node", overlay);
	if (!node) {
		lm_err_set(err, LM_E_INPUT,
			   "precompile.node: the image has no node (no /var/lang/bin/node, no node on its PATH)");
		goto out;
	}
	{
		int given = s->nmemory_sizes + s->nnode_args > 0;
		char *argv[] = { node, SANDBOX_IO "/node_driver.js", SANDBOX_IO, DET_SEED, given ? "given" : "default",
				 NULL };
		struct imagerun_file files[] = {
			{ "node_driver.js", lm_script_node_driver_js, lm_script_node_driver_js_len },
			{ "node_gen.js", lm_script_node_gen_js, lm_script_node_gen_js_len },
			{ "entries", entries.data ? entries.data : "", entries.len },
			{ "flags", flags.data ? flags.data : "", flags.len },
		};
		struct imagerun_call call = { .argv = argv, .overlay = overlay, .workdir = task_root, .files = files,
					      .nfiles = 4 };
		if (imagerun_exec(ir, &call, &out, err) < 0) {
			lm_err_wrap(err, "precompile: node");
			goto out;
		}
	}
	{
		struct lm_err e2 = LM_ERR_INIT;
		int r = out.status == 0 ? imagerun_read(&out, "res", (size_t)1 << 20, &resl, &len, &e2) : -1;
		if (r < 0) {
			char *tail = imagerun_log_tail(&out, 4000);
			if (e2.code == LM_E_VERIFY)
				lm_err_set(err, LM_E_VERIFY, "precompile: node: %s", e2.msg);
			else
				lm_err_set(err, LM_E_GENERIC, "precompile: node: '%s' in the image exited with status %d%s%s",
					   node, out.status, *tail ? ":\n" : "", tail);
			lm_err_release(&e2);
			free(tail);
			goto out;
		}
	}
	cur = resl;
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
				char *tail = imagerun_log_tail(&out, 4000);
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
	if (!(hostdir = lm_mkdtemp(workdir, "node-cache", err)))
		goto out;
	target = precompile_node_layer(dir, roots, ntrees);
	for (size_t i = 0; i < nsets; i++)
		if (add_cache(&trees[target], dir, &out, i, hostdir, uid, uids, nuids, &seen, &nseen, &seencap, &nfiles,
			      err) < 0) {
			lm_err_wrap(err, "precompile: node");
			goto out;
		}
	report_entries(&out, nentries, nfiles, nsets, res);
	if (!deterministic)
		precompile_result_add(res, lm_xstrdup("lamina: precompile: node: warning: this node counts --predictable in "
						     "V8's flag hash, so the cache was made without it and its files "
						     "may differ between builds"));
	*made = nfiles > 0;
	ret = 0;
out:
	imagerun_out_release(&out);
	imagerun_close(ir);
	for (size_t i = 0; i < nsets; i++)
		pn_flags_release(&sets[i]);
	free(sets);
	for (size_t i = 0; i < nseen; i++)
		free(seen[i]);
	free(seen);
	buf_release(&entries);
	buf_release(&flags);
	free(resl);
	free(node);
	free(dir);
	free(hostdir);
	return ret;
}
