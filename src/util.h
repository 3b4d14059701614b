/* util.h - allocation that cannot fail, strings, paths and file helpers. */
#ifndef LM_UTIL_H
#define LM_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "err.h"

/* Allocation: abort with a message on out-of-memory (like git's xmalloc). */
void *lm_xmalloc(size_t n);
void *lm_xcalloc(size_t nmemb, size_t size);
void *lm_xrealloc(void *p, size_t n);
/* Grows *v (an array of *cap elements of size elsz) so that it holds at least need elements. */
void lm_grow(void **v, size_t *cap, size_t need, size_t elsz);
char *lm_xstrdup(const char *s);
char *lm_xstrndup(const char *s, size_t n);
char *lm_asprintf(const char *fmt, ...) LM_PRINTF(1, 2);
char *lm_vasprintf(const char *fmt, va_list ap);

int lm_str_startswith(const char *s, const char *prefix);
int lm_str_endswith(const char *s, const char *suffix);

/* Joins a and b with exactly one '/'. Caller frees. */
char *lm_path_join(const char *a, const char *b);
/* Directory part of path ("." when none). Caller frees. */
char *lm_path_dirname(const char *path);
/* Creates dir and its parents (mode 0755). */
int lm_mkdir_p(const char *dir, struct lm_err *err);
/* Removes a tree (like rm -rf). Missing path is not an error. */
int lm_rm_rf(const char *path, struct lm_err *err);
/* Best-effort lm_rm_rf for cleanup paths, where a failure must not hide the real error. NULL-safe. */
void lm_rm_rf_quiet(const char *path);

/* Reads a whole file of at most cap bytes; *out is NUL-terminated, caller frees. */
int lm_read_file(const char *path, size_t cap, char **out, size_t *len, struct lm_err *err);
/* Writes data to path atomically: a temporary file beside it, fsync, rename. */
int lm_write_file_atomic(const char *path, const void *data, size_t len, struct lm_err *err);
/* Writes all of len bytes to fd, retrying on EINTR/short writes. Returns 0 or -1 with errno. */
int lm_write_all(int fd, const void *data, size_t len);
/* Creates a unique temporary file "<path>.tmp.XXXXXX"; returns fd and the name (caller frees). */
int lm_tmpfile_beside(const char *path, char **tmpname, struct lm_err *err);
/* Finishes a file from lm_tmpfile_beside: fsync (when sync), close and rename tmp to
 * path. fd is closed in all cases; on failure tmp is removed. */
int lm_tmpfile_commit(int fd, const char *tmp, const char *path, int sync, struct lm_err *err);
/* Creates a unique temporary directory under base (or $TMPDIR or /tmp); caller frees. */
char *lm_mkdtemp(const char *base, const char *prefix, struct lm_err *err);

/* Formats a byte count for people: "1.5 MiB". buf of at least 32 bytes. */
const char *lm_human_bytes(uint64_t n, char *buf, size_t bufsz);

#endif
