/* packages.c - package accounting: the Python distribution (from .dist-info/.egg-info
 * RECORD and top_level.txt) or Node package (node_modules folder) of every entry, and
 * each package's files and bytes before and after pruning. */
#include "prune/prune_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "prune/pkgid.h"

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
	lm_strv_free(m->k, m->n);
	lm_strv_free(m->v, m->n);
}

/* Linear map is fine for top-level names (hundreds); RECORD paths go to a hashed index. */
static const char *pkgmap_get(const struct pkgmap *m, const char *k)
{
	for (size_t i = m->n; i-- > 0;)
		if (strcmp(m->k[i], k) == 0)
			return m->v[i];
	return NULL;
}

char *prune_record_path(char *line)
{
	char *c = line, *p;
	if (*c == '"') { /* quoted CSV field */
		c++;
		p = strchr(c, '"');
	} else {
		p = strchr(c, ',');
	}
	if (p)
		*p = '\0';
	return *c && !strstr(c, "..") ? c : NULL;
}

struct pkgs {
	struct pkgmap top;	     /* top_level.txt: "yaml" -> "PyYAML" */
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
		rel = prune_rel(r, i);
		b = prune_base_name(rel);
		record = strcmp(b, "RECORD") == 0;
		if (!record && strcmp(b, "top_level.txt") != 0)
			continue;
		dir = lm_path_dirname(rel);
		if (!lm_str_endswith(dir, ".dist-info") && !lm_str_endswith(dir, ".egg-info")) {
			free(dir);
			continue;
		}
		dist = pkgid_dist_name(prune_base_name(dir));
		if (lm_read_file(e->src, (size_t)16 << 20, &buf, &len, &err) == 0) {
			for (char *line = strtok(buf, "\r\n"); line; line = strtok(NULL, "\r\n")) {
				if (record) {
					const char *c = prune_record_path(line);
					if (c) {
						size_t plen = r->pyroot[i];
						char *full = lm_asprintf("%.*s%s", (int)plen, rel, c);
						lm_grow((void **)&pk->rec_path, &pk->caprec, pk->nrec + 1,
							sizeof(char *));
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

char *prune_module_stem(const char *first)
{
	const char *slash = strchr(first, '/');
	char *stem = slash ? lm_xstrndup(first, (size_t)(slash - first)) : lm_xstrdup(first);
	if (strchr(stem, '.') && (lm_str_endswith(stem, ".py") || lm_str_endswith(stem, ".so") ||
				  lm_str_endswith(stem, ".pth") || lm_str_endswith(stem, ".pyc")))
		*strchr(stem, '.') = '\0';
	return stem;
}

/* The package an entry belongs to (caller frees): its innermost node_modules package,
 * else the distribution whose RECORD lists it, else the one whose top_level.txt names
 * its import root's first component, else that component. */
static char *package_of(const struct run *r, const struct pkgs *pk, const struct recidx *rec, size_t nrec, size_t i)
{
	const char *rel = prune_rel(r, i);
	const char *nm;
	char *stem, *out = pkgid_npm_package(rel);
	struct recidx key;
	const struct recidx *hit;
	if (out)
		return out;
	key.path = rel;
	key.dist = NULL;
	hit = nrec ? bsearch(&key, rec, nrec, sizeof(*rec), cmp_rec) : NULL;
	if (hit)
		return lm_xstrdup(hit->dist);
	stem = prune_module_stem(rel + r->pyroot[i]);
	if (lm_str_endswith(stem, ".dist-info") || lm_str_endswith(stem, ".egg-info")) {
		out = pkgid_dist_name(stem);
		free(stem);
		return out;
	}
	nm = pkgmap_get(&pk->top, stem);
	out = lm_xstrdup(nm ? nm : stem);
	free(stem);
	return out;
}

void prune_account(struct run *r, struct layer_rep *l, int before)
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
		c = prune_pkg_get(l, name);
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
	lm_strv_free(pk.rec_path, pk.nrec);
	lm_strv_free(pk.rec_dist, pk.nrec);
}
