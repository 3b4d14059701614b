/* scan.h - fill a report from an image in the cache and from a build's trees, and list
 * an image's files for `lamina inspect --tree / --largest`.
 *
 * Reading: every layer blob is read once with libarchive (any compression the cache
 * holds), entry by entry. App layers' files (lamina's own layers, named in the history
 * it writes) are deflated in 1 MiB pieces at level 6 to measure what they cost in a zip;
 * base layers are only listed. */
#ifndef LM_REPORT_SCAN_H
#define LM_REPORT_SCAN_H

#include <stdint.h>

#include "common/err.h"
#include "image/cache.h"
#include "image/image.h"
#include "image/tree.h"
#include "prune/prune.h"
#include "report/model.h"

/* One entry of a layer as listed. */
struct report_entry {
	char *path;    /* without a leading '/' or "./", no trailing '/' */
	uint64_t size; /* regular files */
	char type;     /* 'f' file, 'd' directory, 'l' symlink, 'h' hard link, 'w' whiteout, 'o' other */
	size_t layer;  /* index in the image's layers */
};

struct report_entries {
	struct report_entry *v;
	size_t n, cap;
};
void report_entries_release(struct report_entries *e);

/* Fills r's layers, packages and largest files from img (its blobs in c). With zip_measure
 * the app layers' files are deflated (zbytes, package zsize). With ents non-NULL, every
 * entry of every layer is appended to it. The layer names come from the config's
 * history (report_layer_name), else "layer N"; layers without lamina's history entry
 * count as the base's. LM_E_INPUT for a blob that is not a readable tar. */
int report_scan_image(struct report *r, const struct lm_image *img, struct cache *c, int zip_measure,
		      struct report_entries *ents, struct lm_err *err);

/* The image's files as a container would see them: later layers over earlier ones,
 * whiteouts (.wh.NAME, .wh..wh..opq) applied. Sorted by path. ents is left as it is;
 * out is filled (caller releases). Pure. */
void report_entries_merge(const struct report_entries *ents, struct report_entries *out);

/* Prints a dive-like tree of ents (sorted by path): each directory down to depth levels
 * (0: no bound) with the bytes below it, its files down to that depth too. Pure. */
void report_tree_print(const struct report_entries *ents, unsigned depth, FILE *f);

/* What prune did to one app layer of a build. */
struct report_prune_layer {
	const char *name;		/* the manifest layer's */
	const struct lm_tree *tree;	/* as built: removed entries marked, generated ones added */
	uint64_t gz_after;		/* the layer blob's bytes */
};

/* Adds prune's rows to r: per layer and per rule (uncompressed from rep when it has the
 * layer, else from the trees), per package (report_pkg_of), in uncompressed bytes,
 * zipped bytes (the files deflated at level 6) and the gzip'd layer (after: the blob;
 * before: estimated as the blob plus the removed files deflated), and the .pyc and
 * compile-cache bytes the build added. Reads the trees' files that report_scan_image did
 * not already deflate from the image (those prune removed, at least). */
int report_add_prune(struct report *r, const struct report_prune_layer *layers, size_t n,
		     const struct prune_report *rep, struct lm_err *err);

/* Bytes of the file at path deflated at level 6 in 1 MiB pieces. */
int report_deflated_file(const char *path, uint64_t *out, struct lm_err *err);

#endif
