/* starter.h - lamina init: a starter manifest from what a project directory holds.
 *
 * starter_scan looks (without running anything) for requirements.txt, pyproject.toml,
 * package.json, node_modules and a handler file (lambda_function.py, app.py, index.mjs,
 * index.js ... at the top or under src/) and decides the runtime, the layers and the
 * handler; starter_manifest turns that into the manifest's JSON text (pure). */
#ifndef LM_BUILD_STARTER_H
#define LM_BUILD_STARTER_H

#include <stddef.h>

#include "common/err.h"

enum starter_runtime { STARTER_AUTO, STARTER_PYTHON, STARTER_NODE };

struct starter {
	enum starter_runtime runtime; /* PYTHON or NODE after a scan */
	char *base;		      /* the base image for the runtime */
	char *name;		      /* image name (lowercase, a valid reference), or NULL */
	char *handler;		      /* "app.handler"; NULL when no handler was found */
	char *handler_file;	      /* "src/app.py", relative to the directory, or NULL */
	char *app_from;		      /* "." or "src" */
	char *deps_from;	      /* "build/deps", "node_modules" or NULL: no dependencies */
	char *deps_to;		      /* where deps_from goes in the image */
	int deps_missing;	      /* deps_from does not exist yet (install first) */
	const char *found[4];	      /* the project files seen (static strings), NULL-ended */
};

/* Fills s from dir. want: STARTER_AUTO decides from the files (package.json: node;
 * requirements.txt, pyproject.toml or a .py handler: python; both: LM_E_USAGE asking for
 * --runtime; neither: LM_E_INPUT). Release with starter_release. */
int starter_scan(const char *dir, enum starter_runtime want, struct starter *s, struct lm_err *err);
/* Overrides the base image (borrowed string copied). */
void starter_set_base(struct starter *s, const char *base);
void starter_release(struct starter *s);

/* The manifest's JSON text (two-space indent, ends with a newline): base, platform, the
 * layers (deps then app, the app layer excluding what is not code), prune presets for
 * the runtime, precompile (Python), verify ("handler": true when a handler was found),
 * config.cmd and tag. Caller frees. Pure. */
char *starter_manifest(const struct starter *s);

/* The handler a source file exports, for a Python module or a JavaScript file named
 * file (its text in text, len bytes): "app.lambda_handler", or NULL. Caller frees. Pure. */
char *starter_handler_of(const char *file, const char *text, size_t len, enum starter_runtime rt);

/* name turned into a repository path component ([a-z0-9]+ joined by '-'), or NULL when
 * nothing is left. Caller frees. Pure. */
char *starter_image_name(const char *name);

#endif
