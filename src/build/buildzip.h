/* buildzip.h - the zip steps of the build pipeline (build.c): choose the layers,
 * check the trees fit the zip's kind and Lambda's unzipped limit, write or measure the
 * zip, and gather the image's and the zip's sizes for the report. */
#ifndef LM_BUILDZIP_H
#define LM_BUILDZIP_H

#include "build/build.h"
#include "image/cache.h"
#include "image/image.h"
#include "image/layer.h"
#include "build/manifest.h"
#include "zip/sizereport.h"
#include "image/tree.h"
#include "zip/zip.h"

/* What goes into the zip: the kind, the manifest layers (indices into m->layers, in
 * manifest order, so a later layer wins as in the image) and the deflate level. */
struct buildzip_sel {
	enum zip_kind kind;
	size_t *idx; /* owned: free() it */
	size_t n;
	int level;
};

/* Resolves the command line's choices (z), else the manifest's "zip", else the defaults
 * (function, every layer, ZIP_LEVEL_DEFAULT). An unknown --layer is LM_E_USAGE. */
int buildzip_select(const struct build_zip *z, const struct lm_manifest *m, struct buildzip_sel *s,
		    struct lm_err *err);

/* Checks that the (scanned, pruned) trees can be this zip, and that their unzipped size
 * is within Lambda's limit: LM_E_INPUT naming the layer and path, or the size. */
int buildzip_check(const struct buildzip_sel *s, const struct lm_manifest *m, const struct lm_tree *trees,
		   struct lm_err *err);

/* Writes the zip of the finished trees to z->out, or (z->out NULL) to a scratch file in
 * workdir to measure it. With z->lenient a layout the kind cannot hold is recorded in
 * rep->zip_error instead of failing. Fills rep's zip figures when rep is non-NULL. */
int buildzip_write(const struct build_zip *z, const struct buildzip_sel *s, const struct lm_manifest *m,
		   const struct lm_tree *trees, const struct zip_opts *zo, const char *workdir,
		   struct size_report *rep, struct lm_err *err);

/* The manifest layers s leaves out (which would be deployed as Lambda layers beside
 * the zip): their count and the bytes of their (pruned, compiled) files. Pure. */
void buildzip_others(const struct buildzip_sel *s, const struct lm_manifest *m, const struct lm_tree *trees,
		     uint64_t *usize, size_t *n);

/* Fills rep's image figures: the base layers as pulled (their uncompressed size read by
 * decompressing them from the cache) and the app layers as built. */
int buildzip_image_sizes(struct size_report *rep, const struct lm_image *base, const struct lm_manifest *m,
			 const struct layer_result *res, const struct lm_image *img, struct cache *c,
			 struct lm_err *err);

#endif
