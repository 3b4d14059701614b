/* guards.c - import guards: a preset never removes what code that stays imports (Python)
 * or reaches by a relative require()/import (JavaScript). */
#include "prune/prune_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "prune/jsscan.h"
#include "prune/pyscan.h"

void prune_import_prefixes(const char *m, struct lm_strset *s)
{
	char *c = lm_xstrdup(m);
	/* every prefix: "a.b.c" needs the packages "a" and "a.b" */
	for (char *d = strchr(c, '.'); d; d = strchr(d + 1, '.')) {
		*d = '\0';
		lm_strset_add(s, c);
		*d = '.';
	}
	lm_strset_add(s, c);
	free(c);
}

int prune_is_js(const char *p)
{
	return lm_str_endswith(p, ".js") || lm_str_endswith(p, ".cjs") || lm_str_endswith(p, ".mjs");
}

static void on_import(const char *m, void *ctx)
{
	prune_import_prefixes(m, ctx);
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

int prune_scan_remaining(struct run *r)
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
		js = prune_is_js(e->path);
		if (!py && !js)
			continue;
		r->scanned[i] = 1;
		if (e->size > PRUNE_SCAN_MAX || lm_read_file(e->src, PRUNE_SCAN_MAX, &buf, &len, &err) < 0) {
			lm_err_release(&err);
			continue; /* unreadable files fail later, in the layer writer, with a name */
		}
		if (py) {
			const char *rel = prune_rel(r, i) + r->pyroot[i];
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

int prune_guard_imports(struct run *r)
{
	int changed = 0;
	for (size_t i = 0; i < r->t->n; i++) {
		const struct lm_entry *e = &r->t->v[i];
		char *m;
		if (r->direct[i] < 0 || !r->rules[r->direct[i]].guarded || r->gsub[i] || r->gself[i] || !r->removed[i])
			continue;
		m = pyscan_module_name(prune_rel(r, i) + r->pyroot[i], e->type == LM_F_DIR);
		if (m && lm_strset_has(&r->imports, m)) {
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
