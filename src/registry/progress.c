#include "registry/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/alloc.h"
#include "common/str.h"

struct pslot {
	const char *digest;
	int64_t total;
	uint64_t done;
	double start;
	int active;
};

struct progress {
	FILE *f;
	enum progress_mode mode;
	const char *verb;
	pthread_mutex_t mu;
	struct pslot *slots;
	size_t n, cap;
	double last_draw;
	int drawn;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct progress *progress_new(FILE *f, enum progress_mode mode, const char *verb)
{
	struct progress *p = lm_xcalloc(1, sizeof(*p));
	p->f = f;
	p->mode = mode;
	p->verb = verb;
	pthread_mutex_init(&p->mu, NULL);
	return p;
}

static void clear_line(struct progress *p)
{
	if (p->drawn) {
		fputs("\r\033[K", p->f);
		p->drawn = 0;
	}
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	clear_line(p);
	fflush(p->f);
	pthread_mutex_destroy(&p->mu);
	free(p->slots);
	free(p);
}


static void draw(struct progress *p, double t)
{
	char line[512];
	size_t off = 0;
	int shown = 0;
	for (size_t i = 0; i < p->n && off + 80 < sizeof(line); i++) {
		struct pslot *s = &p->slots[i];
		char a[32], b[32], r[32];
		double el = t - s->start;
		if (!s->active)
			continue;
		lm_human_bytes(s->done, a, sizeof(a));
		lm_human_bytes(s->total > 0 ? (uint64_t)s->total : 0, b, sizeof(b));
		lm_human_bytes(el > 0.05 ? (uint64_t)((double)s->done / el) : 0, r, sizeof(r));
		off += (size_t)snprintf(line + off, sizeof(line) - off, "%s%.19s %s/%s %s/s", shown ? " | " : "",
					s->digest, a, b, r);
		shown++;
	}
	clear_line(p);
	if (shown) {
		fprintf(p->f, "%s: %s", p->verb, line);
		p->drawn = 1;
	}
	fflush(p->f);
	p->last_draw = t;
}

int progress_start(struct progress *p, const char *digest, int64_t total)
{
	int slot;
	if (!p)
		return -1;
	pthread_mutex_lock(&p->mu);
	lm_grow((void **)&p->slots, &p->cap, p->n + 1, sizeof(*p->slots));
	slot = (int)p->n++;
	p->slots[slot] = (struct pslot){ .digest = digest, .total = total, .start = now_s(), .active = 1 };
	pthread_mutex_unlock(&p->mu);
	return slot;
}

void progress_update(struct progress *p, int slot, uint64_t done)
{
	double t;
	if (!p || slot < 0)
		return;
	pthread_mutex_lock(&p->mu);
	p->slots[slot].done = done;
	if (p->mode == PROGRESS_TTY) {
		t = now_s();
		if (t - p->last_draw >= 0.1)
			draw(p, t);
	}
	pthread_mutex_unlock(&p->mu);
}

void progress_end(struct progress *p, int slot, const char *what)
{
	struct pslot *s;
	double t;
	char a[32], r[32];
	if (!p || slot < 0)
		return;
	pthread_mutex_lock(&p->mu);
	s = &p->slots[slot];
	s->active = 0;
	if (p->mode != PROGRESS_QUIET) {
		t = now_s();
		clear_line(p);
		lm_human_bytes(s->total > 0 ? (uint64_t)s->total : s->done, a, sizeof(a));
		if (strcmp(what, "done") == 0 && t - s->start > 0.001) {
			lm_human_bytes((uint64_t)((double)s->done / (t - s->start)), r, sizeof(r));
			fprintf(p->f, "%s: %s %s %s (%s/s)\n", p->verb, s->digest, a, what, r);
		} else {
			fprintf(p->f, "%s: %s %s %s\n", p->verb, s->digest, a, what);
		}
		if (p->mode == PROGRESS_TTY)
			draw(p, t);
		fflush(p->f);
	}
	pthread_mutex_unlock(&p->mu);
}

void progress_note(struct progress *p, const char *fmt, ...)
{
	va_list ap;
	if (!p || p->mode == PROGRESS_QUIET)
		return;
	pthread_mutex_lock(&p->mu);
	clear_line(p);
	fprintf(p->f, "%s: ", p->verb);
	va_start(ap, fmt);
	vfprintf(p->f, fmt, ap);
	va_end(ap);
	fputc('\n', p->f);
	fflush(p->f);
	pthread_mutex_unlock(&p->mu);
}
