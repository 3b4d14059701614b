/* rootfs.h - an image's root filesystem as a directory, for running its own programs.
 *
 * The layers (blobs in the cache: gzip, zstd or plain tar) are applied in order into
 * <cache>/rootfs/<hex sha256 of the layer digest list>, built in a temporary directory
 * beside it and renamed into place when complete (the rename is the completion
 * marker: a directory with the final name is always whole). When the rootfs of a
 * prefix of the layer list is already cached, the new one starts as a hard-link clone
 * of it (files are never modified in place, only replaced, so the clone is safe).
 * The cache is bounded: the ROOTFS_KEEP most recently used stay, older ones go.
 *
 * The cache holds no privilege-escalation kit: <cache>/rootfs and every root filesystem
 * in it are 0700, and setuid/setgid bits and group/world write bits are stripped from
 * what a layer puts there (rootfs_safe_mode). The image itself is not changed.
 *
 * Applying a layer is safe whatever the tar holds: every path is resolved component
 * by component with openat(O_NOFOLLOW), so nothing is written outside the directory;
 * names with ".." are rejected, device nodes, fifos and sockets are skipped, and
 * whiteouts (".wh.NAME") and opaque whiteouts (".wh..wh..opq") are honoured. */
#ifndef LM_ROOTFS_H
#define LM_ROOTFS_H

#include <stddef.h>

#include "image/cache.h"
#include "common/err.h"
#include "image/oci.h"

struct archive;

enum rootfs_wh {
	ROOTFS_WH_INVALID = -1, /* ".wh." with nothing after it, or a path that cannot be cleaned */
	ROOTFS_WH_NONE = 0,     /* an ordinary entry */
	ROOTFS_WH_FILE,         /* ".wh.NAME": delete NAME */
	ROOTFS_WH_OPAQUE,       /* ".wh..wh..opq": hide what lower layers put in the directory */
	ROOTFS_WH_META,         /* other ".wh..wh.*" names (aufs bookkeeping): ignored */
};

/* Cleans a tar entry name into a path relative to the root: strips leading '/' and
 * "./", drops "." components and duplicate or trailing '/'. Returns "" for the root
 * itself, NULL for names with a ".." component. Caller frees. Pure. */
char *rootfs_clean_path(const char *name);

/* Classifies a cleaned path. For ROOTFS_WH_FILE *target receives the path to delete,
 * for ROOTFS_WH_OPAQUE the directory to empty ("" for the root); caller frees; left
 * untouched for the other kinds. Pure. */
enum rootfs_wh rootfs_whiteout(const char *path, char **target);

/* Applies one layer, read from a (configured, opened) libarchive reader, onto the
 * directory rootfd. Does not close a. Errors are LM_E_INPUT for bad layer contents,
 * LM_E_IO for the file system. */
int rootfs_apply(int rootfd, struct archive *a, struct lm_err *err);

/* The mode a file or directory of a layer gets in the execution copy: without setuid,
 * setgid and group/world write bits (the image's own layers keep theirs). Pure. */
unsigned rootfs_safe_mode(unsigned perm);

/* How many root filesystems <cache>/rootfs keeps: the most recently used ones. Each is
 * mostly hard links to another, but a full one of a base image is hundreds of MB. */
#define ROOTFS_KEEP 8

/* A root filesystem in use: its directory, and an open descriptor holding a shared
 * flock(2) on it so that no lamina's clean-up removes it meanwhile. */
struct rootfs {
	char *path;
	int fd;
};

/* Opens the root filesystem of the first n layers, building it when absent, marks it
 * used (the directory's mtime is its last use) and holds it until rootfs_close.
 *
 * First it cleans <cache>/rootfs (rootfs_gc), so that afterwards it holds at most
 * ROOTFS_KEEP root filesystems: this one and the most recently used others, plus any a
 * running lamina holds and the cached prefix this one is cloned from. While a new one is assembled, SIGINT, SIGTERM, SIGHUP and SIGQUIT are held:
 * when one arrives the temporary directory is removed and the signal then takes effect
 * (at the next entry of a layer, so within milliseconds), so an interrupt leaves nothing
 * behind; a SIGKILL leaves a temporary directory that the next call removes. On failure
 * r is untouched. */
int rootfs_open(struct rootfs *r, struct cache *c, const struct oci_descriptor *layers, size_t n,
		struct lm_err *err);
/* Releases the hold and frees the path. NULL-safe; r may be zeroed. */
void rootfs_close(struct rootfs *r);

/* rootfs_open without a hold: returns the directory (caller frees). The clean-up of a
 * later call may remove it once ROOTFS_KEEP others have been used since; prefer
 * rootfs_open. */
char *rootfs_get(struct cache *c, const struct oci_descriptor *layers, size_t n, struct lm_err *err);

/* Cleans dir (a <cache>/rootfs): removes every root filesystem (a directory named by 64
 * hex digits) but the keep most recently used and those named in spare (nspare keys),
 * skipping any that a process holds, and every temporary directory (".tmp-PID.*",
 * ".run-PID.*", ".gc-PID.*") whose process is gone. A directory to remove is first
 * renamed to ".gc-PID.KEY", so a concurrent rootfs_open never sees half of one. Best
 * effort: errors are ignored. Returns how many directories it removed. */
size_t rootfs_gc(const char *dir, size_t keep, char *const *spare, size_t nspare);

/* Creates a private temporary directory under <cache>/rootfs for one run's scratch files
 * (mount points, io files), named ".run-PID.XXXXXX": the caller removes it when done;
 * if the process dies first, the next rootfs_open removes it. Caller frees. */
char *rootfs_tmpdir(struct cache *c, struct lm_err *err);

/* Resolves path (absolute, in the image) inside the root directory root, following
 * symlinks as the image would (absolute targets relative to root), at most 40 hops.
 * Returns 1 when it names an existing regular file with an execute bit, else 0. */
int rootfs_is_executable(const char *root, const char *path);

#endif
