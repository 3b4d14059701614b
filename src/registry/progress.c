#include "registry/progress.h"

#include <pthread.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>
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
	int drawn; /* status lines on the terminal now (the cursor ends the last one) */
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

/* Erases the status lines: the cursor goes back to the start of the first. */
static void clear_line(struct progress *p)
{
	if (!p->drawn)
		return;
	fputs("\r\033[K", p->f);
	for (int i = 1; i < p->drawn; i++)
		fputs("\033[1A\033[K", p->f);
	p->drawn = 0;
}

static int term_width(FILE *f)
{
	struct winsize ws;
	const char *c;
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	c = getenv("COLUMNS");
	if (c && atoi(c) > 0)
		return atoi(c);
	return 80;
}

/* "sha256:" and 12 hex digits: enough to tell blobs apart, as docker shows them */
static const char *short_digest(const char *d, char *buf, size_t cap)
{
	snprintf(buf, cap, "%.19s", d ? d : "");
	return buf;
}

size_t progress_format(char *buf, size_t cap, int width, const char *verb, const char *digest, uint64_t done,
		       int64_t total, double rate)
{
	char a[32], b[32], r[32], pct[8] = "", d[24];
	size_t max, n;
	int k;
	if (width < 20)
		width = 20;
	max = (size_t)width - 1 < cap - 1 ? (size_t)width - 1 : cap - 1;
	lm_human_bytes(done, a, sizeof(a));
	if (total > 0) {
		lm_human_bytes((uint64_t)total, b, sizeof(b));
		snprintf(pct, sizeof(pct), " %3d%%", (int)(done >= (uint64_t)total ? 100 : done * 100 / (uint64_t)total));
	} else {
		snprintf(b, sizeof(b), "?");
	}
	lm_human_bytes(rate > 0 ? (uint64_t)rate : 0, r, sizeof(r));
	short_digest(digest, d, sizeof(d));
	/* sizes padded, so the lines of several blobs stay aligned as they change; on a
	 * narrower terminal the padding goes, then the sizes (the percentage stays), and only
	 * then is the line cut: the rate at its end stays in view */
	for (int form = 0; form < 4; form++) {
		switch (form) {
		case 0:
			k = snprintf(buf, cap, "%s: %s %10s / %-10s%s %10s/s", verb, d, a, b, pct, r);
			break;
		case 1:
			k = snprintf(buf, cap, "%s: %s %s / %s%s %s/s", verb, d, a, b, pct, r);
			break;
		case 2:
			k = snprintf(buf, cap, "%s: %s %s%s %s/s", verb, d, a, pct, r);
			break;
		default:
			k = snprintf(buf, cap, "%s: %s%s %s/s", verb, d, *pct ? pct : " ?", r);
			break;
		}
		n = k < 0 ? 0 : (size_t)k < cap ? (size_t)k : cap - 1;
		if (n <= max)
			break;
	}
	if (n > max) {
		/* cut, and say so */
		n = max;
		if (n >= 3)
			memcpy(buf + n - 3, "...", 3);
		buf[n] = '\0';
	}
	return n;
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
	int width = term_width(p->f), shown = 0, active = 0;
	clear_line(p);
	for (size_t i = 0; i < p->n; i++)
		active += p->slots[i].active;
	for (size_t i = 0; i < p->n && shown < PROGRESS_MAX_LINES; i++) {
		struct pslot *s = &p->slots[i];
		double el = t - s->start;
		if (!s->active)
			continue;
		if (shown == PROGRESS_MAX_LINES - 1 && active > PROGRESS_MAX_LINES) {
			snprintf(line, sizeof(line), "%s: ... and %d more", p->verb, active - shown);
			if (strlen(line) > (size_t)width - 1 && width > 1)
				line[width - 1] = '\0';
		} else {
			progress_format(line, sizeof(line), width, p->verb, s->digest, s->done, s->total,
					el > 0.05 ? (double)s->done / el : 0);
		}
		fprintf(p->f, "%s%s", shown ? "\n" : "", line);
		shown++;
	}
	p->drawn = shown;
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
		char d[24];
		/* on a terminal the short digest keeps the line within the width */
		const char *dg = p->mode == PROGRESS_TTY ? short_digest(s->digest, d, sizeof(d)) : s->digest;
		t = now_s();
		clear_line(p);
		lm_human_bytes(s->total > 0 ? (uint64_t)s->total : s->done, a, sizeof(a));
		char line[256];
		int w = p->mode == PROGRESS_TTY ? term_width(p->f) : 0;
		if (strcmp(what, "done") == 0 && t - s->start > 0.001) {
			lm_human_bytes((uint64_t)((double)s->done / (t - s->start)), r, sizeof(r));
			snprintf(line, sizeof(line), "%s: %s %s %s (%s/s)", p->verb, dg, a, what, r);
		} else {
			snprintf(line, sizeof(line), "%s: %s %s %s", p->verb, dg, a, what);
		}
		if (w > 20 && strlen(line) > (size_t)w - 1)
			line[w - 1] = '\0'; /* a narrow terminal: cut, do not wrap */
		fprintf(p->f, "%s\n", line);
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
