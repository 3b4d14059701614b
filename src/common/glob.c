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

static int wm(const char *pat0, const char *p, const char *t)
{
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
					if (wm(pat0, p, t))
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
				if (wm(pat0, p, t))
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
	return wm(pattern, pattern, text);
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
