/* pool.c - worker threads over one FIFO queue of caller-owned tasks. */
#include "common/pool.h"

#include <pthread.h>
#include <stdlib.h>

#include "common/alloc.h"

enum { TASK_IDLE = 0, TASK_QUEUED, TASK_RUNNING, TASK_DONE };

struct lm_pool {
	lm_pool_ctx_new_fn ctx_new;
	lm_pool_ctx_free_fn ctx_free;
	void *arg;
	pthread_t *tids;
	int nth; /* threads started */

	pthread_mutex_t mu;  /* guards the queue, stop and every task's state */
	pthread_cond_t work; /* workers wait for a queued task or stop */
	pthread_cond_t done; /* the owner waits for a task to finish */
	struct lm_pool_task *head, *tail;
	int stop;

	void *own; /* the context for inline tasks, made on first use */
	int own_made;
};

static void *worker(void *arg)
{
	struct lm_pool *p = arg;
	void *ctx = p->ctx_new ? p->ctx_new(p->arg) : NULL;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct lm_pool_task *t;
		while (!p->stop && !p->head)
			pthread_cond_wait(&p->work, &p->mu);
		if (p->stop)
			break;
		t = p->head;
		p->head = t->next;
		if (!p->head)
			p->tail = NULL;
		t->state = TASK_RUNNING;
		pthread_mutex_unlock(&p->mu);
		t->fn(t->arg, ctx);
		pthread_mutex_lock(&p->mu);
		t->state = TASK_DONE;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	if (p->ctx_free)
		p->ctx_free(ctx);
	return NULL;
}

struct lm_pool *lm_pool_new(int workers, lm_pool_ctx_new_fn ctx_new, lm_pool_ctx_free_fn ctx_free, void *arg)
{
	struct lm_pool *p = lm_xcalloc(1, sizeof(*p));
	p->ctx_new = ctx_new;
	p->ctx_free = ctx_free;
	p->arg = arg;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (workers > 0) {
		p->tids = lm_xcalloc((size_t)workers, sizeof(*p->tids));
		for (int i = 0; i < workers; i++) {
			if (pthread_create(&p->tids[p->nth], NULL, worker, p) != 0)
				break; /* fewer workers; with none, tasks run inline */
			p->nth++;
		}
	}
	return p;
}

int lm_pool_workers(const struct lm_pool *p)
{
	return p->nth;
}

void lm_pool_submit(struct lm_pool *p, struct lm_pool_task *t, lm_pool_task_fn fn, void *arg)
{
	t->fn = fn;
	t->arg = arg;
	t->next = NULL;
	if (!p->nth) {
		/* no worker reads the state: only the owner runs and looks at inline tasks */
		if (!p->own_made) {
			p->own = p->ctx_new ? p->ctx_new(p->arg) : NULL;
			p->own_made = 1;
		}
		t->state = TASK_RUNNING;
		fn(arg, p->own);
		t->state = TASK_DONE;
		return;
	}
	pthread_mutex_lock(&p->mu);
	t->state = TASK_QUEUED;
	if (p->tail)
		p->tail->next = t;
	else
		p->head = t;
	p->tail = t;
	pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
}

int lm_pool_done(struct lm_pool *p, const struct lm_pool_task *t)
{
	int done;
	pthread_mutex_lock(&p->mu);
	done = t->state == TASK_DONE;
	pthread_mutex_unlock(&p->mu);
	return done;
}

void lm_pool_wait(struct lm_pool *p, const struct lm_pool_task *t)
{
	pthread_mutex_lock(&p->mu);
	while (t->state != TASK_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void lm_pool_free(struct lm_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1; /* queued tasks are dropped: a worker checks stop before taking one */
	p->head = p->tail = NULL;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->nth; i++)
		pthread_join(p->tids[i], NULL);
	if (p->own_made && p->ctx_free)
		p->ctx_free(p->own);
	free(p->tids);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	free(p);
}

/* --- lm_pool_for ------------------------------------------------------------------- */

struct for_run {
	int (*fn)(size_t i, void *ctx, void *arg, struct lm_err *err);
	void *arg;
	pthread_mutex_t mu; /* guards failed and err */
	int failed;
	struct lm_err err;
};

struct for_item {
	struct lm_pool_task task;
	struct for_run *run;
	size_t i;
};

static void for_task(void *arg, void *ctx)
{
	struct for_item *it = arg;
	struct for_run *r = it->run;
	struct lm_err err = LM_ERR_INIT;
	int failed;
	pthread_mutex_lock(&r->mu);
	failed = r->failed;
	pthread_mutex_unlock(&r->mu);
	if (failed || r->fn(it->i, ctx, r->arg, &err) == 0)
		return;
	pthread_mutex_lock(&r->mu);
	if (!r->failed) {
		r->failed = 1;
		r->err = err; /* moved: the first failure's error */
		err.msg = NULL;
	}
	pthread_mutex_unlock(&r->mu);
	lm_err_release(&err);
}

int lm_pool_for(int workers, size_t n, int (*fn)(size_t i, void *ctx, void *arg, struct lm_err *err),
		lm_pool_ctx_new_fn ctx_new, lm_pool_ctx_free_fn ctx_free, void *arg, struct lm_err *err)
{
	struct for_run r = { .fn = fn, .arg = arg, .err = LM_ERR_INIT };
	struct for_item *items;
	struct lm_pool *p;
	if (n == 0)
		return 0;
	if (workers > 0 && (size_t)workers > n)
		workers = (int)n;
	items = lm_xcalloc(n, sizeof(*items));
	pthread_mutex_init(&r.mu, NULL);
	p = lm_pool_new(workers, ctx_new, ctx_free, arg);
	for (size_t i = 0; i < n; i++) {
		items[i].run = &r;
		items[i].i = i;
		lm_pool_submit(p, &items[i].task, for_task, &items[i]);
	}
	for (size_t i = 0; i < n; i++)
		lm_pool_wait(p, &items[i].task);
	lm_pool_free(p);
	pthread_mutex_destroy(&r.mu);
	free(items);
	if (!r.failed)
		return 0;
	lm_err_release(err);
	*err = r.err;
	return -1;
}
