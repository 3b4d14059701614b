/* stages.c - the build's stages (see stages.h). */
#include "build/stages.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/baseindex.h"
#include "build/source.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "image/compress.h"
#include "image/layercheck.h"
#include "image/layercache.h"
#include "image/statcache.h"
#include "run/precompile.h"
#include "run/precompile_node.h"

const char *const build_stage_names[STAGE_DONE] = { "base", "trees", "cache", "prune", "compile",
							 "layers", "image", "verify", "outputs" };

void build_notes_add(struct build_notes *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *s = lm_vasprintf(fmt, ap);
	va_end(ap);
	lm_grow((void **)&n->v, &n->cap, n->n + 1, sizeof(*n->v));
	n->v[n->n++] = s;
}

void build_notes_release(struct build_notes *n)
{
	if (!n)
		return;
	for (size_t i = 0; i < n->n; i++)
		free(n->v[i]);
	free(n->v);
	memset(n, 0, sizeof(*n));
}

/* With -j 1 the caller compresses (one thread in all); with N > 1, N workers compress
 * while the caller reads files, writes the tar and hashes (about a quarter of the work
 * at the default level), so all N CPUs stay busy. */
int build_threads(const struct lm_opts *o)
{
	long n = o->jobs > 0 ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
	return n <= 1 ? 0 : (int)n;
}

int stage_base(const char *spec, const char *platform, const struct reg_opts *reg, struct cache *c, int for_image,
	       struct lm_image *base, struct build_notes *notes, struct lm_err *err)
{
	struct source_opts so = { platform, reg, NULL, 0, 0 };
	if (source_open(spec, &so, c, base, err) < 0)
		return lm_err_wrap_quoted(err, "base", spec);
	/* the layers are what the config says they are (checked once per layer and cache) */
	{
		struct oci_config *cfg = NULL;
		struct oci_config_view v = { 0 };
		int r = oci_config_parse(base->config_raw, base->config_len, &cfg, err);
		if (r == 0) {
			oci_config_view_get(cfg, &v);
			if (v.ndiff_ids != base->manifest.nlayers)
				r = lm_err_set(err, LM_E_INPUT, "the config lists %zu diff_ids for %zu layers", v.ndiff_ids,
					       base->manifest.nlayers);
			for (size_t i = 0; r == 0 && i < base->manifest.nlayers; i++)
				if (layer_check_cached(c, &base->manifest.layers[i], v.diff_ids[i], err) < 0)
					r = lm_err_wrap(err, "layer %zu (%s)", i + 1, base->manifest.layers[i].digest);
		}
		oci_config_view_release(&v);
		oci_config_free(cfg);
		if (r < 0) {
			image_release(base);
			return lm_err_wrap_quoted(err, "base", spec);
		}
	}
	/* used now, for the cache's least-recently-used bound */
	cache_touch(c, base->manifest.config.digest);
	for (size_t i = 0; i < base->manifest.nlayers; i++)
		cache_touch(c, base->manifest.layers[i].digest);
	for (size_t i = 0; i < base->manifest.nlayers && for_image; i++)
		if (!oci_is_gzip_layer(base->manifest.layers[i].media_type))
			build_notes_add(notes, "warning: base layer %zu is %s; Lambda accepts only gzip layers", i + 1,
					base->manifest.layers[i].media_type);
	return 0;
}

int stage_tree(const struct lm_manifest *m, size_t i, struct cache *c, struct lm_tree *t, struct build_stats *stats,
	       struct lm_err *err)
{
	const struct mf_layer *l = &m->layers[i];
	struct tree_scan_opts so = { (const char *const *)l->exclude, l->nexclude, 0 };
	struct statcache_stats ss = { 0 };
	struct statcache *sc = NULL;
	int r;
	tree_init(t);
	r = tree_scan(t, l->from, l->to, &so, err);
	if (r == 0)
		tree_finish(t);
	if (r == 0 && c && l->bundle.set) {
		/* a fresh directory every build: no stat cache for it (it would only pile up) */
		r = statcache_hash_tree(NULL, t, &ss, err);
		stats->files += ss.files;
		stats->files_hashed += ss.hashed;
		stats->bytes_hashed += ss.bytes;
	} else if (r == 0 && c) {
		sc = statcache_load(c, l->from, &ss);
		r = statcache_hash_tree(sc, t, &ss, err);
		if (r == 0) {
			struct lm_err e2 = LM_ERR_INIT;
			statcache_save(sc, &e2); /* without it the next build reads the files again */
			lm_err_release(&e2);
		}
		statcache_free(sc);
		stats->files += ss.files;
		stats->files_hashed += ss.hashed;
		stats->bytes_hashed += ss.bytes;
		stats->corrupt += (unsigned)ss.corrupt;
	}
	if (r < 0) {
		tree_release(t);
		return lm_err_wrap(err, "%s: layer '%s' (layers[%zu].from)", m->path, l->name, i);
	}
	return 0;
}

int stage_trees(const struct lm_manifest *m, struct cache *c, struct lm_tree *trees, struct build_stats *stats,
		struct lm_err *err)
{
	for (size_t i = 0; i < m->nlayers; i++)
		tree_init(&trees[i]);
	for (size_t i = 0; i < m->nlayers; i++)
		if (stage_tree(m, i, c, &trees[i], stats, err) < 0) {
			for (size_t k = 0; k < m->nlayers; k++)
				tree_release(&trees[k]);
			return -1;
		}
	return 0;
}

int stage_bundle(const struct lm_manifest *m, const char *workdir, struct lm_manifest *out,
		 struct build_notes *notes, struct lm_err *err)
{
	*out = *m;
	out->layers = lm_xcalloc(m->nlayers + 1, sizeof(*out->layers));
	memcpy(out->layers, m->layers, m->nlayers * sizeof(*m->layers));
	for (size_t i = 0; i < m->nlayers; i++) {
		const struct mf_layer *l = &m->layers[i];
		struct bundle_result br;
		char *dir, *scratch;
		int r;
		out->layers[i].from = NULL;
		if (!l->bundle.set)
			continue;
		dir = lm_asprintf("%s/bundle%zu", workdir, i);
		scratch = lm_asprintf("%s/bundle%zu.meta", workdir, i);
		r = lm_mkdir_p(scratch, err);
		if (r == 0)
			r = bundle_node_run(&l->bundle, l->name, i, l->from, m->dir, dir, scratch, &br, err);
		if (r == 0) {
			char *t = bundle_report_text(l->name, &br);
			build_notes_add(notes, "%s", t);
			free(t);
		}
		bundle_result_release(&br);
		free(scratch);
		if (r < 0) {
			free(dir);
			stage_bundle_release(m, out);
			return lm_err_wrap(err, "%s", m->path);
		}
		out->layers[i].from = dir;
	}
	for (size_t i = 0; i < m->nlayers; i++)
		if (!out->layers[i].from)
			out->layers[i].from = m->layers[i].from;
	return 0;
}

void stage_bundle_release(const struct lm_manifest *m, struct lm_manifest *out)
{
	if (!out || !out->layers)
		return;
	for (size_t i = 0; i < m->nlayers; i++)
		if (out->layers[i].from && out->layers[i].from != m->layers[i].from)
			free(out->layers[i].from);
	free(out->layers);
	out->layers = NULL;
}

int stage_base_index(const struct lm_manifest *m, const struct lm_image *base, struct cache *c, int use_cache,
		     struct prune_base *pb, struct lm_err *err)
{
	int want = 0;
	prune_base_init(pb);
	for (size_t i = 0; i < m->nlayers; i++)
		want |= prune_wants_base(&m->prune, &m->layers[i].prune);
	if (!want)
		return 0;
	return base_index(base, c, use_cache, pb, err);
}

int stage_prune(const struct lm_manifest *m, const char *platform, const struct prune_base *pb,
		struct lm_tree *trees, const unsigned char *todo, const char *workdir, struct prune_report *rep,
		int *any, struct lm_err *err)
{
	*any = m->prune.set;
	for (size_t i = 0; i < m->nlayers; i++) {
		const struct mf_layer *l = &m->layers[i];
		*any |= l->prune.set;
		if (todo && !todo[i])
			continue;
		char *root = tree_norm_path(l->to);
		char *lw = lm_asprintf("%s/layer%zu", workdir, i);
		int r = lm_mkdir_p(lw, err);
		if (r == 0)
			r = prune_apply(&m->prune, &l->prune, &trees[i], root, platform, pb, l->name, lw, rep, err);
		free(root);
		free(lw);
		if (r < 0)
			return lm_err_wrap(err, "layer '%s': prune", l->name);
	}
	return 0;
}

int stage_compile(const struct lm_manifest *m, const struct lm_image *base, struct cache *c, struct lm_tree *trees,
		  const unsigned char *todo, int use_cache, const struct lm_opts *o, const char *workdir,
		  struct build_notes *notes, struct build_stats *stats, struct lm_err *err)
{
	struct precompile_spec ps = m->precompile;
	struct precompile_result pres = { 0 };
	struct lm_tree *sel = lm_xcalloc(m->nlayers + 1, sizeof(*sel));
	size_t nsel = 0;
	int r = 0;

	/* the trees to compile, side by side (shallow copies, copied back after) */
	for (size_t i = 0; i < m->nlayers; i++)
		if (!todo || todo[i])
			sel[nsel++] = trees[i];
	ps.no_cache = !use_cache;
	if (nsel)
		r = precompile_python(&ps, base, c, sel, nsel, o, workdir, &pres, err);
	stats->compiled += pres.compiled;
	stats->pyc_cached += pres.cached;
	stats->corrupt += pres.corrupt;
	for (size_t i = 0, k = 0; i < m->nlayers; i++)
		if (!todo || todo[i])
			trees[i] = sel[k++];
	free(sel);
	for (size_t i = 0; i < pres.nwarnings; i++)
		build_notes_add(notes, "lamina: precompile: warning: %s", pres.warnings[i]);
	precompile_result_release(&pres);
	return r < 0 ? -1 : 0;
}

int stage_node_cache(const struct lm_manifest *m, const struct lm_image *base, struct cache *c, struct lm_tree *trees,
		     const struct lm_opts *o, const char *workdir, int *node_cache, struct build_notes *notes,
		     struct lm_err *err)
{
	int r;
	*node_cache = 0;
	if (m->precompile_node.set) {
		char **roots = lm_xcalloc(m->nlayers + 1, sizeof(*roots));
		for (size_t i = 0; i < m->nlayers; i++)
			if (!(roots[i] = tree_norm_path(m->layers[i].to)))
				roots[i] = lm_xstrdup(""); /* "/" */
		struct precompile_result pres = { 0 };
		r = precompile_node(&m->precompile_node, base, c, trees, roots, m->nlayers, m->config.cmd, m->config.ncmd,
				    o, workdir, node_cache, &pres, err);
		for (size_t i = 0; i < pres.nwarnings; i++)
			build_notes_add(notes, "%s", pres.warnings[i]);
		precompile_result_release(&pres);
		for (size_t i = 0; i < m->nlayers; i++)
			free(roots[i]);
		free(roots);
		if (r < 0)
			return -1;
	}
	return 0;
}

int stage_layers(const struct lm_manifest *m, struct lm_tree *trees, int level, const struct lm_opts *o,
		 struct cache *c, int use_cache, struct layer_result *res, struct build_stats *stats,
		 struct lm_err *err)
{
	struct layer_opts lo = { o->epoch, level, build_threads(o) };
	for (size_t i = 0; i < m->nlayers; i++) {
		struct layer_cache_info info;
		tree_finish(&trees[i]);
		if (layer_write_cached(&trees[i], &lo, c, use_cache, &res[i], &info, err) < 0)
			return lm_err_wrap(err, "layer '%s'", m->layers[i].name);
		stats->layers_reused += (uint64_t)info.reused;
		stats->layers_written += (uint64_t)!info.reused;
		stats->bytes_compressed += info.compressed;
		stats->corrupt += (unsigned)info.corrupt;
	}
	return 0;
}

/* The image config: the base's, with the manifest's settings and the new layers. */
static int make_config(const struct lm_image *base, const struct lm_manifest *m, const struct layer_result *res,
		       int node_cache, int64_t epoch, char **out, size_t *len, struct lm_err *err)
{
	struct oci_config *c = NULL;
	if (oci_config_parse(base->config_raw, base->config_len, &c, err) < 0)
		return lm_err_wrap(err, "base config");
	if (node_cache)
		oci_config_set_env(c, "NODE_COMPILE_CACHE", precompile_node_dir(&m->precompile_node));
	for (size_t i = 0; i < m->config.nenv; i++)
		oci_config_set_env(c, m->config.env[i].key, m->config.env[i].value);
	for (size_t i = 0; i < m->nlayers; i++)
		if (m->layers[i].bundle.set && m->layers[i].bundle.sourcemap) {
			/* stack traces through the maps; added to the manifest's NODE_OPTIONS, if any */
			const char *have = NULL;
			for (size_t k = 0; k < m->config.nenv; k++)
				if (strcmp(m->config.env[k].key, "NODE_OPTIONS") == 0)
					have = m->config.env[k].value;
			if (!have || !strstr(have, "--enable-source-maps")) {
				char *v = have && *have ? lm_asprintf("%s --enable-source-maps", have)
							: lm_xstrdup("--enable-source-maps");
				oci_config_set_env(c, "NODE_OPTIONS", v);
				free(v);
			}
			break;
		}
	if (m->config.entrypoint_given && m->config.entrypoint)
		oci_config_set_entrypoint(c, m->config.entrypoint, m->config.nentrypoint);
	if (m->config.cmd)
		oci_config_set_cmd(c, m->config.cmd, m->config.ncmd);
	oci_config_set_workdir(c, m->config.workdir);
	for (size_t i = 0; i < m->config.nlabels; i++)
		oci_config_set_label(c, m->config.labels[i].key, m->config.labels[i].value);
	if (m->verify.set) {
		/* the checks travel with the image: `lamina verify OUT.tar` runs them again */
		char *spec = verify_spec_to_json(&m->verify);
		oci_config_set_label(c, VERIFY_LABEL, spec);
		free(spec);
	}
	oci_config_set_created(c, epoch);
	for (size_t i = 0; i < m->nlayers; i++) {
		char *by = lm_asprintf("lamina: layer '%s' -> %s", m->layers[i].name, m->layers[i].to);
		oci_config_add_layer(c, res[i].diff_id, by, epoch);
		free(by);
	}
	*out = oci_config_serialize(c, len);
	oci_config_free(c);
	return 0;
}

int stage_image(const struct lm_manifest *m, const struct lm_image *base, const char *base_ref,
		const struct layer_result *res, int node_cache, int64_t epoch, struct cache *c, struct lm_image *img,
		struct lm_err *err)
{
	struct oci_manifest om = { 0 };
	char *cfg = NULL, *mbuf = NULL;
	size_t cfglen = 0, mlen = 0;
	int ret = -1;

	if (make_config(base, m, res, node_cache, epoch, &cfg, &cfglen, err) < 0)
		goto out;
	om.media_type = (char *)OCI_MT_MANIFEST;
	om.config.media_type = (char *)OCI_MT_CONFIG;
	om.config.size = (int64_t)cfglen;
	if (base_ref) { /* lets a push mount the base layers from its repository */
		om.base_name = base->name;
		om.base_digest = (char *)base->manifest_digest;
	}
	if (cache_put_buf(c, cfg, cfglen, om.config.digest, err) < 0)
		goto out;
	om.nlayers = base->manifest.nlayers + m->nlayers;
	om.layers = lm_xcalloc(om.nlayers + 1, sizeof(*om.layers));
	for (size_t i = 0; i < base->manifest.nlayers; i++) {
		const struct oci_descriptor *d = &base->manifest.layers[i];
		om.layers[i] = *d;
		/* same bytes, OCI name for the type: Docker's gzip type maps one to one */
		if (d->media_type && strcmp(d->media_type, DOCKER_MT_LAYER_GZIP) == 0)
			om.layers[i].media_type = (char *)OCI_MT_LAYER_GZIP;
		else if (d->media_type && strcmp(d->media_type, DOCKER_MT_LAYER_TAR) == 0)
			om.layers[i].media_type = (char *)OCI_MT_LAYER_TAR;
	}
	for (size_t i = 0; i < m->nlayers; i++)
		om.layers[base->manifest.nlayers + i] = res[i].desc;
	mbuf = oci_manifest_serialize(&om, &mlen);
	if (cache_put_buf(c, mbuf, mlen, NULL, err) < 0 || image_from_manifest(img, mbuf, mlen, c, err) < 0)
		goto out;
	ret = 0;
out:
	free(om.layers); /* the descriptors' strings are borrowed */
	free(cfg);
	free(mbuf);
	return ret;
}

void stage_verify_key(const struct lm_image *img, const struct verify_spec *v, char key[LM_DIGEST_LEN])
{
	struct ac_key k;
	ac_key_init(&k, "verify");
	char *spec = verify_spec_to_json(v); /* imports, handler, runtime, env */
	ac_key_str(&k, img->manifest_digest);
	ac_key_str(&k, spec);
	ac_key_final(&k, key);
	free(spec);
}

int stage_verify(const struct lm_manifest *m, const struct verify_spec *v, const char *platform,
		 struct lm_tree *trees, int any_prune, const struct prune_base *pb, const struct lm_image *img, struct cache *c, int use_cache,
		 const struct lm_opts *o, struct verify_outcome *vo, struct build_stats *stats, struct lm_err *err)
{
	char key[LM_DIGEST_LEN];
	int cacheable = use_cache && !v->event;
	if (cacheable) {
		char *rec = NULL;
		int corrupt = 0;
		stage_verify_key(img, v, key);
		if (ac_get(c, key, &rec, NULL, &corrupt) == 1 && strcmp(rec, "passed") == 0) {
			free(rec);
			stats->verify_cached = 1;
			return 0;
		}
		free(rec);
		stats->corrupt += (unsigned)corrupt;
	}
	/* with the layers' trees, so a failure can name the prune rule behind it */
	struct verify_prune_layer *pl = lm_xcalloc(m->nlayers + 1, sizeof(*pl));
	struct verify_prune vp = { pl, m->nlayers, platform, pb };
	int r;
	for (size_t i = 0; i < m->nlayers; i++) {
		pl[i].name = m->layers[i].name;
		pl[i].tree = &trees[i];
		pl[i].root = m->layers[i].to;
		pl[i].global = &m->prune;
		pl[i].layer = &m->layers[i].prune;
	}
	r = verify_run(img, c, v, any_prune ? &vp : NULL, o, vo, err);
	free(pl);
	if (r == 0 && cacheable) {
		struct lm_err e2 = LM_ERR_INIT;
		ac_put(c, key, "passed", 6, &e2); /* a failure to record costs the next build the checks */
		lm_err_release(&e2);
	}
	return r;
}
