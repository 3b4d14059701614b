#include "build/buildzip.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

int buildzip_select(const struct build_zip *z, const struct lm_manifest *m, struct buildzip_sel *s,
		    struct lm_err *err)
{
	const char *const *names = z->layers ? z->layers : (const char *const *)m->zip.layers;
	size_t nnames = z->layers ? z->nlayers : m->zip.nlayers;
	s->kind = z->kind >= 0 ? (enum zip_kind)z->kind : m->zip.kind_set ? m->zip.kind : ZIP_FUNCTION;
	s->level = z->level >= 0 ? z->level : m->zip.level >= 0 ? m->zip.level : ZIP_LEVEL_DEFAULT;
	s->idx = lm_xcalloc(m->nlayers + 1, sizeof(*s->idx));
	s->n = 0;
	for (size_t k = 0; names && k < nnames; k++)
		if (manifest_find_layer(m, names[k], "--layer", err) < 0)
			return -1;
	for (size_t j = 0; j < m->nlayers; j++) {
		int in = !names;
		for (size_t k = 0; names && k < nnames && !in; k++)
			in = strcmp(m->layers[j].name, names[k]) == 0;
		if (in)
			s->idx[s->n++] = j;
	}
	return 0;
}

/* The plan over the selected trees (shallow copies: the plan borrows their entries). */
static int plan(const struct buildzip_sel *s, const struct lm_manifest *m, const struct lm_tree *trees,
		struct zip_plan *p, struct lm_err *err)
{
	struct lm_tree *t = lm_xcalloc(s->n + 1, sizeof(*t));
	const char **names = lm_xcalloc(s->n + 1, sizeof(*names));
	int ret;
	for (size_t k = 0; k < s->n; k++) {
		t[k] = trees[s->idx[k]];
		names[k] = m->layers[s->idx[k]].name;
	}
	ret = zip_plan_build(p, t, names, s->n, s->kind, err);
	free(t);
	free(names);
	return ret;
}

static int check_unzipped(const struct buildzip_sel *s, const struct zip_plan *p, struct lm_err *err)
{
	char h[32];
	if (p->usize <= LAMBDA_ZIP_UNZIPPED_MAX)
		return 0;
	return lm_err_set(err, LM_E_INPUT,
			  "the %s zip would hold %s (%llu bytes) unzipped; Lambda's limit for a function and all its "
			  "layers is 250 MiB (%llu bytes)",
			  zip_kind_name(s->kind), lm_human_bytes(p->usize, h, sizeof(h)), (unsigned long long)p->usize,
			  (unsigned long long)LAMBDA_ZIP_UNZIPPED_MAX);
}

int buildzip_check(const struct buildzip_sel *s, const struct lm_manifest *m, const struct lm_tree *trees,
		   struct lm_err *err)
{
	struct zip_plan p;
	struct lm_tree *user = lm_xcalloc(m->nlayers + 1, sizeof(*user));
	int ret;
	/* the user's files only (files lamina generated, e.g. .pyc from the cache, follow
	 * their sources): an error then names the file the user can move */
	for (size_t i = 0; i < m->nlayers; i++) {
		user[i] = trees[i];
		user[i].v = lm_xcalloc(trees[i].n + 1, sizeof(*user[i].v));
		memcpy(user[i].v, trees[i].v, trees[i].n * sizeof(*user[i].v));
		for (size_t k = 0; k < trees[i].n; k++)
			user[i].v[k].removed |= user[i].v[k].generated;
	}
	zip_plan_init(&p);
	ret = plan(s, m, user, &p, err) < 0 || check_unzipped(s, &p, err) < 0 ? -1 : 0;
	zip_plan_release(&p);
	for (size_t i = 0; i < m->nlayers; i++)
		free(user[i].v); /* the entries' strings are the trees' */
	free(user);
	return ret;
}

void buildzip_others(const struct buildzip_sel *s, const struct lm_manifest *m, const struct lm_tree *trees,
		     uint64_t *usize, size_t *n)
{
	*usize = 0;
	*n = 0;
	for (size_t j = 0; j < m->nlayers; j++) {
		int in = 0;
		for (size_t k = 0; k < s->n && !in; k++)
			in = s->idx[k] == j;
		if (in)
			continue;
		(*n)++;
		for (size_t i = 0; i < trees[j].n; i++)
			if (trees[j].v[i].type == LM_F_REG && !trees[j].v[i].removed)
				*usize += trees[j].v[i].size;
	}
}

int buildzip_write(const struct build_zip *z, const struct buildzip_sel *s, const struct lm_manifest *m,
		   const struct lm_tree *trees, const struct zip_opts *zo, const char *workdir,
		   struct size_report *rep, struct lm_err *err)
{
	struct zip_plan p;
	struct zip_result zr;
	char *scratch = NULL;
	const char *out = z->out;
	int ret = -1;
	zip_plan_init(&p);
	memset(&zr, 0, sizeof(zr));
	if (plan(s, m, trees, &p, err) < 0 || (!z->lenient && check_unzipped(s, &p, err) < 0)) {
		if (!z->lenient)
			goto out;
		/* build --report: a finding about the layout, not a failed build */
		if (rep) {
			rep->have_zip = 1;
			rep->kind = s->kind;
			rep->zip_error = lm_xstrdup(err->msg ? err->msg : "failed");
		}
		lm_err_release(err);
		ret = 0;
		goto out;
	}
	if (!out)
		out = scratch = lm_path_join(workdir, "measure.zip");
	if (zip_write(&p, s->n, zo, out, &zr, err) < 0)
		goto out;
	if (rep) {
		rep->have_zip = 1;
		rep->kind = s->kind;
		rep->zip_path = z->out ? lm_xstrdup(z->out) : NULL;
		if (digest_file(out, rep->zip_digest, NULL, err) < 0)
			goto out;
		rep->zip_size = zr.size;
		rep->zip_usize = zr.usize;
		rep->zip_entries = zr.entries;
		rep->zip_files = p.files;
		rep->zip64 = zr.zip64;
		for (size_t k = 0; k < s->n; k++)
			size_report_add_zlayer(rep, m->layers[s->idx[k]].name, zr.layer_csize[k], zr.layer_usize[k]);
		buildzip_others(s, m, trees, &rep->others_usize, &rep->nothers);
	}
	ret = 0;
out:
	if (scratch)
		unlink(scratch);
	free(scratch);
	zip_result_release(&zr);
	zip_plan_release(&p);
	return ret;
}

int buildzip_image_sizes(struct size_report *rep, const struct lm_image *base, const struct lm_manifest *m,
			 const struct layer_result *res, const struct lm_image *img, struct cache *c,
			 struct lm_err *err)
{
	rep->have_image = 1;
	snprintf(rep->image_digest, sizeof(rep->image_digest), "%s", img->manifest_digest);
	for (size_t i = 0; i < base->manifest.nlayers; i++) {
		const struct oci_descriptor *d = &base->manifest.layers[i];
		uint64_t u = 0;
		if (size_blob_usize(c, d, &u, err) < 0)
			return lm_err_wrap(err, "base layer %zu", i + 1);
		size_report_add_layer(rep, d->digest, 1, (uint64_t)d->size, u);
	}
	for (size_t i = 0; i < m->nlayers; i++)
		size_report_add_layer(rep, m->layers[i].name, 0, (uint64_t)res[i].desc.size, res[i].usize);
	return 0;
}
