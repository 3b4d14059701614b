/* zip.h - reproducible Lambda .zip files: a function (/var/task) or a layer (/opt).
 *
 * Lambda unpacks a function zip into /var/task and a layer zip into /opt. A zip plan
 * maps the entries of one or more finished app trees (image paths such as
 * "var/task/app.py") to names in the zip, merges them as the image would (a later
 * layer wins) and sorts them; the writer turns a plan into bytes that depend only on
 * the plan, the file contents, the time and the level:
 *   - entries in bytewise path order, every parent directory present ("pkg/");
 *   - Unix external attributes: 0644 files, 0755 directories and executables,
 *     symlinks as S_IFLNK|0777 with the target as stored content (Info-ZIP
 *     `zip --symlinks`; Lambda keeps them as symlinks);
 *   - one DOS time for every entry, from SOURCE_DATE_EPOCH read as UTC (clamped to
 *     1980-01-01 .. 2107-12-31, the range a DOS time can hold);
 *   - no extra fields (no UT times, no ux uid/gid), no data descriptors, no comment;
 *   - deflate (zlib, level 6 by default; files up to 8 MiB deflated in parallel,
 *     each entry on its own, so the bytes do not depend on the thread count), stored
 *     when deflate would not make the file smaller; Zip64 records only when a size,
 *     an offset or the entry count needs them.
 * libarchive's zip writer is not used: it always adds UT and ux extra fields and
 * converts times with localtime(), so its bytes depend on the time zone. */
#ifndef LM_ZIP_H
#define LM_ZIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "image/tree.h"

enum zip_kind { ZIP_FUNCTION = 0, ZIP_LAYER = 1 };

#define ZIP_LEVEL_DEFAULT 6

/* "function" or "layer". */
const char *zip_kind_name(enum zip_kind k);
/* Parses "function" or "layer"; returns -1 for anything else. Pure. */
int zip_kind_parse(const char *s, enum zip_kind *k);
/* The directory a zip of this kind is unpacked into: "/var/task" or "/opt". */
const char *zip_kind_dir(enum zip_kind k);

enum zip_map {
	ZIP_MAP_OUTSIDE = -1, /* not under the kind's directory: cannot be in the zip */
	ZIP_MAP_SKIP = 0,     /* the directory itself or one of its parents: implied */
	ZIP_MAP_IN = 1,       /* *name receives the name in the zip */
};

/* Maps an image path in tree form ("var/task/pkg/a.py", no leading '/') to its name
 * in a zip of kind k ("pkg/a.py"). *name is borrowed: it points into path. Pure. */
enum zip_map zip_map_path(enum zip_kind k, const char *path, const char **name);

/* DOS date and time for Unix seconds, in UTC, clamped to 1980-01-01T00:00:00 ..
 * 2107-12-31T23:59:58; odd seconds round down (DOS time counts 2 s steps). Pure. */
void zip_dos_time(int64_t t, uint16_t *date, uint16_t *time);

/* The central directory's external attributes for an entry: Unix type and mode in
 * the high 16 bits, the MS-DOS directory bit for directories. Pure. */
uint32_t zip_external_attr(enum lm_ftype type, unsigned mode);

/* One entry of a plan. */
struct zip_item {
	char *name;                 /* in the zip, without the trailing '/' of directories */
	const struct lm_entry *e;   /* borrowed from the tree it came from */
	size_t layer;               /* index of that tree */
};

struct zip_plan {
	struct zip_item *v;
	size_t n;
	uint64_t files;  /* regular files and symlinks */
	uint64_t usize;  /* their bytes (symlinks: the target's length): Lambda's unzipped size */
};

void zip_plan_init(struct zip_plan *p);
void zip_plan_release(struct zip_plan *p);

/* Builds the plan for a zip of kind k from the finished trees (removed entries are
 * skipped). names[i] names tree i in messages. Entries at the same name merge as in
 * the image: directories merge, for anything else the later tree wins; a directory in
 * one tree where another has a file or symlink is an error, and so is any entry
 * outside the kind's directory ("layer 'deps': '/usr/lib/x.so' is outside /var/task
 * ..."), both LM_E_INPUT. The trees must outlive the plan. Pure (no I/O). */
int zip_plan_build(struct zip_plan *p, const struct lm_tree *trees, const char *const *names, size_t ntrees,
		   enum zip_kind k, struct lm_err *err);

struct zip_opts {
	int64_t mtime; /* every entry's time (SOURCE_DATE_EPOCH) */
	int level;     /* 0 = store everything, 1..9 = deflate level */
	int threads;   /* deflate threads besides the writer; 0 or 1 = none. The bytes do not
	                * depend on it. */
	/* zip_write: called with the whole zip at its temporary name, before the rename; a
	 * return of -1 (err set) leaves nothing at out (lamina zip checks Lambda's rules
	 * here). NULL: none. */
	int (*before_commit)(void *ctx, const char *tmp, struct lm_err *err);
	void *ctx;
};

struct zip_result {
	uint64_t size;    /* bytes of the zip file */
	uint64_t entries; /* entries written, directories included */
	uint64_t usize;   /* bytes of file contents (plan.usize) */
	int zip64;        /* Zip64 records were needed */
	uint64_t *layer_csize; /* per tree: compressed bytes of its entries (caller frees) */
	uint64_t *layer_usize; /* per tree: uncompressed bytes of its entries (caller frees) */
};

void zip_result_release(struct zip_result *r);

/* Writes the plan as a zip to fd: an empty, seekable file (the local headers are
 * completed with pwrite once each entry's size and CRC are known). ntrees is the
 * number of trees the plan was built from (for the per-tree totals). A source file
 * whose size changed since it was scanned is an error naming it. */
int zip_write_fd(const struct zip_plan *p, size_t ntrees, const struct zip_opts *o, int fd, struct zip_result *res,
		 struct lm_err *err);

/* zip_write_fd into "OUT.tmp.XXXXXX" beside out, o->before_commit, fsync'd, renamed to
 * out on success (mode 0644); on failure nothing is left behind. */
int zip_write(const struct zip_plan *p, size_t ntrees, const struct zip_opts *o, const char *out,
	      struct zip_result *res, struct lm_err *err);

#endif
