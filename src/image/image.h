/* image.h - a single-platform image whose blobs (config and layers) are in the cache.
 *
 * Every base source (OCI archive, OCI layout, docker save archive, registry) produces
 * one of these; the builder extends it; the writer and the pusher consume it. */
#ifndef LM_IMAGE_H
#define LM_IMAGE_H

#include "image/cache.h"
#include "image/oci.h"

struct lm_image {
	struct oci_manifest manifest; /* config + layers, every blob present in the cache */
	char manifest_digest[LM_DIGEST_LEN]; /* digest of the manifest bytes as received */
	char *config_raw;                    /* config bytes (also in the cache) */
	size_t config_len;
	char *name; /* reference or source it came from (for messages); may be NULL */
};

void image_init(struct lm_image *img);
void image_release(struct lm_image *img);

/* Reads and parses the manifest bytes and checks that the config and every layer are
 * in the cache with the right size; loads config_raw from the cache. Shared by the
 * sources once they have stored the blobs. */
int image_from_manifest(struct lm_image *img, const char *manifest, size_t len, struct cache *c,
			struct lm_err *err);

#endif
