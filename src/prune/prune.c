/* prune.c - apply presets and user globs to a layer's tree, guard what remaining code
 * refers to, strip ELF debug info, and account for every byte. */
#include "prune/prune.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prune/elfstrip.h"
#include "common/glob.h"
#include "prune/jsscan.h"
#include "prune/pyscan.h"
#include "prune/slim.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

/* Source files larger than this are not scanned for imports (generated bundles). */
#define SCAN_MAX ((size_t)64 << 20)
/* Data files larger than this are not rewritten (botocore's largest model is 2 MiB). */
#define SLIM_MAX ((size_t)256 << 20)

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void prune_spec_release(struct prune_spec *s)
{
	if (!s)
		return;
	free_list(s->presets, s->npresets);
	free_list(s->remove, s->nremove);
	free_list(s->keep, s->nkeep);
	memset(s, 0, sizeof(*s));
}

int prune_glob_check(const char *glob, const char *what, struct lm_err *err)
{
	const char *p = glob;
	if (!*glob || strcmp(glob, "/") == 0)
		return lm_err_set(err, LM_E_INPUT, "%s: glob '%s' is empty", what, glob);
	for (; *p; p++) {
		if (*p == '\\') {
			if (!p[1])
				return lm_err_set(err, LM_E_INPUT, "%s: glob '%s' ends with a backslash", what, glob);
			p++;
			continue;
		}
		if (*p == '[') {
			const char *q = p + 1;
			if (*q == '!' || *q == '^')
				q++;
			if (*q == ']')
				q++;
			while (*q && *q != ']') {
				if (*q == '\\' && q[1])
					q++;
				q++;
			}
			if (!*q)
				return lm_err_set(err, LM_E_INPUT, "%s: glob '%s' has an unclosed '['", what, glob);
			p = q;
		}
	}
	for (p = glob; p; p = strchr(p, '/')) {
		if (*p == '/')
			p++;
		if (strncmp(p, "..", 2) == 0 && (p[2] == '/' || !p[2]))
			return lm_err_set(err, LM_E_INPUT, "%s: glob '%s' has a '..' component", what, glob);
		if (!*p)
			break;
	}
	return 0;
}

/* --- a small string set ------------------------------------------------------------ */

struct strset {
	char **v;
	size_t cap, n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int strset_has(const struct strset *s, const char *k)
{
	if (!s->cap)
		return 0;
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i])
			return 0;
		if (strcmp(s->v[i], k) == 0)
			return 1;
	}
}

static void strset_add(struct strset *s, const char *k)
{
	if (strset_has(s, k))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		struct strset t = { NULL, s->cap ? s->cap * 2 : 256, 0 };
		t.v = lm_xcalloc(t.cap, sizeof(char *));
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				size_t j = hash_str(s->v[i]) & (t.cap - 1);
				while (t.v[j])
					j = (j + 1) & (t.cap - 1);
				t.v[j] = s->v[i];
				t.n++;
			}
		free(s->v);
		*s = t;
	}
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
		if (!s->v[i]) {
			s->v[i] = lm_xstrdup(k);
			s->n++;
			return;
		}
}

static void strset_release(struct strset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* --- report ------------------------------------------------------------------------ */

struct count {
	char *name;
	uint64_t files, bytes;                        /* rules: removed (rewrite rules: rewritten, saved) */
	int rewrite;                                  /* rules: a rewrite rule */
	uint64_t files_before, bytes_before, files_after, bytes_after; /* packages */
};

struct layer_rep {
	char *name, *root;
	uint64_t files_before, bytes_before, files_after, bytes_after;
	struct count *rules;
	size_t nrules, caprules;
	struct count *pkgs;
	size_t npkgs, cappkgs;
	const char *strip_mode;
	uint64_t strip_files, strip_saved;
	char **kept;  /* entries a preset matched but code that stays refers to */
	size_t nkept, capkept;
	char **warnings;
	size_t nwarnings, capwarnings;
};

struct prune_report {
	struct layer_rep *v;
	size_t n, cap;
};

struct prune_report *prune_report_new(void)
{
	return lm_xcalloc(1, sizeof(struct prune_report));
}

void prune_report_free(struct prune_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		struct layer_rep *l = &r->v[i];
		free(l->name);
		free(l->root);
		for (size_t j = 0; j < l->nrules; j++)
			free(l->rules[j].name);
		free(l->rules);
		for (size_t j = 0; j < l->npkgs; j++)
			free(l->pkgs[j].name);
		free(l->pkgs);
		free_list(l->kept, l->nkept);
		free_list(l->warnings, l->nwarnings);
	}
	free(r->v);
	free(r);
}

static void push_str(char ***v, size_t *n, size_t *cap, char *s)
{
	lm_grow((void **)v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

static struct count *pkg_get(struct layer_rep *l, const char *name)
{
	for (size_t i = 0; i < l->npkgs; i++)
		if (strcmp(l->pkgs[i].name, name) == 0)
			return &l->pkgs[i];
	lm_grow((void **)&l->pkgs, &l->cappkgs, l->npkgs + 1, sizeof(*l->pkgs));
	memset(&l->pkgs[l->npkgs], 0, sizeof(*l->pkgs));
	l->pkgs[l->npkgs].name = lm_xstrdup(name);
	return &l->pkgs[l->npkgs++];
}

/* --- rules ------------------------------------------------------------------------- */

struct rule {
	char *label;    /* "python-safe: tests/" or "remove: foo/" */
	const char *glob;
	unsigned flags;
	const char *unless, *sibling;
	int guarded;    /* preset rule: yields to references from remaining code */
};

struct run {
	struct lm_tree *t;
	const char *root; /* normalised, "" for '/' */
	size_t rootlen;   /* strlen(root) + 1 when root is not "", else 0 */
	const char *platform;
	struct rule *rules;
	size_t nrules;
	char **keep;
	size_t nkeep, capkeep;
	/* per entry */
	size_t *parent;   /* index of the parent entry, SIZE_MAX for none/outside */
	int *in_root;     /* below root (not root itself) */
	int *direct;      /* rule that matches the entry itself, -1 */
	int *cand;        /* rule that removes it (own or inherited), -1 */
	unsigned char *keepm, *gself, *gsub, *scanned, *removed;
	size_t *pyroot;   /* length of the rel prefix of the entry's Python import root */
	struct strset imports;
};

static const char *rel_of(const struct run *r, size_t i)
{
	return r->t->v[i].path + r->rootlen;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* Matches one of the '|'-separated globs against rel or one of its ancestors. */
static int match_any_within(const char *list, const char *rel, int is_dir)
{
	char buf[256];
	const char *p = list;
	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		if (n < sizeof(buf)) {
			memcpy(buf, p, n);
			buf[n] = '\0';
			if (glob_match_within(buf, rel, is_dir))
				return 1;
		}
		p = bar ? bar + 1 : NULL;
	}
	return 0;
}

static int has_sibling(const struct run *r, size_t i, const char *exts)
{
	const char *path = r->t->v[i].path;
	const char *dot = strrchr(base_name(path), '.');
	const char *p = exts;
	size_t stem;
	int found = 0;
	if (!dot)
		return 0;
	/* "x.d.ts" has no sibling rule of its own; "x.test.ts" looks for "x.test.js" */
	stem = (size_t)(dot - path);
	while (p && *p && !found) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		char *s = lm_asprintf("%.*s%.*s", (int)stem, path, (int)n, p);
		found = tree_find(r->t, s) != NULL;
		free(s);
		p = bar ? bar + 1 : NULL;
	}
	return found;
}

static int rule_matches(const struct run *r, const struct rule *ru, size_t i)
{
	const struct lm_entry *e = &r->t->v[i];
	const char *rel = rel_of(r, i);
	int is_dir = e->type == LM_F_DIR;
	if ((ru->flags & PRUNE_R_FILES) && is_dir)
		return 0;
	if ((ru->flags & PRUNE_R_PYROOT) && r->pyroot[i] != (size_t)(base_name(rel) - rel))
		return 0;
	if (!glob_match(ru->glob, rel, is_dir))
		return 0;
	if ((ru->flags & PRUNE_R_FOREIGN) &&
	    !(is_dir || lm_str_endswith(rel, ".node") || lm_str_endswith(rel, ".so") || strstr(base_name(rel), ".so.")))
		return 0;
	if ((ru->flags & PRUNE_R_FOREIGN) && !prune_foreign_platform(base_name(rel), r->platform))
		return 0;
	if (ru->unless && match_any_within(ru->unless, rel, is_dir))
		return 0;
	if ((ru->flags & PRUNE_R_SIBLING) && !has_sibling(r, i, ru->sibling))
		return 0;
	return 1;
}

static int is_pyroot_name(const char *rel)
{
	const char *b = base_name(rel);
	return strcmp(b, "site-packages") == 0 || strcmp(b, "dist-packages") == 0 || strcmp(rel, "python") == 0;
}

/* Parents, root membership, Python import roots, direct rule matches and keeps. */
static void classify(struct run *r)
{
	struct lm_tree *t = r->t;
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		char *dir;
		const struct lm_entry *pe;
		r->parent[i] = SIZE_MAX;
		r->direct[i] = -1;
		if (r->rootlen) {
			r->in_root[i] = strncmp(e->path, r->root, r->rootlen - 1) == 0 && e->path[r->rootlen - 1] == '/';
		} else {
			r->in_root[i] = 1;
		}
		if (!r->in_root[i] || e->generated)
			continue;
		dir = lm_path_dirname(e->path);
		pe = strcmp(dir, ".") ? tree_find(t, dir) : NULL;
		free(dir);
		if (pe && r->in_root[pe - t->v])
			r->parent[i] = (size_t)(pe - t->v);
		if (r->parent[i] == SIZE_MAX) {
			r->pyroot[i] = 0;
		} else {
			size_t p = r->parent[i];
			r->pyroot[i] = is_pyroot_name(rel_of(r, p)) ? strlen(rel_of(r, p)) + 1 : r->pyroot[p];
		}
		for (size_t k = 0; k < r->nkeep; k++)
			if (glob_match_within(r->keep[k], rel_of(r, i), e->type == LM_F_DIR))
				r->keepm[i] = 1;
		for (size_t k = 0; k < r->nrules; k++)
			if (!(r->rules[k].flags & PRUNE_R_REWRITE) && rule_matches(r, &r->rules[k], i)) {
				r->direct[i] = (int)k;
				break;
			}
	}
}

/* Effective removal from direct matches, inheritance and guards; keep wins; a directory
 * with anything left inside stays. */
static void decide(struct run *r)
{
	struct lm_tree *t = r->t;
	for (size_t i = 0; i < t->n; i++) {
		size_t p = r->parent[i];
		r->cand[i] = -1;
		r->removed[i] = 0;
		if (!r->in_root[i] || t->v[i].generated)
			continue;
		if (r->direct[i] >= 0)
			r->cand[i] = r->direct[i];
		else if (p != SIZE_MAX && !r->gsub[p])
			r->cand[i] = r->cand[p];
		r->removed[i] = r->cand[i] >= 0 && !r->gself[i] && !r->gsub[i] && !r->keepm[i];
	}
	for (size_t i = t->n; i-- > 0;) {
		if (!r->in_root[i] || r->removed[i])
			continue;
		for (size_t p = r->parent[i]; p != SIZE_MAX && r->removed[p]; p = r->parent[p])
			r->removed[p] = 0;
	}
}

static void on_import(const char *m, void *ctx)
{
	struct strset *s = ctx;
	char *c = lm_xstrdup(m);
	/* every prefix: "a.b.c" needs the packages "a" and "a.b" */
	for (char *d = strchr(c, '.'); d; d = strchr(d + 1, '.')) {
		*d = '\0';
		strset_add(s, c);
		*d = '.';
	}
	strset_add(s, c);
	free(c);
}

struct js_ctx {
	struct run *r;
	size_t from;
	int changed;
};

static int js_exists(const char *path, void *ctx)
{
	const struct run *r = ctx;
	const struct lm_entry *e = tree_find(r->t, path);
	if (!e)
		return 0;
	return e->type == LM_F_DIR ? 2 : 1;
}

static void on_spec(const char *spec, void *ctx)
{
	struct js_ctx *c = ctx;
	char *p;
	const struct lm_entry *e;
	size_t i;
	if (!jsscan_is_relative(spec))
		return;
	p = jsscan_resolve(c->r->t->v[c->from].path, spec, js_exists, c->r);
	if (!p)
		return;
	e = tree_find(c->r->t, p);
	free(p);
	if (!e)
		return;
	i = (size_t)(e - c->r->t->v);
	if (c->r->in_root[i] && c->r->cand[i] >= 0 && c->r->rules[c->r->cand[i]].guarded && !c->r->gself[i]) {
		c->r->gself[i] = 1;
		c->changed = 1;
	}
}

static int is_js(const char *p)
{
	return lm_str_endswith(p, ".js") || lm_str_endswith(p, ".cjs") || lm_str_endswith(p, ".mjs");
}

/* Scans code that stays and has not been scanned yet. Returns 1 when a JS reference
 * guarded something. */
static int scan_remaining(struct run *r)
{
	struct lm_tree *t = r->t;
	struct js_ctx jc = { r, 0, 0 };
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		int py, js;
		char *buf = NULL;
		size_t len = 0;
		struct lm_err err = LM_ERR_INIT;
		if (!r->in_root[i] || r->removed[i] || r->scanned[i] || e->type != LM_F_REG || !e->src)
			continue;
		py = lm_str_endswith(e->path, ".py");
		js = is_js(e->path);
		if (!py && !js)
			continue;
		r->scanned[i] = 1;
		if (e->size > SCAN_MAX || lm_read_file(e->src, SCAN_MAX, &buf, &len, &err) < 0) {
			lm_err_release(&err);
			continue; /* unreadable files fail later, in the layer writer, with a name */
		}
		if (py) {
			const char *rel = rel_of(r, i) + r->pyroot[i];
			char *pkg = pyscan_file_package(rel);
			pyscan_imports(buf, len, pkg, on_import, &r->imports);
			free(pkg);
		} else {
			jc.from = i;
			jsscan_specifiers(buf, len, on_spec, &jc);
		}
		free(buf);
	}
	return jc.changed;
}

/* Guards candidates that are Python packages/modules imported by code that stays. */
static int guard_imports(struct run *r)
{
	int changed = 0;
	for (size_t i = 0; i < r->t->n; i++) {
		const struct lm_entry *e = &r->t->v[i];
		char *m;
		if (r->direct[i] < 0 || !r->rules[r->direct[i]].guarded || r->gsub[i] || r->gself[i] || !r->removed[i])
			continue;
		m = pyscan_module_name(rel_of(r, i) + r->pyroot[i], e->type == LM_F_DIR);
		if (m && strset_has(&r->imports, m)) {
			if (e->type == LM_F_DIR)
				r->gsub[i] = 1;
			else
				r->gself[i] = 1;
			changed = 1;
		}
		free(m);
	}
	return changed;
}

/* --- packages ---------------------------------------------------------------------- */

struct pkgmap {
	char **k, **v;
	size_t n, cap;
};

static void pkgmap_put(struct pkgmap *m, const char *k, const char *v)
{
	lm_grow((void **)&m->k, &m->cap, m->n + 1, sizeof(char *));
	m->v = lm_xrealloc(m->v, m->cap * sizeof(char *));
	m->k[m->n] = lm_xstrdup(k);
	m->v[m->n] = lm_xstrdup(v);
	m->n++;
}

static void pkgmap_release(struct pkgmap *m)
{
	free_list(m->k, m->n);
	free_list(m->v, m->n);
}

/* Linear map is fine for top-level names (hundreds); RECORD paths go to a hashed index. */
static const char *pkgmap_get(const struct pkgmap *m, const char *k)
{
	for (size_t i = m->n; i-- > 0;)
		if (strcmp(m->k[i], k) == 0)
			return m->v[i];
	return NULL;
}

/* "boto3-1.26.27.dist-info" -> "boto3" */
static char *dist_name(const char *dirname)
{
	const char *dash = strchr(dirname, '-');
	const char *dot = strrchr(dirname, '.');
	size_t n = dash ? (size_t)(dash - dirname) : (size_t)(dot - dirname);
	return lm_xstrndup(dirname, n);
}

struct pkgs {
	struct pkgmap top; /* top_level.txt: "yaml" -> "PyYAML" */
	char **rec_path, **rec_dist; /* RECORD: image-relative path -> distribution */
	size_t nrec, caprec;
};

static void read_metadata(struct run *r, struct pkgs *pk)
{
	struct lm_tree *t = r->t;
	for (size_t i = 0; i < t->n; i++) {
		const struct lm_entry *e = &t->v[i];
		const char *rel, *b;
		char *dist, *buf = NULL, *dir;
		size_t len;
		struct lm_err err = LM_ERR_INIT;
		int record;
		if (!r->in_root[i] || e->type != LM_F_REG || !e->src)
			continue;
		rel = rel_of(r, i);
		b = base_name(rel);
		record = strcmp(b, "RECORD") == 0;
		if (!record && strcmp(b, "top_level.txt") != 0)
			continue;
		dir = lm_path_dirname(rel);
		if (!lm_str_endswith(dir, ".dist-info") && !lm_str_endswith(dir, ".egg-info")) {
			free(dir);
			continue;
		}
		dist = dist_name(base_name(dir));
		if (lm_read_file(e->src, (size_t)16 << 20, &buf, &len, &err) == 0) {
			for (char *line = strtok(buf, "\r\n"); line; line = strtok(NULL, "\r\n")) {
				if (record) {
					char *c = line, *p;
					if (*c == '"') { /* quoted CSV field */
						c++;
						p = strchr(c, '"');
					} else {
						p = strchr(c, ',');
					}
					if (p)
						*p = '\0';
					if (*c && !strstr(c, "..")) {
						size_t plen = r->pyroot[i];
						char *full = lm_asprintf("%.*s%s", (int)plen, rel, c);
						lm_grow((void **)&pk->rec_path, &pk->caprec, pk->nrec + 1, sizeof(char *));
						pk->rec_dist = lm_xrealloc(pk->rec_dist, pk->caprec * sizeof(char *));
						pk->rec_path[pk->nrec] = full;
						pk->rec_dist[pk->nrec] = lm_xstrdup(dist);
						pk->nrec++;
					}
				} else if (*line) {
					pkgmap_put(&pk->top, line, dist);
				}
			}
		}
		lm_err_release(&err);
		free(buf);
		free(dist);
		free(dir);
	}
}

struct recidx {
	const char *path, *dist;
};

static int cmp_rec(const void *a, const void *b)
{
	return strcmp(((const struct recidx *)a)->path, ((const struct recidx *)b)->path);
}

/* The package an entry belongs to (caller frees). */
static char *package_of(const struct run *r, const struct pkgs *pk, const struct recidx *rec, size_t nrec, size_t i)
{
	const char *rel = rel_of(r, i);
	const char *nm = NULL, *p = rel;
	const char *first, *slash;
	char *stem, *out;
	struct recidx key;
	const struct recidx *hit;
	/* innermost node_modules/<name> or node_modules/@scope/<name> */
	for (const char *s = strstr(p, "node_modules/"); s; s = strstr(s + 1, "node_modules/"))
		if (s == rel || s[-1] == '/')
			nm = s + strlen("node_modules/");
	if (nm && *nm) {
		const char *end = strchr(nm, '/');
		if (*nm == '@' && end)
			end = strchr(end + 1, '/');
		return end ? lm_xstrndup(nm, (size_t)(end - nm)) : lm_xstrdup(nm);
	}
	key.path = rel;
	key.dist = NULL;
	hit = nrec ? bsearch(&key, rec, nrec, sizeof(*rec), cmp_rec) : NULL;
	if (hit)
		return lm_xstrdup(hit->dist);
	first = rel + r->pyroot[i];
	slash = strchr(first, '/');
	stem = slash ? lm_xstrndup(first, (size_t)(slash - first)) : lm_xstrdup(first);
	if (lm_str_endswith(stem, ".dist-info") || lm_str_endswith(stem, ".egg-info")) {
		out = dist_name(stem);
		free(stem);
		return out;
	}
	if (strchr(stem, '.') && (lm_str_endswith(stem, ".py") || lm_str_endswith(stem, ".so") ||
				  lm_str_endswith(stem, ".pth") || lm_str_endswith(stem, ".pyc")))
		*strchr(stem, '.') = '\0';
	nm = pkgmap_get(&pk->top, stem);
	out = lm_xstrdup(nm ? nm : stem);
	free(stem);
	return out;
}

/* --- ELF stripping ----------------------------------------------------------------- */

static int maybe_elf(const struct lm_entry *e)
{
	const char *b = base_name(e->path);
	unsigned char magic[4];
	int fd, n;
	if (e->type != LM_F_REG || !e->src || e->size < 64)
		return 0;
	if (!(lm_str_endswith(b, ".so") || strstr(b, ".so.") || lm_str_endswith(b, ".node") || (e->mode & 0111)))
		return 0;
	fd = open(e->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = (int)read(fd, magic, sizeof(magic));
	close(fd);
	return n == 4 && elfstrip_is_elf(magic, 4);
}

static int strip_all(struct run *r, enum prune_strip mode, const char *workdir, struct layer_rep *l,
		     struct lm_err *err)
{
	enum elfstrip_mode em = mode == PRUNE_STRIP_UNNEEDED ? ELFSTRIP_UNNEEDED : ELFSTRIP_DEBUG;
	char *dir = NULL;
	int ret = -1;
	if (workdir) {
		dir = lm_path_join(workdir, "strip");
		if (lm_mkdir_p(dir, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < r->t->n; i++) {
		struct lm_entry *e = &r->t->v[i];
		if (!r->in_root[i] || r->removed[i] || e->generated || !maybe_elf(e))
			continue;
		if (dir) {
			char *dst = lm_asprintf("%s/%zu-%s", dir, i, base_name(e->path));
			uint64_t saved = 0;
			int s = elfstrip_file(e->src, dst, em, &saved, err);
			if (s < 0) {
				free(dst);
				lm_err_wrap(err, "strip '%s'", e->path);
				goto out;
			}
			if (s == 1) {
				free(e->src);
				e->src = dst;
				e->digest[0] = '\0'; /* new content: hashed again where needed */
				e->dev = e->ino = 0;
				e->size -= saved;
				l->strip_files++;
				l->strip_saved += saved;
			} else {
				free(dst);
			}
		} else {
			char *buf = NULL;
			unsigned char *o = NULL;
			size_t len = 0, olen = 0;
			struct lm_err e2 = LM_ERR_INIT;
			if (lm_read_file(e->src, (size_t)2 << 30, &buf, &len, &e2) == 0 &&
			    elfstrip_buf((const unsigned char *)buf, len, em, &o, &olen, NULL) == 1) {
				l->strip_files++;
				l->strip_saved += len - olen;
				e->size -= len - olen; /* dry run: accounting only, src unchanged */
			}
			lm_err_release(&e2);
			free(buf);
			free(o);
		}
	}
	ret = 0;
out:
	free(dir);
	return ret;
}

/* --- rewriting data files --------------------------------------------------------- */

static int slim_buf(unsigned flags, const char *in, size_t len, char **out, size_t *outlen)
{
	if (flags & PRUNE_R_SLIM_METADATA)
		return slim_metadata(in, len, out, outlen);
	return slim_json(in, len, flags & PRUNE_R_SLIM_BOTO_DOCS ? SLIM_JSON_BOTO_DOCS : 0, out, outlen);
}

/* Replaces files that stay and match a rewrite rule by their smaller copy under
 * workdir/slim (dry run, workdir NULL: accounting only). Kept files are left as they are. */
static int slim_all(struct run *r, const char *workdir, struct layer_rep *l, struct lm_err *err)
{
	char *dir = NULL;
	int ret = -1, any = 0;
	for (size_t k = 0; k < r->nrules; k++)
		any |= (r->rules[k].flags & PRUNE_R_REWRITE) != 0;
	if (!any)
		return 0;
	if (workdir) {
		dir = lm_path_join(workdir, "slim");
		if (lm_mkdir_p(dir, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < r->t->n; i++) {
		struct lm_entry *e = &r->t->v[i];
		size_t k, len = 0, olen = 0;
		char *buf = NULL, *o = NULL;
		struct lm_err e2 = LM_ERR_INIT;
		if (!r->in_root[i] || r->removed[i] || r->keepm[i] || e->generated || e->type != LM_F_REG || !e->src ||
		    e->size > SLIM_MAX)
			continue;
		for (k = 0; k < r->nrules; k++)
			if ((r->rules[k].flags & PRUNE_R_REWRITE) && rule_matches(r, &r->rules[k], i))
				break;
		if (k == r->nrules)
			continue;
		if (lm_read_file(e->src, SLIM_MAX, &buf, &len, &e2) < 0) {
			lm_err_release(&e2); /* unreadable files fail later, in the layer writer, with a name */
			continue;
		}
		if (slim_buf(r->rules[k].flags, buf, len, &o, &olen) == 1) {
			if (dir) {
				char *dst = lm_asprintf("%s/%zu-%s", dir, i, base_name(e->path));
				if (lm_write_file_atomic(dst, o, olen, err) < 0) {
					free(dst);
					free(buf);
					free(o);
					lm_err_wrap(err, "rewrite '%s'", e->path);
					goto out;
				}
				free(e->src);
				e->src = dst;
				e->digest[0] = '\0'; /* new content: hashed again where needed */
				e->dev = e->ino = 0;
			}
			l->rules[k].files++;
			l->rules[k].bytes += len - olen;
			e->size = olen;
		}
		free(buf);
		free(o);
	}
	ret = 0;
out:
	free(dir);
	return ret;
}

/* --- prune_apply ------------------------------------------------------------------- */

static void add_rules(struct run *r, const struct prune_spec *s)
{
	if (!s || !s->set)
		return;
	for (size_t i = 0; i < s->npresets; i++) {
		size_t n = 0;
		const struct prune_rule *pr = prune_preset_rules(s->presets[i], &n);
		int dup = 0;
		for (size_t k = 0; k < r->nrules; k++)
			if (r->rules[k].guarded && lm_str_startswith(r->rules[k].label, s->presets[i]) &&
			    r->rules[k].label[strlen(s->presets[i])] == ':')
				dup = 1;
		if (!pr || dup)
			continue;
		r->rules = lm_xrealloc(r->rules, (r->nrules + n) * sizeof(*r->rules));
		for (size_t k = 0; k < n; k++) {
			struct rule *ru = &r->rules[r->nrules++];
			if (pr[k].flags & PRUNE_R_FOREIGN)
				ru->label = lm_asprintf("%s: other platforms' binaries", s->presets[i]);
			else if (pr[k].flags & PRUNE_R_REWRITE)
				ru->label = lm_asprintf("%s: %s (%s)", s->presets[i], pr[k].glob,
							pr[k].flags & PRUNE_R_SLIM_METADATA ? "description body dropped"
							: pr[k].flags & PRUNE_R_SLIM_BOTO_DOCS
								? "JSON minified, documentation dropped"
								: "JSON minified");
			else
				ru->label = lm_asprintf("%s: %s", s->presets[i], pr[k].glob);
			ru->glob = pr[k].glob;
			ru->flags = pr[k].flags;
			ru->unless = pr[k].unless;
			ru->sibling = pr[k].sibling;
			ru->guarded = 1;
		}
	}
}

static int add_user(struct run *r, const struct prune_spec *s, const char *where, struct lm_err *err)
{
	if (!s || !s->set)
		return 0;
	for (size_t i = 0; i < s->nremove; i++) {
		char *what = lm_asprintf("%sprune.remove[%zu]", where, i);
		struct rule *ru;
		int bad = prune_glob_check(s->remove[i], what, err);
		free(what);
		if (bad < 0)
			return -1;
		r->rules = lm_xrealloc(r->rules, (r->nrules + 1) * sizeof(*r->rules));
		ru = &r->rules[r->nrules++];
		memset(ru, 0, sizeof(*ru));
		ru->label = lm_asprintf("remove: %s", s->remove[i]);
		ru->glob = s->remove[i];
	}
	for (size_t i = 0; i < s->nkeep; i++) {
		char *what = lm_asprintf("%sprune.keep[%zu]", where, i);
		int bad = prune_glob_check(s->keep[i], what, err);
		free(what);
		if (bad < 0)
			return -1;
		lm_grow((void **)&r->keep, &r->capkeep, r->nkeep + 1, sizeof(char *));
		r->keep[r->nkeep++] = s->keep[i];
	}
	return 0;
}

static void run_release(struct run *r)
{
	for (size_t i = 0; i < r->nrules; i++)
		free(r->rules[i].label);
	free(r->rules);
	free(r->keep);
	free(r->parent);
	free(r->in_root);
	free(r->direct);
	free(r->cand);
	free(r->keepm);
	free(r->gself);
	free(r->gsub);
	free(r->scanned);
	free(r->removed);
	free(r->pyroot);
	strset_release(&r->imports);
}

static void account(struct run *r, struct layer_rep *l, int before)
{
	struct pkgs pk;
	struct recidx *rec;
	memset(&pk, 0, sizeof(pk));
	read_metadata(r, &pk);
	rec = lm_xcalloc(pk.nrec + 1, sizeof(*rec));
	for (size_t k = 0; k < pk.nrec; k++) {
		rec[k].path = pk.rec_path[k];
		rec[k].dist = pk.rec_dist[k];
	}
	qsort(rec, pk.nrec, sizeof(*rec), cmp_rec);
	for (size_t i = 0; i < r->t->n; i++) {
		const struct lm_entry *e = &r->t->v[i];
		struct count *c;
		char *name;
		if (!r->in_root[i] || e->type == LM_F_DIR || (before && e->generated))
			continue;
		if (!before && r->removed[i])
			continue;
		name = package_of(r, &pk, rec, pk.nrec, i);
		c = pkg_get(l, name);
		free(name);
		if (before) {
			c->files_before++;
			c->bytes_before += e->size;
			l->files_before++;
			l->bytes_before += e->size;
		} else {
			c->files_after++;
			c->bytes_after += e->size;
			l->files_after++;
			l->bytes_after += e->size;
		}
	}
	free(rec);
	pkgmap_release(&pk.top);
	free_list(pk.rec_path, pk.nrec);
	free_list(pk.rec_dist, pk.nrec);
}

/* Sets up a run over t: the rules of both specs (less the one labelled disabled, when
 * given) and the per-entry arrays. */
static int run_init(struct run *r, struct lm_tree *t, const char *nroot, const char *platform,
		    const struct prune_spec *global, const struct prune_spec *layer, const char *disabled,
		    struct lm_err *err)
{
	r->t = t;
	r->root = nroot ? nroot : "";
	r->rootlen = nroot ? strlen(nroot) + 1 : 0;
	r->platform = platform ? platform : "linux/amd64";
	add_rules(r, global);
	add_rules(r, layer);
	if (add_user(r, global, "", err) < 0 || add_user(r, layer, "layer: ", err) < 0)
		return -1;
	if (disabled) {
		size_t k = 0;
		for (size_t j = 0; j < r->nrules; j++) {
			if (strcmp(r->rules[j].label, disabled) == 0)
				free(r->rules[j].label);
			else
				r->rules[k++] = r->rules[j];
		}
		r->nrules = k;
	}
	r->parent = lm_xcalloc(t->n + 1, sizeof(size_t));
	r->in_root = lm_xcalloc(t->n + 1, sizeof(int));
	r->direct = lm_xcalloc(t->n + 1, sizeof(int));
	r->cand = lm_xcalloc(t->n + 1, sizeof(int));
	r->pyroot = lm_xcalloc(t->n + 1, sizeof(size_t));
	r->keepm = lm_xcalloc(t->n + 1, 1);
	r->gself = lm_xcalloc(t->n + 1, 1);
	r->gsub = lm_xcalloc(t->n + 1, 1);
	r->scanned = lm_xcalloc(t->n + 1, 1);
	r->removed = lm_xcalloc(t->n + 1, 1);
	return 0;
}

/* Fixpoint: what stays is scanned; references it makes keep candidates; their code is
 * scanned in turn. */
static void fixpoint(struct run *r)
{
	for (;;) {
		int changed;
		decide(r);
		changed = scan_remaining(r);
		changed |= guard_imports(r);
		if (!changed)
			break;
	}
	decide(r);
}

int prune_apply(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t,
		const char *root, const char *platform, const char *layer_name, const char *workdir,
		struct prune_report *rep, struct lm_err *err)
{
	struct run r;
	struct layer_rep *l;
	enum prune_strip strip = PRUNE_STRIP_DEBUG;
	char *nroot = root ? tree_norm_path(root) : NULL;
	int ret = -1;
	memset(&r, 0, sizeof(r));
	if (!((global && global->set) || (layer && layer->set))) {
		free(nroot);
		return 0;
	}
	if (!t->sorted)
		tree_finish(t);
	if (run_init(&r, t, nroot, platform, global, layer, NULL, err) < 0)
		goto out;
	if (layer && layer->set && layer->strip_set)
		strip = layer->strip;
	else if (global && global->set && global->strip_set)
		strip = global->strip;

	if (rep) {
		lm_grow((void **)&rep->v, &rep->cap, rep->n + 1, sizeof(*rep->v));
		l = &rep->v[rep->n++];
	} else {
		l = lm_xcalloc(1, sizeof(*l));
	}
	memset(l, 0, sizeof(*l));
	l->name = lm_xstrdup(layer_name ? layer_name : "");
	l->root = lm_asprintf("/%s", r.root);
	l->strip_mode = strip == PRUNE_STRIP_NONE ? "none" : strip == PRUNE_STRIP_UNNEEDED ? "unneeded" : "debug";

	classify(&r);
	account(&r, l, 1);
	fixpoint(&r);
	l->rules = lm_xcalloc(r.nrules + 1, sizeof(*l->rules));
	l->nrules = l->caprules = r.nrules;
	for (size_t k = 0; k < r.nrules; k++) {
		l->rules[k].name = lm_xstrdup(r.rules[k].label);
		l->rules[k].rewrite = (r.rules[k].flags & PRUNE_R_REWRITE) != 0;
	}
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		if (!r.in_root[i])
			continue;
		if (r.removed[i]) {
			e->removed = 1;
			if (e->type != LM_F_DIR) {
				l->rules[r.cand[i]].files++;
				l->rules[r.cand[i]].bytes += e->size;
			}
			if (!r.rules[r.cand[i]].guarded &&
			    (lm_str_endswith(e->path, ".dist-info") || lm_str_endswith(e->path, ".egg-info") ||
			     lm_str_endswith(e->path, ".dist-info/METADATA") || lm_str_endswith(e->path, ".egg-info/PKG-INFO"))) {
				push_str(&l->warnings, &l->nwarnings, &l->capwarnings,
					 lm_asprintf("'%s' removes '%s': importlib.metadata.version() will fail for it",
						     r.rules[r.cand[i]].label, rel_of(&r, i)));
			}
		} else if (r.cand[i] >= 0 && r.rules[r.cand[i]].guarded && (r.gself[i] || r.gsub[i]) && !r.keepm[i]) {
			push_str(&l->kept, &l->nkept, &l->capkept,
				 lm_asprintf("%s%s (%s)", rel_of(&r, i), e->type == LM_F_DIR ? "/" : "",
					     r.gsub[i] ? "imported" : "required"));
		}
	}
	if (slim_all(&r, workdir, l, err) < 0)
		goto out_l;
	if (strip != PRUNE_STRIP_NONE && strip_all(&r, strip, workdir, l, err) < 0)
		goto out_l;
	account(&r, l, 0);
	ret = 0;
out_l:
	if (!rep) { /* no report wanted: the accounting goes away with a one-layer report */
		struct prune_report *tmp = prune_report_new();
		tmp->v = l;
		tmp->n = tmp->cap = 1;
		prune_report_free(tmp);
	}
out:
	run_release(&r);
	free(nroot);
	return ret;
}

/* --- deciding only ----------------------------------------------------------------- */

void prune_decision_release(struct prune_decision *d)
{
	if (!d)
		return;
	free(d->removed);
	free(d->rule);
	free_list(d->labels, d->nlabels);
	memset(d, 0, sizeof(*d));
}

int prune_decide(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t,
		 const char *root, const char *platform, const char *disabled, struct prune_decision *d,
		 struct lm_err *err)
{
	struct run r;
	char *nroot = root ? tree_norm_path(root) : NULL;
	int *label_of = NULL;
	int ret = -1;

	memset(&r, 0, sizeof(r));
	memset(d, 0, sizeof(*d));
	if (!t->sorted)
		tree_finish(t);
	d->n = t->n;
	d->removed = lm_xcalloc(t->n + 1, 1);
	d->rule = lm_xcalloc(t->n + 1, sizeof(int));
	for (size_t i = 0; i < t->n; i++)
		d->rule[i] = -1;
	if (!((global && global->set) || (layer && layer->set))) {
		free(nroot);
		return 0;
	}
	if (run_init(&r, t, nroot, platform, global, layer, disabled, err) < 0)
		goto out;
	classify(&r);
	fixpoint(&r);
	/* distinct labels: a glob given globally and in the layer is one rule to people */
	label_of = lm_xcalloc(r.nrules + 1, sizeof(int));
	for (size_t j = 0; j < r.nrules; j++) {
		size_t k;
		for (k = 0; k < d->nlabels; k++)
			if (strcmp(d->labels[k], r.rules[j].label) == 0)
				break;
		if (k == d->nlabels) {
			d->labels = lm_xrealloc(d->labels, (d->nlabels + 1) * sizeof(*d->labels));
			d->labels[d->nlabels++] = lm_xstrdup(r.rules[j].label);
		}
		label_of[j] = (int)k;
	}
	for (size_t i = 0; i < t->n; i++)
		if (r.in_root[i] && !t->v[i].generated && r.removed[i]) {
			d->removed[i] = 1;
			d->rule[i] = label_of[r.cand[i]];
		}
	ret = 0;
out:
	if (ret < 0)
		prune_decision_release(d);
	free(label_of);
	run_release(&r);
	free(nroot);
	return ret;
}

/* --- output ------------------------------------------------------------------------ */

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

static int cmp_pkg_saved(const void *a, const void *b)
{
	const struct count *x = a, *y = b;
	uint64_t sx = x->bytes_before - x->bytes_after, sy = y->bytes_before - y->bytes_after;
	if (sx != sy)
		return sx > sy ? -1 : 1;
	return strcmp(x->name, y->name);
}

void prune_report_print(const struct prune_report *r, FILE *f)
{
	uint64_t fb = 0, bb = 0, fa = 0, ba = 0;
	char h1[32], h2[32], h3[32];
	for (size_t i = 0; i < r->n; i++) {
		struct layer_rep *l = &r->v[i];
		size_t shown = 0;
		fb += l->files_before, bb += l->bytes_before, fa += l->files_after, ba += l->bytes_after;
		fprintf(f, "layer '%s' (%s): %llu files, %s -> %llu files, %s (-%.1f %%)\n", l->name, l->root,
			(unsigned long long)l->files_before, lm_human_bytes(l->bytes_before, h1, sizeof(h1)),
			(unsigned long long)l->files_after, lm_human_bytes(l->bytes_after, h2, sizeof(h2)),
			pct(l->bytes_before - l->bytes_after, l->bytes_before));
		fprintf(f, "  %-52s %8s %12s\n", "rule", "files", "bytes");
		for (size_t k = 0; k < l->nrules; k++) {
			if (!l->rules[k].files)
				continue;
			fprintf(f, "  %-52s %8llu %12s\n", l->rules[k].name, (unsigned long long)l->rules[k].files,
				lm_human_bytes(l->rules[k].bytes, h1, sizeof(h1)));
		}
		if (strcmp(l->strip_mode, "none") != 0) {
			char *lab = lm_asprintf("strip %s (%llu ELF files)", l->strip_mode,
						(unsigned long long)l->strip_files);
			fprintf(f, "  %-52s %8s %12s\n", lab, "-", lm_human_bytes(l->strip_saved, h1, sizeof(h1)));
			free(lab);
		}
		if (l->nkept) {
			fprintf(f, "  kept because code that stays refers to them (%zu):\n", l->nkept);
			for (size_t k = 0; k < l->nkept && k < 12; k++)
				fprintf(f, "    %s\n", l->kept[k]);
			if (l->nkept > 12)
				fprintf(f, "    ... and %zu more (see --json)\n", l->nkept - 12);
		}
		for (size_t k = 0; k < l->nwarnings; k++)
			fprintf(f, "  warning: %s\n", l->warnings[k]);
		qsort(l->pkgs, l->npkgs, sizeof(*l->pkgs), cmp_pkg_saved);
		fprintf(f, "  %-32s %14s %14s %14s %7s\n", "package", "files", "before", "after", "saved");
		for (size_t k = 0; k < l->npkgs; k++) {
			const struct count *c = &l->pkgs[k];
			char files[48];
			if (c->bytes_before == c->bytes_after)
				continue;
			shown++;
			snprintf(files, sizeof(files), "%llu->%llu", (unsigned long long)c->files_before,
				 (unsigned long long)c->files_after);
			fprintf(f, "  %-32s %14s %14s %14s %6.1f%%\n", c->name, files,
				lm_human_bytes(c->bytes_before, h1, sizeof(h1)),
				lm_human_bytes(c->bytes_after, h2, sizeof(h2)),
				pct(c->bytes_before - c->bytes_after, c->bytes_before));
		}
		if (l->npkgs > shown)
			fprintf(f, "  (%zu packages unchanged)\n", l->npkgs - shown);
	}
	if (r->n != 1)
		fprintf(f, "total: %llu files, %s -> %llu files, %s (saved %s, %.1f %%)\n", (unsigned long long)fb,
			lm_human_bytes(bb, h1, sizeof(h1)), (unsigned long long)fa, lm_human_bytes(ba, h2, sizeof(h2)),
			lm_human_bytes(bb - ba, h3, sizeof(h3)), pct(bb - ba, bb));
}

static json_t *jcount(uint64_t files, uint64_t bytes)
{
	return json_pack("{s:I,s:I}", "files", (json_int_t)files, "bytes", (json_int_t)bytes);
}

char *prune_report_json(const struct prune_report *r)
{
	json_t *root = json_object(), *layers = json_array();
	uint64_t fb = 0, bb = 0, fa = 0, ba = 0;
	char *s;
	for (size_t i = 0; i < r->n; i++) {
		const struct layer_rep *l = &r->v[i];
		json_t *jl = json_object(), *rules = json_array(), *pkgs = json_array(), *kept = json_array(),
		       *warn = json_array();
		fb += l->files_before, bb += l->bytes_before, fa += l->files_after, ba += l->bytes_after;
		json_object_set_new(jl, "name", json_string(l->name));
		json_object_set_new(jl, "root", json_string(l->root));
		json_object_set_new(jl, "before", jcount(l->files_before, l->bytes_before));
		json_object_set_new(jl, "after", jcount(l->files_after, l->bytes_after));
		json_object_set_new(jl, "saved", json_pack("{s:I,s:I,s:f}", "files",
							  (json_int_t)(l->files_before - l->files_after), "bytes",
							  (json_int_t)(l->bytes_before - l->bytes_after), "percent",
							  pct(l->bytes_before - l->bytes_after, l->bytes_before)));
		for (size_t k = 0; k < l->nrules; k++)
			json_array_append_new(rules, json_pack("{s:s,s:I,s:I,s:s}", "rule", l->rules[k].name, "files",
							       (json_int_t)l->rules[k].files, "bytes",
							       (json_int_t)l->rules[k].bytes, "action",
							       l->rules[k].rewrite ? "rewrite" : "remove"));
		json_object_set_new(jl, "rules", rules);
		json_object_set_new(jl, "strip", json_pack("{s:s,s:I,s:I}", "mode", l->strip_mode, "files",
							  (json_int_t)l->strip_files, "bytes_saved",
							  (json_int_t)l->strip_saved));
		for (size_t k = 0; k < l->nkept; k++)
			json_array_append_new(kept, json_string(l->kept[k]));
		json_object_set_new(jl, "kept_by_reference", kept);
		for (size_t k = 0; k < l->nwarnings; k++)
			json_array_append_new(warn, json_string(l->warnings[k]));
		json_object_set_new(jl, "warnings", warn);
		for (size_t k = 0; k < l->npkgs; k++) {
			const struct count *c = &l->pkgs[k];
			json_array_append_new(pkgs, json_pack("{s:s,s:o,s:o}", "name", c->name, "before",
							      jcount(c->files_before, c->bytes_before), "after",
							      jcount(c->files_after, c->bytes_after)));
		}
		json_object_set_new(jl, "packages", pkgs);
		json_array_append_new(layers, jl);
	}
	json_object_set_new(root, "layers", layers);
	json_object_set_new(root, "total",
			    json_pack("{s:o,s:o,s:f}", "before", jcount(fb, bb), "after", jcount(fa, ba), "percent",
				      pct(bb - ba, bb)));
	s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (!s)
		return lm_xstrdup("{}");
	{
		char *o = lm_asprintf("%s\n", s);
		free(s);
		return o;
	}
}
