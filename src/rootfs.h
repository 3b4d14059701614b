/* rootfs.h - an image's root filesystem as a directory, for running its own programs.
 *
 * The layers (blobs in the cache: gzip, zstd or plain tar) are applied in order into
 * <cache>/rootfs/<hex sha256 of the layer digest list>, built in a temporary directory
 * beside it and renamed into place when complete (the rename is the completion
 * marker: a directory with the final name is always whole). When the rootfs of a
 * prefix of the layer list is already cached, the new one starts as a hard-link clone
 * of it (files are never modified in place, only replaced, so the clone is safe).
 *
 * Applying a layer is safe whatever the tar holds: every path is resolved component
 * by component with openat(O_NOFOLLOW), so nothing is written outside the directory;
 * names with ".." are rejected, device nodes, fifos and sockets are skipped, and
 * whiteouts (".wh.NAME") and opaque whiteouts (".wh..wh..opq") are honoured. */
#ifndef LM_ROOTFS_H
#define LM_ROOTFS_H

#include <stddef.h>

#include "cache.h"
#include "err.h"
#include "oci.h"

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

/* Returns the directory holding the root filesystem of the first n layers (caller
 * frees), building it when absent. */
char *rootfs_get(struct cache *c, const struct oci_descriptor *layers, size_t n, struct lm_err *err);

/* Resolves path (absolute, in the image) inside the root directory root, following
 * symlinks as the image would (absolute targets relative to root), at most 40 hops.
 * Returns 1 when it names an existing regular file with an execute bit, else 0. */
int rootfs_is_executable(const char *root, const char *path);

#endif
