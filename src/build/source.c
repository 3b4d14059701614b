#include "build/source.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "image/compress.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

#define COPY_CHUNK (256u << 10)

enum kind { SRC_OCI_ARCHIVE, SRC_OCI_DIR, SRC_DOCKER_ARCHIVE, SRC_REGISTRY };

/* Splits "PATH[:REF]": the whole string when it names an existing file, else at the last ':'. */
static void split_path_ref(const char *s, char **path, char **ref)
{
	const char *c = strrchr(s, ':');
	struct stat st;
	if (stat(s, &st) == 0 || !c || c == s || strchr(c, '/')) {
		*path = lm_xstrdup(s);
		*ref = NULL;
		return;
	}
	*path = lm_xstrndup(s, (size_t)(c - s));
	*ref = c[1] ? lm_xstrdup(c + 1) : NULL;
}

static struct archive *open_archive(const char *path, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_filter_none(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		if (access(path, R_OK) < 0)
			lm_err_sys(err, "open '%s'", path);
		else
			lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		archive_read_free(a);
		return NULL;
	}
	return a;
}

/* Feeds the current archive entry to fn in chunks of at most COPY_CHUNK bytes. */
static int entry_pump(struct archive *a, gz_sink_fn fn, void *ctx, struct lm_err *err)
{
	char *buf = lm_xmalloc(COPY_CHUNK);
	int ret = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(a, buf, COPY_CHUNK);
		if (n < 0) {
			ret = lm_err_set(err, LM_E_INPUT, "%s", archive_error_string(a));
			break;
		}
		if (n == 0 || (ret = fn(ctx, buf, (size_t)n, err)) < 0)
			break;
	}
	free(buf);
	return ret;
}

/* Streams the current archive entry into the cache, expecting digest (if non-NULL). */
static int entry_to_cache(struct archive *a, struct cache *c, const char *expect, int64_t size,
			  char out[LM_DIGEST_LEN], struct lm_err *err)
{
	struct cache_writer *w = cache_writer_new(c, err);
	if (!w)
		return -1;
	if (entry_pump(a, cache_writer_sink, w, err) < 0) {
		cache_writer_abort(w);
		return -1;
	}
	return cache_writer_commit(w, expect, size, out, err);
}

static int entry_to_mem(struct archive *a, struct archive_entry *e, size_t cap, char **out, size_t *len,
			const char *name, struct lm_err *err)
{
	int64_t sz = archive_entry_size(e);
	char *buf;
	size_t got = 0;
	if (sz < 0 || (uint64_t)sz > cap)
		return lm_err_set(err, LM_E_INPUT, "'%s' is larger than %zu bytes", name, cap);
	buf = lm_xmalloc((size_t)sz + 1);
	while (got < (size_t)sz) {
		la_ssize_t n = archive_read_data(a, buf + got, (size_t)sz - got);
		if (n <= 0) {
			free(buf);
			return lm_err_set(err, LM_E_INPUT, "'%s': %s", name, n < 0 ? archive_error_string(a) : "truncated");
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	return 0;
}

static const char *entry_name(struct archive_entry *e)
{
	const char *n = archive_entry_pathname(e);
	while (n && n[0] == '.' && n[1] == '/')
		n += 2;
	return n ? n : "";
}

/* Picks a manifest from an index: by ref name (annotation) when given, else by platform. */
static int pick_from_index(const char *buf, size_t len, const char *ref, const struct oci_platform *plat,
			   char out[LM_DIGEST_LEN], const char *what, struct lm_err *err)
{
	struct oci_index ix;
	int i = -1;
	if (oci_index_parse(buf, len, &ix, err) < 0)
		return lm_err_wrap(err, "%s", what);
	if (ref) {
		for (size_t k = 0; k < ix.n; k++)
			if (ix.manifests[k].ref_name && strcmp(ix.manifests[k].ref_name, ref) == 0)
				i = (int)k;
		if (i < 0) {
			oci_index_release(&ix);
			return lm_err_set(err, LM_E_INPUT, "%s: no image named '%s'", what, ref);
		}
	} else if (ix.n == 1) {
		i = 0;
	} else {
		i = oci_index_select(&ix, plat);
		if (i < 0) {
			oci_index_release(&ix);
			return lm_err_set(err, LM_E_INPUT, "%s: no image for %s/%s%s%s", what, plat->os, plat->arch,
					  plat->variant ? "/" : "", plat->variant ? plat->variant : "");
		}
	}
	memcpy(out, ix.manifests[i].digest, LM_DIGEST_LEN);
	oci_index_release(&ix);
	return 0;
}

/* From a manifest or index digest in the cache to a single-platform image. */
static int resolve(struct cache *c, const char *digest, const struct oci_platform *plat, struct lm_image *img,
		   const char *what, struct lm_err *err)
{
	char cur[LM_DIGEST_LEN];
	memcpy(cur, digest, LM_DIGEST_LEN);
	for (int depth = 0; depth < 3; depth++) {
		char *buf = NULL;
		size_t len = 0;
		enum oci_doc_kind k;
		if (!cache_has(c, cur, -1))
			return lm_err_set(err, LM_E_INPUT, "%s: blob %s is missing", what, cur);
		if (cache_read_blob(c, cur, OCI_JSON_MAX, &buf, &len, err) < 0)
			return lm_err_wrap(err, "%s", what);
		k = oci_doc_kind(buf, len, NULL);
		if (k == OCI_DOC_INDEX) {
			int r = pick_from_index(buf, len, NULL, plat, cur, what, err);
			free(buf);
			if (r < 0)
				return -1;
			continue;
		}
		if (k != OCI_DOC_MANIFEST) {
			free(buf);
			return lm_err_set(err, LM_E_INPUT, "%s: %s is not an image manifest", what, cur);
		}
		if (image_from_manifest(img, buf, len, c, err) < 0) {
			free(buf);
			return lm_err_wrap(err, "%s", what);
		}
		free(buf);
		return 0;
	}
	return lm_err_set(err, LM_E_INPUT, "%s: indexes nested too deeply", what);
}

static int open_oci_archive(const char *path, const char *ref, const struct oci_platform *plat, struct cache *c,
			    struct lm_image *img, struct source_info *info, int verify_all, struct lm_err *err)
{
	struct archive *a = open_archive(path, err);
	struct archive_entry *e;
	char *index = NULL, pick[LM_DIGEST_LEN];
	size_t ilen = 0;
	int r, ret = -1;
	if (!a)
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *n = entry_name(e);
		if (strcmp(n, "index.json") == 0) {
			/* two would be read differently by different tools: refused */
			if (index) {
				lm_err_set(err, LM_E_INPUT, "'%s' holds index.json twice", path);
				goto out;
			}
			if (entry_to_mem(a, e, OCI_JSON_MAX, &index, &ilen, n, err) < 0)
				goto out;
		} else if (lm_str_startswith(n, "blobs/sha256/") && archive_entry_filetype(e) == AE_IFREG) {
			char *dg = lm_asprintf("sha256:%s", n + 13);
			int64_t sz = archive_entry_size(e);
			if (!digest_valid(dg)) {
				lm_err_set(err, LM_E_INPUT, "'%s': blob name '%s' is not a sha256 digest", path, n);
				free(dg);
				goto out;
			}
			if (!verify_all && cache_has(c, dg, sz)) {
				free(dg);
				continue;
			}
			if (entry_to_cache(a, c, dg, sz, NULL, err) < 0) {
				lm_err_wrap(err, "'%s': blob %s", path, dg);
				free(dg);
				goto out;
			}
			free(dg);
		}
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	if (!index) {
		lm_err_set(err, LM_E_INPUT, "'%s' is not an OCI archive (no index.json)", path);
		goto out;
	}
	if (pick_from_index(index, ilen, ref, plat, pick, path, err) < 0)
		goto out;
	ret = resolve(c, pick, plat, img, path, err);
	if (ret == 0 && info) {
		info->top = index;
		info->top_len = ilen;
		info->layout = 1;
		index = NULL;
	}
out:
	free(index);
	archive_read_free(a);
	return ret;
}

static int file_to_cache(const char *path, struct cache *c, const char *expect, int64_t size, struct lm_err *err)
{
	/* a blob of a layout is a regular file: a FIFO must not block, a symlink is not followed */
	int fd = lm_open_regular(path, O_NOFOLLOW, err);
	struct cache_writer *w;
	char *buf;
	if (fd < 0)
		return -1;
	w = cache_writer_new(c, err);
	if (!w) {
		close(fd);
		return -1;
	}
	buf = lm_xmalloc(COPY_CHUNK);
	for (;;) {
		ssize_t n = read(fd, buf, COPY_CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lm_err_sys(err, "read '%s'", path);
			goto fail;
		}
		if (n == 0)
			break;
		if (cache_writer_write(w, buf, (size_t)n, err) < 0)
			goto fail;
	}
	free(buf);
	close(fd);
	return cache_writer_commit(w, expect, size, NULL, err);
fail:
	free(buf);
	close(fd);
	cache_writer_abort(w);
	return -1;
}

/* Copies a blob of an OCI layout into the cache (verified) unless present (or verify_all). */
static int layout_blob(const char *dir, const char *digest, int64_t size, struct cache *c, int verify_all,
		       struct lm_err *err)
{
	char *p;
	int r;
	if (!verify_all && cache_has(c, digest, size))
		return 0;
	p = lm_asprintf("%s/blobs/sha256/%s", dir, digest_hex(digest));
	r = file_to_cache(p, c, digest, size, err);
	free(p);
	return r;
}

static int open_oci_dir(const char *dir, const char *ref, const struct oci_platform *plat, struct cache *c,
			struct lm_image *img, struct source_info *info, int verify_all, struct lm_err *err)
{
	char *ipath = lm_path_join(dir, "index.json"), *index = NULL, pick[LM_DIGEST_LEN];
	size_t ilen;
	int ret = -1;
	if (lm_read_regular(ipath, OCI_JSON_MAX, &index, &ilen, err) < 0) {
		lm_err_wrap(err, "OCI layout '%s'", dir);
		goto out;
	}
	if (pick_from_index(index, ilen, ref, plat, pick, dir, err) < 0)
		goto out;
	/* walk down: manifest (or nested index), then config and layers */
	for (int depth = 0; depth < 3; depth++) {
		char *buf = NULL;
		size_t len;
		if (layout_blob(dir, pick, -1, c, verify_all, err) < 0 || cache_read_blob(c, pick, OCI_JSON_MAX, &buf, &len, err) < 0) {
			lm_err_wrap(err, "OCI layout '%s'", dir);
			goto out;
		}
		if (oci_doc_kind(buf, len, NULL) == OCI_DOC_INDEX) {
			int r = pick_from_index(buf, len, NULL, plat, pick, dir, err);
			free(buf);
			if (r < 0)
				goto out;
			continue;
		}
		{
			struct oci_manifest m;
			int r = oci_manifest_parse(buf, len, &m, err);
			free(buf);
			if (r < 0) {
				lm_err_wrap(err, "OCI layout '%s'", dir);
				goto out;
			}
			r = layout_blob(dir, m.config.digest, m.config.size, c, verify_all, err);
			for (size_t i = 0; r == 0 && i < m.nlayers; i++)
				r = layout_blob(dir, m.layers[i].digest, m.layers[i].size, c, verify_all, err);
			oci_manifest_release(&m);
			if (r < 0) {
				lm_err_wrap(err, "OCI layout '%s'", dir);
				goto out;
			}
		}
		break;
	}
	ret = resolve(c, pick, plat, img, dir, err);
	if (ret == 0 && info) {
		info->top = index;
		info->top_len = ilen;
		info->layout = 1;
		index = NULL;
	}
out:
	free(ipath);
	free(index);
	return ret;
}

/* ---- docker save archives (legacy and Docker 25+ layouts) ---- */

struct docker_layer {
	char *path;
	char digest[LM_DIGEST_LEN]; /* gzip blob in the cache */
	char diff_id[LM_DIGEST_LEN];
	int64_t size;
	int done;
};

/* Where a docker layer entry's bytes go: straight to the cache when the first bytes show
 * gzip, else through a gzip writer (decided on the first chunk). */
struct docker_sink {
	struct cache_writer *w;
	struct gz_writer *gz;
	int threads;
	int started;
};

static int docker_sink_write(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	struct docker_sink *s = ctx;
	const unsigned char *p = data;
	if (!s->started) {
		s->started = 1;
		if (!(len >= 2 && p[0] == 0x1f && p[1] == 0x8b))
			s->gz = gz_writer_new(GZ_LEVEL_DEFAULT, s->threads, cache_writer_sink, s->w);
	}
	return s->gz ? gz_write(s->gz, data, len, err) : cache_writer_write(s->w, data, len, err);
}

/* Stores a layer entry as gzip (compressing an uncompressed tar, keeping a gzip one). */
static int docker_layer_to_cache(struct archive *a, struct cache *c, struct docker_layer *l, int threads,
				 struct lm_err *err)
{
	struct docker_sink s = { .w = cache_writer_new(c, err), .threads = threads };
	if (!s.w)
		return -1;
	if (entry_pump(a, docker_sink_write, &s, err) < 0)
		goto fail;
	if (!s.started) /* empty entry: an empty tar stream */
		s.gz = gz_writer_new(GZ_LEVEL_DEFAULT, threads, cache_writer_sink, s.w);
	if (s.gz) {
		if (gz_finish(s.gz, l->diff_id, NULL, err) < 0)
			goto fail;
		gz_writer_free(s.gz);
		s.gz = NULL;
	} else {
		l->diff_id[0] = '\0'; /* gzip kept as is: the config's diff_id stands */
	}
	l->size = (int64_t)cache_writer_size(s.w);
	if (cache_writer_commit(s.w, NULL, l->size, l->digest, err) < 0)
		return -1;
	l->done = 1;
	return 0;
fail:
	gz_writer_free(s.gz);
	cache_writer_abort(s.w);
	return -1;
}

static int open_docker_archive(const char *path, const char *ref, const struct oci_platform *plat,
			       struct cache *c, struct lm_image *img, int threads, struct source_info *info,
			       struct lm_err *err)
{
	struct archive *a = NULL;
	struct archive_entry *e;
	char *mjson = NULL, *cfgpath = NULL, *cfg = NULL;
	size_t mlen = 0, cfglen = 0, nl = 0;
	struct docker_layer *layers = NULL;
	json_t *root = NULL, *entry = NULL, *jl;
	struct oci_config *oc = NULL;
	struct oci_config_view view = { 0 };
	struct oci_manifest m = { 0 };
	char cfgdigest[LM_DIGEST_LEN];
	int r, ret = -1;

	/* pass 1: manifest.json */
	if (!(a = open_archive(path, err)))
		return -1;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK)
		if (strcmp(entry_name(e), "manifest.json") == 0) {
			if (entry_to_mem(a, e, OCI_JSON_MAX, &mjson, &mlen, "manifest.json", err) < 0)
				goto out;
			break;
		}
	if (r != ARCHIVE_OK && r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	archive_read_free(a);
	a = NULL;
	if (!mjson) {
		lm_err_set(err, LM_E_INPUT, "'%s' is not a docker save archive (no manifest.json)", path);
		goto out;
	}
	root = json_loadb(mjson, mlen, 0, NULL);
	if (!json_is_array(root) || json_array_size(root) == 0) {
		lm_err_set(err, LM_E_INPUT, "'%s': manifest.json is not a non-empty array", path);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(root) && !entry; i++) {
		json_t *it = json_array_get(root, i), *tags = json_object_get(it, "RepoTags");
		if (!ref)
			entry = it;
		for (size_t k = 0; ref && k < json_array_size(tags); k++) {
			const char *t = json_string_value(json_array_get(tags, k));
			if (t && strcmp(t, ref) == 0)
				entry = it;
		}
	}
	if (!entry) {
		lm_err_set(err, LM_E_INPUT, "'%s': no image tagged '%s'", path, ref);
		goto out;
	}
	if (!json_is_string(json_object_get(entry, "Config")) || !json_is_array(json_object_get(entry, "Layers"))) {
		lm_err_set(err, LM_E_INPUT, "'%s': manifest.json entry lacks Config or Layers", path);
		goto out;
	}
	cfgpath = lm_xstrdup(json_string_value(json_object_get(entry, "Config")));
	jl = json_object_get(entry, "Layers");
	nl = json_array_size(jl);
	layers = lm_xcalloc(nl + 1, sizeof(*layers));
	for (size_t i = 0; i < nl; i++) {
		const char *p = json_string_value(json_array_get(jl, i));
		if (!p) {
			lm_err_set(err, LM_E_INPUT, "'%s': manifest.json Layers[%zu] is not a string", path, i);
			goto out;
		}
		layers[i].path = lm_xstrdup(p);
	}

	/* pass 2: config and layers */
	if (!(a = open_archive(path, err)))
		goto out;
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *n = entry_name(e);
		if (strcmp(n, cfgpath) == 0 && !cfg) {
			if (entry_to_mem(a, e, OCI_JSON_MAX, &cfg, &cfglen, n, err) < 0)
				goto out;
			continue;
		}
		for (size_t i = 0; i < nl; i++) {
			if (layers[i].done || strcmp(n, layers[i].path) != 0)
				continue;
			if (docker_layer_to_cache(a, c, &layers[i], threads, err) < 0) {
				lm_err_wrap(err, "'%s': layer '%s'", path, n);
				goto out;
			}
			/* the same file listed twice (empty layers) is stored once */
			for (size_t j = i + 1; j < nl; j++) {
				if (strcmp(layers[j].path, n) != 0)
					continue;
				memcpy(layers[j].digest, layers[i].digest, LM_DIGEST_LEN);
				memcpy(layers[j].diff_id, layers[i].diff_id, LM_DIGEST_LEN);
				layers[j].size = layers[i].size;
				layers[j].done = 1;
			}
			break;
		}
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	if (!cfg) {
		lm_err_set(err, LM_E_INPUT, "'%s': config '%s' is missing", path, cfgpath);
		goto out;
	}
	for (size_t i = 0; i < nl; i++)
		if (!layers[i].done) {
			lm_err_set(err, LM_E_INPUT, "'%s': layer '%s' is missing", path, layers[i].path);
			goto out;
		}
	if (oci_config_parse(cfg, cfglen, &oc, err) < 0) {
		lm_err_wrap(err, "'%s'", path);
		goto out;
	}
	oci_config_view_get(oc, &view);
	if (view.ndiff_ids != nl) {
		lm_err_set(err, LM_E_INPUT, "'%s': config lists %zu layers, manifest.json %zu", path, view.ndiff_ids, nl);
		goto out;
	}
	for (size_t i = 0; i < nl; i++)
		if (layers[i].diff_id[0] && strcmp(layers[i].diff_id, view.diff_ids[i]) != 0) {
			lm_err_set(err, LM_E_VERIFY, "'%s': layer '%s' hashes to %s, the config says %s", path,
				   layers[i].path, layers[i].diff_id, view.diff_ids[i]);
			goto out;
		}
	if (cache_put_buf(c, cfg, cfglen, cfgdigest, err) < 0)
		goto out;
	/* the config's name in the archive is its digest: check it when it says so */
	{
		const char *b = strrchr(cfgpath, '/');
		char *hex = lm_xstrdup(b ? b + 1 : cfgpath);
		char *dot = strstr(hex, ".json");
		if (dot)
			*dot = '\0';
		if (strlen(hex) == 64 && strcmp(hex, digest_hex(cfgdigest)) != 0) {
			lm_err_set(err, LM_E_VERIFY, "'%s': config '%s' hashes to %s", path, cfgpath, cfgdigest);
			free(hex);
			goto out;
		}
		free(hex);
	}
	(void)plat;
	m.media_type = lm_xstrdup(OCI_MT_MANIFEST);
	m.config.media_type = lm_xstrdup(OCI_MT_CONFIG);
	memcpy(m.config.digest, cfgdigest, LM_DIGEST_LEN);
	m.config.size = (int64_t)cfglen;
	m.nlayers = nl;
	m.layers = lm_xcalloc(nl + 1, sizeof(*m.layers));
	for (size_t i = 0; i < nl; i++) {
		m.layers[i].media_type = lm_xstrdup(OCI_MT_LAYER_GZIP);
		memcpy(m.layers[i].digest, layers[i].digest, LM_DIGEST_LEN);
		m.layers[i].size = layers[i].size;
	}
	{
		size_t len;
		char *buf = oci_manifest_serialize(&m, &len);
		char md[LM_DIGEST_LEN];
		r = cache_put_buf(c, buf, len, md, err);
		if (r == 0)
			r = image_from_manifest(img, buf, len, c, err);
		free(buf);
		if (r < 0)
			goto out;
	}
	if (info) {
		/* a layer lamina compressed on the way in has its diff_id computed here */
		info->uncompressed = lm_xcalloc(nl + 1, 1);
		info->nlayers = nl;
		for (size_t i = 0; i < nl; i++)
			info->uncompressed[i] = layers[i].diff_id[0] != '\0';
	}
	ret = 0;
out:
	if (a)
		archive_read_free(a);
	json_decref(root);
	for (size_t i = 0; i < nl; i++)
		free(layers[i].path);
	free(layers);
	free(mjson);
	free(cfgpath);
	free(cfg);
	oci_config_view_release(&view);
	oci_config_free(oc);
	oci_manifest_release(&m);
	return ret;
}

static int check_platform(const struct lm_image *img, const struct oci_platform *want, const char *spec,
			  struct lm_err *err)
{
	struct oci_config *oc = NULL;
	struct oci_config_view v;
	struct oci_platform have;
	int ok;
	if (oci_config_parse(img->config_raw, img->config_len, &oc, err) < 0)
		return lm_err_wrap_quoted(err, "base", spec);
	oci_config_view_get(oc, &v);
	have.os = v.os;
	have.arch = v.arch;
	have.variant = v.variant;
	ok = oci_platform_match(&have, want);
	if (!ok)
		lm_err_set(err, LM_E_INPUT, "base '%s' is %s/%s, not the requested %s/%s", spec, v.os ? v.os : "?",
			   v.arch ? v.arch : "?", want->os, want->arch);
	oci_config_view_release(&v);
	oci_config_free(oc);
	return ok ? 0 : -1;
}

void source_info_release(struct source_info *si)
{
	if (!si)
		return;
	free(si->top);
	free(si->uncompressed);
	memset(si, 0, sizeof(*si));
}

/* The document a registry answers for ref (manifest or index), as it is. */
static int registry_top(const char *ref, const struct reg_opts *ro, struct cache *c, struct source_info *info,
			struct lm_err *err)
{
	struct reg_session *s = registry_session_new(ref, ro, c, err);
	char *body = NULL, *mt = NULL;
	size_t len = 0;
	int r;
	if (!s)
		return -1;
	r = registry_session_manifest(s, &body, &len, &mt, err);
	registry_session_free(s);
	free(mt);
	if (r < 0)
		return -1;
	info->top = body;
	info->top_len = len;
	info->layout = 0;
	return 0;
}

int source_is_registry(const char *spec)
{
	return !lm_str_startswith(spec, "oci-archive:") && !lm_str_startswith(spec, "oci:") &&
	       !lm_str_startswith(spec, "docker-archive:");
}

int source_open(const char *spec, const struct source_opts *so, struct cache *c, struct lm_image *out,
		struct lm_err *err)
{
	struct oci_platform plat = { 0 };
	struct lm_image img;
	char *path = NULL, *ref = NULL;
	enum kind k;
	const char *rest = spec;
	int r;
	image_init(&img);
	if (so && so->info)
		memset(so->info, 0, sizeof(*so->info));
	if (oci_platform_parse(so && so->platform ? so->platform : "linux/amd64", &plat, err) < 0)
		return -1;
	if (lm_str_startswith(spec, "oci-archive:")) {
		k = SRC_OCI_ARCHIVE;
		rest = spec + 12;
	} else if (lm_str_startswith(spec, "oci:")) {
		k = SRC_OCI_DIR;
		rest = spec + 4;
	} else if (lm_str_startswith(spec, "docker-archive:")) {
		k = SRC_DOCKER_ARCHIVE;
		rest = spec + 15;
	} else {
		k = SRC_REGISTRY;
	}
	if (k != SRC_REGISTRY) {
		if (!*rest) {
			oci_platform_release(&plat);
			return lm_err_set(err, LM_E_INPUT, "base '%s' names no path", spec);
		}
		split_path_ref(rest, &path, &ref);
	}
	switch (k) {
	case SRC_OCI_ARCHIVE:
		r = open_oci_archive(path, ref, &plat, c, &img, so ? so->info : NULL, so && so->verify_all, err);
		break;
	case SRC_OCI_DIR:
		r = open_oci_dir(path, ref, &plat, c, &img, so ? so->info : NULL, so && so->verify_all, err);
		break;
	case SRC_DOCKER_ARCHIVE:
		r = open_docker_archive(path, ref, &plat, c, &img, 2, so ? so->info : NULL, err);
		break;
	default: {
		struct reg_opts ro = { 0 };
		if (so && so->reg)
			ro = *so->reg;
		ro.platform = so && so->platform ? so->platform : "linux/amd64";
		r = registry_pull(spec, &ro, c, &img, err);
		if (r == 0 && so && so->info)
			r = registry_top(spec, &ro, c, so->info, err);
	}
	}
	if (r == 0 && !(so && so->any_platform))
		r = check_platform(&img, &plat, spec, err);
	if (r == 0) {
		if (k != SRC_REGISTRY || !img.name) { /* a registry's name is the normalised reference */
			free(img.name);
			img.name = lm_xstrdup(spec);
		}
		*out = img;
	} else {
		image_release(&img);
		if (so && so->info)
			source_info_release(so->info);
	}
	free(path);
	free(ref);
	oci_platform_release(&plat);
	return r;
}
