/* ociarchive.h - write an image as one tar that is both an OCI image layout and a
 * `docker load` archive (manifest.json + repositories pointing at the same blobs). */
#ifndef LM_OCIARCHIVE_H
#define LM_OCIARCHIVE_H

#include <stdint.h>

#include "image/cache.h"
#include "image/image.h"

/* Writes img (blobs from the cache) to out: a temporary file beside it, renamed on
 * success; nothing is left at out on failure. tag ("hello:latest") may be NULL. */
int ociarchive_write(const struct lm_image *img, const char *tag, int64_t mtime, struct cache *c, const char *out,
		     struct lm_err *err);

/* "hello" -> "hello:latest"; keeps a given tag or digest. Caller frees. */
char *ociarchive_repo_tag(const char *tag);
/* Full name as containerd records it: "hello:latest" -> "docker.io/library/hello:latest". */
char *ociarchive_full_name(const char *tag);

#endif
