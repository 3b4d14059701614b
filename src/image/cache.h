/* cache.h - content-addressed blob store: <dir>/blobs/sha256/<hex>.
 *
 * A blob enters the store only through a writer whose bytes were hashed on the way
 * in and matched the expected digest and size: the store never holds a blob whose
 * digest was not verified. Writers use a private temporary file and rename(2), so
 * two processes storing the same blob at once both succeed with the same result. */
#ifndef LM_CACHE_H
#define LM_CACHE_H

#include <stdint.h>

#include "common/digest.h"
#include "common/err.h"

struct cache;
struct cache_writer;

/* Opens (creating) the store at dir, or at the default location when dir is NULL:
 * $XDG_CACHE_HOME/lamina, else $HOME/.cache/lamina. */
struct cache *cache_open(const char *dir, struct lm_err *err);
void cache_free(struct cache *c);
/* A second place to look for action-cache records (acache.h) when the store has none:
 * fn imports the record for key (and the blobs it names) into the store and returns 1,
 * or returns 0. Used by the registry cache (--cache-from). */
typedef int (*cache_fallback_fn)(void *ctx, const char *key);
void cache_set_fallback(struct cache *c, cache_fallback_fn fn, void *ctx);
/* Calls the fallback, if any, for key: 1 when it imported the record. */
int cache_fallback(struct cache *c, const char *key);

/* The action-cache keys this process found or stored, in order (borrowed; acache.h
 * records them), so that a build can export exactly what it used (--cache-to). */
void cache_note_key(struct cache *c, const char *key);
char *const *cache_keys(const struct cache *c, size_t *n);

/* Bytes of blobs this process added to the store. */
uint64_t cache_added(const struct cache *c);

/* The descriptor of the lock a build holds (cachegc.h), or -1; set takes ownership
 * (closed by cache_free). */
int cache_lock_fd(const struct cache *c);
void cache_set_lock(struct cache *c, int fd);

/* Root directory of the store (borrowed). */
const char *cache_dir(const struct cache *c);

/* A new private directory <dir>/tmp/WHAT-PID.XXXXXX (caller frees the path and removes
 * the directory). What a killed process leaves there is removed by the next cache_open
 * once that PID no longer runs (entries without a PID: after a day). */
char *cache_tmpdir(const struct cache *c, const char *what, struct lm_err *err);
/* The PID in a temporary entry's name "WHAT-PID.XXXXXX", or -1. Pure. */
long cache_tmp_owner(const char *name);

/* Path of a blob's file (whether or not it exists). Caller frees. */
char *cache_blob_path(const struct cache *c, const char *digest);
/* 1 when the blob is present (and, if size >= 0, of that size), else 0. */
int cache_has(const struct cache *c, const char *digest, int64_t size);

/* Checks a blob before it is reused: 1 when it is present, of that size (when size >= 0)
 * and its content hashes to its digest (it is then marked used for the bound, see
 * cache_gc); 0 when it is absent; -1 when it is there but wrong (then it is removed). */
int cache_blob_check(struct cache *c, const char *digest, int64_t size);

/* Marks a blob used now (its mtime), for the least-recently-used bound (cachegc.h). */
void cache_touch(const struct cache *c, const char *digest);

/* Blobs whose content this process has checked (cache_blob_check, or a writer that
 * hashed them on the way in, when the caller marks them): a reader that would hash
 * them again may skip it. Not thread-safe: mark from one thread. */
void cache_mark_verified(struct cache *c, const char *digest);
int cache_is_verified(const struct cache *c, const char *digest);

/* Starts a new blob. */
struct cache_writer *cache_writer_new(struct cache *c, struct lm_err *err);
int cache_writer_write(struct cache_writer *w, const void *data, size_t len, struct lm_err *err);
/* Bytes written so far. */
uint64_t cache_writer_size(const struct cache_writer *w);
/* cache_writer_write with a void * writer: a sink for gz_writer_new and other streams. */
int cache_writer_sink(void *w, const void *data, size_t len, struct lm_err *err);
/* Finishes: checks the digest against expect (if non-NULL) and the size against
 * expect_size (if >= 0), then renames into place. Writes the digest to out (if
 * non-NULL). Frees w in all cases. On mismatch nothing enters the store (LM_E_VERIFY). */
int cache_writer_commit(struct cache_writer *w, const char *expect, int64_t expect_size,
			char out[LM_DIGEST_LEN], struct lm_err *err);
/* Discards a writer and its temporary file. NULL-safe. */
void cache_writer_abort(struct cache_writer *w);

/* Stores a memory buffer; out receives its digest. */
int cache_put_buf(struct cache *c, const void *data, size_t len, char out[LM_DIGEST_LEN], struct lm_err *err);
/* Stores a file of lamina's own (it must not change meanwhile) as a blob: a hard link
 * when it is on the cache's file system, else a copy. out receives its digest. */
int cache_put_file(struct cache *c, const char *path, char out[LM_DIGEST_LEN], struct lm_err *err);

/* Reads a stored blob of at most cap bytes into memory (re-verifying its digest). Caller frees. */
int cache_read_blob(const struct cache *c, const char *digest, size_t cap, char **out, size_t *len,
		    struct lm_err *err);

#endif
