/* jsonw.c - streaming JSON writer (see jsonw.h). */
#include "common/jsonw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/str.h"

void jsonw_init(struct jsonw *w, int indent)
{
	memset(w, 0, sizeof(*w));
	buf_init(&w->out, 0);
	w->indent = indent;
}

void jsonw_release(struct jsonw *w)
{
	buf_release(&w->out);
	memset(w, 0, sizeof(*w));
}

static void put(struct jsonw *w, const char *s, size_t n)
{
	buf_append(&w->out, s, n); /* no cap: cannot fail */
}

static void newline(struct jsonw *w)
{
	static const char spaces[] = "                                ";
	size_t n = (size_t)w->indent * (size_t)w->depth;
	if (!w->indent)
		return;
	put(w, "\n", 1);
	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;
		put(w, spaces, k);
		n -= k;
	}
}

/* Before a value or a key: the comma and the line of the element. */
static void element(struct jsonw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth) {
		if (w->n[w->depth - 1])
			put(w, ",", 1);
		w->n[w->depth - 1] = 1;
		newline(w);
	}
}

static void begin(struct jsonw *w, int obj)
{
	element(w);
	if (w->depth >= JSONW_MAX_DEPTH)
		abort();
	put(w, obj ? "{" : "[", 1);
	w->obj[w->depth] = (unsigned char)obj;
	w->n[w->depth] = 0;
	w->depth++;
}

void jsonw_object(struct jsonw *w)
{
	begin(w, 1);
}

void jsonw_array(struct jsonw *w)
{
	begin(w, 0);
}

void jsonw_end(struct jsonw *w)
{
	int had;
	if (!w->depth || w->after_key)
		abort();
	w->depth--;
	had = w->n[w->depth];
	if (had)
		newline(w);
	put(w, w->obj[w->depth] ? "}" : "]", 1);
}

/* s as a JSON string, every byte above 0x7f as \uXXXX (s is valid UTF-8). */
static void quoted(struct jsonw *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[16];
	put(w, "\"", 1);
	while (*p) {
		const unsigned char *run = p;
		while (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			put(w, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		if (*p < 0x80) {
			const char *e = *p == '"' ? "\\\"" : *p == '\\' ? "\\\\" : *p == '\b' ? "\\b" : *p == '\f' ? "\\f"
				      : *p == '\n' ? "\\n" : *p == '\r' ? "\\r" : *p == '\t' ? "\\t" : NULL;
			if (e) {
				put(w, e, 2);
			} else {
				snprintf(esc, sizeof(esc), "\\u%04X", *p);
				put(w, esc, 6);
			}
			p++;
			continue;
		}
		{
			uint32_t cp;
			int len = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
			cp = *p & (len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f);
			for (int i = 1; i < len; i++)
				cp = (cp << 6) | (p[i] & 0x3f);
			p += len;
			if (cp >= 0x10000) {
				cp -= 0x10000;
				snprintf(esc, sizeof(esc), "\\u%04X\\u%04X", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
				put(w, esc, 12);
			} else {
				snprintf(esc, sizeof(esc), "\\u%04X", cp);
				put(w, esc, 6);
			}
		}
	}
	put(w, "\"", 1);
}

void jsonw_key(struct jsonw *w, const char *key)
{
	if (!w->depth || !w->obj[w->depth - 1] || w->after_key)
		abort();
	element(w);
	quoted(w, lm_utf8_valid(key) ? key : "?");
	put(w, w->indent ? ": " : ":", w->indent ? 2 : 1);
	w->after_key = 1;
}

void jsonw_string(struct jsonw *w, const char *s, const char *fallback)
{
	element(w);
	quoted(w, lm_utf8_valid(s) ? s : fallback);
}

void jsonw_bool(struct jsonw *w, int b)
{
	element(w);
	put(w, b ? "true" : "false", b ? 4 : 5);
}

char *jsonw_take(struct jsonw *w, size_t *len)
{
	if (w->depth || w->after_key)
		abort();
	return buf_steal(&w->out, len);
}
