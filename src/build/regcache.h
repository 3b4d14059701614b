/* regcache.h - the build cache shared across machines through a registry.
 *
 * A CI fleet shares no disk, but it shares a registry, as BuildKit's type=registry
 * cache uses. --cache-to REF pushes the action-cache records a build used (acache.h)
 * and the blobs they name, as one plain OCI image manifest (never an index, so ECR
 * takes it): its config blob is the index from keys to records and blobs
 * (application/vnd.lamina.cache.config.v1+json); large blobs (layers) are its layers
 * one by one, the small ones each record names (.pyc, rewritten files) travel packed in
 * one tar per record. --cache-from REF (repeatable) reads only that index up front;
 * a record and its blobs are fetched when a stage looks its key up and the local cache
 * has none. The registry client checks every blob's digest; a missing or unreachable
 * ref, or one that fails, is a warning and the work is done locally. */
#ifndef LM_BUILD_REGCACHE_H
#define LM_BUILD_REGCACHE_H

#include <stddef.h>

#include "build/stages.h"
#include "image/cache.h"
#include "registry/registry.h"

#define REGCACHE_CONFIG_MT "application/vnd.lamina.cache.config.v1+json"
#define REGCACHE_BLOB_MT "application/vnd.lamina.cache.blob.v1"
#define REGCACHE_PACK_MT "application/vnd.lamina.cache.pack.v1.tar"

struct regcache;

/* Reads the index of each ref and makes c look there when it misses (cache_set_fallback).
 * Problems become warnings in notes. Never fails; returns NULL when no ref was usable. */
struct regcache *regcache_open(char *const *refs, size_t n, const struct reg_opts *ro, struct cache *c,
			       struct build_notes *notes);
/* Detaches from c and frees. NULL-safe. */
void regcache_free(struct regcache *rc);
/* Records imported so far (for -v and the tests). */
size_t regcache_imported(const struct regcache *rc);

/* Pushes the records c used in this process (cache_keys) and their blobs to ref.
 * *nentries receives how many records went. */
int regcache_push(const char *ref, struct cache *c, const struct reg_opts *ro, size_t *nentries,
		  struct lm_err *err);

#endif
