/* acache.h - the results of earlier work, found by a key made of everything the work
 * depended on (an action cache, as Bazel and BuildKit have one).
 *
 * A key is the SHA-256 of a canonical, length-prefixed list of the inputs, begun with
 * the kind of work, the cache format and lamina's version, so that two different
 * inputs never share a key and a new lamina never reads an older one's results. A
 * record is a small byte string (usually JSON naming blobs of the blob store by digest)
 * stored under <cache>/ac/<first two hex>/<hex of the key>, written with a temporary
 * name and rename(2) so a reader sees the whole record or none. Its first line holds
 * the SHA-256 of the rest: a record that was truncated or changed on disk is detected
 * by ac_get, removed, and reported as a miss with *corrupt set, so the caller redoes
 * the work and says so once. Records are small and never trusted further than their
 * digests: the blobs they name are checked again where they are used. */
#ifndef LM_ACACHE_H
#define LM_ACACHE_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/err.h"
#include "image/cache.h"

/* Bump when the meaning of any record changes: older records are then never found. */
#define AC_FORMAT 1

struct ac_key {
	struct digest_ctx d;
};

/* Starts a key for one kind of work ("layer", "pyc", "prune", "verify" ...). */
void ac_key_init(struct ac_key *k, const char *kind);
/* Adds an input. Strings are length-prefixed, so ("ab","c") and ("a","bc") differ. */
void ac_key_str(struct ac_key *k, const char *s);
void ac_key_u64(struct ac_key *k, uint64_t v);
void ac_key_bytes(struct ac_key *k, const void *data, size_t len);
/* Finishes the key: "sha256:<hex>". */
void ac_key_final(struct ac_key *k, char out[LM_DIGEST_LEN]);

/* Looks the key up, in the store and then in the cache's fallback (cache_set_fallback:
 * the registry cache). Returns 1 with the record in *data (NUL-terminated, caller frees)
 * and its length in *len; 0 when there is none, or when the record on disk was corrupt
 * (then it is removed and *corrupt, when non-NULL, is set to 1). A found record is
 * marked used for the least-recently-used bound (cache_gc), and its key noted
 * (cache_keys). Never fails: an unreadable record is a miss. */
int ac_get(struct cache *c, const char *key, char **data, size_t *len, int *corrupt);

/* Stores a record for key (replacing any). */
int ac_put(struct cache *c, const char *key, const void *data, size_t len, struct lm_err *err);

/* Removes the record for key, if any. */
void ac_del(struct cache *c, const char *key);

/* The record's file, for tests. Caller frees. */
char *ac_path(const struct cache *c, const char *key);

#endif
