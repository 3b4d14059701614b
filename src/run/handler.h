/* handler.h - which runtime an image has, and what its handler string names, by the
 * rules of that runtime's own bootstrap (pure).
 *
 * Python (awslambdaric, bootstrap.py): the last '.' splits the module from the function;
 * '/' in the module is a package separator: "pkg/mod.fn" and "pkg.mod.fn" both import
 * pkg.mod and take fn.
 * Node.js (aws-lambda-nodejs-runtime-interface-client): the module ends at the first '.'
 * of the last path component, and the rest is a dotted path into its exports:
 * "src/app.handlers.get" loads LAMBDA_TASK_ROOT/src/app with the first of .js, .mjs, .cjs
 * that exists (else the name through Node's resolution) and calls exports.handlers.get.
 * '..' anywhere is refused, as the runtime refuses it. */
#ifndef LM_RUN_HANDLER_H
#define LM_RUN_HANDLER_H

enum lm_runtime {
	LM_RUNTIME_AUTO = 0, /* not chosen: decided by the image */
	LM_RUNTIME_PYTHON,
	LM_RUNTIME_NODE,
};

/* "python" / "node"; NULL for AUTO. */
const char *lm_runtime_name(enum lm_runtime rt);
/* Parses "python" or "node" (also "nodejs"); -1 otherwise. Pure. */
int lm_runtime_parse(const char *s, enum lm_runtime *out);

struct handler_ref {
	char *module;   /* Python: dotted ("pkg.mod"); Node: a path under the task root ("src/app") */
	char *function; /* Python: a name; Node: a dotted path into the exports ("handlers.get") */
	char *files[4]; /* the files the runtime tries, relative to the task root, in its order
			   (Python: mod.py, mod/__init__.py; Node: .js, .mjs, .cjs); NULL-terminated */
};

/* Resolves handler for rt (PYTHON or NODE). On a malformed handler returns -1 and *why
 * (caller frees) says what is wrong. Pure. */
int handler_resolve(enum lm_runtime rt, const char *handler, struct handler_ref *out, char **why);
void handler_ref_release(struct handler_ref *h);

#endif
