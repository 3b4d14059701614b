/* build.h - the build pipeline behind `lamina build` (and `verify MANIFEST`). */
#ifndef LM_BUILD_H
#define LM_BUILD_H

#include "image.h"
#include "opts.h"
#include "registry.h"

struct build_req {
	const char *manifest;  /* path */
	const char *out;       /* archive to write, or NULL */
	const char *tag;       /* --tag, overrides the manifest's */
	const char *base;      /* --base, overrides the manifest's */
	const char *platform;  /* --platform, overrides the manifest's */
	const char *push;      /* --push REF, or NULL */
	struct reg_opts reg;   /* registry options for pull and push */
	int no_verify;         /* skip the manifest's "verify" step */
	int level;             /* --compression-level, overrides the manifest's; 0 = not given */
};

/* Runs the build. When img is non-NULL it receives the built image (blobs in the cache). */
int build_run(const struct build_req *r, const struct lm_opts *o, struct lm_image *img, struct lm_err *err);

#endif
