/* build.h - the build pipeline behind `lamina build`, `lamina zip` and `verify MANIFEST`.
 *
 * One pipeline: read the manifest, open the base, scan each layer's "from", prune,
 * precompile Python with the base's interpreter, write the app layers into the cache,
 * verify; then the outputs: an image archive, a push, and/or a Lambda .zip of the same
 * app trees. */
#ifndef LM_BUILD_H
#define LM_BUILD_H

#include "image/image.h"
#include "common/opts.h"
#include "registry/registry.h"
#include "zip/sizereport.h"
#include "run/verify.h"

/* A Lambda .zip from the app trees (lamina zip, and build --report to measure one). */
struct build_zip {
	const char *out;           /* the .zip to write; NULL = write it to a scratch file to measure it */
	int kind;                  /* ZIP_FUNCTION, ZIP_LAYER, or -1: the manifest's "zip.kind" (default function) */
	const char *const *layers; /* manifest layers to put in it; NULL = "zip.layers" (default every layer) */
	size_t nlayers;
	int level;   /* deflate level 0..9, -1 = "zip.level" (default ZIP_LEVEL_DEFAULT) */
	int lenient; /* only for the report: a layout that cannot be zipped is reported, not an error */
};

struct build_req {
	const char *manifest;  /* path */
	const char *out;       /* archive to write, or NULL */
	const char *tag;       /* --tag, overrides the manifest's */
	const char *base;      /* --base, overrides the manifest's */
	const char *platform;  /* --platform, overrides the manifest's */
	const char *push;      /* --push REF, or NULL */
	struct reg_opts reg;   /* registry options for pull and push */
	int no_verify;         /* skip the manifest's "verify" step */
	const struct verify_spec *verify; /* checks to run instead of the manifest's "verify", or NULL */
	char **verify_result;  /* receives the handler's result when verify calls it, or NULL */
	const struct build_zip *zip;  /* make a zip; unless lenient, instead of the image summary and digest */
	struct size_report *report;   /* when non-NULL, receives the image's (and the zip's) sizes */
	int level;             /* --compression-level, overrides the manifest's; 0 = not given */
};

/* Runs the build. When img is non-NULL it receives the built image (blobs in the cache). */
int build_run(const struct build_req *r, const struct lm_opts *o, struct lm_image *img, struct lm_err *err);

#endif
