/* checkload.c - what the rules read: an image's layers from the cache, a zip's entries. */
#include "check/check.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <stdio.h>

#include "common/alloc.h"
#include "image/acache.h"

static void add_entry(void *ctx, const struct layer_entry *e)
{
	check_layer_add(ctx, e);
}

/* The layer before i in ci with the same digest and media type, or NULL: an image may
 * name one blob several times (a repeated empty layer), and one reading of it serves all. */
static const struct check_layer *same_layer(const struct check_image *ci, size_t i)
{
	const struct check_layer *l = &ci->layers[i];
	for (size_t j = 0; j < i; j++) {
		const struct check_layer *o = &ci->layers[j];
		if (strcmp(o->digest, l->digest) == 0 &&
		    strcmp(o->media_type ? o->media_type : "", l->media_type ? l->media_type : "") == 0)
			return o;
	}
	return NULL;
}

/* l takes what o read (a deep copy). */
static void copy_reading(struct check_layer *l, const struct check_layer *o)
{
	l->problem = o->problem ? lm_xstrdup(o->problem) : NULL;
	memcpy(l->diff_id, o->diff_id, LM_DIGEST_LEN);
	l->usize = o->usize;
	l->v = lm_xcalloc(o->n + 1, sizeof(*l->v));
	l->n = l->cap = o->n;
	for (size_t k = 0; k < o->n; k++) {
		l->v[k] = o->v[k];
		l->v[k].path = lm_xstrdup(o->v[k].path);
		l->v[k].link = o->v[k].link ? lm_xstrdup(o->v[k].link) : NULL;
	}
}

int check_image_load(struct check_image *ci, const struct lm_image *img, struct cache *c,
		     const unsigned char *docker_uncompressed, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0)
		return lm_err_wrap(err, "config");
	oci_config_view_get(cfg, &ci->cfg);
	oci_config_free(cfg);
	ci->nlayers = img->manifest.nlayers;
	ci->layers = lm_xcalloc(ci->nlayers + 1, sizeof(*ci->layers));
	for (size_t i = 0; i < ci->nlayers; i++) {
		const struct oci_descriptor *d = &img->manifest.layers[i];
		struct check_layer *l = &ci->layers[i];
		const struct check_layer *o;
		struct layer_check lc;
		struct lm_err e2 = LM_ERR_INIT;
		memcpy(l->digest, d->digest, LM_DIGEST_LEN);
		l->media_type = d->media_type ? lm_xstrdup(d->media_type) : NULL;
		l->docker_uncompressed = docker_uncompressed ? docker_uncompressed[i] : 0;
		if ((o = same_layer(ci, i))) {
			copy_reading(l, o);
			continue;
		}
		if (layer_check_walk(c, d, &lc, add_entry, l, &e2) < 0) {
			if (e2.code == LM_E_IO) {
				lm_err_set(err, e2.code, "layer %zu %s: %s", i + 1, d->digest, e2.msg);
				lm_err_release(&e2);
				return -1;
			}
			l->problem = lm_xstrdup(e2.msg ? e2.msg : "unreadable");
			lm_err_release(&e2);
			continue;
		}
		memcpy(l->diff_id, lc.diff_id, LM_DIGEST_LEN);
		l->usize = lc.usize;
	}
	return 0;
}

int check_zip_load(struct check_zip *z, const char *path, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct stat st;
	int r, ret = -1;
	if (stat(path, &st) < 0) {
		archive_read_free(a);
		return lm_err_sys(err, "'%s'", path);
	}
	z->size = (uint64_t)st.st_size;
	/* the central directory, as Lambda's unzip reads it */
	archive_read_support_format_zip_seekable(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "'%s' is not a zip: %s", path, archive_error_string(a));
		goto out;
	}
	/* ARCHIVE_WARN: a name this locale cannot show, not a broken zip */
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		mode_t ft = archive_entry_filetype(e);
		const char *name =
			archive_entry_pathname_utf8(e) ? archive_entry_pathname_utf8(e) : archive_entry_pathname(e);
		enum check_zip_type t = ft == AE_IFDIR ? CHECK_ZDIR : ft == AE_IFLNK ? CHECK_ZSYMLINK : CHECK_ZFILE;
		/* a zip made on Unix carries the mode in its external attributes */
		unsigned mode = (unsigned)archive_entry_perm(e);
		int has_mode = mode != 0;
		check_zip_add(z, name ? name : "", t, mode, has_mode,
			      archive_entry_size_is_set(e) && archive_entry_size(e) > 0
				      ? (uint64_t)archive_entry_size(e)
				      : 0);
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	ret = 0;
out:
	archive_read_free(a);
	return ret;
}

/* ---- the per-layer record of a build's check ---- */

static void layer_key(const struct oci_descriptor *d, char key[LM_DIGEST_LEN])
{
	struct ac_key k;
	ac_key_init(&k, "check-layer");
	ac_key_str(&k, d->digest);
	ac_key_str(&k, d->media_type ? d->media_type : "");
	ac_key_final(&k, key);
}

static char *layer_record(const struct check_layer *l, size_t *len)
{
	json_t *j = json_object(), *es = json_array();
	char *s;
	json_object_set_new(j, "diffId", json_string(l->diff_id));
	json_object_set_new(j, "usize", json_integer((json_int_t)l->usize));
	for (size_t i = 0; i < l->n; i++) {
		const struct check_entry *e = &l->v[i];
		json_array_append_new(es, json_pack("[s,i,i,I,s?]", e->path, (int)e->type, (int)e->mode,
						    (json_int_t)e->size, e->link));
	}
	json_object_set_new(j, "entries", es);
	s = json_dumps(j, JSON_COMPACT);
	json_decref(j);
	*len = strlen(s);
	return s;
}

/* 1 when the record filled l, 0 when it is unusable */
static int layer_from_record(struct check_layer *l, const char *data, size_t len)
{
	json_t *j = json_loadb(data, len, 0, NULL), *es = json_object_get(j, "entries");
	const char *dg = json_string_value(json_object_get(j, "diffId"));
	int ok = json_is_array(es) && dg && strlen(dg) < LM_DIGEST_LEN && json_is_integer(json_object_get(j, "usize"));
	for (size_t i = 0; ok && i < json_array_size(es); i++) {
		json_t *e = json_array_get(es, i);
		const char *path = json_string_value(json_array_get(e, 0));
		json_t *lk = json_array_get(e, 4);
		struct layer_entry le = { 0 };
		if (!path || !json_is_integer(json_array_get(e, 1))) {
			ok = 0;
			break;
		}
		le.path = path;
		le.type = (enum layer_entry_type)json_integer_value(json_array_get(e, 1));
		le.mode = (unsigned)json_integer_value(json_array_get(e, 2));
		le.size = (uint64_t)json_integer_value(json_array_get(e, 3));
		le.link = json_is_string(lk) ? json_string_value(lk) : NULL;
		check_layer_add(l, &le);
	}
	if (ok) {
		snprintf(l->diff_id, LM_DIGEST_LEN, "%s", dg);
		l->usize = (uint64_t)json_integer_value(json_object_get(j, "usize"));
	}
	json_decref(j);
	return ok;
}

int check_image_built(const struct lm_image *img, struct cache *c, const struct check_opts *o, struct check_report *r,
		      struct lm_err *err)
{
	struct check_image ci;
	struct oci_config *cfg = NULL;
	int ret = -1;
	check_image_init(&ci);
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0) {
		lm_err_wrap(err, "config");
		goto out;
	}
	oci_config_view_get(cfg, &ci.cfg);
	oci_config_free(cfg);
	ci.nlayers = img->manifest.nlayers;
	ci.layers = lm_xcalloc(ci.nlayers + 1, sizeof(*ci.layers));
	for (size_t i = 0; i < ci.nlayers; i++) {
		const struct oci_descriptor *d = &img->manifest.layers[i];
		struct check_layer *l = &ci.layers[i];
		char key[LM_DIGEST_LEN], *data = NULL;
		size_t len = 0;
		struct layer_check lc;
		struct lm_err e2 = LM_ERR_INIT;
		memcpy(l->digest, d->digest, LM_DIGEST_LEN);
		l->media_type = d->media_type ? lm_xstrdup(d->media_type) : NULL;
		layer_key(d, key);
		if (ac_get(c, key, &data, &len, NULL) == 1) {
			int ok = layer_from_record(l, data, len);
			free(data);
			if (ok)
				continue;
			for (size_t k = 0; k < l->n; k++) {
				free(l->v[k].path);
				free(l->v[k].link);
			}
			l->n = 0;
		}
		if (layer_check_walk(c, d, &lc, add_entry, l, &e2) < 0) {
			if (e2.code == LM_E_IO) {
				lm_err_set(err, e2.code, "layer %zu %s: %s", i + 1, d->digest, e2.msg);
				lm_err_release(&e2);
				goto out;
			}
			l->problem = lm_xstrdup(e2.msg ? e2.msg : "unreadable");
			lm_err_release(&e2);
			continue;
		}
		memcpy(l->diff_id, lc.diff_id, LM_DIGEST_LEN);
		l->usize = lc.usize;
		data = layer_record(l, &len);
		/* without the record the next build reads the layer again; nothing else is lost */
		if (ac_put(c, key, data, len, &e2) < 0)
			lm_err_release(&e2);
		free(data);
	}
	check_image_rules(r, &ci, o);
	ret = 0;
out:
	check_image_release(&ci);
	return ret;
}
