/* verify.h - prove an image works: imports and handler inside its own root filesystem. */
#ifndef LM_VERIFY_H
#define LM_VERIFY_H

#include <stdint.h>

#include "image/cache.h"
#include "common/err.h"
#include "image/image.h"
#include "common/opts.h"
#include "prune/prune.h"
#include "image/tree.h"
#include "run/handler.h"

struct verify_spec {
	int set;
	char **imports;
	size_t nimports;
	int imports_set;          /* imports were listed (even none): no default list */
	int handler;              /* resolve the handler named by CMD */
	enum lm_runtime runtime;  /* AUTO: the image's (its only interpreter, else its bootstrap's) */
	char **env;               /* KEY=VALUE over Lambda's variables and the image's ENV, in order */
	size_t nenv;
	const char *event;        /* --event FILE: call the handler with it; NULL = do not call */
	int from_label;           /* read from the image's VERIFY_LABEL */
};

void verify_spec_release(struct verify_spec *v);
/* Adds "KEY=VALUE" to v->env (a later KEY replaces an earlier one). */
void verify_spec_setenv(struct verify_spec *v, const char *key, const char *value);

/* The label a build records its verify spec in ({"imports": [...], "handler": bool,
 * "runtime": "node", "env": {...}}), so that `lamina verify OUT.tar` runs the same checks. */
#define VERIFY_LABEL "lamina.verify"
/* The spec as that label's JSON text (caller frees). Pure. */
char *verify_spec_to_json(const struct verify_spec *v);
/* Fills v (released first) from that JSON; -1 with err (LM_E_INPUT) when it is not one. */
int verify_spec_from_json(const char *text, struct verify_spec *v, struct lm_err *err);

/* One app layer of the image as the build made it, so that a failed check can be
 * re-run with a prune rule disabled. */
struct verify_prune_layer {
	const char *name;                /* the layer's name, for messages */
	struct lm_tree *tree;            /* as pruned (may hold generated entries since) */
	const char *root;                /* its destination in the image ("/var/task") */
	const struct prune_spec *global; /* the manifest's top-level "prune", or NULL */
	const struct prune_spec *layer;  /* the layer's own "prune", or NULL */
};

struct verify_prune {
	const struct verify_prune_layer *layers;
	size_t nlayers;
	const char *platform; /* the image's ("linux/amd64") */
	const struct prune_base *base; /* what the base ships, as prune saw it (may be NULL) */
};

/* Most re-checks a failed verification spends on single prune rules. */
#define VERIFY_BLAME_MAX_RUNS 32

/* Runs the checks in the image's root filesystem (/var/task read-only, the image's ENV).
 * Collects every failure (with its traceback) and fails at the end (LM_E_VERIFY).
 *
 * With prune non-NULL, when checks fail the image is re-checked with the files prune
 * removed put back (laid over the image's root filesystem, nothing rebuilt): first all
 * of them, then those of one rule at a time (a preset rule or a "remove" glob that
 * removed something, the likeliest first, at most VERIFY_BLAME_MAX_RUNS), and the
 * message ends with one line per failed check naming the rule whose removal broke it:
 *   verify: import 'foo' failed; it passes with prune rule 'remove: foo.py' disabled
 *   (removed 1 file, 52 B)
 * Handler calls (--event) are never repeated.
 *
 * The runtime is v->runtime, else the image's only interpreter (python3, node), else
 * (both) Node.js when /var/runtime holds the Node runtime; an image with neither, or
 * without the one asked for, is LM_E_INPUT. The run's environment: the image's ENV, then
 * what Lambda sets (verify_lambda_env), then v->env.
 *
 * out (may be NULL; release with verify_outcome_release) receives what the handler
 * returned as JSON text (NULL when it was not called, even when other checks failed),
 * the runtime used, how many imports loaded and how long the slowest took. */
struct verify_import {
	char *module;            /* "numpy.core", "@aws-sdk/client-s3" */
	uint64_t self_us, cum_us; /* its own time; with what it imported in turn */
};
struct verify_outcome {
	char *result;
	enum lm_runtime runtime;
	size_t imported;
	/* the slowest imports while the imports and the handler loaded (Python: -X importtime;
	 * Node: each require()), slowest first, at most 100 */
	struct verify_import *times;
	size_t ntimes;
};
void verify_outcome_release(struct verify_outcome *o);
int verify_run(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
	       const struct verify_prune *prune, const struct lm_opts *o, struct verify_outcome *out,
	       struct lm_err *err);

/* What Lambda sets for a function, as KEY=VALUE entries for rt and handler (NULL: none),
 * over the image's ENV img_env (AWS_REGION, TZ and LAMBDA_TASK_ROOT only when it has none).
 * NULL-terminated; free with verify_strv_free. Pure. */
char **verify_lambda_env(enum lm_runtime rt, const char *handler, char *const *img_env, size_t nimg);

/* verify_run without prune information or a result. */
int verify_image(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
		 const struct lm_opts *o, struct lm_err *err);

/* --- naming the prune rule behind a failure (pure parts) -------------------------------- */

/* Where a failed check points: dotted module names ("a.b") from the check itself
 * ("import 'a.b'", "handler 'h': import 'm'") and from its traceback ("No module named
 * 'x'", "cannot import name 'n' from 'x'"), and absolute paths ("/var/task/x/y.py") from
 * the traceback's File "..." lines and quoted paths in its message. NULL-terminated,
 * without duplicates; free with verify_strv_free. Pure. */
char **verify_blame_hints(const char *what, const char *traceback);
void verify_strv_free(char **v);

/* A prune rule that removed something, as a suspect. */
struct verify_blame_cand {
	const char *label;   /* borrowed */
	size_t layer;        /* index into verify_prune.layers */
	uint64_t files, bytes;
	const char *const *paths; /* image paths it removed ("var/task/x/tests/a.py"), borrowed */
	size_t npaths;
	int score; /* set by verify_blame_order: 3 removed a module named by a hint (or a
		      file a hint names), 2 removed something in such a module's top-level
		      package, 1 removed something in the directory of a file a hint
		      names, 0 none */
	size_t hits; /* set by verify_blame_order: removed paths with that score */
};

/* Scores each candidate against the hints (from verify_blame_hints) and sorts c, most
 * likely first: higher score, then more hits, then more files removed, then the
 * original order. Pure. */
void verify_blame_order(struct verify_blame_cand *c, size_t n, char *const *hints);

#endif
