/* layercache.h - layer_write that does nothing when the last build made the same layer.
 *
 * A layer's bytes depend only on its entry list (paths, types, modes, symlink targets,
 * sizes and content digests of the entries that stay), the file time and the gzip
 * level, and on lamina's own code (in every key, acache.h). Their digest is the key of
 * an action-cache record naming the blob, its diff_id and sizes. On a hit the blob is
 * checked (present, of its size, hashing to its digest) before it is used; a blob or a
 * record that fails is removed and the layer is written again, which *corrupt reports.
 * The output is byte-identical either way. */
#ifndef LM_LAYERCACHE_H
#define LM_LAYERCACHE_H

#include "image/acache.h"
#include "image/layer.h"

/* The key of the layer t (after tree_finish) would make with o: every regular entry that
 * stays needs its digest (statcache_hash_tree). Pure. */
void layer_key(const struct lm_tree *t, const struct layer_opts *o, char key[LM_DIGEST_LEN]);

/* 1 when the cache holds a record of this layer and its blob is present (its content is
 * checked by layer_write_cached), else 0: whether the files the layer would be made of
 * will be read at all. */
int layer_cached(struct cache *c, const struct lm_tree *t, const struct layer_opts *o);

/* What one layer_write_cached did. */
struct layer_cache_info {
	int reused;          /* the blob came from the cache: nothing was read, tarred or compressed */
	int corrupt;         /* a cached record or blob was corrupt: removed, and the layer written anew */
	uint64_t compressed; /* bytes of tar compressed (0 when reused) */
};

/* Like layer_write; with use_cache, looks the layer up first and records it after. Fills
 * the digests of entries that lack one (files lamina generated or rewrote). */
int layer_write_cached(struct lm_tree *t, const struct layer_opts *o, struct cache *c, int use_cache,
		       struct layer_result *res, struct layer_cache_info *info, struct lm_err *err);

#endif
