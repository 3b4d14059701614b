/* report.c - the prune report: per layer, rules, packages, stripping, what was kept by
 * reference and warnings; printed as tables for people and as JSON for CI. */
#include "prune/prune_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

struct prune_report *prune_report_new(void)
{
	return lm_xcalloc(1, sizeof(struct prune_report));
}

void prune_layer_rep_release(struct layer_rep *l)
{
	if (!l)
		return;
	free(l->name);
	free(l->root);
	for (size_t j = 0; j < l->nrules; j++)
		free(l->rules[j].name);
	free(l->rules);
	for (size_t j = 0; j < l->npkgs; j++)
		free(l->pkgs[j].name);
	free(l->pkgs);
	lm_strv_free(l->kept, l->nkept);
	lm_strv_free(l->warnings, l->nwarnings);
	for (size_t j = 0; j < l->nremoved; j++)
		free(l->removed[j].path);
	free(l->removed);
}

void prune_report_free(struct prune_report *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		prune_layer_rep_release(&r->v[i]);
	free(r->v);
	free(r);
}

static int cmp_removed(const void *key, const void *el)
{
	return strcmp(key, ((const struct removed *)el)->path);
}

const char *prune_report_rule_of(const struct prune_report *r, const char *layer, const char *path)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const struct layer_rep *l = &r->v[i];
		const struct removed *hit;
		if (strcmp(l->name, layer) != 0)
			continue;
		hit = l->nremoved ? bsearch(path, l->removed, l->nremoved, sizeof(*l->removed), cmp_removed) : NULL;
		return hit && hit->rule < l->nrules ? l->rules[hit->rule].name : NULL;
	}
	return NULL;
}

struct layer_rep *prune_report_add(struct prune_report *r)
{
	struct layer_rep *l;
	lm_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	l = &r->v[r->n++];
	memset(l, 0, sizeof(*l));
	return l;
}

void prune_push_str(char ***v, size_t *n, size_t *cap, char *s)
{
	lm_grow((void **)v, cap, *n + 1, sizeof(**v));
	(*v)[(*n)++] = s;
}

struct count *prune_pkg_get(struct layer_rep *l, const char *name)
{
	for (size_t i = 0; i < l->npkgs; i++)
		if (strcmp(l->pkgs[i].name, name) == 0)
			return &l->pkgs[i];
	lm_grow((void **)&l->pkgs, &l->cappkgs, l->npkgs + 1, sizeof(*l->pkgs));
	memset(&l->pkgs[l->npkgs], 0, sizeof(*l->pkgs));
	l->pkgs[l->npkgs].name = lm_xstrdup(name);
	return &l->pkgs[l->npkgs++];
}

size_t prune_report_nlayers(const struct prune_report *r)
{
	return r ? r->n : 0;
}

void prune_report_layer_stat(const struct prune_report *r, size_t i, struct prune_layer_stat *out)
{
	const struct layer_rep *l = &r->v[i];
	out->name = l->name;
	out->root = l->root;
	out->files_before = l->files_before;
	out->bytes_before = l->bytes_before;
	out->files_after = l->files_after;
	out->bytes_after = l->bytes_after;
	out->strip_mode = l->strip_mode ? l->strip_mode : "none";
	out->strip_files = l->strip_files;
	out->strip_saved = l->strip_saved;
	out->nrules = l->nrules;
}

void prune_report_rule_stat(const struct prune_report *r, size_t i, size_t k, struct prune_rule_stat *out)
{
	const struct count *c = &r->v[i].rules[k];
	out->label = c->name;
	out->files = c->files;
	out->bytes = c->bytes;
	out->rewrite = c->rewrite;
}

static double pct(uint64_t part, uint64_t whole)
{
	return whole ? 100.0 * (double)part / (double)whole : 0.0;
}

/* biggest first (before pruning), as people read a size table */
static int cmp_pkg_size(const void *a, const void *b)
{
	const struct count *x = a, *y = b;
	if (x->bytes_before != y->bytes_before)
		return x->bytes_before > y->bytes_before ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* "-12.3 %", never "-0.0 %" */
static const char *saved_pct(uint64_t before, uint64_t after, char *buf, size_t sz)
{
	double p = pct(before > after ? before - after : 0, before);
	if (p < 0.05)
		snprintf(buf, sz, "%s", before > after ? "-<0.1 %" : "0 %");
	else
		snprintf(buf, sz, "-%.1f %%", p);
	return buf;
}

void prune_report_print(const struct prune_report *r, FILE *f)
{
	uint64_t fb = 0, bb = 0, fa = 0, ba = 0;
	char h1[32], h2[32], h3[32];
	for (size_t i = 0; i < r->n; i++) {
		struct layer_rep *l = &r->v[i];
		size_t shown = 0;
		fb += l->files_before, bb += l->bytes_before, fa += l->files_after, ba += l->bytes_after;
		fprintf(f, "layer '%s' (%s): %llu files, %s -> %llu files, %s (%s)\n", l->name, l->root,
			(unsigned long long)l->files_before, lm_human_bytes(l->bytes_before, h1, sizeof(h1)),
			(unsigned long long)l->files_after, lm_human_bytes(l->bytes_after, h2, sizeof(h2)),
			saved_pct(l->bytes_before, l->bytes_after, h3, sizeof(h3)));
		int rw = 52; /* the rule column: as wide as the longest name shown */
		for (size_t k = 0; k < l->nrules; k++)
			if (l->rules[k].files && strlen(l->rules[k].name) > (size_t)rw)
				rw = (int)strlen(l->rules[k].name);
		fprintf(f, "  %-*s %8s %12s\n", rw, "rule", "files", "bytes");
		{
			/* biggest first; the rules keep their order for JSON */
			size_t *ord = lm_xcalloc(l->nrules + 1, sizeof(*ord));
			for (size_t k = 0; k < l->nrules; k++) {
				size_t at = k;
				while (at > 0 && l->rules[ord[at - 1]].bytes < l->rules[k].bytes) {
					ord[at] = ord[at - 1];
					at--;
				}
				ord[at] = k;
			}
			for (size_t j = 0; j < l->nrules; j++) {
				const struct count *c = &l->rules[ord[j]];
				if (!c->files)
					continue;
				fprintf(f, "  %-*s %8llu %12s\n", rw, c->name, (unsigned long long)c->files,
					lm_human_bytes(c->bytes, h1, sizeof(h1)));
			}
			free(ord);
		}
		if (strcmp(l->strip_mode, "none") != 0) {
			char *lab = lm_asprintf("strip %s (%llu ELF file%s)", l->strip_mode,
						(unsigned long long)l->strip_files, l->strip_files == 1 ? "" : "s");
			fprintf(f, "  %-*s %8s %12s\n", rw, lab, "-", lm_human_bytes(l->strip_saved, h1, sizeof(h1)));
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
		qsort(l->pkgs, l->npkgs, sizeof(*l->pkgs), cmp_pkg_size);
		fprintf(f, "  %-32s %14s %14s %14s %7s\n", "package", "files", "before", "after", "saved");
		for (size_t k = 0; k < l->npkgs; k++) {
			const struct count *c = &l->pkgs[k];
			char files[48];
			if (c->bytes_before == c->bytes_after)
				continue;
			shown++;
			snprintf(files, sizeof(files), "%llu->%llu", (unsigned long long)c->files_before,
				 (unsigned long long)c->files_after);
			fprintf(f, "  %-32s %14s %14s %14s %7s\n", c->name, files,
				lm_human_bytes(c->bytes_before, h1, sizeof(h1)),
				lm_human_bytes(c->bytes_after, h2, sizeof(h2)),
				saved_pct(c->bytes_before, c->bytes_after, h3, sizeof(h3)));
		}
		if (l->npkgs > shown)
			fprintf(f, "  (%zu %s unchanged)\n", l->npkgs - shown,
				l->npkgs - shown == 1 ? "package" : "packages");
	}
	if (r->n != 1)
	{
		char h4[32];
		fprintf(f, "total: %llu files, %s -> %llu files, %s (saved %s, %s)\n", (unsigned long long)fb,
			lm_human_bytes(bb, h1, sizeof(h1)), (unsigned long long)fa, lm_human_bytes(ba, h2, sizeof(h2)),
			lm_human_bytes(bb - ba, h3, sizeof(h3)), saved_pct(bb, ba, h4, sizeof(h4)));
	}
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
		json_object_set_new(jl, "saved",
				    json_pack("{s:I,s:I,s:f}", "files", (json_int_t)(l->files_before - l->files_after),
					      "bytes", (json_int_t)(l->bytes_before - l->bytes_after), "percent",
					      pct(l->bytes_before - l->bytes_after, l->bytes_before)));
		for (size_t k = 0; k < l->nrules; k++)
			json_array_append_new(rules, json_pack("{s:s,s:I,s:I,s:s}", "rule", l->rules[k].name, "files",
							       (json_int_t)l->rules[k].files, "bytes",
							       (json_int_t)l->rules[k].bytes, "action",
							       l->rules[k].rewrite ? "rewrite" : "remove"));
		json_object_set_new(jl, "rules", rules);
		json_object_set_new(jl, "strip",
				    json_pack("{s:s,s:I,s:I}", "mode", l->strip_mode, "files",
					      (json_int_t)l->strip_files, "bytesSaved", (json_int_t)l->strip_saved));
		for (size_t k = 0; k < l->nkept; k++)
			json_array_append_new(kept, json_string(l->kept[k]));
		json_object_set_new(jl, "keptByReference", kept);
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
