/* regcache.c - the build cache in a registry (see regcache.h).
 *
 * The index (the config blob):
 *   {"lamina": "build-cache", "version": 1,
 *    "entries": {"sha256:<key>": {"record": "<text>",
 *                                 "blobs": [{"digest": ..., "size": ...}, ...],
 *                                 "pack": {"digest": ..., "size": ...}}}}
 * "blobs" are pushed as the manifest's layers one by one; "pack" is an uncompressed tar
 * of the entry's small blobs, each member named by the hex of its digest. */
#include "build/regcache.h"

#include <archive.h>
#include <archive_entry.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/str.h"
#include "image/acache.h"
#include "image/image.h"

/* Blobs from this size on travel alone; smaller ones in the entry's pack. */
#define REGCACHE_ALONE ((int64_t)1 << 20)
#define REGCACHE_INDEX_MAX ((size_t)256 << 20)

struct source {
	char *ref;
	struct reg_session *s;
	json_t *entries; /* the index's "entries" */
};

struct regcache {
	struct cache *c;
	const struct reg_opts *ro;
	struct source *v;
	size_t n;
	size_t imported;
	struct build_notes *notes;
};

/* --- reading ------------------------------------------------------------------------------- */

static int load_index(struct source *src, struct cache *c, struct lm_err *err)
{
	char *body = NULL, *mt = NULL, *cfg = NULL;
	size_t len = 0, clen = 0;
	struct oci_manifest m = { 0 };
	json_error_t je;
	json_t *doc = NULL;
	int ret = -1;

	if (registry_session_manifest(src->s, &body, &len, &mt, err) < 0)
		goto out;
	if (oci_doc_kind(body, len, mt) != OCI_DOC_MANIFEST || oci_manifest_parse(body, len, &m, err) < 0) {
		lm_err_set(err, LM_E_INPUT, "'%s' is not a lamina build cache (not an image manifest)", src->ref);
		goto out;
	}
	if (!m.config.media_type || strcmp(m.config.media_type, REGCACHE_CONFIG_MT) != 0) {
		lm_err_set(err, LM_E_INPUT, "'%s' is not a lamina build cache (config type '%s')", src->ref,
			   m.config.media_type ? m.config.media_type : "none");
		goto out;
	}
	if (registry_session_blobs(src->s, &m.config, 1, err) < 0 ||
	    cache_read_blob(c, m.config.digest, REGCACHE_INDEX_MAX, &cfg, &clen, err) < 0)
		goto out;
	doc = json_loadb(cfg, clen, 0, &je);
	if (!doc || !json_is_object(json_object_get(doc, "entries"))) {
		lm_err_set(err, LM_E_INPUT, "'%s': the cache index is not valid (%s)", src->ref, doc ? "no entries" : je.text);
		goto out;
	}
	src->entries = json_incref(json_object_get(doc, "entries"));
	ret = 0;
out:
	json_decref(doc);
	oci_manifest_release(&m);
	free(body);
	free(mt);
	free(cfg);
	return ret;
}

/* One descriptor from {"digest": ..., "size": ...}; -1 when it is not one. */
static int desc_of(json_t *o, struct oci_descriptor *d)
{
	const char *dg = json_string_value(json_object_get(o, "digest"));
	json_t *sz = json_object_get(o, "size");
	memset(d, 0, sizeof(*d));
	if (!dg || !digest_valid(dg) || !json_is_integer(sz) || json_integer_value(sz) < 0)
		return -1;
	snprintf(d->digest, sizeof(d->digest), "%s", dg);
	d->size = (int64_t)json_integer_value(sz);
	return 0;
}

/* Stores each member of the pack (a tar in the cache) as a blob, checked against its name. */
static int unpack(struct cache *c, const char *pack, struct lm_err *err)
{
	char *path = cache_blob_path(c, pack), *buf = lm_xmalloc(1 << 16);
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	int ret = -1, r;
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "cache pack %s: %s", pack, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		char want[LM_DIGEST_LEN];
		const char *name = archive_entry_pathname(e);
		struct cache_writer *w;
		snprintf(want, sizeof(want), "sha256:%s", name ? name : "");
		if (!digest_valid(want) || archive_entry_filetype(e) != AE_IFREG) {
			lm_err_set(err, LM_E_INPUT, "cache pack %s: unexpected member '%s'", pack, name ? name : "");
			goto out;
		}
		if (cache_has(c, want, archive_entry_size(e)))
			continue;
		if (!(w = cache_writer_new(c, err)))
			goto out;
		for (;;) {
			la_ssize_t n = archive_read_data(a, buf, 1 << 16);
			if (n < 0) {
				lm_err_set(err, LM_E_INPUT, "cache pack %s: %s", pack, archive_error_string(a));
				cache_writer_abort(w);
				goto out;
			}
			if (n == 0)
				break;
			if (cache_writer_write(w, buf, (size_t)n, err) < 0) {
				cache_writer_abort(w);
				goto out;
			}
		}
		if (cache_writer_commit(w, want, archive_entry_size(e), NULL, err) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "cache pack %s: %s", pack, archive_error_string(a));
		goto out;
	}
	ret = 0;
out:
	archive_read_free(a);
	free(buf);
	free(path);
	return ret;
}

static int import(struct regcache *rc, struct source *src, const char *key, json_t *ent, struct lm_err *err)
{
	json_t *blobs = json_object_get(ent, "blobs"), *pack = json_object_get(ent, "pack"), *it;
	const char *rec = json_string_value(json_object_get(ent, "record"));
	size_t n = json_array_size(blobs), i;
	struct oci_descriptor *d = lm_xcalloc(n + 2, sizeof(*d));
	size_t nd = 0;
	int ret = -1;

	if (!rec) {
		lm_err_set(err, LM_E_INPUT, "entry %s has no record", key);
		goto out;
	}
	json_array_foreach(blobs, i, it)
	{
		if (desc_of(it, &d[nd]) < 0) {
			lm_err_set(err, LM_E_INPUT, "entry %s: a bad blob descriptor", key);
			goto out;
		}
		nd++;
	}
	if (pack && desc_of(pack, &d[nd++]) < 0) {
		lm_err_set(err, LM_E_INPUT, "entry %s: a bad pack descriptor", key);
		goto out;
	}
	if (registry_session_blobs(src->s, d, nd, err) < 0)
		goto out;
	if (pack && unpack(rc->c, d[nd - 1].digest, err) < 0)
		goto out;
	if (ac_put(rc->c, key, rec, strlen(rec), err) < 0)
		goto out;
	ret = 0;
out:
	free(d);
	return ret;
}

static int fallback(void *ctx, const char *key)
{
	struct regcache *rc = ctx;
	for (size_t i = 0; i < rc->n; i++) {
		struct source *src = &rc->v[i];
		json_t *ent = src->entries ? json_object_get(src->entries, key) : NULL;
		struct lm_err err = LM_ERR_INIT;
		if (!ent)
			continue;
		if (import(rc, src, key, ent, &err) == 0) {
			rc->imported++;
			return 1;
		}
		build_notes_add(rc->notes, "warning: --cache-from '%s': %s; doing the work here", src->ref, err.msg);
		lm_err_release(&err);
		json_decref(src->entries); /* a source that failed once is not asked again */
		src->entries = NULL;
	}
	return 0;
}

struct regcache *regcache_open(char *const *refs, size_t n, const struct reg_opts *ro, struct cache *c,
			       struct build_notes *notes)
{
	struct regcache *rc = lm_xcalloc(1, sizeof(*rc));
	rc->c = c;
	rc->ro = ro;
	rc->notes = notes;
	rc->v = lm_xcalloc(n + 1, sizeof(*rc->v));
	for (size_t i = 0; i < n; i++) {
		struct lm_err err = LM_ERR_INIT;
		struct source *src = &rc->v[rc->n];
		src->ref = lm_xstrdup(refs[i]);
		src->s = registry_session_new(refs[i], ro, c, &err);
		if (!src->s || load_index(src, c, &err) < 0) {
			build_notes_add(notes, "warning: --cache-from '%s': %s; building without it", refs[i],
					err.msg ? err.msg : "failed");
			lm_err_release(&err);
			registry_session_free(src->s);
			free(src->ref);
			memset(src, 0, sizeof(*src));
			continue;
		}
		rc->n++;
	}
	if (!rc->n) {
		free(rc->v);
		free(rc);
		return NULL;
	}
	cache_set_fallback(c, fallback, rc);
	return rc;
}

void regcache_free(struct regcache *rc)
{
	if (!rc)
		return;
	cache_set_fallback(rc->c, NULL, NULL);
	for (size_t i = 0; i < rc->n; i++) {
		registry_session_free(rc->v[i].s);
		json_decref(rc->v[i].entries);
		free(rc->v[i].ref);
	}
	free(rc->v);
	free(rc);
}

size_t regcache_imported(const struct regcache *rc)
{
	return rc ? rc->imported : 0;
}

/* --- writing ------------------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int64_t blob_size(struct cache *c, const char *digest)
{
	struct stat st;
	char *p = cache_blob_path(c, digest);
	int64_t r = stat(p, &st) == 0 && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
	free(p);
	return r;
}

static la_ssize_t pack_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	struct lm_err err = LM_ERR_INIT;
	(void)a;
	if (cache_writer_write(ctx, data, len, &err) < 0) {
		lm_err_release(&err);
		return -1;
	}
	return (la_ssize_t)len;
}

/* The pack of the small blobs (sorted, so the same set gives the same bytes). */
static int make_pack(struct cache *c, char **hex, size_t n, struct oci_descriptor *out, struct lm_err *err)
{
	struct cache_writer *w = cache_writer_new(c, err);
	struct archive *a = NULL;
	char *buf = NULL;
	int ret = -1;
	if (!w)
		return -1;
	qsort(hex, n, sizeof(*hex), cmp_str);
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	archive_write_set_bytes_in_last_block(a, 1);
	if (archive_write_open(a, w, NULL, pack_write, NULL) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_IO, "cache pack: %s", archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char d[LM_DIGEST_LEN];
		size_t len = 0;
		snprintf(d, sizeof(d), "sha256:%s", hex[i]);
		if (cache_read_blob(c, d, (size_t)REGCACHE_ALONE, &buf, &len, err) < 0)
			goto out;
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, hex[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (len && archive_write_data(a, buf, len) != (la_ssize_t)len)) {
			lm_err_set(err, LM_E_IO, "cache pack: %s", archive_error_string(a));
			archive_entry_free(e);
			goto out;
		}
		archive_entry_free(e);
		free(buf);
		buf = NULL;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_IO, "cache pack: %s", archive_error_string(a));
		goto out;
	}
	out->size = (int64_t)cache_writer_size(w);
	ret = cache_writer_commit(w, NULL, out->size, out->digest, err);
	w = NULL;
out:
	if (a)
		archive_write_free(a);
	cache_writer_abort(w);
	free(buf);
	return ret;
}

int regcache_push(const char *ref, struct cache *c, const struct reg_opts *ro, size_t *nentries, struct lm_err *err)
{
	size_t nk = 0, nlayers = 0, caplayers = 0;
	char *const *keys0 = cache_keys(c, &nk);
	char **keys = lm_xcalloc(nk + 1, sizeof(*keys));
	struct oci_descriptor *layers = NULL;
	json_t *entries = json_object(), *doc = json_object();
	struct oci_manifest m = { 0 };
	struct lm_image img;
	char *cfg = NULL, *mbuf = NULL, pushed[LM_DIGEST_LEN];
	size_t cfglen = 0, mlen = 0;
	int ret = -1;

	image_init(&img);
	memcpy(keys, keys0, nk * sizeof(*keys));
	qsort(keys, nk, sizeof(*keys), cmp_str);
	*nentries = 0;
	for (size_t i = 0; i < nk; i++) {
		char *rec = NULL, **small = NULL;
		size_t len = 0, nsmall = 0;
		json_t *ent, *blobs;
		if (i > 0 && strcmp(keys[i], keys[i - 1]) == 0)
			continue;
		if (ac_get(c, keys[i], &rec, &len, NULL) != 1)
			continue;
		ent = json_object();
		blobs = json_array();
		json_object_set_new(ent, "record", json_string(rec));
		for (char *p = strstr(rec, "sha256:"); p; p = strstr(p + 7, "sha256:")) {
			char d[LM_DIGEST_LEN];
			int64_t sz;
			int dup = 0;
			if (strlen(p) < 71)
				break;
			snprintf(d, sizeof(d), "%.71s", p);
			if (!digest_valid(d) || (sz = blob_size(c, d)) < 0)
				continue; /* not a blob of ours (a diff_id, an image digest) */
			if (sz >= REGCACHE_ALONE) {
				for (size_t k = 0; k < nlayers && !dup; k++)
					dup = strcmp(layers[k].digest, d) == 0;
				json_t *o = json_object();
				json_object_set_new(o, "digest", json_string(d));
				json_object_set_new(o, "size", json_integer(sz));
				json_array_append_new(blobs, o);
				if (!dup) {
					lm_grow((void **)&layers, &caplayers, nlayers + 1, sizeof(*layers));
					memset(&layers[nlayers], 0, sizeof(*layers));
					snprintf(layers[nlayers].digest, sizeof(layers[nlayers].digest), "%s", d);
					layers[nlayers].size = sz;
					layers[nlayers].media_type = (char *)REGCACHE_BLOB_MT;
					nlayers++;
				}
			} else {
				for (size_t k = 0; k < nsmall && !dup; k++)
					dup = strcmp(small[k], digest_hex(d)) == 0;
				if (!dup) {
					small = lm_xrealloc(small, (nsmall + 1) * sizeof(*small));
					small[nsmall++] = lm_xstrdup(digest_hex(d));
				}
			}
		}
		json_object_set_new(ent, "blobs", blobs);
		if (nsmall) {
			struct oci_descriptor pk = { 0 };
			int r = make_pack(c, small, nsmall, &pk, err);
			for (size_t k = 0; k < nsmall; k++)
				free(small[k]);
			free(small);
			if (r < 0) {
				json_decref(ent);
				free(rec);
				goto out;
			}
			json_t *o = json_object();
			json_object_set_new(o, "digest", json_string(pk.digest));
			json_object_set_new(o, "size", json_integer(pk.size));
			json_object_set_new(ent, "pack", o);
			lm_grow((void **)&layers, &caplayers, nlayers + 1, sizeof(*layers));
			memset(&layers[nlayers], 0, sizeof(*layers));
			layers[nlayers] = pk;
			layers[nlayers].media_type = (char *)REGCACHE_PACK_MT;
			nlayers++;
		}
		json_object_set_new(entries, keys[i], ent);
		(*nentries)++;
		free(rec);
	}
	json_object_set_new(doc, "lamina", json_string("build-cache"));
	json_object_set_new(doc, "version", json_integer(1));
	json_object_set(doc, "entries", entries);
	cfg = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	cfglen = strlen(cfg);
	m.media_type = (char *)OCI_MT_MANIFEST;
	m.config.media_type = (char *)REGCACHE_CONFIG_MT;
	m.config.size = (int64_t)cfglen;
	if (cache_put_buf(c, cfg, cfglen, m.config.digest, err) < 0)
		goto out;
	m.layers = layers;
	m.nlayers = nlayers;
	mbuf = oci_manifest_serialize(&m, &mlen);
	if (cache_put_buf(c, mbuf, mlen, NULL, err) < 0 || image_from_manifest(&img, mbuf, mlen, c, err) < 0)
		goto out;
	if (registry_push(&img, c, ref, ro, pushed, err) < 0) {
		lm_err_wrap(err, "--cache-to '%s'", ref);
		goto out;
	}
	ret = 0;
out:
	image_release(&img);
	json_decref(entries);
	json_decref(doc);
	free(layers);
	free(keys);
	free(cfg);
	free(mbuf);
	return ret;
}
