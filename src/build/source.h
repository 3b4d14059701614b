/* source.h - where a base image comes from: a registry, an OCI archive or layout, or a
 * `docker save` archive. Every source ends as an lm_image with its blobs verified into
 * the cache. */
#ifndef LM_SOURCE_H
#define LM_SOURCE_H

#include "image/cache.h"
#include "image/image.h"
#include "registry/registry.h"

/* What a source held above and around the image it gave, for `lamina check`. */
struct source_info {
	char *top;    /* the document at the reference: an OCI layout's index.json, or what a
			 registry answers for the reference (manifest or index); NULL for a
			 docker save archive */
	size_t top_len;
	int layout;   /* 1 when top is a layout's index.json (an index by definition) */
	unsigned char *uncompressed; /* docker save archive: [i] is 1 when layer i was an
					uncompressed tar there (the cache holds it gzip'd); else NULL */
	size_t nlayers;
};
void source_info_release(struct source_info *si);

struct source_opts {
	const char *platform;       /* "linux/amd64" default; selects from an index */
	const struct reg_opts *reg; /* for registry references; may be NULL */
	struct source_info *info;   /* filled when non-NULL (zeroed first) */
	int any_platform;           /* do not refuse an image of another platform (an index of
				       one image gives it whatever its platform) */
	int verify_all;             /* hash every blob of an archive or layout, also those the
				       cache has already (lamina check: the archive's bytes, not
				       the cache's, are what is checked) */
};

/* spec: "oci-archive:PATH[:REF]", "oci:DIR[:TAG]", "docker-archive:PATH[:REF]", or a
 * registry reference ("public.ecr.aws/lambda/python:3.12"). */
int source_open(const char *spec, const struct source_opts *so, struct cache *c, struct lm_image *out,
		struct lm_err *err);

/* 1 when spec names a registry reference rather than a local archive or layout. Pure. */
int source_is_registry(const char *spec);

#endif
