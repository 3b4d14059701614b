/* cachegc.h - the cache stays within a size: least recently used entries go first.
 *
 * What the cache holds (cache.h, acache.h, statcache.h): blobs (base and app layers,
 * configs, manifests, .pyc and rewritten files), action-cache records, stat records, and
 * the execution root filesystems (rootfs.h, which keep their own bound). Using an entry
 * marks it (mtime): a record when it is found, a blob when it is checked or a build
 * takes it as its base. A blob a record names counts as used when the record was.
 *
 * A build holds a shared lock on <cache>/lock while it runs; cleaning takes it
 * exclusively, so nothing is removed under a running build. A build that added bytes
 * cleans at its end when the cache may have grown past its bound (a running estimate in
 * <cache>/usage avoids walking the cache after every build). */
#ifndef LM_CACHEGC_H
#define LM_CACHEGC_H

#include <stdint.h>

#include "common/err.h"
#include "image/cache.h"

/* The default bound: 10 GiB. */
#define CACHE_MAX_DEFAULT (10ULL << 30)

/* Parses a size: a number of bytes with an optional K, M, G or T suffix (powers of
 * 1024; "KiB", "MB", ... accepted alike). Returns -1 for anything else. Pure. */
int cache_size_parse(const char *s, uint64_t *out);

/* What the cache holds, by kind. */
struct cache_usage {
	uint64_t blobs, nblobs;
	uint64_t records, nrecords; /* action-cache and stat records */
	uint64_t rootfs, nrootfs;   /* execution root filesystems */
	uint64_t tmp;               /* work directories of running (or killed) builds */
};

/* Walks the cache and sums what each kind holds on disk. */
int cache_du(struct cache *c, struct cache_usage *u, struct lm_err *err);

/* Takes the shared lock for a build (released by cache_free). Never fails: without a
 * lock file cleaning only skips. */
void cache_lock_shared(struct cache *c);

/* Removes least recently used blobs and records until blobs + records take at most
 * max bytes (down to 90 % of it when over); with max 0 removes them all (the root
 * filesystems are rootfs.h's: rootfs_gc).
 * Waits for running builds when wait, else does nothing while one runs (*busy = 1).
 * *freed receives the bytes removed. */
int cache_gc(struct cache *c, uint64_t max, int wait, uint64_t *freed, int *busy, struct lm_err *err);

/* At the end of a build that added `added` bytes: cleans when the running estimate says
 * the cache may be over max. Best effort, never fails. Returns the bytes removed. */
uint64_t cache_gc_after_build(struct cache *c, uint64_t added, uint64_t max);

#endif
