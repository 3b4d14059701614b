/* pool.h - a fixed set of worker threads that start tasks in the order they are submitted.
 *
 * Used by the gzip writer (image/compress.c), the zip writer (zip/zip.c) and blob transfers
 * (registry/). Tasks start in submission order (FIFO) and may finish in any order; whoever
 * needs a result waits for its task, so a caller that consumes results in submission order
 * gets bytes that do not depend on the number of workers. Each worker owns a context made
 * by ctx_new when it starts and passed to every task it runs (a compressor, a connection),
 * freed by ctx_free when it stops; tasks need no lock for it.
 *
 * With 0 workers, or when no thread can be started, a task runs in the submitting thread
 * inside lm_pool_submit, with a context made on first use: -j1 runs the same code as -jN.
 * The pool holds no lock while a task runs. What a task wrote is visible to a thread once
 * lm_pool_wait returned, or lm_pool_done returned 1, for that task. Only one thread
 * submits, waits and frees (the pool's owner); tasks never call the pool. */
#ifndef LM_POOL_H
#define LM_POOL_H

#include <stddef.h>

#include "common/err.h"

/* Makes a worker's context from the arg given to lm_pool_new (called in the worker's own
 * thread, or in the owner's for inline tasks); must not fail (abort on out of memory). */
typedef void *(*lm_pool_ctx_new_fn)(void *arg);
/* Frees a context made by lm_pool_ctx_new_fn. */
typedef void (*lm_pool_ctx_free_fn)(void *ctx);
/* Runs one task: arg as given to lm_pool_submit, ctx the running worker's context. */
typedef void (*lm_pool_task_fn)(void *arg, void *ctx);

/* A task, embedded by the caller in memory that outlives it (the pool keeps a pointer
 * while it is queued or running). A task may be submitted again once it is done. */
struct lm_pool_task {
	/* the pool's own: set by lm_pool_submit */
	lm_pool_task_fn fn;
	void *arg;
	struct lm_pool_task *next;
	int state;
};

struct lm_pool;

/* Starts up to workers threads (workers <= 0: none, tasks run inline). ctx_new and
 * ctx_free may be NULL (the context is then NULL); arg is borrowed for the pool's life.
 * Never fails: a thread that cannot be started is one worker less. */
struct lm_pool *lm_pool_new(int workers, lm_pool_ctx_new_fn ctx_new, lm_pool_ctx_free_fn ctx_free, void *arg);
/* The number of worker threads running (0: tasks run inline in lm_pool_submit). */
int lm_pool_workers(const struct lm_pool *p);
/* Queues t to run fn(arg, ctx) after every task submitted before it has started; with no
 * workers, runs it now. t must not be queued or running. */
void lm_pool_submit(struct lm_pool *p, struct lm_pool_task *t, lm_pool_task_fn fn, void *arg);
/* 1 when the submitted task t has finished, else 0. Does not block. */
int lm_pool_done(struct lm_pool *p, const struct lm_pool_task *t);
/* Blocks until the submitted task t has finished. */
void lm_pool_wait(struct lm_pool *p, const struct lm_pool_task *t);
/* Stops the pool: tasks that have not started are dropped (they never run and never
 * finish), running ones finish, the workers' contexts are freed and the threads joined.
 * NULL-safe. */
void lm_pool_free(struct lm_pool *p);

/* Runs fn(i, ctx, arg, err) for i = 0 .. n-1, started in order on up to workers threads
 * (at most n; 0 runs them in the caller's thread). After the first failure no further
 * call starts; the calls already running finish. Returns 0, or -1 with err holding the
 * first failure's error (by time; with one worker, the lowest i that failed). */
int lm_pool_for(int workers, size_t n, int (*fn)(size_t i, void *ctx, void *arg, struct lm_err *err),
		lm_pool_ctx_new_fn ctx_new, lm_pool_ctx_free_fn ctx_free, void *arg, struct lm_err *err);

#endif
