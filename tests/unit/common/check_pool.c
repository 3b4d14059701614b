#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/pool.h"
#include "unit.h"

/* Contexts: each one numbered, so tests can see which worker ran what; made and freed
 * are counted. */
struct ctxs {
	pthread_mutex_t mu;
	int made, freed;
};

struct ctx {
	int id; /* first member: tasks read it as an int */
	struct ctxs *c;
};

static void *ctx_new(void *arg)
{
	struct ctxs *c = arg;
	struct ctx *x = malloc(sizeof(*x));
	ck_assert_ptr_nonnull(x);
	pthread_mutex_lock(&c->mu);
	x->id = c->made++;
	x->c = c;
	pthread_mutex_unlock(&c->mu);
	return x;
}

static void ctx_free(void *ctx)
{
	struct ctx *x = ctx;
	pthread_mutex_lock(&x->c->mu);
	x->c->freed++;
	pthread_mutex_unlock(&x->c->mu);
	free(x);
}

struct job {
	struct lm_pool_task task;
	struct log *log;
	int i;
	int ran;
	int ctx_id;
	pthread_t thread;
};

struct log {
	pthread_mutex_t mu;
	int v[1024];
	int n;
	/* a gate that blocks tasks with i == gated until opened */
	int gated, open, started; /* started: the gated task is waiting at the gate */
	pthread_cond_t cv;
};

static void log_init(struct log *l)
{
	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->gated = -1;
}

static void log_wait_started(struct log *l)
{
	pthread_mutex_lock(&l->mu);
	while (!l->started)
		pthread_cond_wait(&l->cv, &l->mu);
	pthread_mutex_unlock(&l->mu);
}

static void log_open(struct log *l)
{
	pthread_mutex_lock(&l->mu);
	l->open = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

static void job_run(void *arg, void *ctx)
{
	struct job *j = arg;
	struct log *l = j->log;
	pthread_mutex_lock(&l->mu);
	if (j->i == l->gated) {
		l->started = 1;
		pthread_cond_broadcast(&l->cv);
		while (!l->open)
			pthread_cond_wait(&l->cv, &l->mu);
	}
	l->v[l->n++ % 1024] = j->i;
	pthread_mutex_unlock(&l->mu);
	j->ran++;
	j->ctx_id = ctx ? *(int *)ctx : -1;
	j->thread = pthread_self();
}

START_TEST(test_inline_zero_workers)
{
	struct ctxs c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct log l;
	struct job j[3];
	struct lm_pool *p;
	log_init(&l);
	memset(j, 0, sizeof(j));
	p = lm_pool_new(0, ctx_new, ctx_free, &c);
	ck_assert_int_eq(lm_pool_workers(p), 0);
	ck_assert_int_eq(c.made, 0); /* made on first use, not before */
	for (int i = 0; i < 3; i++) {
		j[i].log = &l;
		j[i].i = i;
		lm_pool_submit(p, &j[i].task, job_run, &j[i]);
		/* ran inside submit, in this thread */
		ck_assert_int_eq(j[i].ran, 1);
		ck_assert_int_eq(lm_pool_done(p, &j[i].task), 1);
		ck_assert(pthread_equal(j[i].thread, pthread_self()));
		ck_assert_int_eq(j[i].ctx_id, 0);
	}
	lm_pool_wait(p, &j[2].task);
	ck_assert_int_eq(c.made, 1);
	lm_pool_free(p);
	ck_assert_int_eq(c.freed, 1);
	lm_pool_free(NULL);
}
END_TEST

START_TEST(test_one_worker_fifo)
{
	struct ctxs c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct log l;
	static struct job j[200];
	struct lm_pool *p;
	log_init(&l);
	memset(j, 0, sizeof(j));
	l.gated = 0; /* everything is queued before the first task ends */
	p = lm_pool_new(1, ctx_new, ctx_free, &c);
	ck_assert_int_eq(lm_pool_workers(p), 1);
	for (int i = 0; i < 200; i++) {
		j[i].log = &l;
		j[i].i = i;
		lm_pool_submit(p, &j[i].task, job_run, &j[i]);
	}
	ck_assert_int_eq(lm_pool_done(p, &j[199].task), 0);
	log_open(&l);
	lm_pool_wait(p, &j[199].task);
	/* one worker: the queue's order is the order they ran in */
	ck_assert_int_eq(l.n, 200);
	for (int i = 0; i < 200; i++) {
		ck_assert_int_eq(l.v[i], i);
		ck_assert_int_eq(lm_pool_done(p, &j[i].task), 1);
		ck_assert(!pthread_equal(j[i].thread, pthread_self()));
	}
	lm_pool_free(p);
	ck_assert_int_eq(c.made, 1);
	ck_assert_int_eq(c.freed, 1);
}
END_TEST

START_TEST(test_n_workers_each_once)
{
	struct ctxs c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct log l;
	static struct job j[1000];
	struct lm_pool *p;
	log_init(&l);
	memset(j, 0, sizeof(j));
	p = lm_pool_new(4, ctx_new, ctx_free, &c);
	ck_assert_int_eq(lm_pool_workers(p), 4);
	for (int i = 0; i < 1000; i++) {
		j[i].log = &l;
		j[i].i = i;
		lm_pool_submit(p, &j[i].task, job_run, &j[i]);
	}
	for (int i = 0; i < 1000; i++) {
		lm_pool_wait(p, &j[i].task);
		ck_assert_int_eq(j[i].ran, 1);
		ck_assert(j[i].ctx_id >= 0 && j[i].ctx_id < 4);
	}
	ck_assert_int_eq(l.n, 1000);
	lm_pool_free(p);
	ck_assert_int_eq(c.made, 4); /* one context per worker */
	ck_assert_int_eq(c.freed, 4);
}
END_TEST

/* Results consumed in submission order do not depend on the number of workers. */
struct sq {
	struct lm_pool_task task;
	unsigned long in, out;
};

static void sq_run(void *arg, void *ctx)
{
	struct sq *s = arg;
	(void)ctx;
	s->out = s->in * s->in + 7;
}

START_TEST(test_ordered_output_any_workers)
{
	static const int workers[] = { 0, 1, 2, 8 };
	char want[4096] = "", got[4096];
	for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
		static struct sq s[300];
		struct lm_pool *p = lm_pool_new(workers[w], NULL, NULL, NULL);
		size_t off = 0;
		for (int i = 0; i < 300; i++) {
			s[i].in = (unsigned long)i;
			s[i].out = 0;
			lm_pool_submit(p, &s[i].task, sq_run, &s[i]);
		}
		for (int i = 0; i < 300; i++) {
			lm_pool_wait(p, &s[i].task);
			off += (size_t)snprintf(got + off, sizeof(got) - off, "%lu,", s[i].out % 97);
		}
		lm_pool_free(p);
		if (w == 0)
			memcpy(want, got, sizeof(want));
		ck_assert_str_eq(got, want);
	}
}
END_TEST

/* A later task can finish first; waiting for it does not wait for the earlier one. */
START_TEST(test_wait_out_of_order)
{
	struct log l;
	struct job j[2];
	struct lm_pool *p;
	log_init(&l);
	memset(j, 0, sizeof(j));
	l.gated = 0;
	p = lm_pool_new(2, NULL, NULL, NULL);
	ck_assert_int_eq(lm_pool_workers(p), 2);
	for (int i = 0; i < 2; i++) {
		j[i].log = &l;
		j[i].i = i;
		lm_pool_submit(p, &j[i].task, job_run, &j[i]);
	}
	lm_pool_wait(p, &j[1].task);
	ck_assert_int_eq(lm_pool_done(p, &j[0].task), 0);
	log_open(&l);
	lm_pool_wait(p, &j[0].task);
	ck_assert_int_eq(l.v[0], 1);
	ck_assert_int_eq(l.v[1], 0);
	/* a finished task can be submitted again */
	lm_pool_submit(p, &j[1].task, job_run, &j[1]);
	lm_pool_wait(p, &j[1].task);
	ck_assert_int_eq(j[1].ran, 2);
	lm_pool_free(p);
}
END_TEST

static void *open_later(void *arg)
{
	struct timespec ts = { 0, 300 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	log_open(arg);
	return NULL;
}

/* Free drops what has not started, lets the running task finish and frees every context. */
START_TEST(test_free_drops_queued)
{
	struct ctxs c = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct log l;
	struct job j[10];
	struct lm_pool *p;
	pthread_t opener;
	log_init(&l);
	memset(j, 0, sizeof(j));
	l.gated = 0;
	p = lm_pool_new(1, ctx_new, ctx_free, &c);
	for (int i = 0; i < 10; i++) {
		j[i].log = &l;
		j[i].i = i;
		lm_pool_submit(p, &j[i].task, job_run, &j[i]);
	}
	log_wait_started(&l); /* task 0 runs; 1-9 are queued behind it */
	ck_assert_int_eq(pthread_create(&opener, NULL, open_later, &l), 0);
	lm_pool_free(p); /* returns once task 0, released by the opener, has finished */
	pthread_join(opener, NULL);
	ck_assert_int_eq(j[0].ran, 1);
	for (int i = 1; i < 10; i++)
		ck_assert_int_eq(j[i].ran, 0);
	ck_assert_int_eq(l.n, 1);
	ck_assert_int_eq(c.made, 1);
	ck_assert_int_eq(c.freed, 1);
}
END_TEST

/* --- lm_pool_for --- */

struct for_arg {
	pthread_mutex_t mu;
	int fail_at; /* -1: none; i % fail_mod == fail_at fails */
	int fail_mod;
	int called[100];
	long sum;
	struct ctxs ctxs;
};

static void *for_ctx_new(void *arg)
{
	return ctx_new(&((struct for_arg *)arg)->ctxs);
}

static int for_fn(size_t i, void *ctx, void *arg, struct lm_err *err)
{
	struct for_arg *a = arg;
	ck_assert_ptr_nonnull(ctx);
	pthread_mutex_lock(&a->mu);
	a->called[i]++;
	a->sum += (long)i;
	pthread_mutex_unlock(&a->mu);
	if (a->fail_at >= 0 && (int)i % a->fail_mod == a->fail_at)
		return lm_err_set(err, LM_E_NET, "item %zu failed", i);
	return 0;
}

static void for_arg_init(struct for_arg *a, int fail_at, int fail_mod)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->mu, NULL);
	pthread_mutex_init(&a->ctxs.mu, NULL);
	a->fail_at = fail_at;
	a->fail_mod = fail_mod;
}

START_TEST(test_for_all_run)
{
	static const int workers[] = { 0, 1, 3, 32 };
	for (size_t w = 0; w < sizeof(workers) / sizeof(workers[0]); w++) {
		struct for_arg a;
		struct lm_err err = LM_ERR_INIT;
		for_arg_init(&a, -1, 1);
		ck_assert_int_eq(lm_pool_for(workers[w], 100, for_fn, for_ctx_new, ctx_free, &a, &err), 0);
		ck_assert_int_eq(err.code, 0);
		ck_assert_int_eq(a.sum, 4950);
		for (int i = 0; i < 100; i++)
			ck_assert_int_eq(a.called[i], 1);
		/* one context per worker, never more workers than items; one made inline */
		ck_assert_int_eq(a.ctxs.made, workers[w] ? workers[w] : 1);
		ck_assert_int_eq(a.ctxs.freed, a.ctxs.made);
	}
}
END_TEST

START_TEST(test_for_fewer_items_than_workers)
{
	struct for_arg a;
	struct lm_err err = LM_ERR_INIT;
	for_arg_init(&a, -1, 1);
	ck_assert_int_eq(lm_pool_for(8, 3, for_fn, for_ctx_new, ctx_free, &a, &err), 0);
	ck_assert_int_eq(a.ctxs.made, 3);
	for_arg_init(&a, -1, 1);
	ck_assert_int_eq(lm_pool_for(8, 0, for_fn, for_ctx_new, ctx_free, &a, &err), 0);
	ck_assert_int_eq(a.ctxs.made, 0);
}
END_TEST

START_TEST(test_for_first_error_stops)
{
	/* 0 and 1 workers: items run in order; the first failure is item 3, nothing after it runs */
	for (int w = 0; w <= 1; w++) {
		struct for_arg a;
		struct lm_err err = LM_ERR_INIT;
		for_arg_init(&a, 3, 1000);
		ck_assert_int_eq(lm_pool_for(w, 100, for_fn, for_ctx_new, ctx_free, &a, &err), -1);
		ck_assert_int_eq(err.code, LM_E_NET);
		ck_assert_str_eq(err.msg, "item 3 failed");
		for (int i = 0; i < 100; i++)
			ck_assert_int_eq(a.called[i], i <= 3);
		lm_err_release(&err);
	}
}
END_TEST

/* Item 0 fails at once while items 1-3, started beside it, take 200 ms: the workers
 * that pick up items 4 and later find the failure and start none of them. */
static int slow_fn(size_t i, void *ctx, void *arg, struct lm_err *err)
{
	struct for_arg *a = arg;
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	(void)ctx;
	pthread_mutex_lock(&a->mu);
	a->called[i]++;
	pthread_mutex_unlock(&a->mu);
	if (i == 0)
		return lm_err_set(err, LM_E_AUTH, "item %zu failed", i);
	nanosleep(&ts, NULL);
	return 0;
}

START_TEST(test_for_error_n_workers)
{
	struct for_arg a;
	struct lm_err err = LM_ERR_INIT;
	for_arg_init(&a, -1, 1);
	ck_assert_int_eq(lm_pool_for(4, 100, slow_fn, for_ctx_new, ctx_free, &a, &err), -1);
	ck_assert_int_eq(err.code, LM_E_AUTH);
	ck_assert_str_eq(err.msg, "item 0 failed");
	ck_assert_int_eq(a.called[0], 1);
	for (int i = 4; i < 100; i++)
		ck_assert_int_eq(a.called[i], 0);
	ck_assert_int_eq(a.ctxs.made, 4);
	ck_assert_int_eq(a.ctxs.freed, 4);
	lm_err_release(&err);
}
END_TEST

SUITE(pool)
{
	Suite *s = suite_create("pool");
	TCASE(s, test_inline_zero_workers);
	TCASE(s, test_one_worker_fifo);
	TCASE(s, test_n_workers_each_once);
	TCASE(s, test_ordered_output_any_workers);
	TCASE(s, test_wait_out_of_order);
	TCASE(s, test_free_drops_queued);
	TCASE(s, test_for_all_run);
	TCASE(s, test_for_fewer_items_than_workers);
	TCASE(s, test_for_first_error_stops);
	TCASE(s, test_for_error_n_workers);
	return s;
}
