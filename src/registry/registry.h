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

/* The descriptor of a pushed manifest (digest from registry_push), the subject of an
 * artifact attached to it: its bytes are in the cache under that digest when pushed as
 * stored; otherwise push serialised the parsed manifest, and so does this. */
void registry_subject(const struct lm_image *img, struct cache *c, const char *digest, struct oci_descriptor *d);

/* How an artifact was attached to an image (registry_attach). */
enum reg_attach_how {
	REG_ATTACH_REFERRERS = 1, /* the registry lists it in its referrers API (OCI 1.1) */
	REG_ATTACH_TAG,           /* no referrers API: listed in the index at tag "sha256-<hex>" (the
				     OCI 1.1 referrers tag schema, for clients of older registries) */
	REG_ATTACH_MANIFEST,      /* only the artifact manifest, with its subject, is there */
};

/* How, in words, for people: "referrers API", "referrers tag schema: no referrers API"... */
const char *registry_attach_how_name(enum reg_attach_how how);

/* Pure: the artifact manifest (OCI 1.1: artifactType, an empty config, one layer: the
 * blob blob_digest/blob_size of media type artifact_type titled title, subject) as
 * compact JSON, keys in a fixed order. Caller frees. */
char *registry_artifact_manifest(const char *artifact_type, const char *blob_digest, int64_t blob_size,
				 const char *title, const struct oci_descriptor *subject, size_t *len);

/* Attaches the file path (e.g. an SBOM) to the image subject (the manifest just pushed
 * to ref's repository) as an OCI 1.1 referrer artifact of type artifact_type: the blob
 * and the artifact manifest are pushed by digest, then the registry's referrers API is
 * asked; without one, the referrers tag index ("sha256-<hex of subject>") is updated.
 * *how says which; digest_out receives the artifact manifest's digest. A registry that
 * refuses the artifact (or the tag index) is an error here: the caller decides that it
 * does not fail an image push. */
int registry_attach(const char *ref, struct cache *c, const struct reg_opts *ro, const struct oci_descriptor *subject,
		    const char *artifact_type, const char *path, enum reg_attach_how *how,
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
