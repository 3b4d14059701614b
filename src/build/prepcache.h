/* prepcache.h - a layer's tree after prune and precompile, reused when none of its
 * inputs changed.
 *
 * What prune and the Python precompile do to one layer depends only on that layer's
 * scanned entries (paths, types, modes, targets, sizes, content digests), the prune
 * rules that apply to it, the platform, the precompile settings, the file time and the
 * base image's layers (the interpreter), plus lamina's own code (acache.h). Those make
 * the key of a record of the differences between the scanned and the finished tree:
 * the entries removed, and the files rewritten or added, whose content is kept in the
 * blob store. Applying the record to the scanned tree gives the finished tree again,
 * with every blob checked first; a record or blob that does not check out is removed
 * and the layer is pruned and compiled anew (reported as corrupt). */
#ifndef LM_BUILD_PREPCACHE_H
#define LM_BUILD_PREPCACHE_H

#include "build/manifest.h"
#include "common/err.h"
#include "image/cache.h"
#include "image/image.h"
#include "image/tree.h"

/* The key of layer i of m as scanned (t, finished and hashed) for platform on base;
 * dedupe says whether prune compares with what the base ships (an image: yes; a zip,
 * which runs on the managed runtime's own packages: no). */
void prep_key(const struct lm_manifest *m, size_t i, const struct lm_tree *t, const char *platform,
	      const struct lm_image *base, int dedupe, int64_t epoch, char key[LM_DIGEST_LEN]);

/* Applies the record for key to the scanned tree t. Returns 1 when applied, 0 when there
 * is no usable record (t unchanged; *corrupt set when one was there but bad). Blobs are
 * only checked to be present: prep_check checks their content where it is used. */
int prep_apply(struct cache *c, const char *key, struct lm_tree *t, int *corrupt, struct lm_err *err);

/* Checks the content of every entry of t that prep_apply took from the cache before its
 * bytes are read (a layer written anew, a zip): LM_E_VERIFY naming the file when one is
 * corrupt (the blob is removed, so the next build makes it again). */
int prep_check(struct cache *c, const struct lm_tree *t, struct lm_err *err);

/* Records the finished tree t (as prune and precompile left it) for key: files lamina
 * rewrote or added are stored as blobs and their entries' digests set. A tree that
 * cannot be recorded (a path with a newline or a tab) is skipped without an error. */
int prep_record(struct cache *c, const char *key, struct lm_tree *t, struct lm_err *err);

#endif
