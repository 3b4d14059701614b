/* registry_internal.h - private to src/registry/: the session that pull.c and push.c share.
 *
 * One struct reg per run and repository (session.c): the base URL (https, or http for
 * loopback and --insecure-registry hosts that do not speak TLS), the current
 * Authorization value and what is needed to renew it (the challenge and the
 * credentials), the byte and blob counters. Requests go through reg_send (retries and one
 * renewal of the Authorization on 401); blob transfers run on up to ro->jobs threads of
 * the common pool (reg_run_jobs), each with its own keep-alive connection.
 * The pure helpers at the end decide without I/O; tests/unit/registry/check_registry.c
 * covers them. */
#ifndef LM_REGISTRY_INTERNAL_H
#define LM_REGISTRY_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "common/buf.h"
#include "image/oci.h"
#include "registry/auth.h"
#include "registry/http.h"
#include "registry/progress.h"
#include "registry/ref.h"
#include "registry/registry.h"

#define REG_TRIES 5
#define REG_JOBS_DEFAULT 4
#define REG_JOBS_MAX 32
#define REG_MONOLITHIC_MAX (16 * 1024 * 1024)
#define REG_CHUNK (16 * 1024 * 1024)
#define REG_UPLOAD_RESUMES 4 /* status queries + resumes of one chunked upload session */
/* What a manifest GET accepts: OCI and Docker, single images and indexes. */
#define REG_ACCEPT OCI_MT_MANIFEST ", " OCI_MT_INDEX ", " DOCKER_MT_MANIFEST ", " DOCKER_MT_LIST

struct reg {
	const struct reg_opts *ro;
	struct cache *cache;
	struct http_client *http;
	struct http_conn *conn; /* the calling thread's */
	struct ref ref;
	char *name; /* normalised reference, for messages */
	char *base; /* "https://host" */
	int tls_noverify;
	char **scopes;
	size_t nscopes;
	struct progress *prog;

	pthread_mutex_t mu; /* guards what follows */
	char *authz;	    /* current Authorization value, or NULL */
	unsigned auth_gen;  /* bumped on every renewal */
	struct auth_challenge ch;
	struct auth_cred cred;
	int cred_state; /* 0 not looked up, 1 found, -1 none */
	uint64_t sent, received;
	int nuploaded, nexisted, nmounted, ndownloaded;
};

/* One blob to transfer. */
struct job {
	const struct oci_descriptor *d; /* borrowed from the manifest */
	const char *mount_from;		/* push: a repository of the same registry that may hold the blob */
};

/* --- session.c --------------------------------------------------------------------- */

/* Parses refstr and sets up the client, the caller's connection and progress output
 * (verb: "pull", "push"). g is released by reg_release also after a failure. */
int reg_init(struct reg *g, const char *refstr, const struct reg_opts *ro, struct cache *c, const char *verb,
	     struct lm_err *err);
void reg_release(struct reg *g);
/* Adds "repository:REPO:ACTIONS" to the scopes asked of a token server. */
void reg_add_scope(struct reg *g, const char *repo, const char *actions);
/* GET /v2/: picks the scheme and learns how the registry wants to be authenticated. */
int reg_ping(struct reg *g, struct lm_err *err);

/* Sends rq once with the current Authorization (its generation in *gen, for reg_reauth)
 * and counts the bytes. Returns http_do's result. */
int reg_do(struct reg *g, struct http_conn *h, struct http_req *rq, struct http_resp *resp, unsigned *gen,
	   struct lm_err *err);
/* Sends a request with retries (transport errors, 408/429/5xx with Retry-After) and one
 * renewal of the Authorization on 401. A 0 return means an HTTP answer in resp; what
 * names the request in messages. */
int reg_send(struct reg *g, struct http_conn *h, struct http_req *rq, struct http_resp *resp, const char *what,
	     struct lm_err *err);
/* Answers a 401: parses the challenge and gets a new Authorization. gen is the
 * generation the failed request used: when another thread renewed meanwhile, reuses. */
int reg_reauth(struct reg *g, struct http_conn *h, const char *challenge, unsigned gen, struct lm_err *err);
/* Sets err for an unexpected status, with the registry's error message when it sent
 * one. Returns -1. */
int reg_status_err(struct reg *g, const struct http_resp *resp, const char *what, struct lm_err *err);
/* Adds one to a counter of g (under g->mu). */
void reg_tally(struct reg *g, int *counter);
/* Scrubs and frees a string that may hold a secret. NULL-safe. */
void reg_free_secret(char *s);

/* Runs fn for every job on up to ro->jobs threads (REG_JOBS_DEFAULT when 0, at most
 * REG_JOBS_MAX), each with its own connection; stops starting jobs after the first
 * failure and returns its error. */
int reg_run_jobs(struct reg *g, const struct job *jobs, size_t n,
		 int (*fn)(struct reg *g, struct http_conn *h, const struct job *j, struct lm_err *err),
		 struct lm_err *err);

/* --- pure helpers ------------------------------------------------------------------ */

/* 1 when host (as in a reference, "HOST[:PORT]") may be reached over plain HTTP or with
 * unverified TLS: loopback, or named in insecure ("HOST" for any port, "HOST:PORT" for
 * that one). */
int reg_is_insecure(const char *const *insecure, size_t ninsecure, const char *host);
/* The parameters of a token request for challenge ch (bearer), in url (the realm first,
 * then "?service=..&scope=..") or, for an identity token, an OAuth2 refresh-token grant in
 * form. cred may be NULL (anonymous). Returns 1 when the request is a form POST, 0 for a
 * GET. url and form must be initialised; the caller scrubs form (it holds the token). */
int reg_token_request(const struct auth_challenge *ch, const struct auth_cred *cred, char *const *scopes,
		      size_t nscopes, struct lm_buf *url, struct lm_buf *form);
/* The "message" of a registry error body ({"errors":[{"code":..,"message":".."}]}), or
 * NULL. body is NUL-terminated. Caller frees. */
char *reg_error_message(const char *body);
/* "os/arch[/variant], ..." of the index's entries that name a platform. Caller frees. */
char *reg_platforms_list(const struct oci_index *ix);
/* The index entry for want (want_str and name only for the message); -1 with err
 * (LM_E_INPUT, listing what the index has) when there is none. */
int reg_select_platform(const struct oci_index *ix, const struct oci_platform *want, const char *want_str,
			const char *name, struct lm_err *err);
/* The distinct blobs of m (config first, then the layers in order; a digest once) as
 * jobs; *n receives their number. Caller frees the array; descriptors are borrowed. */
struct job *reg_manifest_jobs(const struct oci_manifest *m, size_t *n);

enum reg_resume {
	REG_RESUME_APPEND,  /* the answer continues where the partial blob ends */
	REG_RESUME_RESTART, /* the server ignored Range (200): start the blob over */
	REG_RESUME_BAD,	    /* an answer that does not start at from: retry from zero */
};
/* How to take the first bytes of a blob download that asked for "Range: bytes=from-"
 * (from 0: a plain GET) and got status with Content-Range content_range (may be NULL). */
enum reg_resume reg_resume_check(int64_t from, long status, const char *content_range);

/* The URL that opens an upload session: POST .../blobs/uploads/, with
 * "?mount=DIGEST&from=REPO" when mount_from is not NULL. Caller frees. */
char *reg_upload_start_url(const char *base, const char *repo, const char *digest, const char *mount_from);
/* The URL that completes an upload: location with "digest=DIGEST" added to its query.
 * Caller frees. */
char *reg_upload_put_url(const char *location, const char *digest);
/* The bytes an upload session holds, from its status answer (204 with "Range: 0-END"):
 * END + 1, or 0 for "0-0" (distribution's answer for an empty session). -1 for any
 * other answer. */
int64_t reg_upload_offset(long status, const char *range);
/* The chunk of a chunked upload that starts at off: its length (at most REG_CHUNK) and
 * its Content-Range "START-END" in cr. */
int64_t reg_upload_chunk(int64_t off, int64_t size, char cr[64]);
/* The repository to mount blobs from when pushing to host/repo: that of from_name (the
 * image's name) or else from_base (its base.name annotation), when it is another
 * repository of the same registry; NULL otherwise. Caller frees. */
char *reg_mount_source(const char *from_name, const char *from_base, const char *host, const char *repo);

#endif
