/* baseindex.h - what the base image ships, for prune's dedupe-base rule: every file of
 * the flattened base below a site-packages, dist-packages or node_modules directory, with
 * its content digest, and the base's NODE_PATH.
 *
 * The index is made by reading the base's layers (gzip tars from the cache) in order,
 * whiteouts applied, and is kept in the action cache under the base's manifest digest,
 * so a base is read once. */
#ifndef LM_BASEINDEX_H
#define LM_BASEINDEX_H

#include "common/err.h"
#include "image/cache.h"
#include "image/image.h"
#include "prune/prune.h"

/* Fills out (initialised here, finished: sorted) from base, whose blobs are in c; with
 * use_cache the action cache's record is read and written. On failure out is released;
 * errors name the layer. */
int base_index(const struct lm_image *base, struct cache *c, int use_cache, struct prune_base *out,
	       struct lm_err *err);

/* The NODE_PATH directories of a config's Env ("NODE_PATH=/a:/b" -> "a", "b"), added to
 * out->node_path. Pure. */
void base_index_node_path(char *const *env, size_t nenv, struct prune_base *out);

/* The index as a record (lines "path\tdigest\tsize\ttext-length\n" then the text) and
 * back; from_record returns -1 for a malformed one. Pure. */
char *base_index_to_record(const struct prune_base *b, size_t *len);
int base_index_from_record(const char *rec, size_t len, struct prune_base *out);

#endif
