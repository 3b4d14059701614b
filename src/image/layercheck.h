/* layercheck.h - a layer blob is what its descriptor and the config say it is.
 *
 * A blob's digest only proves that the bytes are the ones the manifest named. A hostile
 * or broken image can still name random bytes, a plain tar under a gzip media type, or
 * a config whose diff_id does not belong to the layer. layer_check decompresses the blob
 * as its media type says (gzip, with any number of members; zstd; plain tar), reads it
 * as a tar to its end, and computes the diff_id (SHA-256 of the uncompressed stream).
 * The build checks every base layer this way the first time it meets it and remembers
 * the result under <cache>/verified/ (one small file per layer digest naming its
 * diff_id); `lamina inspect` checks every layer every time. */
#ifndef LM_LAYERCHECK_H
#define LM_LAYERCHECK_H

#include <stdint.h>

#include "common/err.h"
#include "image/cache.h"
#include "image/oci.h"

struct layer_check {
	char diff_id[LM_DIGEST_LEN];
	uint64_t usize;   /* bytes of the uncompressed tar stream */
	uint64_t entries; /* tar entries */
};

/* One tar entry as read, for layer_check_walk (strings borrowed for the call only). */
enum layer_entry_type { LAYER_ENT_FILE, LAYER_ENT_DIR, LAYER_ENT_SYMLINK, LAYER_ENT_HARDLINK, LAYER_ENT_OTHER };
struct layer_entry {
	const char *path; /* as in the tar: may start with "./" or end with "/" */
	enum layer_entry_type type;
	unsigned mode;    /* permission bits (07777) */
	const char *link; /* symlink or hardlink target, or NULL */
	uint64_t size;
};
typedef void (*layer_entry_fn)(void *ctx, const struct layer_entry *e);

/* Checks the blob d (in the cache). LM_E_INPUT when it is not a whole tar in its media
 * type's compression or the media type is not a layer's (the caller names the layer). */
int layer_check(struct cache *c, const struct oci_descriptor *d, struct layer_check *out, struct lm_err *err);
/* layer_check, calling fn (when non-NULL) for every tar entry in order. */
int layer_check_walk(struct cache *c, const struct oci_descriptor *d, struct layer_check *out, layer_entry_fn fn,
		     void *ctx, struct lm_err *err);

/* layer_check, and the diff_id must be want (LM_E_INPUT otherwise: the config is wrong
 * about the layer). A layer checked before against the same diff_id is not read again. */
int layer_check_cached(struct cache *c, const struct oci_descriptor *d, const char *want, struct lm_err *err);

#endif
