#include "build/build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/cache.h"
#include "image/compress.h"
#include "image/layer.h"
#include "build/manifest.h"
#include "image/ociarchive.h"
#include "run/precompile.h"
#include "run/precompile_node.h"
#include "prune/prune.h"
#include "build/source.h"
#include "image/tree.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "run/verify.h"
#include "build/buildzip.h"

/* Compression threads for the new layers. With -j 1 the caller compresses (one thread in
 * all); with N > 1, N workers compress while the caller reads files, writes the tar and
 * hashes (about a quarter of the work at the default level), so all N CPUs stay busy. */
static int nthreads(const struct lm_opts *o)
{
	long n = o->jobs > 0 ? o->jobs : sysconf(_SC_NPROCESSORS_ONLN);
	return n <= 1 ? 0 : (int)n;
}

static void progress(const struct lm_opts *o, const char *fmt, ...) LM_PRINTF(2, 3);
static void progress(const struct lm_opts *o, const char *fmt, ...)
{
	va_list ap;
	if (o->quiet)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* The image config: the base's, with the manifest's settings and the new layers. */
static int make_config(const struct lm_image *base, const struct lm_manifest *m, const struct layer_result *res,
		       int node_cache, const struct lm_opts *o, char **out, size_t *len, struct lm_err *err)
{
	struct oci_config *c = NULL;
	if (oci_config_parse(base->config_raw, base->config_len, &c, err) < 0)
		return lm_err_wrap(err, "base config");
	if (node_cache)
		oci_config_set_env(c, "NODE_COMPILE_CACHE", precompile_node_dir(&m->precompile_node));
	for (size_t i = 0; i < m->config.nenv; i++)
		oci_config_set_env(c, m->config.env[i].key, m->config.env[i].value);
	if (m->config.entrypoint_given && m->config.entrypoint)
		oci_config_set_entrypoint(c, m->config.entrypoint, m->config.nentrypoint);
	if (m->config.cmd)
		oci_config_set_cmd(c, m->config.cmd, m->config.ncmd);
	oci_config_set_workdir(c, m->config.workdir);
	for (size_t i = 0; i < m->config.nlabels; i++)
		oci_config_set_label(c, m->config.labels[i].key, m->config.labels[i].value);
	oci_config_set_created(c, o->epoch);
	for (size_t i = 0; i < m->nlayers; i++) {
		char *by = lm_asprintf("lamina: layer '%s' -> %s", m->layers[i].name, m->layers[i].to);
		oci_config_add_layer(c, res[i].diff_id, by, o->epoch);
		free(by);
	}
	*out = oci_config_serialize(c, len);
	oci_config_free(c);
	return 0;
}

static void print_summary(const struct lm_opts *o, const struct lm_manifest *m, const struct lm_image *base,
			  const struct layer_result *res, const struct lm_image *img)
{
	char a[32], b[32];
	int64_t basesz = 0;
	if (o->quiet)
		return;
	for (size_t i = 0; i < base->manifest.nlayers; i++)
		basesz += base->manifest.layers[i].size;
	fprintf(stderr, "  base    %zu layers, %s compressed (passed through unchanged)\n", base->manifest.nlayers,
		lm_human_bytes((uint64_t)basesz, a, sizeof(a)));
	for (size_t i = 0; i < m->nlayers; i++)
		fprintf(stderr, "  %-7s %llu entries, %s -> %s  %.19s\n", m->layers[i].name,
			(unsigned long long)res[i].files, lm_human_bytes(res[i].usize, a, sizeof(a)),
			lm_human_bytes((uint64_t)res[i].desc.size, b, sizeof(b)), res[i].desc.digest);
	fprintf(stderr, "  image   %s\n", img->manifest_digest);
}

/* lamina zip: the zip replaces the image as the output (not just measured for a report). */
static int zip_output(const struct build_req *r)
{
	return r->zip && !r->zip->lenient;
}

int build_run(const struct build_req *r, const struct lm_opts *o, struct lm_image *img_out, struct lm_err *err)
{
	struct lm_manifest m;
	struct cache *c = NULL;
	struct lm_image base, img;
	struct lm_tree *trees = NULL;
	struct layer_result *res = NULL;
	struct prune_report *rep = NULL;
	char *workdir = NULL, *cfg = NULL, *mbuf = NULL;
	size_t cfglen = 0, mlen = 0;
	const char *basespec, *platform;
	int ret = -1, any_prune = 0, node_cache = 0;
	uint64_t total_usize = 0;
	struct buildzip_sel zs = { ZIP_FUNCTION, NULL, 0, 0 };

	image_init(&base);
	image_init(&img);
	if (manifest_load(r->manifest, &m, err) < 0)
		return -1;
	basespec = r->base ? r->base : m.base;
	platform = r->platform ? r->platform : m.platform;
	if (!basespec) {
		lm_err_set(err, LM_E_INPUT, "%s: no base image: set \"base\" or pass --base", r->manifest);
		goto out;
	}
	if (r->tag && (strchr(r->tag, '@') || !*r->tag)) {
		lm_err_set(err, LM_E_USAGE, "--tag '%s' must be NAME[:TAG] (a digest is not a tag)", r->tag);
		goto out;
	}
	if (r->zip && buildzip_select(r->zip, &m, &zs, err) < 0)
		goto out;
	if (!(c = cache_open(o->cache_dir, err)))
		goto out;

	progress(o, "base %s (%s)\n", basespec, platform);
	{
		struct source_opts so = { platform, &r->reg };
		if (source_open(basespec, &so, c, &base, err) < 0) {
			lm_err_wrap(err, "base '%s'", basespec);
			goto out;
		}
	}

	if (!(workdir = cache_tmpdir(c, "build", err)))
		goto out;
	trees = lm_xcalloc(m.nlayers + 1, sizeof(*trees));
	res = lm_xcalloc(m.nlayers + 1, sizeof(*res));
	rep = prune_report_new();
	for (size_t i = 0; i < m.nlayers; i++) {
		const struct mf_layer *l = &m.layers[i];
		struct tree_scan_opts so = { (const char *const *)l->exclude, l->nexclude, 0 };
		char *root = tree_norm_path(l->to);
		char *lw = lm_asprintf("%s/layer%zu", workdir, i);
		tree_init(&trees[i]);
		if (tree_scan(&trees[i], l->from, l->to, &so, err) < 0) {
			lm_err_wrap(err, "%s: layer '%s' (layers[%zu].from)", r->manifest, l->name, i);
			free(root);
			free(lw);
			goto out;
		}
		tree_finish(&trees[i]);
		if (lm_mkdir_p(lw, err) < 0 ||
		    prune_apply(&m.prune, &l->prune, &trees[i], root, platform, l->name, lw, rep, err) < 0) {
			lm_err_wrap(err, "layer '%s': prune", l->name);
			free(root);
			free(lw);
			goto out;
		}
		free(root);
		free(lw);
	}
	any_prune = m.prune.set;
	for (size_t i = 0; i < m.nlayers; i++)
		any_prune |= m.layers[i].prune.set;
	if (any_prune && !o->quiet)
		prune_report_print(rep, stderr);
	if (zip_output(r)) {
		/* fail before precompiling when the trees cannot be this kind of zip */
		if (buildzip_check(&zs, &m, trees, err) < 0)
			goto out;
		if (m.precompile.invalidation == PYC_TIMESTAMP && !(m.precompile.set && !m.precompile.enabled))
			progress(o, "warning: timestamp .pyc in a zip match their sources only if the unzipped files "
				    "keep SOURCE_DATE_EPOCH as their time (DOS time: 2 s steps, from 1980); "
				    "\"unchecked-hash\" does not depend on it\n");
	}
	{
		struct precompile_result pres = { 0 };
		int pr = precompile_python(&m.precompile, &base, c, trees, m.nlayers, o, workdir, &pres, err);
		for (size_t i = 0; i < pres.nwarnings; i++)
			progress(o, "lamina: precompile: warning: %s\n", pres.warnings[i]);
		precompile_result_release(&pres);
		if (pr < 0)
			goto out;
	}
	if (m.precompile_node.set) {
		char **roots = lm_xcalloc(m.nlayers + 1, sizeof(*roots));
		int rc;
		for (size_t i = 0; i < m.nlayers; i++)
			if (!(roots[i] = tree_norm_path(m.layers[i].to)))
				roots[i] = lm_xstrdup(""); /* "/" */
		rc = precompile_node(&m.precompile_node, &base, c, trees, roots, m.nlayers, m.config.cmd, m.config.ncmd, o,
				    workdir, &node_cache, err);
		for (size_t i = 0; i < m.nlayers; i++)
			free(roots[i]);
		free(roots);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i < m.nlayers; i++) {
		int level = r->level ? r->level : m.compression_level ? m.compression_level : GZ_LEVEL_DEFAULT;
		struct layer_opts lo = { o->epoch, level, nthreads(o) };
		tree_finish(&trees[i]);
		if (layer_write(&trees[i], &lo, c, &res[i], err) < 0) {
			lm_err_wrap(err, "layer '%s'", m.layers[i].name);
			goto out;
		}
		total_usize += res[i].usize;
	}
	if (!zip_output(r) && total_usize > LAMBDA_IMAGE_MAX) {
		lm_err_set(err, LM_E_INPUT, "the app layers hold %llu bytes uncompressed; Lambda's limit for a whole image is 10 GB",
			   (unsigned long long)total_usize);
		goto out;
	}

	if (make_config(&base, &m, res, node_cache, o, &cfg, &cfglen, err) < 0)
		goto out;
	{
		struct oci_manifest om = { 0 };
		om.media_type = (char *)OCI_MT_MANIFEST;
		om.config.media_type = (char *)OCI_MT_CONFIG;
		om.config.size = (int64_t)cfglen;
		if (source_is_registry(basespec)) { /* lets a push mount the base layers from its repository */
			om.base_name = base.name;
			om.base_digest = base.manifest_digest;
		}
		if (cache_put_buf(c, cfg, cfglen, om.config.digest, err) < 0)
			goto out;
		om.nlayers = base.manifest.nlayers + m.nlayers;
		om.layers = lm_xcalloc(om.nlayers + 1, sizeof(*om.layers));
		for (size_t i = 0; i < base.manifest.nlayers; i++) {
			const struct oci_descriptor *d = &base.manifest.layers[i];
			om.layers[i] = *d;
			/* same bytes, OCI name for the type: Docker's gzip type maps one to one */
			if (d->media_type && strcmp(d->media_type, DOCKER_MT_LAYER_GZIP) == 0)
				om.layers[i].media_type = (char *)OCI_MT_LAYER_GZIP;
			else if (d->media_type && strcmp(d->media_type, DOCKER_MT_LAYER_TAR) == 0)
				om.layers[i].media_type = (char *)OCI_MT_LAYER_TAR;
		}
		for (size_t i = 0; i < m.nlayers; i++)
			om.layers[base.manifest.nlayers + i] = res[i].desc;
		mbuf = oci_manifest_serialize(&om, &mlen);
		free(om.layers); /* the descriptors' strings are borrowed */
		if (cache_put_buf(c, mbuf, mlen, NULL, err) < 0 || image_from_manifest(&img, mbuf, mlen, c, err) < 0)
			goto out;
	}
	for (size_t i = 0; i < base.manifest.nlayers && !zip_output(r); i++)
		if (!oci_is_gzip_layer(base.manifest.layers[i].media_type))
			progress(o, "warning: base layer %zu is %s; Lambda accepts only gzip layers\n", i + 1,
				 base.manifest.layers[i].media_type);

	if ((r->verify || m.verify.set) && !r->no_verify) {
		/* with the layers' trees, so a failure can name the prune rule behind it */
		struct verify_prune_layer *pl = lm_xcalloc(m.nlayers + 1, sizeof(*pl));
		struct verify_prune vp = { pl, m.nlayers, platform };
		for (size_t i = 0; i < m.nlayers; i++) {
			pl[i].name = m.layers[i].name;
			pl[i].tree = &trees[i];
			pl[i].root = m.layers[i].to;
			pl[i].global = &m.prune;
			pl[i].layer = &m.layers[i].prune;
		}
		int vr = verify_run(&img, c, r->verify ? r->verify : &m.verify, any_prune ? &vp : NULL, o,
				    r->verify_result, err);
		free(pl);
		if (vr < 0)
			goto out;
	}
	if (r->out) {
		const char *tag = r->tag ? r->tag : m.tag;
		if (ociarchive_write(&img, tag, o->epoch, c, r->out, err) < 0)
			goto out;
	}
	if (r->zip) {
		struct zip_opts zo = { o->epoch, zs.level, nthreads(o) };
		char hb[32];
		if (buildzip_write(r->zip, &zs, &m, trees, &zo, workdir, r->report, err) < 0)
			goto out;
		if (zip_output(r) && r->report && r->zip->out)
			progress(o, "zip %s: %s zip, %llu files, %s\n", r->zip->out, zip_kind_name(zs.kind),
				 (unsigned long long)r->report->zip_files,
				 lm_human_bytes(r->report->zip_size, hb, sizeof(hb)));
	}
	if (r->report && buildzip_image_sizes(r->report, &base, &m, res, &img, c, err) < 0)
		goto out;
	if (!zip_output(r))
		print_summary(o, &m, &base, res, &img);
	if (r->push) {
		char pushed[LM_DIGEST_LEN];
		if (registry_push(&img, c, r->push, &r->reg, pushed, err) < 0) {
			lm_err_wrap(err, "push '%s'", r->push);
			goto out;
		}
		progress(o, "pushed %s@%s\n", r->push, pushed);
	}
	if (!zip_output(r))
		printf("%s\n", img.manifest_digest);
	if (img_out) {
		*img_out = img;
		image_init(&img);
	}
	ret = 0;
out:
	lm_rm_rf_quiet(workdir);
	for (size_t i = 0; trees && i < m.nlayers; i++) {
		tree_release(&trees[i]);
		layer_result_release(&res[i]);
	}
	free(trees);
	free(res);
	free(zs.idx);
	prune_report_free(rep);
	free(workdir);
	free(cfg);
	free(mbuf);
	image_release(&base);
	image_release(&img);
	cache_free(c);
	manifest_release(&m);
	return ret;
}
