/* model.c - the report's data, its sorting, Lambda's limits and the recommendation. */
#include "report/model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"
#include "prune/pkgid.h"
#include "zip/sizereport.h"

void report_init(struct report *r)
{
	memset(r, 0, sizeof(*r));
}

static void deltas_free(struct report_delta *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].layer);
		free(v[i].name);
	}
	free(v);
}

void report_release(struct report *r)
{
	if (!r)
		return;
	free(r->source);
	free(r->digest);
	free(r->runtime);
	for (size_t i = 0; i < r->nlayers; i++) {
		free(r->layers[i].name);
		free(r->layers[i].digest);
	}
	free(r->layers);
	for (size_t i = 0; i < r->npkgs; i++) {
		free(r->pkgs[i].name);
		free(r->pkgs[i].eco);
		free(r->pkgs[i].layer);
	}
	free(r->pkgs);
	for (size_t i = 0; i < r->nfiles; i++) {
		free(r->files[i].path);
		free(r->files[i].layer);
	}
	free(r->files);
	deltas_free(r->rules, r->nrules);
	deltas_free(r->ppkgs, r->nppkgs);
	deltas_free(r->players, r->nplayers);
	free(r->zip_kind);
	free(r->zip_error);
	free(r->recommendation);
	for (size_t i = 0; i < r->nimports; i++)
		free(r->imports[i].module);
	free(r->imports);
	for (size_t i = 0; i < r->nzfiles; i++) {
		free(r->zfiles[i].layer);
		free(r->zfiles[i].path);
	}
	free(r->zfiles);
	report_init(r);
}

struct report_layer *report_add_layer(struct report *r, const char *name, const char *digest, int base, uint64_t size,
				      uint64_t usize)
{
	struct report_layer *l;
	r->layers = lm_xrealloc(r->layers, (r->nlayers + 1) * sizeof(*r->layers));
	l = &r->layers[r->nlayers++];
	memset(l, 0, sizeof(*l));
	l->name = lm_xstrdup(name);
	l->digest = digest ? lm_xstrdup(digest) : NULL;
	l->base = base;
	l->size = size;
	l->usize = usize;
	return l;
}

void report_add_file(struct report *r, const char *layer, const char *path, uint64_t size)
{
	size_t at;
	if (!r->files)
		r->files = lm_xcalloc(REPORT_TOP_FILES + 1, sizeof(*r->files));
	if (r->nfiles == REPORT_TOP_FILES && size <= r->files[REPORT_TOP_FILES - 1].size)
		return;
	/* insertion into the sorted top list: biggest first, equal sizes in arrival order */
	at = r->nfiles;
	while (at > 0 && r->files[at - 1].size < size)
		at--;
	if (r->nfiles == REPORT_TOP_FILES) {
		free(r->files[REPORT_TOP_FILES - 1].path);
		free(r->files[REPORT_TOP_FILES - 1].layer);
		r->nfiles--;
	}
	memmove(&r->files[at + 1], &r->files[at], (r->nfiles - at) * sizeof(*r->files));
	r->files[at].path = lm_xstrdup(path);
	r->files[at].layer = lm_xstrdup(layer);
	r->files[at].size = size;
	r->nfiles++;
}

void report_add_pkg(struct report *r, const char *layer, const char *name, const char *eco, uint64_t usize,
		    uint64_t zsize)
{
	struct report_pkg *p = NULL;
	/* the last one added is the likeliest: files of a package come together in a tar */
	for (size_t i = r->npkgs; i-- > 0 && !p;)
		if (strcmp(r->pkgs[i].name, name) == 0 && strcmp(r->pkgs[i].layer, layer) == 0)
			p = &r->pkgs[i];
	if (!p) {
		lm_grow((void **)&r->pkgs, &r->cappkgs, r->npkgs + 1, sizeof(*r->pkgs));
		p = &r->pkgs[r->npkgs++];
		memset(p, 0, sizeof(*p));
		p->name = lm_xstrdup(name);
		p->eco = lm_xstrdup(eco ? eco : "");
		p->layer = lm_xstrdup(layer);
	} else if (eco && *eco && !*p->eco) {
		free(p->eco);
		p->eco = lm_xstrdup(eco);
	}
	p->files++;
	p->usize += usize;
	p->zsize += zsize;
}

struct report_delta *report_add_delta(struct report_delta **v, size_t *n, const char *layer, const char *name)
{
	struct report_delta *d;
	*v = lm_xrealloc(*v, (*n + 1) * sizeof(**v));
	d = &(*v)[(*n)++];
	memset(d, 0, sizeof(*d));
	d->layer = lm_xstrdup(layer ? layer : "");
	d->name = lm_xstrdup(name);
	return d;
}

void report_add_import(struct report *r, const char *module, double self_ms, double cum_ms)
{
	r->imports = lm_xrealloc(r->imports, (r->nimports + 1) * sizeof(*r->imports));
	r->imports[r->nimports].module = lm_xstrdup(module);
	r->imports[r->nimports].self_ms = self_ms;
	r->imports[r->nimports].cum_ms = cum_ms;
	r->nimports++;
	r->have_imports = 1;
}

static int cmp_pkg(const void *a, const void *b)
{
	const struct report_pkg *x = a, *y = b;
	if (x->usize != y->usize)
		return x->usize > y->usize ? -1 : 1;
	return strcmp(x->name, y->name);
}

static uint64_t saved(const struct report_delta *d, int m)
{
	return d->before[m] > d->after[m] ? d->before[m] - d->after[m] : 0;
}

/* biggest saving first; rows that saved nothing after them, biggest before */
static int cmp_delta(const void *a, const void *b)
{
	const struct report_delta *x = a, *y = b;
	uint64_t sx = saved(x, REPORT_U), sy = saved(y, REPORT_U);
	if (sx != sy)
		return sx > sy ? -1 : 1;
	if (x->before[REPORT_U] != y->before[REPORT_U])
		return x->before[REPORT_U] > y->before[REPORT_U] ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_import(const void *a, const void *b)
{
	const struct report_import *x = a, *y = b;
	if (x->cum_ms != y->cum_ms)
		return x->cum_ms > y->cum_ms ? -1 : 1;
	return strcmp(x->module, y->module);
}

static void limit(struct report *r, const char *name, const char *unit, const char *note, uint64_t value, uint64_t lim,
		  int hard)
{
	struct report_limit *l = &r->limits[r->nlimits++];
	l->name = name;
	l->unit = unit;
	l->note = note;
	l->value = value;
	l->limit = lim;
	l->ok = value <= lim;
	l->hard = hard;
}

void report_totals(const struct report *r, uint64_t *size, uint64_t *usize, uint64_t *base_size, uint64_t *base_usize)
{
	uint64_t s = 0, u = 0, bs = 0, bu = 0;
	for (size_t i = 0; i < r->nlayers; i++) {
		s += r->layers[i].size;
		u += r->layers[i].usize;
		if (r->layers[i].base) {
			bs += r->layers[i].size;
			bu += r->layers[i].usize;
		}
	}
	if (size)
		*size = s;
	if (usize)
		*usize = u;
	if (base_size)
		*base_size = bs;
	if (base_usize)
		*base_usize = bu;
}

static char *recommend(const struct report *r, const struct report_limit *img, const struct report_limit *up,
		       const struct report_limit *unz, const struct report_limit *nl)
{
	char a[32], b[32];
	if (img && !img->ok)
		return lm_asprintf("neither: the image is over Lambda's 10 GiB limit by %s",
				   lm_human_bytes(img->value - img->limit, a, sizeof(a)));
	if (!r->have_zip)
		return lm_xstrdup("image (the zip was not measured)");
	if (r->zip_error)
		return lm_asprintf("image: the app cannot be a %s zip (%s)", r->zip_kind ? r->zip_kind : "",
				   r->zip_error);
	if (!unz->ok)
		return lm_asprintf("image: a zip would be over the 250 MiB unzipped limit by %s",
				   lm_human_bytes(unz->value - unz->limit, a, sizeof(a)));
	if (!nl->ok)
		return lm_asprintf("image: a zip would need %llu Lambda layers, at most 5 are allowed",
				   (unsigned long long)nl->value);
	if (unz->limit - unz->value < unz->limit / 10)
		return lm_asprintf("image: the zip fits, but with only %s to spare before 250 MiB unzipped",
				   lm_human_bytes(unz->limit - unz->value, a, sizeof(a)));
	if (!up->ok)
		return lm_asprintf("zip through S3 (%s zipped is over the 50 MB direct upload), or the image",
				   lm_human_bytes(up->value, a, sizeof(a)));
	return lm_asprintf("zip: %s zipped, %s of 250 MiB unzipped; no image needed unless the app grows",
			   lm_human_bytes(up->value, a, sizeof(a)), lm_human_bytes(unz->value, b, sizeof(b)));
}

void report_finish(struct report *r)
{
	struct report_limit *img = NULL, *up = NULL, *unz = NULL, *nl = NULL;
	/* (qsort of NULL is undefined even for 0 elements) */
	if (r->npkgs)
		qsort(r->pkgs, r->npkgs, sizeof(*r->pkgs), cmp_pkg);
	if (r->nrules)
		qsort(r->rules, r->nrules, sizeof(*r->rules), cmp_delta);
	if (r->nppkgs)
		qsort(r->ppkgs, r->nppkgs, sizeof(*r->ppkgs), cmp_delta);
	if (r->nimports)
		qsort(r->imports, r->nimports, sizeof(*r->imports), cmp_import);
	while (r->nimports > REPORT_TOP_IMPORTS)
		free(r->imports[--r->nimports].module);
	r->nlimits = 0;
	if (r->nlayers) {
		uint64_t u;
		report_totals(r, NULL, &u, NULL, NULL);
		img = &r->limits[r->nlimits];
		limit(r, "image uncompressed", "bytes", "all layers together", u, LAMBDA_IMAGE_MAX, 1);
	}
	if (r->have_zip && !r->zip_error) {
		up = &r->limits[r->nlimits];
		limit(r, "zip direct upload", "bytes", "larger zips can be uploaded through S3", r->zip_size,
		      LAMBDA_ZIP_UPLOAD_MAX, 0);
		unz = &r->limits[r->nlimits];
		limit(r, "zip unzipped", "bytes",
		      r->others_usize ? "the function and all its layers together (the manifest's other layers "
					"counted as Lambda layers)"
				      : "the function and all its layers together",
		      r->zip_usize + r->others_usize, LAMBDA_ZIP_UNZIPPED_MAX, 1);
		nl = &r->limits[r->nlimits];
		limit(r, "Lambda layers", "layers", "a function uses at most 5 layers", r->lambda_layers, 5, 1);
	}
	free(r->recommendation);
	r->recommendation = recommend(r, img, up, unz, nl);
}

const char *report_pct(uint64_t part, uint64_t whole, char *buf, size_t bufsz)
{
	double p;
	if (!whole || !part) {
		snprintf(buf, bufsz, "0 %%");
		return buf;
	}
	p = 100.0 * (double)part / (double)whole;
	if (p < 0.05)
		snprintf(buf, bufsz, "<0.1 %%");
	else
		snprintf(buf, bufsz, "%.1f %%", p);
	return buf;
}

const char *report_verdict(const struct report_limit *l, char *buf, size_t bufsz)
{
	char h[32];
	int bytes = strcmp(l->unit, "bytes") == 0;
	uint64_t d = l->ok ? l->limit - l->value : l->value - l->limit;
	if (bytes)
		lm_human_bytes(d, h, sizeof(h));
	else
		snprintf(h, sizeof(h), "%llu", (unsigned long long)d);
	snprintf(buf, bufsz, l->ok ? "OK, %s to spare" : "over by %s", h);
	return buf;
}

const char *report_plural(uint64_t n, const char *one, const char *many, char *buf, size_t bufsz)
{
	snprintf(buf, bufsz, "%llu %s", (unsigned long long)n, n == 1 ? one : many);
	return buf;
}

/* "SQLAlchemy-1.4.dist-info" -> "sqlalchemy": normalised as pip does (lower case, '_'),
 * which is the import name of most distributions, so both count as one package */
static char *dist_name(const char *c, size_t len)
{
	size_t n = 0;
	char *s;
	while (n < len && c[n] != '-' && c[n] != '.')
		n++;
	s = lm_xstrndup(c, n);
	for (char *p = s; *p; p++)
		*p = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p == '-' ? '_' : *p;
	return s;
}

char *report_pkg_of(const char *path, const char **eco)
{
	static const char *const roots[] = { "site-packages/", "dist-packages/", NULL };
	const char *p = NULL, *q, *slash;
	char *npm;
	*eco = "";
	while (*path == '/')
		path++;
	/* npm: the package folder below the last node_modules/ (pkgid), of a file inside it */
	if ((npm = pkgid_npm_package(path))) {
		size_t n = strlen(npm), pl = strlen(path);
		/* the folder itself, with no file below it: path ends "node_modules/<npm>" */
		int folder = pl >= n + 13 && strncmp(path + pl - n - 13, "node_modules/", 13) == 0;
		if (*npm == '.' || (*npm == '@' && !strchr(npm, '/')) || folder) {
			free(npm);
			return NULL; /* node_modules/.bin/, node_modules/.package-lock.json and the like */
		}
		*eco = "npm";
		return npm;
	}
	for (size_t i = 0; roots[i]; i++)
		for (q = path; (q = strstr(q, roots[i])); q += strlen(roots[i]))
			p = q + strlen(roots[i]);
	if (!p && lm_str_startswith(path, "opt/python/"))
		p = path + 11;
	if (!p && lm_str_startswith(path, "var/task/"))
		p = path + 9;
	if (!p || !*p)
		return NULL;
	slash = strchr(p, '/');
	if (slash) {
		size_t len = (size_t)(slash - p);
		if ((len > 10 && strncmp(slash - 10, ".dist-info", 10) == 0) ||
		    (len > 9 && strncmp(slash - 9, ".egg-info", 9) == 0)) {
			*eco = "python";
			return dist_name(p, len);
		}
		if (len == 11 && strncmp(p, "__pycache__", 11) == 0) {
			/* __pycache__/six.cpython-311.pyc: the top-level module six */
			*eco = "python";
			return lm_xstrndup(slash + 1, strcspn(slash + 1, "./"));
		}
		if (strncmp(p, "node_modules", len) == 0)
			return NULL;
		*eco = strstr(path, "-packages/") || lm_str_startswith(path, "opt/python/") ? "python" : "";
		return lm_xstrndup(p, len);
	}
	/* a file at the top: a module ("six.py", "_cffi_backend.cpython-311-x86_64-linux-gnu.so") */
	if (lm_str_endswith(p, ".py") || lm_str_endswith(p, ".so") || lm_str_endswith(p, ".pth")) {
		*eco = "python";
		return lm_xstrndup(p, strcspn(p, "."));
	}
	return lm_xstrdup("(top-level files)");
}

char *report_layer_name(const char *created_by)
{
	static const char pre[] = "lamina: layer '";
	const char *s, *e;
	if (!created_by || strncmp(created_by, pre, sizeof(pre) - 1) != 0)
		return NULL;
	s = created_by + sizeof(pre) - 1;
	e = strstr(s, "' -> ");
	if (!e)
		e = strrchr(s, '\'');
	if (!e || e == s)
		return NULL;
	return lm_xstrndup(s, (size_t)(e - s));
}
