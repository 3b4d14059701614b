/* prune.c - prune_apply and prune_decide: a run over one layer's tree, step by step
 * (prune_internal.h names the files that do each step). */
#include "prune/prune_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

/* Fixpoint: what stays is scanned; references it makes keep candidates; their code is
 * scanned in turn. */
static void fixpoint(struct run *r)
{
	for (;;) {
		int changed;
		prune_settle(r);
		changed = prune_scan_remaining(r);
		changed |= prune_guard_imports(r);
		if (!changed)
			break;
	}
	prune_settle(r);
}

/* The report's rule table, and per entry what was removed (with a warning when a user
 * rule removes Python metadata) or kept by reference. Marks removed entries in the tree. */
static void record(struct run *r, struct layer_rep *l)
{
	l->rules = lm_xcalloc(r->nrules + 1, sizeof(*l->rules));
	l->nrules = l->caprules = r->nrules;
	for (size_t k = 0; k < r->nrules; k++) {
		l->rules[k].name = lm_xstrdup(r->rules[k].label);
		l->rules[k].rewrite = (r->rules[k].flags & PRUNE_R_REWRITE) != 0;
	}
	for (size_t i = 0; i < r->t->n; i++) {
		struct lm_entry *e = &r->t->v[i];
		if (!r->in_root[i])
			continue;
		if (r->removed[i]) {
			e->removed = 1;
			if (e->type != LM_F_DIR) {
				l->rules[r->cand[i]].files++;
				l->rules[r->cand[i]].bytes += e->size;
				lm_grow((void **)&l->removed, &l->capremoved, l->nremoved + 1, sizeof(*l->removed));
				l->removed[l->nremoved].path = lm_xstrdup(e->path);
				l->removed[l->nremoved].rule = (size_t)r->cand[i];
				l->nremoved++;
			}
			if (!r->rules[r->cand[i]].guarded && !(r->rules[r->cand[i]].flags & PRUNE_R_DEDUPE_BASE) &&
			    (lm_str_endswith(e->path, ".dist-info") || lm_str_endswith(e->path, ".egg-info") ||
			     lm_str_endswith(e->path, ".dist-info/METADATA") ||
			     lm_str_endswith(e->path, ".egg-info/PKG-INFO"))) {
				prune_push_str(
					&l->warnings, &l->nwarnings, &l->capwarnings,
					lm_asprintf("'%s' removes '%s': importlib.metadata.version() will fail for it",
						    r->rules[r->cand[i]].label, prune_rel(r, i)));
			}
		} else if (r->cand[i] >= 0 && r->rules[r->cand[i]].guarded && (r->gself[i] || r->gsub[i]) &&
			   !r->keepm[i]) {
			prune_push_str(&l->kept, &l->nkept, &l->capkept,
				       lm_asprintf("%s%s (%s)", prune_rel(r, i), e->type == LM_F_DIR ? "/" : "",
						   r->gsub[i] ? "imported" : "required"));
		}
	}
	for (size_t k = 0; k < r->nnotes; k++) {
		prune_push_str(&l->warnings, &l->nwarnings, &l->capwarnings, r->notes[k]);
		r->notes[k] = NULL;
	}
}

int prune_apply(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t, const char *root,
		const char *platform, const struct prune_base *base, const char *layer_name, const char *workdir,
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
	if (prune_run_init(&r, t, nroot, platform, base, global, layer, NULL, err) < 0)
		goto out;
	if (layer && layer->set && layer->strip_set)
		strip = layer->strip;
	else if (global && global->set && global->strip_set)
		strip = global->strip;

	/* without a report the accounting is made all the same, and dropped at the end */
	l = rep ? prune_report_add(rep) : lm_xcalloc(1, sizeof(*l));
	l->name = lm_xstrdup(layer_name ? layer_name : "");
	l->root = lm_asprintf("/%s", r.root);
	l->strip_mode = strip == PRUNE_STRIP_NONE ? "none" : strip == PRUNE_STRIP_UNNEEDED ? "unneeded" : "debug";

	prune_classify(&r);
	prune_account(&r, l, 1);
	fixpoint(&r);
	record(&r, l);
	if (prune_slim_all(&r, workdir, l, err) < 0)
		goto out_l;
	if (strip != PRUNE_STRIP_NONE && prune_strip_all(&r, strip, workdir, l, err) < 0)
		goto out_l;
	prune_account(&r, l, 0);
	ret = 0;
out_l:
	if (!rep) {
		prune_layer_rep_release(l);
		free(l);
	}
out:
	prune_run_release(&r);
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
	lm_strv_free(d->labels, d->nlabels);
	memset(d, 0, sizeof(*d));
}

int prune_decide(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t, const char *root,
		 const char *platform, const struct prune_base *base, const char *disabled, struct prune_decision *d,
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
	if (prune_run_init(&r, t, nroot, platform, base, global, layer, disabled, err) < 0)
		goto out;
	prune_classify(&r);
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
	prune_run_release(&r);
	free(nroot);
	return ret;
}
