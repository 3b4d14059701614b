/* statcache.h - the content digest of every file of a tree, without reading the files
 * that did not change.
 *
 * Like git's index, lamina remembers for each source file what lstat(2) said (size,
 * mtime and ctime in nanoseconds, inode, mode) and the SHA-256 of its content, in one
 * file per source directory under <cache>/stat/. A file whose stat matches is not read
 * again; any other is hashed and remembered. A file changed within the same clock tick
 * as the record was written could keep its stat (git's "racily clean" entries), so a
 * record whose mtime or ctime is not older than the save time is not trusted. On a
 * fresh checkout every mtime is new and every file is hashed: the digests, and so every
 * key derived from them, are still the same as on the machine that built before.
 * The file ends in the digest of its body: a corrupt one is ignored and rewritten. */
#ifndef LM_STATCACHE_H
#define LM_STATCACHE_H

#include <stdint.h>

#include "common/err.h"
#include "image/cache.h"
#include "image/tree.h"

struct statcache;

/* What a tree_hash did, for -v and the tests. */
struct statcache_stats {
	uint64_t files;  /* regular files with a digest */
	uint64_t hashed; /* of them, read and hashed */
	uint64_t bytes;  /* bytes hashed */
	int corrupt;     /* the stat cache file was corrupt (ignored) */
};

/* Loads the records for the source directory srcdir (absolute). A missing or corrupt
 * file gives an empty cache (corrupt noted in stats when given). Never fails. */
struct statcache *statcache_load(struct cache *c, const char *srcdir, struct statcache_stats *stats);
/* Saves it when anything changed (temporary name + rename). */
int statcache_save(struct statcache *sc, struct lm_err *err);
void statcache_free(struct statcache *sc);

/* Fills the digest of every regular entry of t that has a host source (e->src) and no
 * digest yet: from sc when the file's stat matches, else by reading it (O_NOFOLLOW; the
 * file must still be a regular file). sc may be NULL (hash everything). */
int statcache_hash_tree(struct statcache *sc, struct lm_tree *t, struct statcache_stats *stats,
			struct lm_err *err);

#endif
