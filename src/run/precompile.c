/* precompile.c - .pyc for the app layers, made by the image's own interpreter.
 *
 * Each source's .pyc is first looked up in the action cache under the key of
 * everything it depends on (the source's content, its path in the image, the base's
 * layers, i.e. the interpreter, the invalidation mode, optimize, sourceless, the file
 * time): a one-line change compiles one file. The others are copied (not linked: a link
 * changes the source's ctime, which the stat cache reads) at their image paths into an
 * overlay, and one sandboxed run of the image's interpreter (scripts/precompile.py)
 * compiles them with `jobs` workers. The .pyc come back through imagerun's checked
 * reader into files of lamina's, and go into the cache. The .pyc's timestamp is the
 * build epoch (the mtime every file gets in the layer), not the staged file's mtime, so
 * timestamp .pyc stay valid once the layer is unpacked. */
#include "run/precompile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/str.h"
#include "image/acache.h"
#include "run/imagerun.h"
#include "run/sandbox.h"
#include "run/scripts.h"

/* Raise when precompile.py's output changes for the same inputs. */
#define PYC_FORMAT 1
/* A .pyc larger than this is not one (the largest in CPython's stdlib is under 1 MiB). */
#define PYC_MAX ((uint64_t)64 << 20)

static const char *const mode_names[] = { "unchecked-hash", "checked-hash", "timestamp" };

int precompile_is_third_party(const char *path)
{
	return strstr(path, "site-packages/") != NULL || strstr(path, "dist-packages/") != NULL;
}

void precompile_result_release(struct precompile_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}

void precompile_result_add(struct precompile_result *r, char *w)
{
	lm_grow((void **)&r->warnings, &r->capwarnings, r->nwarnings + 1, sizeof(*r->warnings));
	r->warnings[r->nwarnings++] = w;
}

int precompile_parse_line(char *line, size_t n, struct precompile_line *out)
{
	char *f[4] = { 0 }, *end;
	size_t nf = 0;
	for (char *p = line; nf < 4;) {
		f[nf++] = p;
		char *t = nf < 4 ? strchr(p, '\t') : NULL;
		if (!t)
			break;
		*t = '\0';
		p = t + 1;
	}
	memset(out, 0, sizeof(*out));
	if (nf < 3 || !*f[1])
		return -1;
	out->idx = strtoul(f[1], &end, 10);
	if (*end || out->idx >= n)
		return -1;
	if (strcmp(f[0], "ok") == 0) {
		out->ok = 1;
		out->pyc = f[2];
		return *f[2] == '/' ? 0 : -1;
	}
	if (strcmp(f[0], "err") != 0)
		return -1;
	out->line = f[2];
	out->msg = nf > 3 ? f[3] : "";
	return 0;
}

void precompile_key(const struct precompile_spec *s, const struct lm_image *base, int64_t epoch, const char *path,
		    const char *digest, char key[LM_DIGEST_LEN])
{
	struct ac_key k;
	ac_key_init(&k, "pyc");
	ac_key_u64(&k, PYC_FORMAT);
	ac_key_u64(&k, base->manifest.nlayers);
	for (size_t i = 0; i < base->manifest.nlayers; i++)
		ac_key_str(&k, base->manifest.layers[i].digest);
	ac_key_u64(&k, (uint64_t)s->invalidation);
	ac_key_u64(&k, (uint64_t)s->optimize);
	ac_key_u64(&k, (uint64_t)s->sourceless);
	ac_key_u64(&k, s->invalidation == PYC_TIMESTAMP ? (uint64_t)epoch : 0);
	ac_key_str(&k, path);
	ac_key_str(&k, digest);
	ac_key_final(&k, key);
}

struct src {
	size_t tree, entry;
	char key[LM_DIGEST_LEN];
};

/* Adds the .pyc (image path pyc, host file host of size bytes, digest when known) for
 * source v to its tree. */
static void add_pyc(const struct precompile_spec *s, struct lm_tree *trees, const struct src *v, const char *pyc,
		    const char *host, uint64_t size, const char *digest, int from_cache)
{
	struct lm_tree *t = &trees[v->tree];
	struct lm_entry *e = tree_add(t, LM_F_REG, pyc, host, NULL, 0644, size);
	e->generated = 1;
	e->from_cache = from_cache;
	if (digest)
		snprintf(e->digest, sizeof(e->digest), "%s", digest);
	if (s->sourceless)
		t->v[v->entry].removed = 1;
}

/* A record: "<pyc digest> <size> <pyc path in the image>". */
static int cached_pyc(struct cache *c, const struct precompile_spec *s, struct lm_tree *trees, const struct src *v,
		      unsigned *corrupt)
{
	char *rec = NULL, dg[LM_DIGEST_LEN], *blob;
	unsigned long long size;
	int off = 0, bad = 0, ok = 0;
	if (ac_get(c, v->key, &rec, NULL, &bad) != 1) {
		*corrupt += (unsigned)bad;
		return 0;
	}
	if (sscanf(rec, "%71s %llu %n", dg, &size, &off) == 2 && off > 0 && digest_valid(dg) && rec[off] &&
	    cache_has(c, dg, (int64_t)size)) {
		char *pyc = tree_norm_path(rec + off);
		if (pyc) {
			blob = cache_blob_path(c, dg);
			add_pyc(s, trees, v, pyc, blob, size, dg, 1);
			free(blob);
			free(pyc);
			ok = 1;
		}
	}
	if (!ok) {
		ac_del(c, v->key);
		(*corrupt)++;
	}
	free(rec);
	return ok;
}

static void record_pyc(struct cache *c, const struct src *v, const struct lm_entry *pyc)
{
	struct lm_err e = LM_ERR_INIT;
	char dg[LM_DIGEST_LEN], *rec;
	/* a .pyc that cannot be kept is compiled again next time; nothing else is lost */
	if (cache_put_file(c, pyc->src, dg, &e) == 0) {
		rec = lm_asprintf("%s %llu /%s", dg, (unsigned long long)pyc->size, pyc->path);
		ac_put(c, v->key, rec, strlen(rec), &e);
		free(rec);
	}
	lm_err_release(&e);
}

/* Reads every worker's results: adds the .pyc to the trees, warnings to res, and fails
 * listing every first-party file that does not compile. */
static int read_results(struct imagerun_out *out, int jobs, const char *pycdir, struct lm_tree *trees,
			struct src *v, size_t n, const struct precompile_spec *s, struct cache *c,
			struct precompile_result *res, struct lm_err *err)
{
	struct lm_buf errs;
	size_t nerr = 0;
	int ret = -1;

	buf_init(&errs, 0);
	for (int w = 0; w < jobs; w++) {
		char *name = lm_asprintf("res.%d", w), *text = NULL, *save = NULL;
		size_t len;
		int r = imagerun_read(out, name, (size_t)64 << 20, &text, &len, err);
		free(name);
		if (r < 0) {
			lm_err_wrap(err, "precompile worker %d", w);
			goto out;
		}
		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			struct precompile_line pl;
			char *copy = lm_xstrdup(line);
			if (precompile_parse_line(line, n, &pl) < 0) {
				lm_err_set(err, LM_E_INTERNAL, "precompile: bad result line '%.200s'", copy);
				free(copy);
				free(text);
				goto out;
			}
			free(copy);
			const struct lm_entry *src = &trees[v[pl.idx].tree].v[v[pl.idx].entry];
			if (pl.ok) {
				char *pyc = tree_norm_path(pl.pyc), *rel = lm_asprintf("pyc/%zu", pl.idx);
				char *host = lm_asprintf("%s/%zu", pycdir, pl.idx);
				uint64_t size = 0;
				int cr = pyc ? imagerun_copy_out(out, rel, host, PYC_MAX, &size, err) : -1;
				if (!pyc && cr < 0)
					lm_err_set(err, LM_E_INTERNAL, "precompile: bad .pyc path for '/%s'", src->path);
				free(rel);
				if (cr < 0) {
					lm_err_wrap(err, "precompile: .pyc of '/%s'", src->path);
					free(pyc);
					free(host);
					free(text);
					goto out;
				}
				add_pyc(s, trees, &v[pl.idx], pyc, host, size, NULL, 0);
				if (c) {
					struct lm_tree *t = &trees[v[pl.idx].tree];
					record_pyc(c, &v[pl.idx], &t->v[t->n - 1]);
				}
				free(pyc);
				free(host);
			} else if (precompile_is_third_party(src->path)) {
				/* like pip: third-party code that does not compile (py2 leftovers, templates
				 * named .py) is left as source; importing it fails the same either way */
				precompile_result_add(res, lm_asprintf("skipped '/%s' line %s: %s", src->path, pl.line, pl.msg));
			} else {
				char *m = lm_asprintf("%s%s:%s: %s (/%s in the image)", nerr ? "\n  " : "",
						      src->src ? src->src : src->path, pl.line, pl.msg, src->path);
				buf_appends(&errs, m);
				free(m);
				nerr++;
			}
		}
		free(text);
	}
	if (nerr) {
		lm_err_set(err, LM_E_INPUT, "%zu file%s do%s not compile:\n  %s", nerr, nerr == 1 ? "" : "s",
			   nerr == 1 ? "es" : "", errs.data);
		goto out;
	}
	ret = 0;
out:
	buf_release(&errs);
	return ret;
}

/* Copies the sources to compile at their image paths into the overlay and writes the
 * list precompile.py reads: "index<TAB>path" records, NUL-separated. */
static int stage(const char *overlay, struct lm_tree *trees, const struct src *v, size_t n, struct lm_buf *list,
		 struct lm_err *err)
{
	for (size_t k = 0; k < n; k++) {
		const struct lm_entry *e = &trees[v[k].tree].v[v[k].entry];
		char *dst = lm_path_join(overlay, e->path), *dir = lm_path_dirname(dst), *line;
		int r = lm_mkdir_p(dir, err) == 0 && tree_copy_file(e->src, dst, 0644, err) == 0 ? 0 : -1;
		free(dst);
		free(dir);
		if (r < 0)
			return lm_err_wrap(err, "precompile: stage '/%s'", e->path);
		line = lm_asprintf("%zu\t/%s", k, e->path);
		buf_append(list, line, strlen(line) + 1);
		free(line);
	}
	return 0;
}

int precompile_python(const struct precompile_spec *s, const struct lm_image *base, struct cache *c,
		      struct lm_tree *trees, size_t ntrees, const struct lm_opts *o, const char *workdir,
		      struct precompile_result *res, struct lm_err *err)
{
	struct imagerun *ir = NULL;
	struct imagerun_out out = { 0, -1, NULL };
	struct imagerun_opts io = { workdir, NULL, 0 };
	char *extra[] = { "PYTHONDONTWRITEBYTECODE=1" };
	struct src *v = NULL;
	struct lm_buf list;
	size_t n = 0, cap = 0, ncached = 0;
	char *python = NULL, *pycdir = NULL;
	const char *overlay;
	int ret = -1;
	int jobs = s->jobs > 0 ? s->jobs : o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);

	buf_init(&list, 0);
	if (s->set && !s->enabled)
		return 0;
	if (jobs < 1)
		jobs = 1;
	if (s->optimize < 0 || s->optimize > 2)
		return lm_err_set(err, LM_E_INPUT, "precompile: optimize must be 0, 1 or 2");
	for (size_t t = 0; t < ntrees; t++)
		for (size_t i = 0; i < trees[t].n; i++) {
			const struct lm_entry *e = &trees[t].v[i];
			if (e->type != LM_F_REG || e->removed || !lm_str_endswith(e->path, ".py") || !e->src ||
			    strpbrk(e->path, "\t\n\r"))
				continue;
			lm_grow((void **)&v, &cap, n + 1, sizeof(*v));
			v[n].tree = t;
			v[n].entry = i;
			n++;
		}
	if (n == 0)
		return 0;

	io.env = extra;
	io.nenv = 1;
	if (imagerun_open(&ir, base, c, &io, err) < 0) {
		lm_err_wrap(err, "precompile");
		goto out;
	}
	python = imagerun_find(ir, "python3", NULL);
	if (!python) {
		if (!s->set) {
			ret = 0; /* default: only when the base has Python */
			goto out;
		}
		lm_err_set(err, LM_E_INPUT,
			   "precompile: the base image has no Python interpreter (no /var/lang/bin/python3, no python3 "
			   "on its PATH)");
		goto out;
	}
	/* what the cache has is not compiled again */
	if (!s->no_cache) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			struct lm_entry *e = &trees[v[i].tree].v[v[i].entry];
			uint64_t size;
			if (!e->digest[0] && digest_file(e->src, e->digest, &size, err) < 0)
				goto out;
			precompile_key(s, base, o->epoch, e->path, e->digest, v[i].key);
			if (cached_pyc(c, s, trees, &v[i], &res->corrupt))
				ncached++;
			else
				v[k++] = v[i];
		}
		n = k;
	}
	res->cached = ncached;
	res->compiled = n;
	if (n == 0) {
		ret = 0;
		goto out;
	}
	if ((size_t)jobs > n)
		jobs = (int)n;
	if (!(overlay = imagerun_overlay(ir, err)) || stage(overlay, trees, v, n, &list, err) < 0)
		goto out;
	if (!(pycdir = lm_mkdtemp(workdir, "pyc", err)))
		goto out;
	{
		char a_opt[16], a_epoch[32], a_jobs[16];
		snprintf(a_opt, sizeof(a_opt), "%d", s->optimize);
		snprintf(a_epoch, sizeof(a_epoch), "%lld", (long long)o->epoch);
		snprintf(a_jobs, sizeof(a_jobs), "%d", jobs);
		char *argv[] = { python, "-I", "-S", "-B", SANDBOX_IO "/precompile.py", SANDBOX_IO,
				 (char *)mode_names[s->invalidation], a_opt, s->sourceless ? "1" : "0", a_epoch, a_jobs,
				 NULL };
		struct imagerun_file files[] = {
			{ "precompile.py", lm_script_precompile_py, lm_script_precompile_py_len },
			{ "list", list.data, list.len },
		};
		struct imagerun_call call = { .argv = argv, .overlay = overlay, .workdir = "/", .files = files,
					      .nfiles = 2 };
		if (imagerun_exec(ir, &call, &out, err) < 0) {
			lm_err_wrap(err, "precompile");
			goto out;
		}
	}
	if (out.status != 0) {
		char *tail = imagerun_log_tail(&out, 1 << 16);
		lm_err_set(err, LM_E_GENERIC, "precompile: '%s' in the image exited with status %d%s%s", python, out.status,
			   *tail ? ":\n" : "", tail);
		free(tail);
		goto out;
	}
	if (read_results(&out, jobs, pycdir, trees, v, n, s, s->no_cache ? NULL : c, res, err) < 0)
		goto out;
	ret = 0;
out:
	imagerun_out_release(&out);
	imagerun_close(ir);
	buf_release(&list);
	free(v);
	free(python);
	free(pycdir);
	return ret;
}
