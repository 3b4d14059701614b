#include "common/str.h"

#include "common/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int lm_str_startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int lm_str_endswith(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

const char *lm_human_bytes(uint64_t n, char *buf, size_t bufsz)
{
	static const char *u[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int i = 0;
	while (v >= 1024 && i < 4) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, bufsz, "%llu B", (unsigned long long)n);
	else
		snprintf(buf, bufsz, "%.1f %s", v, u[i]);
	return buf;
}

int lm_str_nonascii(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s > 0x7f)
			return 1;
	return 0;
}

int lm_utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		unsigned c = *p, n, cp, min;
		if (c < 0x80) {
			p++;
			continue;
		}
		if ((c & 0xe0) == 0xc0)
			n = 1, cp = c & 0x1f, min = 0x80;
		else if ((c & 0xf0) == 0xe0)
			n = 2, cp = c & 0x0f, min = 0x800;
		else if ((c & 0xf8) == 0xf0)
			n = 3, cp = c & 0x07, min = 0x10000;
		else
			return 0;
		for (unsigned i = 1; i <= n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (p[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		p += n + 1;
	}
	return 1;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0. */
static size_t utf8_len(const unsigned char *p)
{
	char tmp[5] = { 0 };
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	for (size_t i = 0; i < n; i++) {
		if (!p[i])
			return 0;
		tmp[i] = (char)p[i];
	}
	return n && lm_utf8_valid(tmp) ? n : 0;
}

static char *quote(const char *s, size_t max, int lines)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cap = (max < strlen(s) ? max : strlen(s)) * 4 + 8, n = 0, used = 0;
	char *out = lm_xmalloc(cap);
	while (*p && used < max) {
		size_t l = utf8_len(p);
		if (l == 1 && ((*p >= 0x20 && *p != 0x7f) || (lines && (*p == '\n' || *p == '\t')))) {
			out[n++] = (char)*p;
		} else if (l > 1) {
			memcpy(out + n, p, l);
			n += l;
			p += l - 1;
			used += l - 1;
		} else {
			n += (size_t)snprintf(out + n, cap - n, "\\x%02x", *p);
		}
		p++;
		used++;
	}
	if (*p)
		memcpy(out + n, "...", 3), n += 3;
	out[n] = '\0';
	return out;
}

char *lm_str_quote(const char *s, size_t max)
{
	return quote(s, max, 0);
}

char *lm_str_printable(const char *s)
{
	return quote(s, (size_t)-1 / 8, 1);
}

size_t lm_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t *prev = lm_xcalloc(lb + 1, sizeof(size_t)), *cur = lm_xcalloc(lb + 1, sizeof(size_t)), r;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
			size_t m = sub < del ? sub : del;
			cur[j] = m < ins ? m : ins;
		}
		size_t *t = prev;
		prev = cur;
		cur = t;
	}
	r = prev[lb];
	free(prev);
	free(cur);
	return r;
}

const char *lm_str_nearest(const char *word, const char *const *cands, size_t n)
{
	const char *best = NULL;
	size_t bestd = (size_t)-1;
	for (size_t i = 0; i < n; i++) {
		size_t d;
		if (!cands[i])
			continue;
		d = lm_edit_distance(cands[i], word);
		if (d < bestd) {
			bestd = d;
			best = cands[i];
		}
	}
	if (!best || bestd == 0 || bestd > 2 || bestd >= strlen(word))
		return NULL;
	return best;
}
