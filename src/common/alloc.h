/* alloc.h - allocation that cannot fail: out of memory aborts with a message (like
 * git's xmalloc), so callers never check for NULL. */
#ifndef LM_ALLOC_H
#define LM_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

#include "common/attr.h"

void *lm_xmalloc(size_t n);
void *lm_xcalloc(size_t nmemb, size_t size);
void *lm_xrealloc(void *p, size_t n);
/* Grows *v (an array of *cap elements of size elsz) so that it holds at least need
 * elements; aborts when the size overflows. */
void lm_grow(void **v, size_t *cap, size_t need, size_t elsz);
/* Frees the n strings of v, then v. NULL-safe. */
void lm_strv_free(char **v, size_t n);
char *lm_xstrdup(const char *s);
char *lm_xstrndup(const char *s, size_t n);
/* Formats into a new string. Caller frees. */
char *lm_asprintf(const char *fmt, ...) LM_PRINTF(1, 2);
char *lm_vasprintf(const char *fmt, va_list ap);

#endif
