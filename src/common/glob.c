#include "common/glob.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

/* Matches one bracket expression at *pp against c; advances *pp past ']'.
 * Returns 1 match, 0 no match, -1 malformed (no closing bracket). */
static int match_class(const char **pp, char c)
{
	const char *p = *pp + 1; /* after '[' */
	int neg = 0, ok = 0;
	if (*p == '!' || *p == '^') {
		neg = 1;
		p++;
	}
	/* a ']' right after the opening (or negation) is literal */
	if (*p == ']') {
		ok |= c == ']';
		p++;
	}
	while (*p && *p != ']') {
		char lo = *p;
		if (lo == '\\' && p[1])
			lo = *++p;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			ok |= c >= lo && c <= p[2];
			p += 3;
		} else {
			ok |= c == lo;
			p++;
		}
	}
	if (*p != ']')
		return -1;
	*pp = p;
	return c != '/' && (ok ^ neg);
}

/* One match: the pattern and the text, and what wm already knows, so that a pattern with
 * many stars is polynomial in the text's length (each pair of positions is tried once),
 * not exponential (the trap git's wildmatch documents: "**" twelve times against a deep
 * path took 85 s here before). */
struct wmctx {
	const char *pat0, *text0;
	size_t tlen;
	unsigned char *memo; /* (pattern pos) * (tlen + 1) + text pos: 0 unknown, 1 no, 2 yes */
};

static int wm(struct wmctx *c, const char *p, const char *t);

static int wm_memo(struct wmctx *c, const char *p, const char *t)
{
	size_t i = (size_t)(p - c->pat0) * (c->tlen + 1) + (size_t)(t - c->text0);
	int r;
	if (c->memo[i])
		return c->memo[i] - 1;
	r = wm(c, p, t);
	c->memo[i] = (unsigned char)(r + 1);
	return r;
}

static int wm(struct wmctx *c, const char *p, const char *t)
{
	const char *pat0 = c->pat0;
	for (; *p; p++, t++) {
		switch (*p) {
		case '\\':
			if (p[1])
				p++;
			if (*t != *p)
				return 0;
			break;
		case '?':
			if (!*t || *t == '/')
				return 0;
			break;
		case '[': {
			int r;
			if (!*t)
				return 0;
			r = match_class(&p, *t);
			if (r < 0) { /* no closing bracket: a literal '[' */
				if (*t != '[')
					return 0;
				break;
			}
			if (!r)
				return 0;
			break;
		}
		case '*': {
			const char *star = p;
			while (p[1] == '*')
				p++;
			if (p > star && (star == pat0 || star[-1] == '/') && (p[1] == '\0' || p[1] == '/')) {
				/* "**" as a whole component */
				if (p[1] == '\0')
					return 1;
				p += 2; /* past "**" + "/" */
				for (;;) {
					if (wm_memo(c, p, t))
						return 1;
					t = strchr(t, '/');
					if (!t)
						return 0;
					t++;
				}
			}
			p++;
			if (!*p)
				return strchr(t, '/') == NULL;
			for (;; t++) {
				if (wm_memo(c, p, t))
					return 1;
				if (!*t || *t == '/')
					return 0;
			}
		}
		default:
			if (*t != *p)
				return 0;
		}
	}
	return *t == '\0';
}

int wildmatch(const char *pattern, const char *text)
{
	size_t plen = strlen(pattern), tlen = strlen(text);
	struct wmctx c = { pattern, text, tlen, NULL };
	int r;
	if (!strchr(pattern, '*'))
		return wm(&c, pattern, text); /* no star: no backtracking, no table */
	if (plen + 1 > ((size_t)64 << 20) / (tlen + 1))
		return 0; /* a pattern and a path of megabytes: no match rather than a huge table */
	c.memo = lm_xcalloc((plen + 1) * (tlen + 1), 1);
	r = wm(&c, pattern, text);
	free(c.memo);
	return r;
}

int glob_match(const char *pattern, const char *path, int is_dir)
{
	size_t n = strlen(pattern);
	int dir_only = 0, anchored = 0, r;
	char *pat;
	const char *subject = path;
	if (n && pattern[n - 1] == '/') {
		dir_only = 1;
		n--;
	}
	if (dir_only && !is_dir)
		return 0;
	if (n && pattern[0] == '/') {
		anchored = 1;
		pattern++;
		n--;
	}
	if (!n)
		return 0;
	pat = lm_xstrndup(pattern, n);
	if (!anchored && memchr(pat, '/', n))
		anchored = 1;
	if (!anchored) {
		const char *s = strrchr(path, '/');
		subject = s ? s + 1 : path;
	}
	r = wildmatch(pat, subject);
	free(pat);
	return r;
}

int glob_match_within(const char *pattern, const char *path, int is_dir)
{
	char *p;
	int r = 0;
	if (glob_match(pattern, path, is_dir))
		return 1;
	p = lm_xstrdup(path);
	for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
		*s = '\0';
		if (glob_match(pattern, p, 1)) {
			r = 1;
			break;
		}
	}
	free(p);
	return r;
}
