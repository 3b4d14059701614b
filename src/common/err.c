#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

const struct lm_exit_status lm_exit_statuses[] = {
	{ LM_E_OK, "success", NULL },
	{ LM_E_GENERIC, "other error", NULL },
	{ LM_E_USAGE, "usage", "bad command line" },
	{ LM_E_INPUT, "bad input", "manifest, archive, reference" },
	{ LM_E_IO, "file system", NULL },
	{ LM_E_NET, "network or registry", NULL },
	{ LM_E_AUTH, "authentication refused", NULL },
	{ LM_E_VERIFY, "verification failed", "digest mismatch, import or handler failure" },
	{ LM_E_CHECK, "check failed", "the image or zip breaks a rule Lambda enforces" },
	{ LM_E_INTERNAL, "internal error", NULL },
	{ 0, NULL, NULL },
};

char *lm_exit_status_text(void)
{
	char *out = lm_xstrdup("Exit status:"), *item;
	size_t col = strlen(out);
	for (size_t i = 0; lm_exit_statuses[i].name; i++) {
		const struct lm_exit_status *e = &lm_exit_statuses[i];
		char *t;
		item = e->detail ? lm_asprintf("%d %s (%s)%s", e->code, e->name, e->detail, lm_exit_statuses[i + 1].name ? "," : ".")
				 : lm_asprintf("%d %s%s", e->code, e->name, lm_exit_statuses[i + 1].name ? "," : ".");
		/* wrap between words */
		for (char *w = item, *next; *w; w = next) {
			size_t wl;
			next = strchr(w, ' ');
			wl = next ? (size_t)(next - w) : strlen(w);
			next = next ? next + 1 : w + wl;
			t = col + 1 + wl > 79 ? lm_asprintf("%s\n%.*s", out, (int)wl, w) : lm_asprintf("%s %.*s", out, (int)wl, w);
			col = col + 1 + wl > 79 ? wl : col + 1 + wl;
			free(out);
			out = t;
		}
		free(item);
	}
	item = lm_asprintf("%s\n", out);
	free(out);
	return item;
}

static int set_v(struct lm_err *e, int code, const char *suffix, const char *fmt, va_list ap)
{
	char *m = lm_vasprintf(fmt, ap);
	if (suffix) {
		char *t = lm_asprintf("%s: %s", m, suffix);
		free(m);
		m = t;
	}
	free(e->msg);
	e->msg = m;
	e->code = code;
	return -1;
}

int lm_err_set(struct lm_err *e, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_v(e, code, NULL, fmt, ap);
	va_end(ap);
	return -1;
}

int lm_err_sys(struct lm_err *e, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	set_v(e, LM_E_IO, strerror(saved), fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int lm_err_wrap(struct lm_err *e, const char *fmt, ...)
{
	va_list ap;
	char *ctx, *m;
	va_start(ap, fmt);
	ctx = lm_vasprintf(fmt, ap);
	va_end(ap);
	m = lm_asprintf("%s: %s", ctx, e->msg ? e->msg : "unknown error");
	free(ctx);
	free(e->msg);
	e->msg = m;
	if (!e->code)
		e->code = LM_E_GENERIC;
	return -1;
}

int lm_err_wrap_quoted(struct lm_err *e, const char *what, const char *value)
{
	char *q = lm_str_quote(value ? value : "", 160);
	lm_err_wrap(e, "%s '%s'", what, q);
	free(q);
	return -1;
}

void lm_err_release(struct lm_err *e)
{
	if (!e)
		return;
	free(e->msg);
	e->msg = NULL;
	e->code = LM_E_OK;
}
