/* imagerun.h - run a program of an image inside the image: the one way lamina does it.
 *
 * imagerun_open takes an image (its config: ENV, WorkingDir; its layers: the root
 * filesystem, built or found in the cache and held until close) and makes a private
 * temporary directory. Overlays are directories in it where trees are put at their
 * image paths (tree_materialize) and laid over the root filesystem for a run. A run
 * (imagerun_exec) writes its input files into a fresh io directory, runs argv in the
 * sandbox (sandbox.h: read-only root, the io directory writable at SANDBOX_IO, output
 * to a log there) and hands back the io directory as a descriptor.
 *
 * Whatever the program left there is untrusted (the program is the image's): results
 * are read only through imagerun_read, imagerun_list and imagerun_copy_out, which open
 * every path component relative to the io directory with O_NOFOLLOW, accept only
 * regular files (directories for a listing) and cap the bytes. A symlink, a FIFO or a
 * device where a result should be is an error naming it; nothing is followed out of the
 * io directory. imagerun never prints and writes nothing outside its temporary
 * directory but what imagerun_copy_out is asked to write; close removes it all. */
#ifndef LM_RUN_IMAGERUN_H
#define LM_RUN_IMAGERUN_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "image/cache.h"
#include "image/image.h"
#include "image/oci.h"
#include "image/tree.h"

struct imagerun;

struct imagerun_opts {
	const char *workdir;     /* parent of the temporary directory; NULL: <cache>/rootfs (rootfs_tmpdir) */
	char *const *env;        /* KEY=VALUE entries laid over the image's ENV */
	size_t nenv;
};

/* Opens img for runs. Fails when its config does not parse or its rootfs cannot be made. */
int imagerun_open(struct imagerun **out, const struct lm_image *img, struct cache *c, const struct imagerun_opts *o,
		  struct lm_err *err);
/* Releases the rootfs and removes the temporary directory. NULL-safe. */
void imagerun_close(struct imagerun *r);

/* The image's config (borrowed), its root filesystem directory, and the environment of
 * a run: the image's ENV with the open options' entries over it (borrowed). */
const struct oci_config_view *imagerun_config(const struct imagerun *r);
const char *imagerun_root(const struct imagerun *r);
char *const *imagerun_env(const struct imagerun *r);
const char *imagerun_getenv(const struct imagerun *r, const char *key);

/* The image's program name: /var/lang/bin/NAME, else NAME in a directory of the image's
 * PATH, looked for in overlay (when non-NULL) and the root filesystem with the image's
 * symlinks. Caller frees; NULL when there is none. */
char *imagerun_find(const struct imagerun *r, const char *name, const char *overlay);

/* A new empty overlay directory (owned by r, removed at close). */
const char *imagerun_overlay(struct imagerun *r, struct lm_err *err);

/* An input file of a run, written into its io directory. */
struct imagerun_file {
	const char *name; /* relative to the io directory, no '/' */
	const void *data;
	size_t len;
};

struct imagerun_call {
	char *const *argv;  /* argv[0] absolute in the image */
	const char *overlay; /* laid over the root filesystem, or NULL */
	const char *workdir; /* NULL: the image's WorkingDir, else "/" */
	const struct imagerun_file *files;
	size_t nfiles;
	char *const *env;    /* further KEY=VALUE entries for this run only */
	size_t nenv;
};

/* What a run left. */
struct imagerun_out {
	int status; /* the program's exit status; 128 + N when killed by signal N */
	int iofd;   /* the io directory (O_DIRECTORY|O_NOFOLLOW), -1 after release */
	char *io;   /* its path, for messages */
};

/* Runs the program. The io directory is SANDBOX_IO inside; stdout and stderr go to "log"
 * in it. Fails only when the run could not be made (the sandbox says why). */
int imagerun_exec(struct imagerun *r, const struct imagerun_call *call, struct imagerun_out *out,
		  struct lm_err *err);
/* Removes the run's io directory. NULL-safe. */
void imagerun_out_release(struct imagerun_out *out);

/* Reads the regular file at rel (a relative path, no "..") in the io directory, of at
 * most cap bytes; *data is NUL-terminated (caller frees). LM_E_VERIFY when what is there
 * is not a regular file reached without symlinks, or is larger than cap; LM_E_IO when
 * it is missing (errno ENOENT). */
int imagerun_read(const struct imagerun_out *out, const char *rel, size_t cap, char **data, size_t *len,
		  struct lm_err *err);
/* Copies that file (at most cap bytes) to dst, a new file of lamina's (mode 0644),
 * through the same checks. *size receives its size. */
int imagerun_copy_out(const struct imagerun_out *out, const char *rel, const char *dst, uint64_t cap,
		      uint64_t *size, struct lm_err *err);
/* The names in the directory rel ("" for the io directory itself), sorted, at most max;
 * "." and ".." left out. *names is NULL-terminated (free with imagerun_names_free). */
int imagerun_list(const struct imagerun_out *out, const char *rel, size_t max, char ***names, size_t *n,
		  struct lm_err *err);
void imagerun_names_free(char **names);
/* The type of what is at rel: 'f' a regular file, 'd' a directory, 'l' a symlink, '?'
 * anything else, 0 nothing (no symlink is followed on the way). */
int imagerun_type(const struct imagerun_out *out, const char *rel);
/* The last at most max bytes of the run's log ("" when there is none). Caller frees. */
char *imagerun_log_tail(const struct imagerun_out *out, size_t max);

#endif
