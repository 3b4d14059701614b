/* cleanup.h - what an interrupted lamina leaves behind: nothing.
 *
 * SIGINT, SIGTERM and SIGHUP are blocked in every thread (lm_cleanup_start runs first in
 * main, before any thread exists) and taken by one thread that waits for them. On a
 * signal it kills the registered child processes, removes the registered temporary files
 * and directories, and ends the process by the same signal (exit status 128+N to a
 * shell). Creating and registering happen under the same lock, so nothing new appears
 * once the cleanup has begun.
 *
 * This is the one piece of process-wide mutable state besides the parsed options: a
 * signal is process-wide, so the list of what to undo is too (git's tempfile.c does the
 * same). lm_tmpfile_beside and lm_mkdtemp (common/fs.h) register what they create;
 * lm_tmpfile_commit, lm_tmpfile_discard and lm_rm_rf forget it.
 *
 * Without lm_cleanup_start (the unit tests) registering is a no-op. */
#ifndef LM_CLEANUP_H
#define LM_CLEANUP_H

#include <sys/types.h>

/* Blocks the signals and starts the waiting thread. Call once, before any other thread. */
int lm_cleanup_start(void);
/* In a forked child before exec: the signal mask the process started with. */
void lm_cleanup_child(void);

/* lock / unlock around "create, then register", so a signal cannot fall in between */
void lm_cleanup_lock(void);
void lm_cleanup_unlock(void);
/* Registers a file (dir = 0) or a directory tree (dir = 1) to remove on a signal; with the
 * lock held. */
void lm_cleanup_add_locked(const char *path, int dir);
/* Forgets path (no-op when not registered). */
void lm_cleanup_forget(const char *path);
/* A child process to SIGKILL before removing files (its namespace goes with it). */
void lm_cleanup_add_pid(pid_t pid);
void lm_cleanup_forget_pid(pid_t pid);

#endif
