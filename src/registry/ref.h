/* ref.h - image references: parse and normalise (pure).
 *
 *   [HOST[:PORT]/]PATH[:TAG][@sha256:HEX]
 *
 * The first component is a registry host when it contains '.' or ':' or is "localhost"
 * (as Docker decides); otherwise the host is docker.io, and a one-component path gets
 * "library/". With neither tag nor digest the tag is "latest". */
#ifndef LM_REF_H
#define LM_REF_H

#include "common/digest.h"
#include "common/err.h"

struct ref {
	char *host;                 /* "public.ecr.aws", "127.0.0.1:5000", "docker.io" */
	char *repo;                 /* "lambda/python", "library/alpine" */
	char *tag;                  /* "3.12"; NULL when only a digest was given */
	char digest[LM_DIGEST_LEN]; /* "sha256:..." or "" */
};

/* Parses s into out (owned by the caller, release with ref_release). On a bad reference
 * returns -1 with LM_E_INPUT and a message saying what is wrong; out is untouched. */
int ref_parse(const char *s, struct ref *out, struct lm_err *err);
void ref_release(struct ref *r);
/* Checks s as an image name to record in an archive (a tag, as `docker load` and
 * `docker tag` take it): a reference by ref_parse's grammar (lowercase repository path
 * components, tag [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) without a digest. 0, or -1 with
 * LM_E_INPUT and one line saying what is wrong. */
int ref_check_name(const char *s, struct lm_err *err);

/* The normalised reference "host/repo[:tag][@digest]". Caller frees. */
char *ref_string(const struct ref *r);
/* What goes after /manifests/: the digest when pinned, else the tag (borrowed). */
const char *ref_manifest_ref(const struct ref *r);
/* Host to connect to: "registry-1.docker.io" for docker.io, else r->host (borrowed). */
const char *ref_api_host(const struct ref *r);

#endif
