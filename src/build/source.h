/* source.h - where a base image comes from: a registry, an OCI archive or layout, or a
 * `docker save` archive. Every source ends as an lm_image with its blobs verified into
 * the cache. */
#ifndef LM_SOURCE_H
#define LM_SOURCE_H

#include "image/cache.h"
#include "image/image.h"
#include "registry/registry.h"

struct source_opts {
	const char *platform;       /* "linux/amd64" default; selects from an index */
	const struct reg_opts *reg; /* for registry references; may be NULL */
};

/* spec: "oci-archive:PATH[:REF]", "oci:DIR[:TAG]", "docker-archive:PATH[:REF]", or a
 * registry reference ("public.ecr.aws/lambda/python:3.12"). */
int source_open(const char *spec, const struct source_opts *so, struct cache *c, struct lm_image *out,
		struct lm_err *err);

/* 1 when spec names a registry reference rather than a local archive or layout. Pure. */
int source_is_registry(const char *spec);

#endif
