/* digest.h - SHA-256 digests in OCI form ("sha256:<64 lowercase hex>"). */
#ifndef LM_DIGEST_H
#define LM_DIGEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

/* "sha256:" + 64 hex + NUL */
#define LM_DIGEST_LEN 72

struct digest_ctx {
	void *md; /* EVP_MD_CTX, opaque */
};

/* Streaming hash. init never fails (aborts on OOM); final releases the context. */
void digest_init(struct digest_ctx *c);
void digest_update(struct digest_ctx *c, const void *data, size_t len);
/* Writes "sha256:<hex>" into out and releases the context. */
void digest_final(struct digest_ctx *c, char out[LM_DIGEST_LEN]);
/* Releases a context without producing a digest (error paths). NULL-safe. */
void digest_abort(struct digest_ctx *c);

/* One-shot digest of memory. */
void digest_buf(const void *data, size_t len, char out[LM_DIGEST_LEN]);
/* Digest and size of a regular file's contents; path is not followed if it is a
 * symlink, and anything but a regular file is an error (LM_E_INPUT). */
int digest_file(const char *path, char out[LM_DIGEST_LEN], uint64_t *size, struct lm_err *err);

/* Returns 1 when s is a well-formed "sha256:<64 lowercase hex>" digest, else 0. */
int digest_valid(const char *s);
/* Returns the hex part of a valid digest (borrowed pointer into s). */
const char *digest_hex(const char *s);

#endif
