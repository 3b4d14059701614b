/* layercache.c - layers reused from the action cache (see layercache.h). */
#include "image/layercache.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "image/statcache.h"

/* Raise when layer_write_tar's output changes for the same entries. */
#define LAYER_FORMAT 1

void layer_key(const struct lm_tree *t, const struct layer_opts *o, char key[LM_DIGEST_LEN])
{
	struct ac_key k;
	ac_key_init(&k, "layer");
	ac_key_u64(&k, LAYER_FORMAT);
	ac_key_u64(&k, (uint64_t)o->mtime);
	ac_key_u64(&k, (uint64_t)o->level);
	for (size_t i = 0; i < t->n; i++) {
		const struct lm_entry *e = &t->v[i];
		if (e->removed)
			continue;
		ac_key_str(&k, e->path);
		ac_key_u64(&k, (uint64_t)e->type);
		ac_key_u64(&k, e->mode);
		if (e->type == LM_F_REG) {
			ac_key_u64(&k, e->size);
			ac_key_str(&k, e->digest);
		} else if (e->type == LM_F_SYMLINK) {
			ac_key_str(&k, e->link);
		}
	}
	ac_key_final(&k, key);
}

/* Parses a record into r; -1 when it is not one. */
static int parse_record(const char *data, size_t len, struct layer_result *r)
{
	json_error_t je;
	json_t *o = json_loadb(data, len, 0, &je);
	const char *dg, *did, *mt;
	int ret = -1;
	if (!o)
		return -1;
	dg = json_string_value(json_object_get(o, "digest"));
	did = json_string_value(json_object_get(o, "diffID"));
	mt = json_string_value(json_object_get(o, "mediaType"));
	if (dg && did && mt && digest_valid(dg) && digest_valid(did) && json_is_integer(json_object_get(o, "size"))) {
		memset(r, 0, sizeof(*r));
		snprintf(r->desc.digest, sizeof(r->desc.digest), "%s", dg);
		snprintf(r->diff_id, sizeof(r->diff_id), "%s", did);
		r->desc.media_type = lm_xstrdup(mt);
		r->desc.size = (int64_t)json_integer_value(json_object_get(o, "size"));
		r->usize = (uint64_t)json_integer_value(json_object_get(o, "uncompressedSize"));
		r->files = (uint64_t)json_integer_value(json_object_get(o, "files"));
		ret = r->desc.size > 0 ? 0 : -1;
		if (ret < 0)
			layer_result_release(r);
	}
	json_decref(o);
	return ret;
}

static char *make_record(const struct layer_result *r)
{
	json_t *o = json_object();
	char *s;
	json_object_set_new(o, "mediaType", json_string(r->desc.media_type));
	json_object_set_new(o, "digest", json_string(r->desc.digest));
	json_object_set_new(o, "size", json_integer(r->desc.size));
	json_object_set_new(o, "diffID", json_string(r->diff_id));
	json_object_set_new(o, "uncompressedSize", json_integer((json_int_t)r->usize));
	json_object_set_new(o, "files", json_integer((json_int_t)r->files));
	s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

int layer_cached(struct cache *c, const struct lm_tree *t, const struct layer_opts *o)
{
	char key[LM_DIGEST_LEN], *rec = NULL;
	size_t len = 0;
	struct layer_result r;
	int ok = 0;
	for (size_t i = 0; i < t->n; i++)
		if (!t->v[i].removed && t->v[i].type == LM_F_REG && !t->v[i].digest[0])
			return 0; /* not keyed yet */
	layer_key(t, o, key);
	if (ac_get(c, key, &rec, &len, NULL) == 1 && parse_record(rec, len, &r) == 0) {
		ok = cache_has(c, r.desc.digest, r.desc.size);
		layer_result_release(&r);
	}
	free(rec);
	return ok;
}

int layer_write_cached(struct lm_tree *t, const struct layer_opts *o, struct cache *c, int use_cache,
		       struct layer_result *res, struct layer_cache_info *info, struct lm_err *err)
{
	char key[LM_DIGEST_LEN], *rec = NULL;
	size_t len = 0;
	struct layer_result r;

	memset(info, 0, sizeof(*info));
	if (!use_cache)
		goto write;
	if (statcache_hash_tree(NULL, t, NULL, err) < 0)
		return -1;
	layer_key(t, o, key);
	if (ac_get(c, key, &rec, &len, &info->corrupt) == 1) {
		int ok = parse_record(rec, len, &r) == 0;
		free(rec);
		if (ok) {
			int v = cache_blob_check(c, r.desc.digest, r.desc.size);
			if (v == 1) {
				info->reused = 1;
				*res = r;
				return 0;
			}
			layer_result_release(&r);
			info->corrupt |= v < 0; /* there but wrong: removed by the check */
		} else {
			info->corrupt = 1;
		}
		ac_del(c, key);
	}
write:
	if (layer_write(t, o, c, res, err) < 0)
		return -1;
	cache_mark_verified(c, res->desc.digest); /* hashed on the way in */
	info->compressed = res->usize;
	if (use_cache) {
		char *s = make_record(res);
		struct lm_err e2 = LM_ERR_INIT;
		/* a record that cannot be stored costs the next build the work, nothing else */
		ac_put(c, key, s, strlen(s), &e2);
		lm_err_release(&e2);
		free(s);
	}
	return 0;
}
