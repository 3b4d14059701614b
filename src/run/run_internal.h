/* run_internal.h - what verify.c and blame.c share (private to src/run/). */
#ifndef LM_RUN_INTERNAL_H
#define LM_RUN_INTERNAL_H

#include "common/attr.h"
#include "run/imagerun.h"
#include "run/handler.h"
#include "run/verify.h"

/* A failed check: what ("import 'x'") and its traceback. */
struct vfail {
	char *what, *tb;
};

struct vfails {
	struct vfail *v;
	size_t n, cap;
	char *crash;      /* the interpreter died before reporting: why (status and output) */
	size_t imported;  /* imports that loaded */
	struct verify_import *times; /* import timings the script reported */
	size_t ntimes;
};

void vfails_add(struct vfails *f, const char *what, const char *tb);
void vfails_release(struct vfails *f);
int vfails_has(const struct vfails *f, const char *what);

/* What every run of the checks shares. */
struct vctx {
	const struct verify_spec *v;
	struct imagerun *ir;
	enum lm_runtime runtime; /* PYTHON or NODE */
	const char *interp;      /* the image's python3 or node */
	const char *workdir;     /* of the runs: the image's WorkingDir, else /var/task */
	const char *handler;     /* NULL: no handler to check */
	struct handler_ref ref;  /* what handler names, by the runtime's rules */
	char *const *env;        /* Lambda's variables and the user's, over the image's ENV */
	size_t nenv;
};

/* Runs the checks once, with overlay (or NULL) laid over the image's root; call: also
 * call the handler with the event. Fills f (and *result when the handler returned).
 * Fails only when the run itself could not be made. */
int verify_run_checks(struct vctx *x, const char *overlay, int call, struct vfails *f, char **result,
		      struct lm_err *err);

/* Re-checks with prune's removals put back to name the rule behind each failed check in
 * fails (blame.c). Returns the lines to add to the failure message (caller frees), or
 * NULL (and err set) when the re-checks could not be made. */
char *verify_blame(struct vctx *x, const struct verify_prune *p, const struct vfails *fails, struct lm_err *err);

/* Appends the formatted text to *s (reallocated). */
void verify_append(char **s, const char *fmt, ...) LM_PRINTF(2, 3);

#endif
