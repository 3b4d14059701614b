#include "prune/jsscan.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"

static int is_id(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
	       c >= 0x80;
}

static const char *skip_ws(const char *p, const char *end)
{
	for (;;) {
		while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
			p++;
		/* block comments between tokens are skipped */
		if (end - p >= 2 && p[0] == '/' && p[1] == '*') {
			const char *e = p + 2;
			while (end - e >= 2 && !(e[0] == '*' && e[1] == '/'))
				e++;
			p = end - e >= 2 ? e + 2 : end;
			continue;
		}
		return p;
	}
}

/* Reads a string literal at p; calls fn with its contents. Returns the end. */
static const char *take_string(const char *p, const char *end, jsscan_fn fn, void *ctx)
{
	char q = *p;
	const char *s = ++p;
	char *v;
	while (p < end && *p != q && *p != '\n') {
		if (*p == '\\')
			return p; /* escapes in specifiers: too rare to decode */
		if (q == '`' && *p == '$' && p + 1 < end && p[1] == '{')
			return p; /* template with substitutions: not static */
		p++;
	}
	if (p >= end || *p != q)
		return p;
	v = lm_xstrndup(s, (size_t)(p - s));
	fn(v, ctx);
	free(v);
	return p + 1;
}

static int is_quote(const char *p, const char *end)
{
	return p < end && (*p == '"' || *p == '\'' || *p == '`');
}

static int word_at(const char *p, const char *start, const char *end, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(end - p) < n || memcmp(p, w, n) != 0)
		return 0;
	if (p > start && (is_id((unsigned char)p[-1]) || p[-1] == '.'))
		return 0;
	return p + n >= end || !is_id((unsigned char)p[n]);
}

/* After 'import' or 'export': up to a bounded distance, find "from" followed by a string. */
static const char *scan_from_clause(const char *p, const char *start, const char *end, jsscan_fn fn, void *ctx)
{
	const char *lim = end - p > 4096 ? p + 4096 : end;
	for (const char *q = p; q < lim; q++) {
		if (*q == ';')
			return q;
		if (word_at(q, start, end, "from")) {
			const char *s = skip_ws(q + 4, end);
			if (is_quote(s, end))
				return take_string(s, end, fn, ctx);
		}
	}
	return p;
}

void jsscan_specifiers(const char *src, size_t len, jsscan_fn fn, void *ctx)
{
	const char *p = src, *end = src + len;
	while (p < end) {
		const char *q;
		char c = *p;
		if (c != 'r' && c != 'i' && c != 'e') {
			p++;
			continue;
		}
		if (word_at(p, src, end, "require")) {
			q = skip_ws(p + 7, end);
			if (end - q > 8 && memcmp(q, ".resolve", 8) == 0)
				q = skip_ws(q + 8, end);
			if (q < end && *q == '(') {
				q = skip_ws(q + 1, end);
				if (is_quote(q, end)) {
					p = take_string(q, end, fn, ctx);
					continue;
				}
			}
			p += 7;
			continue;
		}
		if (word_at(p, src, end, "import")) {
			q = skip_ws(p + 6, end);
			if (q < end && *q == '(') {
				q = skip_ws(q + 1, end);
				if (is_quote(q, end))
					p = take_string(q, end, fn, ctx);
				else
					p += 6;
				continue;
			}
			if (is_quote(q, end)) {
				p = take_string(q, end, fn, ctx);
				continue;
			}
			if (q < end && (*q == '{' || *q == '*' || is_id((unsigned char)*q))) {
				const char *r = scan_from_clause(q, src, end, fn, ctx);
				p = r > q ? r : p + 6;
				continue;
			}
			p += 6;
			continue;
		}
		if (word_at(p, src, end, "export")) {
			q = skip_ws(p + 6, end);
			if (q < end && (*q == '{' || *q == '*')) {
				const char *r = scan_from_clause(q, src, end, fn, ctx);
				p = r > q ? r : p + 6;
				continue;
			}
			p += 6;
			continue;
		}
		p++;
	}
}

int jsscan_is_relative(const char *spec)
{
	return strcmp(spec, ".") == 0 || strcmp(spec, "..") == 0 || strncmp(spec, "./", 2) == 0 ||
	       strncmp(spec, "../", 3) == 0;
}

/* Joins the directory of 'from' with spec and normalises "." and ".." components.
 * NULL when ".." climbs above the root. */
static char *join_norm(const char *from, const char *spec)
{
	char *dir = lm_path_dirname(from);
	char *joined = strcmp(dir, ".") == 0 ? lm_xstrdup(spec) : lm_path_join(dir, spec);
	char *out = lm_xmalloc(strlen(joined) + 1);
	size_t o = 0;
	const char *p = joined;
	free(dir);
	while (*p) {
		const char *s = strchr(p, '/');
		size_t n = s ? (size_t)(s - p) : strlen(p);
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* skip */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			if (!o) {
				free(out);
				free(joined);
				return NULL;
			}
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o)
				o--;
		} else {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
		if (*p == '/')
			p++;
	}
	out[o] = '\0';
	free(joined);
	return out;
}

char *jsscan_resolve(const char *from, const char *spec, jsscan_exists_fn exists, void *ctx)
{
	static const char *const exts[] = { "", ".js", ".cjs", ".mjs", ".json", ".node", NULL };
	static const char *const idx[] = { "/index.js", "/index.cjs", "/index.mjs", "/index.json", "/index.node",
					   NULL };
	char *base;
	if (!jsscan_is_relative(spec))
		return NULL;
	base = join_norm(from, spec);
	if (!base)
		return NULL;
	for (size_t i = 0; exts[i]; i++) {
		char *c = lm_asprintf("%s%s", base, exts[i]);
		if (*c && exists(c, ctx) == 1) {
			free(base);
			return c;
		}
		free(c);
	}
	for (size_t i = 0; idx[i]; i++) {
		char *c = *base ? lm_asprintf("%s%s", base, idx[i]) : lm_xstrdup(idx[i] + 1);
		if (exists(c, ctx) == 1) {
			free(base);
			return c;
		}
		free(c);
	}
	free(base);
	return NULL;
}
