/* buf.h - growable byte buffer with an optional size cap (for data from the network). */
#ifndef LM_BUF_H
#define LM_BUF_H

#include <stddef.h>

struct lm_buf {
	char *data; /* always NUL-terminated when non-NULL */
	size_t len;
	size_t cap;
	size_t max; /* 0 = unlimited */
};

void buf_init(struct lm_buf *b, size_t max);
void buf_release(struct lm_buf *b);
/* Appends; returns -1 (and appends nothing) if the cap would be exceeded. */
int buf_append(struct lm_buf *b, const void *data, size_t len);
int buf_appends(struct lm_buf *b, const char *s);
void buf_reset(struct lm_buf *b);
/* Hands the data over to the caller (NUL-terminated, never NULL) and resets b. */
char *buf_steal(struct lm_buf *b, size_t *len);

#endif
