/* child.h - a child process that says why it could not start.
 *
 * lm_child_spawn forks with an error pipe (close-on-exec): in the child, fn sets up and
 * execs; a setup step that fails calls lm_child_fail, which writes one line of text to
 * the pipe and exits 126. The exec closes the pipe, so lm_child_wait reads it to its end
 * (empty: the program ran) and then waits for the child. The child is registered with the
 * clean-up (a signal kills it) from fork to wait. Used by the sandbox (run/sandbox.c) and
 * for esbuild (build/bundle.c). */
#ifndef LM_CHILD_H
#define LM_CHILD_H

#include <stddef.h>
#include <sys/types.h>

#include "common/attr.h"
#include "common/err.h"

struct lm_child {
	pid_t pid;
	int efd; /* the read end of the error pipe, -1 once read */
};

/* Forks; the child runs lm_cleanup_child() then fn(ctx, efd), which must exec or exit
 * (returning from fn exits 127). */
int lm_child_spawn(struct lm_child *ch, void (*fn)(void *ctx, int efd), void *ctx, struct lm_err *err);
/* In the child: "<what>: <strerror(errno)>" to the pipe, then _exit(126). */
void lm_child_fail(int efd, const char *fmt, ...) LM_PRINTF(2, 3) LM_NORETURN;
/* Reads what the child reported into msg (NUL-terminated, at most msgsz - 1 bytes) and
 * waits for it: *wst is waitpid's status. Returns the length of the report (0: the child
 * started its program), -1 when waiting failed. */
int lm_child_wait(struct lm_child *ch, char *msg, size_t msgsz, int *wst, struct lm_err *err);

#endif
