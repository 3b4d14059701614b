/* jsonw.h - a streaming JSON writer for large documents (an SBOM of 15,000 files): text
 * goes straight into a buffer, element by element, with no tree in memory.
 *
 * The caller says what comes (objects, arrays, keys, values) in document order; the
 * writer puts the commas, the newlines and indentation (as jansson's JSON_INDENT(n) does,
 * or none with indent 0) and escapes strings as JSON_ENSURE_ASCII does (\uXXXX, surrogate
 * pairs above U+FFFF). A string that is not UTF-8 is written as the fallback the caller
 * gives: JSON text is UTF-8, bytes from packages need not be. Nesting deeper than
 * JSONW_MAX_DEPTH or a key outside an object is a programming error (abort). Pure. */
#ifndef LM_JSONW_H
#define LM_JSONW_H

#include <stddef.h>

#include "common/buf.h"

#define JSONW_MAX_DEPTH 32

struct jsonw {
	struct lm_buf out;
	int indent, depth;
	unsigned char n[JSONW_MAX_DEPTH];   /* elements so far, per open container (0 or 1) */
	unsigned char obj[JSONW_MAX_DEPTH]; /* the container is an object */
	int after_key;                      /* a key was written: its value comes next */
};

void jsonw_init(struct jsonw *w, int indent);
void jsonw_release(struct jsonw *w);

void jsonw_object(struct jsonw *w);
void jsonw_array(struct jsonw *w);
void jsonw_end(struct jsonw *w); /* closes the innermost object or array */

void jsonw_key(struct jsonw *w, const char *key);
/* A string value; when s is not UTF-8, fallback is written instead. */
void jsonw_string(struct jsonw *w, const char *s, const char *fallback);
void jsonw_bool(struct jsonw *w, int b);

/* The text so far (NUL-terminated) handed to the caller; w is empty afterwards. The
 * document must be complete (every object and array closed). */
char *jsonw_take(struct jsonw *w, size_t *len);

#endif
