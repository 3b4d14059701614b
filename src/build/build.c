/* build.c - the stages in order, then the outputs (see build.h). */
#include "build/build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "build/buildzip.h"
#include "build/prepcache.h"
#include "build/sbom.h"
#include "build/regcache.h"
#include "image/acache.h"
#include "image/cachegc.h"
#include "image/layercache.h"
#include "build/source.h"
#include "build/manifest.h"
#include "build/stages.h"
#include "check/check.h"
#include "registry/ref.h"
#include "run/handler.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "image/compress.h"
#include "image/ociarchive.h"
#include "report/scan.h"

void build_result_init(struct build_result *r)
{
	memset(r, 0, sizeof(*r));
	image_init(&r->img);
	size_report_init(&r->report);
	report_init(&r->full);
}

void build_result_release(struct build_result *r)
{
	if (!r)
		return;
	image_release(&r->img);
	free(r->layers);
	verify_outcome_release(&r->verify);
	size_report_release(&r->report);
	report_release(&r->full);
	build_result_init(r);
}

/* Hands the notes gathered so far to the caller, in order, and empties them. */
static void flush_notes(struct build_notes *n, build_note_fn note, void *ctx)
{
	for (size_t i = 0; note && i < n->n; i++)
		note(ctx, n->v[i]);
	build_notes_release(n);
}

static void say(build_note_fn note, void *ctx, const char *fmt, ...) LM_PRINTF(3, 4);
static void say(build_note_fn note, void *ctx, const char *fmt, ...)
{
	va_list ap;
	char *s;
	if (!note)
		return;
	va_start(ap, fmt);
	s = lm_vasprintf(fmt, ap);
	va_end(ap);
	note(ctx, s);
	free(s);
}

/* The prune report as text, for the notes. */
static char *prune_text(const struct prune_report *rep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	if (!f)
		return lm_xstrdup("");
	prune_report_print(rep, f);
	fclose(f);
	while (len && text[len - 1] == '\n')
		text[--len] = '\0';
	return text;
}

/* Charges the time since *t0 to the stage running so far, and starts the next. */
static void lap(struct build_stats *s, struct timespec *t0, int next)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (s->cur >= 0 && s->cur < STAGE_DONE)
		s->ms[s->cur] += (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) / 1e6;
	*t0 = now;
	s->cur = next;
}

/* What a check of the build's own output means for the build: warnings become notes, a
 * failed rule is LM_E_CHECK naming the first one (what: "image" or "zip"). */
static int check_outcome(const struct check_report *rep, const char *what, const char *not_done,
			 struct build_notes *notes, struct lm_err *err)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->v[i].sev == CHECK_WARN)
			build_notes_add(notes, "warning: check %s: %s: %s", rep->v[i].rule, rep->v[i].where, rep->v[i].msg);
	if (rep->nfail) {
		char *first = check_report_first_fail(rep);
		lm_err_set(err, LM_E_CHECK,
			   "check: the %s breaks %zu Lambda rule%s, nothing %s: %s (see 'lamina check %s'; --no-check "
			   "skips the rules)",
			   what, rep->nfail, rep->nfail == 1 ? "" : "s", not_done, first, strcmp(what, "zip") ? "IMAGE" : "ZIP");
		free(first);
		return -1;
	}
	return 0;
}

/* Lambda's rules on the image about to be written or pushed: warnings become notes, a
 * failed rule fails the build (LM_E_CHECK) before anything is written. */
static int check_built_image(const struct lm_image *img, size_t nbase, struct cache *c, const char *platform,
			     struct build_notes *notes, struct lm_err *err)
{
	struct check_report rep;
	struct check_opts co = { NULL, LM_RUNTIME_AUTO };
	const char *slash = platform ? strchr(platform, '/') : NULL;
	char arch[16] = "";
	int ret = -1;
	if (slash) {
		snprintf(arch, sizeof(arch), "%.*s", (int)strcspn(slash + 1, "/"), slash + 1);
		co.arch = arch;
	}
	check_report_init(&rep, 0);
	if (check_image_built(img, c, &co, &rep, err) < 0) {
		lm_err_wrap(err, "check");
		goto out;
	}
	/* the base's layers pass through unchanged: an AWS base Lambda runs must not fail */
	check_report_demote_layers(&rep, nbase,
				   "in the base image (passed through unchanged; 'lamina check' the base to see "
				   "whether Lambda takes it)");
	ret = check_outcome(&rep, "image", "written or pushed", notes, err);
out:
	check_report_release(&rep);
	return ret;
}

/* The same for a zip written at path (not yet at its name shown). */
struct zip_check {
	const char *shown;
	const struct lm_manifest *m;
	int kind;
	struct build_notes *notes;
};

static int check_zip_hook(void *ctx, const char *path, struct lm_err *err)
{
	const struct zip_check *zc = ctx;
	const char *shown = zc->shown;
	const struct lm_manifest *m = zc->m;
	int kind = zc->kind;
	struct build_notes *notes = zc->notes;
	struct check_report rep;
	struct check_zip z;
	int ret = -1;
	check_report_init(&rep, 1);
	check_zip_init(&z, shown);
	if (check_zip_load(&z, path, err) < 0) {
		lm_err_wrap(err, "check");
		goto out;
	}
	check_zip_rules(&rep, &z, NULL, 0,
			kind == ZIP_FUNCTION && m->config.cmd && m->config.ncmd ? m->config.cmd[0] : NULL,
			LM_RUNTIME_AUTO, 1 /* the size report says what a larger zip needs */);
	ret = check_outcome(&rep, "zip", "written", notes, err);
out:
	check_zip_release(&z);
	check_report_release(&rep);
	return ret;
}

/* After the push: the SBOM as a referrer of the pushed manifest. The image is pushed, so
 * a registry that refuses the artifact costs a warning, not the build. */
static void attach_sbom(const struct build_request *r, struct cache *c, struct build_result *res, const char *path,
			struct build_notes *notes)
{
	struct oci_descriptor subj;
	struct reg_opts noreg = { 0 };
	struct lm_err e2 = LM_ERR_INIT;
	registry_subject(&res->img, c, res->pushed, &subj);
	if (registry_attach(r->push, c, r->reg ? r->reg : &noreg, &subj, SBOM_SPDX_MEDIA_TYPE, path, &res->sbom_how,
			    res->sbom_attached, &e2) < 0) {
		build_notes_add(notes, "warning: SBOM not attached to '%s' (the image is pushed): %s", r->push, e2.msg);
		res->sbom_attached[0] = '\0';
	}
	lm_err_release(&e2);
}

/* Fills res->full from the finished build: the image read back from the cache, prune's
 * effect over the trees (which still point at their files; each removed file's rule as
 * prune recorded it in rep), the zip's figures (from res->report) and verify's import
 * times. */
static int full_report(const struct lm_manifest *m, struct lm_tree *trees, const struct layer_result *lres,
		       const struct prune_report *rep, struct cache *c, int verified, struct build_result *res,
		       struct lm_err *err)
{
	struct report *fr = &res->full;
	struct report_prune_layer *pl = lm_xcalloc(m->nlayers + 1, sizeof(*pl));
	int ret = -1;
	fr->source = lm_xstrdup(m->path);
	if (report_scan_image(fr, &res->img, c, 1, NULL, err) < 0) {
		lm_err_wrap(err, "report");
		goto out;
	}
	for (size_t i = 0; i < m->nlayers; i++) {
		pl[i].name = m->layers[i].name;
		pl[i].tree = &trees[i];
		pl[i].gz_after = (uint64_t)lres[i].desc.size;
	}
	if (report_add_prune(fr, pl, m->nlayers, rep, err) < 0) {
		lm_err_wrap(err, "report");
		goto out;
	}
	if (res->report.have_zip) {
		const struct size_report *z = &res->report;
		fr->have_zip = 1;
		fr->zip_kind = lm_xstrdup(zip_kind_name(z->kind));
		fr->zip_error = z->zip_error ? lm_xstrdup(z->zip_error) : NULL;
		fr->zip_size = z->zip_size;
		fr->zip_usize = z->zip_usize;
		fr->zip_files = z->zip_files;
		fr->others_usize = z->others_usize;
		fr->lambda_layers = z->nothers;
	}
	if (verified) {
		fr->have_imports = 1;
		fr->runtime = lm_xstrdup(lm_runtime_name(res->verify.runtime));
		for (size_t i = 0; i < res->verify.ntimes; i++)
			report_add_import(fr, res->verify.times[i].module, (double)res->verify.times[i].self_us / 1e3,
					  (double)res->verify.times[i].cum_us / 1e3);
	}
	report_finish(fr);
	ret = 0;
out:
	free(pl);
	return ret;
}

/* The zip is the output that replaces the image (lamina zip), not a measurement. */
static int zip_output(const struct build_request *r)
{
	return r->zip && !r->zip->lenient;
}

/* Seconds since *t0 (the start of the stage running). */
static double since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Without a base nothing can compile Python: a layer zip with .py files needs one, or
 * "precompile": false. */
static int python_files(const struct lm_manifest *m, const struct lm_tree *trees, struct lm_err *err)
{
	for (size_t i = 0; i < m->nlayers; i++)
		for (size_t e = 0; e < trees[i].n; e++) {
			const struct lm_entry *x = &trees[i].v[e];
			if (!x->removed && x->type == LM_F_REG && lm_str_endswith(x->path, ".py"))
				return lm_err_set(err, LM_E_INPUT,
						  "%s: layer '%s' has Python files (/%s): they are precompiled with the base "
						  "image's interpreter: set \"base\" (or --base), or \"precompile\": false",
						  m->path, m->layers[i].name, x->path);
		}
	return 0;
}

int build_run(const struct build_request *r, const struct lm_opts *o, build_note_fn note, void *ctx,
	      struct build_result *res, struct lm_err *err)
{
	const struct lm_manifest *m = r->m;
	struct lm_manifest bundled = { 0 };
	const char *basespec = r->base ? r->base : m->base;
	const char *platform = r->platform ? r->platform : m->platform;
	const char *tag = r->tag ? r->tag : m->tag;
	const struct verify_spec *v = r->verify ? r->verify : m->verify.set ? &m->verify : NULL;
	struct build_notes notes = { 0 };
	struct buildzip_sel zs = { ZIP_FUNCTION, NULL, 0, 0 };
	struct cache *c = NULL;
	struct lm_image base;
	struct lm_tree *trees = NULL;
	struct layer_result *lres = NULL;
	struct prune_report *rep = NULL;
	struct prune_base pb;
	char *workdir = NULL, *sbom_tmp = NULL, *push_sbom = NULL;
	int sbom_fd = -1;
	char(*keys)[LM_DIGEST_LEN] = NULL;
	unsigned char *todo = NULL;
	int ret = -1, any_prune = 0, node_cache = 0, have_trees = 0, nobase = 0;
	int level = r->level ? r->level : m->compression_level ? m->compression_level : GZ_LEVEL_DEFAULT;
	uint64_t total_usize = 0;
	struct timespec t0;
	struct regcache *rc = NULL;
	struct reg_opts noreg = { 0 };
	struct lm_err verr = LM_ERR_INIT;

	image_init(&base);
	prune_base_init(&pb);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	res->stats.cur = -1;
	if (r->zip && buildzip_select(r->zip, m, &zs, err) < 0)
		goto out;
	/* A layer zip with nothing to run in the image (no verify, no compile cache) needs no
	 * base: its Python files, if any, are the only thing left to compile (checked below,
	 * once the trees are known). */
	nobase = !basespec && zip_output(r) && zs.kind == ZIP_LAYER && !(v && !r->no_verify) &&
		 !m->precompile_node.set;
	if (!basespec && !nobase) {
		if (zip_output(r) && zs.kind == ZIP_LAYER)
			lm_err_set(err, LM_E_INPUT,
				   "%s: no base image: set \"base\" or pass --base (a layer zip needs none when "
				   "nothing runs in the image: no \"verify\" or --no-verify, no \"precompile.node\")",
				   m->path);
		else
			lm_err_set(err, LM_E_INPUT, "%s: no base image: set \"base\" or pass --base", m->path);
		goto out;
	}
	if (r->tag && ref_check_name(r->tag, err) < 0) {
		err->code = LM_E_USAGE;
		lm_err_wrap(err, "--tag");
		goto out;
	}
	/* a missing "from" is known before a base is pulled */
	if (manifest_check_sources(m, err) < 0)
		goto out;
	if (!(c = cache_open(o->cache_dir, err)))
		goto out;
	cache_lock_shared(c); /* nothing of the cache is cleaned under a running build */
	if (r->ncache_from && !r->no_cache)
		rc = regcache_open(r->cache_from, r->ncache_from, r->reg ? r->reg : &noreg, c, &notes);

	/* base */
	lap(&res->stats, &t0, STAGE_BASE);
	if (nobase) {
		say(note, ctx, "no base image: a layer zip of files only (nothing is compiled or run)");
	} else {
		char *q = lm_str_quote(basespec, 160);
		say(note, ctx, "base %s (%s)", q, platform);
		free(q);
		if (stage_base(basespec, platform, r->reg, c, !zip_output(r), &base, &notes, err) < 0)
			goto out;
	}
	/* trees */
	lap(&res->stats, &t0, STAGE_TREES);
	if (!(workdir = cache_tmpdir(c, "build", err)))
		goto out;
	/* bundle: esbuild's output becomes the input of the bundled layers */
	{
		int br = stage_bundle(m, workdir, &bundled, &notes, err);
		flush_notes(&notes, note, ctx);
		if (br < 0)
			goto out;
		m = &bundled;
	}
	trees = lm_xcalloc(m->nlayers + 1, sizeof(*trees));
	lres = lm_xcalloc(m->nlayers + 1, sizeof(*lres));
	if (stage_trees(m, r->no_cache ? NULL : c, trees, &res->stats, err) < 0)
		goto out;
	have_trees = 1;
	/* the layers whose prune and precompile the cache has */
	lap(&res->stats, &t0, STAGE_PREP);
	keys = lm_xcalloc(m->nlayers + 1, sizeof(*keys));
	todo = lm_xcalloc(m->nlayers + 1, 1);
	for (size_t i = 0; i < m->nlayers; i++) {
		int corrupt = 0;
		todo[i] = 1;
		if (r->no_cache)
			continue;
		prep_key(m, i, &trees[i], platform, &base, !zip_output(r), o->epoch, keys[i]);
		/* a full report wants prune's own accounting (bytes before rewriting and
		 * stripping), which the cache does not keep: prune again (compiling is cached) */
		if (r->full_report)
			continue;
		if (prep_apply(c, keys[i], &trees[i], &corrupt, err) == 1) {
			struct layer_opts lo = { o->epoch, level, 0 };
			struct lm_err e2 = LM_ERR_INIT;
			/* the files it names are read only when the layer is written anew (or zipped):
			 * then check them now, while the work can still be redone */
			if ((!layer_cached(c, &trees[i], &lo) || r->zip) && prep_check(c, &trees[i], &e2) < 0) {
				lm_err_release(&e2);
				ac_del(c, keys[i]);
				res->stats.corrupt++;
				tree_release(&trees[i]);
				if (stage_tree(m, i, c, &trees[i], &res->stats, err) < 0) {
					tree_init(&trees[i]);
					goto out;
				}
				continue;
			}
			todo[i] = 0;
			res->stats.prep_reused++;
			build_notes_add(&notes, "layer '%s': prune and precompile unchanged since the last build (cached)",
					m->layers[i].name);
		}
		res->stats.corrupt += (unsigned)corrupt;
	}
	/* prune */
	lap(&res->stats, &t0, STAGE_PRUNE);
	rep = prune_report_new();
	/* an image runs on the base's packages; a zip on the managed runtime's, whatever
	 * version AWS ships that day: dedupe-base compares only for an image */
	if (!zip_output(r) && stage_base_index(m, &base, c, !r->no_cache, &pb, err) < 0)
		goto out;
	if (stage_prune(m, platform, &pb, trees, todo, workdir, rep, &any_prune, err) < 0)
		goto out;
	if (any_prune && res->stats.prep_reused < m->nlayers) {
		char *t = prune_text(rep);
		build_notes_add(&notes, "%s", t);
		free(t);
	}
	if (zip_output(r)) {
		/* fail before compiling when the trees cannot be this kind of zip */
		if (buildzip_check(&zs, m, trees, err) < 0)
			goto out;
		if (m->precompile.invalidation == PYC_TIMESTAMP && !(m->precompile.set && !m->precompile.enabled))
			build_notes_add(&notes, "warning: timestamp .pyc in a zip match their sources only if the unzipped "
						"files keep SOURCE_DATE_EPOCH as their time (DOS time: 2 s steps, from 1980); "
						"\"unchecked-hash\" does not depend on it");
	}
	flush_notes(&notes, note, ctx);
	if (nobase && !(m->precompile.set && !m->precompile.enabled) && python_files(m, trees, err) < 0)
		goto out;
	if (nobase) {
		/* files only: no compile, no image layers, no image */
		lap(&res->stats, &t0, STAGE_OUTPUTS);
		goto outputs;
	}
	/* compile */
	lap(&res->stats, &t0, STAGE_COMPILE);
	{
		int cr = stage_compile(m, &base, c, trees, todo, !r->no_cache, o, workdir, &notes, &res->stats, err);
		flush_notes(&notes, note, ctx);
		if (cr < 0)
			goto out;
		if (res->stats.compiled || res->stats.pyc_cached)
			say(note, ctx, "precompile: %llu .py compiled, %llu .pyc from the cache (%.1f s)",
			    (unsigned long long)res->stats.compiled, (unsigned long long)res->stats.pyc_cached,
			    since(&t0));
	}
	for (size_t i = 0; i < m->nlayers && !r->no_cache; i++) {
		struct lm_err e2 = LM_ERR_INIT;
		/* without a record the next build does the work again; nothing else is lost */
		if (todo[i] && prep_record(c, keys[i], &trees[i], &e2) < 0)
			build_notes_add(&notes, "warning: layer '%s': could not record it in the cache: %s", m->layers[i].name,
					e2.msg);
		lm_err_release(&e2);
	}
	/* the Node compile cache: over all the trees, after their records */
	{
		int nr = stage_node_cache(m, &base, c, trees, o, workdir, &node_cache, &notes, err);
		flush_notes(&notes, note, ctx);
		if (nr < 0)
			goto out;
	}
	/* layers */
	lap(&res->stats, &t0, STAGE_LAYERS);
	if (stage_layers(m, trees, level, o, c, !r->no_cache, lres, &res->stats, err) < 0)
		goto out;
	{
		uint64_t csize = 0;
		char a[32], b[32];
		for (size_t i = 0; i < m->nlayers; i++) {
			total_usize += lres[i].usize;
			csize += (uint64_t)lres[i].desc.size;
		}
		if (m->nlayers)
			say(note, ctx, "compress: %llu layer%s written, %llu reused; %s -> %s gzip (level %d, %.1f s)",
			    (unsigned long long)res->stats.layers_written, res->stats.layers_written == 1 ? "" : "s",
			    (unsigned long long)res->stats.layers_reused, lm_human_bytes(total_usize, a, sizeof(a)),
			    lm_human_bytes(csize, b, sizeof(b)), level, since(&t0));
	}
	if (!zip_output(r) && total_usize > LAMBDA_IMAGE_MAX) {
		lm_err_set(err, LM_E_INPUT,
			   "the app layers hold %llu bytes uncompressed; Lambda's limit for a whole image is 10 GB",
			   (unsigned long long)total_usize);
		goto out;
	}
	/* image */
	lap(&res->stats, &t0, STAGE_IMAGE);
	if (stage_image(m, &base, source_is_registry(basespec) ? basespec : NULL, lres, node_cache, o->epoch, c,
			&res->img, err) < 0)
		goto out;
	res->nlayers = m->nlayers;
	res->layers = lm_xcalloc(m->nlayers + 1, sizeof(*res->layers));
	for (size_t i = 0; i < m->nlayers; i++) {
		res->layers[i].name = m->layers[i].name;
		res->layers[i].files = lres[i].files;
		res->layers[i].usize = lres[i].usize;
		res->layers[i].size = lres[i].desc.size;
		snprintf(res->layers[i].digest, sizeof(res->layers[i].digest), "%s", lres[i].desc.digest);
	}
	res->base_layers = base.manifest.nlayers;
	for (size_t i = 0; i < base.manifest.nlayers; i++)
		res->base_size += base.manifest.layers[i].size;
	/* check: before the verify step and every output */
	if (!r->no_check && !zip_output(r) && (r->archive || r->push)) {
		int cr = check_built_image(&res->img, base.manifest.nlayers, c, platform, &notes, err);
		flush_notes(&notes, note, ctx);
		if (cr < 0)
			goto out;
	}
	flush_notes(&notes, note, ctx);
	/* verify */
	lap(&res->stats, &t0, STAGE_VERIFY);
	if (v && !r->no_verify) {
		if (stage_verify(m, v, platform, trees, any_prune, &pb, &res->img, c, !r->no_cache && !r->full_report, o,
				 &res->verify, &res->stats, err) < 0) {
			/* a report with nothing to write or push reports the failed checks too: the
			 * report is made, then the failure returned */
			if (!(r->full_report && !r->archive && !r->push && !zip_output(r) && err->code == LM_E_VERIFY))
				goto out;
			verr = *err;
			*err = (struct lm_err)LM_ERR_INIT;
		} else if (res->stats.verify_cached) {
			say(note, ctx, "verify: passed before with this image and these checks (cached)");
		} else {
			say(note, ctx, "verify: passed (%s: %zu import%s%s; %.1f s)",
			    res->verify.runtime ? lm_runtime_name(res->verify.runtime) : "image", res->verify.imported,
			    res->verify.imported == 1 ? "" : "s", v->handler ? ", handler resolved" : "", since(&t0));
		}
	}
	/* outputs */
	lap(&res->stats, &t0, STAGE_OUTPUTS);
	if (r->sbom || (r->push && r->push_sbom)) {
		/* made and written first, committed with the archive: neither exists without the
		 * other; with only a push, written in the work directory for the push */
		const char **names = lm_xcalloc(m->nlayers + 1, sizeof(*names));
		/* the archive's file name, not its path: the same image written elsewhere is the same */
		const char *aname = r->archive ? (strrchr(r->archive, '/') ? strrchr(r->archive, '/') + 1 : r->archive)
					       : "image";
		struct sbom_input si = { tag ? tag : aname,
					 res->img.manifest_digest,
					 basespec,
					 base.manifest_digest,
					 trees,
					 names,
					 m->nlayers,
					 o->epoch };
		char *doc = NULL;
		size_t len = 0;
		int fd, sr;
		for (size_t i = 0; i < m->nlayers; i++)
			names[i] = m->layers[i].name;
		sr = sbom_spdx_json(&si, &doc, &len, err);
		free(names);
		if (sr < 0) {
			lm_err_wrap(err, "SBOM");
			goto out;
		}
		if (r->sbom) {
			if ((fd = lm_tmpfile_beside(r->sbom, &sbom_tmp, err)) < 0) {
				if (r->archive)
					lm_err_wrap(err, "SBOM beside '%s'", r->archive);
				free(doc);
				goto out;
			}
			if (fchmod(fd, 0644) < 0 || lm_write_all(fd, doc, len) < 0) { /* as the archive: not 0600 */
				lm_err_sys(err, "write '%s'", sbom_tmp);
				free(doc);
				close(fd);
				goto out;
			}
			sbom_fd = fd;
		} else {
			push_sbom = lm_path_join(workdir, "image.spdx.json");
			if (lm_write_file_atomic(push_sbom, doc, len, err) < 0) {
				free(doc);
				goto out;
			}
		}
		free(doc);
	}
outputs:
	if (r->archive && ociarchive_write(&res->img, tag, o->epoch, c, r->archive, err) < 0)
		goto out;
	if (sbom_fd >= 0) {
		int fd = sbom_fd;
		sbom_fd = -1;
		if (lm_tmpfile_commit(fd, sbom_tmp, r->sbom, 1, err) < 0) {
			free(sbom_tmp);
			sbom_tmp = NULL;
			goto out;
		}
		free(sbom_tmp);
		sbom_tmp = NULL;
	}
	if (r->zip) {
		struct zip_check zc = { r->zip->out, m, zs.kind, &notes };
		struct zip_opts zo = { o->epoch, zs.level, build_threads(o), NULL, NULL };
		char hb[32];
		int zr;
		/* the zip output is checked at its temporary name, before the rename */
		if (zip_output(r) && r->zip->out && !r->no_check) {
			zo.before_commit = check_zip_hook;
			zo.ctx = &zc;
		}
		zr = buildzip_write(r->zip, &zs, m, trees, &zo, workdir, r->report ? &res->report : NULL, err);
		flush_notes(&notes, note, ctx);
		if (zr < 0)
			goto out;
		if (zip_output(r) && r->report && r->zip->out) {
			char cs[45];
			/* CodeSha256 as Lambda reports it (Terraform's source_code_hash) */
			size_code_sha256(res->report.zip_digest, cs);
			say(note, ctx, "zip %s: %s zip, %llu files, %s, CodeSha256 %s", r->zip->out,
			    zip_kind_name(zs.kind), (unsigned long long)res->report.zip_files,
			    lm_human_bytes(res->report.zip_size, hb, sizeof(hb)), cs);
		}
	}
	if (r->report && !nobase && buildzip_image_sizes(&res->report, &base, m, lres, &res->img, c, err) < 0)
		goto out;
	if (r->full_report && full_report(m, trees, lres, rep, c, v && !r->no_verify, res, err) < 0)
		goto out;
	if (r->push) {
		if (registry_push(&res->img, c, r->push, r->reg, res->pushed, err) < 0) {
			lm_err_wrap(err, "push '%s'", r->push);
			goto out;
		}
		if (r->push_sbom && (r->sbom || push_sbom))
			attach_sbom(r, c, res, r->sbom ? r->sbom : push_sbom, &notes);
	}
	if (r->cache_to && !r->no_cache) {
		struct lm_err e2 = LM_ERR_INIT;
		size_t n = 0;
		/* the build is done: a cache that cannot be pushed costs the next runner time only */
		if (regcache_push(r->cache_to, c, r->reg ? r->reg : &noreg, &n, &e2) < 0)
			build_notes_add(&notes, "warning: %s", e2.msg);
		else
			res->stats.exported = n;
		lm_err_release(&e2);
	}
	lap(&res->stats, &t0, STAGE_DONE);
	if (verr.code) {
		*err = verr;
		verr = (struct lm_err)LM_ERR_INIT;
		goto out;
	}
	ret = 0;
out:
	lm_err_release(&verr);
	res->stats.imported = regcache_imported(rc);
	regcache_free(rc);
	if (c && cache_added(c)) {
		uint64_t freed = cache_gc_after_build(c, cache_added(c), o->cache_max ? o->cache_max : CACHE_MAX_DEFAULT);
		if (freed) {
			char h[32];
			build_notes_add(&notes, "cache: removed %s of least recently used entries (bound: --cache-max)",
					lm_human_bytes(freed, h, sizeof(h)));
		}
	}
	flush_notes(&notes, note, ctx);
	if (sbom_fd >= 0)
		close(sbom_fd);
	lm_tmpfile_discard(sbom_tmp);
	free(sbom_tmp);
	free(push_sbom);
	lm_rm_rf_quiet(workdir);
	for (size_t i = 0; have_trees && i < m->nlayers; i++)
		tree_release(&trees[i]);
	for (size_t i = 0; lres && i < m->nlayers; i++)
		layer_result_release(&lres[i]);
	free(trees);
	free(lres);
	free(zs.idx);
	free(keys);
	free(todo);
	prune_report_free(rep);
	prune_base_release(&pb);
	free(workdir);
	stage_bundle_release(r->m, &bundled);
	image_release(&base);
	cache_free(c);
	return ret;
}
