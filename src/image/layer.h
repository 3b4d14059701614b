/* layer.h - write an lm_tree as a reproducible gzip tar layer into the cache. */
#ifndef LM_LAYER_H
#define LM_LAYER_H

#include <stdint.h>

#include "image/cache.h"
#include "common/err.h"
#include "image/oci.h"
#include "image/tree.h"

struct layer_opts {
	int64_t mtime; /* every entry's mtime (SOURCE_DATE_EPOCH) */
	int level;     /* gzip level (GZ_LEVEL_*) */
	int threads;   /* deflate threads */
};

struct layer_result {
	struct oci_descriptor desc; /* OCI gzip layer media type, digest, size */
	char diff_id[LM_DIGEST_LEN];
	uint64_t usize; /* uncompressed tar bytes */
	uint64_t files; /* entries written */
};

/* Writes the tree (after tree_finish; removed entries skipped) as a tar stream: sorted
 * paths, every parent directory present, uid/gid 0, normalised modes, one mtime, no
 * hardlinks, no xattrs, atime or ctime; gzip-compressed in one pass into the cache.
 * A file whose size changed since it was scanned is an error. */
int layer_write(const struct lm_tree *t, const struct layer_opts *o, struct cache *c, struct layer_result *res,
		struct lm_err *err);

/* Writes the tar stream (uncompressed) to a callback; used by layer_write and tests. */
typedef int (*layer_sink_fn)(void *ctx, const void *data, size_t len, struct lm_err *err);
int layer_write_tar(const struct lm_tree *t, int64_t mtime, layer_sink_fn sink, void *ctx, struct lm_err *err);

void layer_result_release(struct layer_result *r);

#endif
