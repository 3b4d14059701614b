/* fs.h - paths and files: joining, creating, removing, reading, and atomic writing
 * (a temporary name beside the target, fsync, rename). */
#ifndef LM_FS_H
#define LM_FS_H

#include <stddef.h>

#include "common/err.h"

/* Joins a and b with exactly one '/'. Caller frees. */
char *lm_path_join(const char *a, const char *b);
/* Directory part of path ("." when none). Caller frees. */
char *lm_path_dirname(const char *path);
/* Creates dir and its parents (mode 0755). */
int lm_mkdir_p(const char *dir, struct lm_err *err);
/* Removes a tree (like rm -rf, never following a symlink, at any depth: no PATH_MAX
 * limit), making read-only directories writable on the way. Missing path is not an
 * error. Forgets path in common/cleanup. */
int lm_rm_rf(const char *path, struct lm_err *err);
/* The same without touching common/cleanup's list (its signal thread uses it); 0 or -1
 * with errno. */
int lm_rm_rf_unregistered(const char *path);
/* Best-effort lm_rm_rf for cleanup paths, where a failure must not hide the real error. NULL-safe. */
void lm_rm_rf_quiet(const char *path);

/* Reads a whole file of at most cap bytes; *out is NUL-terminated, caller frees. */
int lm_read_file(const char *path, size_t cap, char **out, size_t *len, struct lm_err *err);
/* Opens path for reading only if it is a regular file (extra: O_NOFOLLOW to refuse a
 * symlink): a FIFO, a device or a directory is LM_E_INPUT naming it, and opening never
 * blocks. Returns the descriptor (blocking reads). For files of untrusted origin. */
int lm_open_regular(const char *path, int extra, struct lm_err *err);
/* lm_read_file through lm_open_regular. */
int lm_read_regular(const char *path, size_t cap, char **out, size_t *len, struct lm_err *err);

/* Writes data to path atomically: a temporary file beside it, fsync, rename. */
int lm_write_file_atomic(const char *path, const void *data, size_t len, struct lm_err *err);
/* Writes all of len bytes to fd, retrying on EINTR/short writes. Returns 0 or -1 with errno. */
int lm_write_all(int fd, const void *data, size_t len);
/* Creates a unique temporary file "<path>.tmp.XXXXXX"; returns fd and the name (caller
 * frees). The name is registered with common/cleanup: a signal removes it. */
int lm_tmpfile_beside(const char *path, char **tmpname, struct lm_err *err);
/* Removes a temporary file from lm_tmpfile_beside that will not be committed. NULL-safe. */
void lm_tmpfile_discard(const char *tmp);
/* Finishes a file from lm_tmpfile_beside: fsync (when sync), close and rename tmp to
 * path. fd is closed in all cases; on failure tmp is removed. */
int lm_tmpfile_commit(int fd, const char *tmp, const char *path, int sync, struct lm_err *err);
/* Creates a unique temporary directory under base (or $TMPDIR or /tmp); caller frees.
 * Registered with common/cleanup until lm_rm_rf removes it (or lm_cleanup_forget, when it
 * is renamed into place). */
char *lm_mkdtemp(const char *base, const char *prefix, struct lm_err *err);

#endif
