/* rules.c - the rule engine: which rules a run has, which entries they match, and what
 * is removed once inheritance, guards and keeps are taken into account. */
#include "prune/prune_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/glob.h"
#include "common/str.h"

void prune_spec_release(struct prune_spec *s)
{
	if (!s)
		return;
	lm_strv_free(s->presets, s->npresets);
	lm_strv_free(s->remove, s->nremove);
	lm_strv_free(s->keep, s->nkeep);
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

const char *prune_base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

int prune_is_native_name(const char *base)
{
	return lm_str_endswith(base, ".so") || strstr(base, ".so.") || lm_str_endswith(base, ".node");
}

int prune_match_any_within(const char *list, const char *rel, int is_dir)
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
	const char *dot = strrchr(prune_base_name(path), '.');
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

int prune_rule_matches(const struct run *r, const struct rule *ru, size_t i)
{
	const struct lm_entry *e = &r->t->v[i];
	const char *rel = prune_rel(r, i);
	int is_dir = e->type == LM_F_DIR;
	if (ru->flags & PRUNE_R_DEDUPE_BASE)
		return r->dedupe && r->dedupe[i];
	if ((ru->flags & PRUNE_R_FILES) && is_dir)
		return 0;
	if ((ru->flags & PRUNE_R_PYROOT) && r->pyroot[i] != (size_t)(prune_base_name(rel) - rel))
		return 0;
	if (!glob_match(ru->glob, rel, is_dir))
		return 0;
	if ((ru->flags & PRUNE_R_FOREIGN) && !(is_dir || prune_is_native_name(prune_base_name(rel))))
		return 0;
	if ((ru->flags & PRUNE_R_FOREIGN) && !prune_foreign_platform(prune_base_name(rel), r->platform))
		return 0;
	if (ru->unless && prune_match_any_within(ru->unless, rel, is_dir))
		return 0;
	if ((ru->flags & PRUNE_R_SIBLING) && !has_sibling(r, i, ru->sibling))
		return 0;
	return 1;
}

int prune_is_pyroot_name(const char *rel)
{
	const char *b = prune_base_name(rel);
	return strcmp(b, "site-packages") == 0 || strcmp(b, "dist-packages") == 0 || strcmp(rel, "python") == 0;
}

void prune_classify(struct run *r)
{
	struct lm_tree *t = r->t;
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		char *dir;
		const struct lm_entry *pe;
		r->parent[i] = SIZE_MAX;
		r->direct[i] = -1;
		if (r->rootlen) {
			r->in_root[i] =
				strncmp(e->path, r->root, r->rootlen - 1) == 0 && e->path[r->rootlen - 1] == '/';
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
			r->pyroot[i] =
				prune_is_pyroot_name(prune_rel(r, p)) ? strlen(prune_rel(r, p)) + 1 : r->pyroot[p];
		}
		for (size_t k = 0; k < r->nkeep; k++)
			if (glob_match_within(r->keep[k], prune_rel(r, i), e->type == LM_F_DIR))
				r->keepm[i] = 1;
	}
	/* needs the import roots above */
	prune_dedupe_mark(r);
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		if (!r->in_root[i] || e->generated)
			continue;
		for (size_t k = 0; k < r->nrules; k++)
			if (!(r->rules[k].flags & PRUNE_R_REWRITE) && prune_rule_matches(r, &r->rules[k], i)) {
				r->direct[i] = (int)k;
				break;
			}
	}
}

void prune_settle(struct run *r)
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

char *prune_rule_label(const char *preset, const struct prune_rule *pr)
{
	if ((pr->flags & PRUNE_R_DEDUPE_BASE) && strcmp(preset, "dedupe-base") == 0)
		return lm_xstrdup("dedupe-base");
	if (pr->flags & PRUNE_R_DEDUPE_BASE)
		return lm_asprintf("%s: dedupe-base", preset);
	if (pr->flags & PRUNE_R_FOREIGN)
		return lm_asprintf("%s: other platforms' binaries", preset);
	if (pr->flags & PRUNE_R_REWRITE)
		return lm_asprintf("%s: %s (%s)", preset, pr->glob,
				   pr->flags & PRUNE_R_SLIM_METADATA	? "description body dropped"
				   : pr->flags & PRUNE_R_SLIM_BOTO_DOCS ? "JSON minified, documentation dropped"
									: "JSON minified");
	return lm_asprintf("%s: %s", preset, pr->glob);
}

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
			ru->label = prune_rule_label(s->presets[i], &pr[k]);
			ru->glob = pr[k].glob;
			ru->flags = pr[k].flags;
			ru->unless = pr[k].unless;
			ru->sibling = pr[k].sibling;
			/* the base's copy answers the imports of a duplicate package */
			ru->guarded = !(pr[k].flags & PRUNE_R_DEDUPE_BASE);
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

void prune_run_release(struct run *r)
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
	free(r->dedupe);
	lm_strv_free(r->notes, r->nnotes);
	lm_strset_release(&r->imports);
}

int prune_run_init(struct run *r, struct lm_tree *t, const char *nroot, const char *platform,
		   const struct prune_base *base, const struct prune_spec *global, const struct prune_spec *layer,
		   const char *disabled, struct lm_err *err)
{
	r->t = t;
	r->base = base;
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
