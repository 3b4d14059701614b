/* tree.h - the list of files that make up one image layer.
 *
 * A layer is built from an lm_tree: entries with their path in the image and where
 * their bytes come from on the host. Scanning a source directory fills it; prune
 * marks entries removed; precompile appends generated files; layer.c writes it.
 * Paths in the image are relative to '/', without leading or trailing '/'
 * ("var/task/app.py"). */
#ifndef LM_TREE_H
#define LM_TREE_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/err.h"

enum lm_ftype { LM_F_REG, LM_F_DIR, LM_F_SYMLINK };

struct lm_entry {
	char *path;   /* in the image, relative to '/' */
	char *src;    /* host file with the content (LM_F_REG); NULL for other types */
	char *link;   /* symlink target (LM_F_SYMLINK) */
	enum lm_ftype type;
	unsigned mode;  /* normalised: 0755 dirs and executables, 0644 files, 0777 symlinks */
	uint64_t size;  /* LM_F_REG: bytes */
	int removed;    /* set by prune: not written */
	int generated;  /* added by lamina (e.g. .pyc), not from the user's tree */
	uint64_t dev, ino; /* what the scan saw at src (0: not scanned, e.g. generated) */
	int64_t mtime_ns, ctime_ns; /* the scan's st_mtim and st_ctim of src (with ino != 0) */
	unsigned st_mode;  /* the scan's st_mode of src, unnormalised (with ino != 0) */
	int from_cache; /* src is a blob of the cache, to check (cache_blob_check) before its bytes are used */
	char digest[LM_DIGEST_LEN]; /* LM_F_REG: "sha256:<hex>" of the content; "" until known
				       (statcache_hash_tree), and set by whoever adds a file of known content */
	size_t order;   /* internal: insertion order while sorting */
};

struct lm_tree {
	struct lm_entry *v;
	size_t n, cap;
	int sorted; /* internal: set by tree_finish, cleared by tree_add */
};

struct tree_scan_opts {
	const char *const *exclude; /* wildmatch globs relative to the source dir */
	size_t nexclude;
	int follow_symlinks;        /* 0: keep symlinks as symlinks (default) */
};

void tree_init(struct lm_tree *t);
void tree_release(struct lm_tree *t);

/* Normalises a mode: dirs and anything with an x bit 0755, other files 0644, links 0777. */
unsigned tree_norm_mode(enum lm_ftype type, unsigned st_mode);
/* Normalises an image path: strips leading '/', "./", duplicate and trailing '/'.
 * Returns NULL for paths with ".." components or empty results. Caller frees. */
char *tree_norm_path(const char *p);

/* Appends an entry (copies the strings). Returns the new entry (borrowed). */
struct lm_entry *tree_add(struct lm_tree *t, enum lm_ftype type, const char *path, const char *src,
			  const char *link, unsigned mode, uint64_t size);
/* Finds an entry by image path (linear before tree_finish, binary search after). */
struct lm_entry *tree_find(const struct lm_tree *t, const char *path);

/* Walks srcdir (recursively, files of any depth) and adds its contents under dest
 * (an absolute image path such as "/var/task"). Special files (devices, fifos,
 * sockets) are an error naming the file. Hardlinked files become independent
 * regular files. Excluded paths are not added. */
int tree_scan(struct lm_tree *t, const char *srcdir, const char *dest, const struct tree_scan_opts *o,
	      struct lm_err *err);

/* Sorts entries by path (bytewise, so "a/b" < "a0"), removes exact duplicates (the
 * later entry wins), and adds any missing parent directory (mode 0755), so every
 * entry's parent is present: Lambda rejects layers with a missing parent directory.
 * Entries marked removed stay in the list but are skipped by writers; a directory
 * whose every child is removed is kept. */
void tree_finish(struct lm_tree *t);

/* Which entries tree_materialize puts down. */
struct tree_select {
	const unsigned char *mask; /* per entry: put it down when 1 (removed or not); NULL: every
				      entry that is not removed */
	int (*filter)(const struct lm_entry *e, void *ctx); /* also must say 1; NULL: all */
	void *ctx;
	int copy; /* copy files instead of hard-linking them: a hard link changes the source's
		     ctime, which the stat cache reads (statcache.h); copies leave it alone */
};

/* Puts the selected entries of t at their image paths under dir (created): directories,
 * symlinks as symlinks, regular files as hard links to their source (copies when sel->copy
 * or across file systems; a copy gets the entry's mode). What is already at a path is
 * replaced, so materializing several trees in order lays later ones over earlier ones.
 * Errors name the entry. sel may be NULL (every entry not removed, hard links). */
int tree_materialize(const struct lm_tree *t, const char *dir, const struct tree_select *sel, struct lm_err *err);

/* Copies the regular file src to dst (created with mode, not there before). */
int tree_copy_file(const char *src, const char *dst, unsigned mode, struct lm_err *err);

/* Opens e's source for reading as what the scan saw: without following a symlink,
 * without blocking on a FIFO; it must be a regular file, and the same one (device and
 * inode) the scan recorded. A file replaced since is LM_E_INPUT naming it. Returns the
 * descriptor (blocking reads). */
int tree_open_src(const struct lm_entry *e, struct lm_err *err);

/* Totals over entries not removed. */
void tree_totals(const struct lm_tree *t, uint64_t *files, uint64_t *bytes);

#endif
