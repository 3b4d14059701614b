#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

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

void lm_err_release(struct lm_err *e)
{
	if (!e)
		return;
	free(e->msg);
	e->msg = NULL;
	e->code = LM_E_OK;
}
