/* verify.h - prove an image works: imports and handler inside its own root filesystem. */
#ifndef LM_VERIFY_H
#define LM_VERIFY_H

#include "cache.h"
#include "err.h"
#include "image.h"
#include "opts.h"

struct verify_spec {
	int set;
	char **imports;
	size_t nimports;
	int handler;       /* resolve the handler named by CMD */
	const char *event; /* --event FILE: call the handler with it; NULL = do not call */
};

void verify_spec_release(struct verify_spec *v);

/* Runs the checks in the image's root filesystem (/var/task read-only, the image's ENV).
 * Collects every failure (with its traceback) and fails at the end (LM_E_VERIFY). */
int verify_image(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
		 const struct lm_opts *o, struct lm_err *err);

/* verify_image, also handing back what the handler returned when it was called (v->event
 * set): JSON text in *result (caller frees; NULL when not called). *result is written
 * even when other checks failed. */
int verify_run(const struct lm_image *img, struct cache *c, const struct verify_spec *v, const struct lm_opts *o,
	       char **result, struct lm_err *err);

/* Splits a Lambda handler ("app.handler", "pkg/mod.fn", "pkg.mod.fn") into the module
 * to import ("pkg.mod") and the function name. Returns -1 for a handler without a
 * module or function part. Caller frees both. Pure. */
int verify_handler_split(const char *handler, char **module, char **func);

#endif
