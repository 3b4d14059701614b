/* registry.h - OCI distribution client: pull into the cache, push from the cache. */
#ifndef LM_REGISTRY_H
#define LM_REGISTRY_H

#include "image/cache.h"
#include "image/image.h"

struct reg_opts {
	const char *platform;         /* "linux/amd64" (default) or "linux/arm64[/v8]" */
	const char *ca_cert;          /* --ca-cert FILE, or NULL for the system store */
	const char *const *insecure;  /* --insecure-registry HOST[:PORT] (plain HTTP allowed) */
	size_t ninsecure;
	const char *username;         /* --username */
	const char *password;         /* from --password-stdin; never printed */
	int jobs;                     /* parallel blob transfers (0 = default) */
	long timeout_s;               /* --timeout: one request's whole time (0 = default, < 0 = none) */
	long low_speed_limit;         /* --low-speed-limit: bytes/s ... */
	long low_speed_time;          /* --low-speed-time: ... over this many seconds (0 = defaults, http.h) */
	int quiet, is_tty, verbose;
};

/* Pulls ref (e.g. "public.ecr.aws/lambda/python:3.12") for ro->platform: every blob is
 * verified into the cache (no blob request when already cached); fills out. */
int registry_pull(const char *ref, const struct reg_opts *ro, struct cache *c, struct lm_image *out,
		  struct lm_err *err);

/* Pushes img (blobs read from the cache) to ref; writes the pushed manifest digest. */
int registry_push(const struct lm_image *img, struct cache *c, const char *ref, const struct reg_opts *ro,
		  char digest_out[LM_DIGEST_LEN], struct lm_err *err);

/* 1 when a token realm may be asked (credentials may go there): HTTPS, or plain HTTP to
 * a loopback host or one named with --insecure-registry. Pure. */
int registry_realm_allowed(const char *realm, const struct reg_opts *ro);

/* A session with one reference's repository (authenticated, reused connections), to
 * fetch its manifest and chosen blobs, as the registry cache does (build/regcache.h). */
struct reg_session;

/* Opens a pull session for ref; the first request (GET /v2/) is made here. */
struct reg_session *registry_session_new(const char *ref, const struct reg_opts *ro, struct cache *c,
					 struct lm_err *err);
void registry_session_free(struct reg_session *s);
/* The manifest (or index) ref names: its bytes (capped, checked against a pinned digest
 * and the registry's Docker-Content-Digest) and media type (caller frees both). */
int registry_session_manifest(struct reg_session *s, char **body, size_t *len, char **media_type,
			      struct lm_err *err);
/* Fetches the n blobs (those not in the cache yet) into the cache, each verified. */
int registry_session_blobs(struct reg_session *s, const struct oci_descriptor *d, size_t n, struct lm_err *err);

#endif
