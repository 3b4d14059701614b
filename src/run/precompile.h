/* precompile.h - compile Python sources with the image's own interpreter. */
#ifndef LM_PRECOMPILE_H
#define LM_PRECOMPILE_H

#include "image/cache.h"
#include "common/err.h"
#include "image/image.h"
#include "common/opts.h"
#include "image/tree.h"

enum pyc_invalidation { PYC_UNCHECKED_HASH = 0, PYC_CHECKED_HASH, PYC_TIMESTAMP };

struct precompile_spec {
	int set;     /* the manifest had "precompile" */
	int enabled; /* default: on when the base image has a Python interpreter */
	enum pyc_invalidation invalidation;
	int optimize;   /* 0, 1, 2 */
	int sourceless; /* .pyc beside the source, .py removed */
	int jobs;       /* 0 = CPUs */
	int no_cache;   /* not from the manifest: compile everything, record nothing (--no-cache) */
};

/* What a run hands back besides success: warnings for the caller to show, one line each
 * without a prefix ("skipped '/opt/.../x.py' line 1: SyntaxError: ..."). */
struct precompile_result {
	char **warnings;
	size_t nwarnings, capwarnings;
	size_t compiled, cached; /* sources compiled now, and .pyc taken from the cache */
	unsigned corrupt;        /* cache records found corrupt (removed; compiled again) */
};

/* Appends a line (taking it). */
void precompile_result_add(struct precompile_result *r, char *line);
/* Frees the warnings and empties r. NULL-safe. */
void precompile_result_release(struct precompile_result *r);

/* Compiles every .py file of the (finished, pruned) app layer trees inside the image's
 * own root filesystem (base layers + these trees) with the image's interpreter and adds
 * the .pyc files to the same trees (generated = 1). A .pyc the action cache has for the
 * same source, path, interpreter and settings (precompile_key) is taken from it instead
 * (unless s->no_cache); new ones are recorded. workdir is for the .pyc files, which must
 * live until the layers are written. Warnings (third-party files left as source) and
 * counts go to res (caller-owned, initialised to zero; filled on failure too). */
int precompile_python(const struct precompile_spec *s, const struct lm_image *base, struct cache *c,
		      struct lm_tree *trees, size_t ntrees, const struct lm_opts *o, const char *workdir,
		      struct precompile_result *res, struct lm_err *err);

/* One result line of precompile.py, parsed in place: "ok\t<index>\t<pyc path>" or
 * "err\t<index>\t<line>\t<message>". */
struct precompile_line {
	size_t idx;
	int ok;
	const char *pyc;  /* ok: absolute path of the .pyc in the image */
	const char *line; /* err: the line number, as text */
	const char *msg;  /* err: "SyntaxError: ..." */
};

/* Parses line (modified) for a run of n sources: 0, or -1 when it is not a result line or
 * names an index out of range. Pure. */
int precompile_parse_line(char *line, size_t n, struct precompile_line *out);

/* The action-cache key of the .pyc of the source at path (image path, normalised) with
 * content digest, compiled with s by the interpreter of base, files dated epoch. Pure. */
void precompile_key(const struct precompile_spec *s, const struct lm_image *base, int64_t epoch, const char *path,
		    const char *digest, char key[LM_DIGEST_LEN]);

/* 1 when an image path lies in third-party code (a site-packages or dist-packages
 * directory): a file there that does not compile is left as source with a warning,
 * as pip does, instead of failing the build. Pure. */
int precompile_is_third_party(const char *path);

#endif
