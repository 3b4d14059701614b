/* slim.c - smaller copies of data files that load the same (see slim.h). */
#include "prune/slim.h"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/alloc.h"

/* Python's json module recurses too; deeper input is left alone rather than risk a stack. */
#define SLIM_DEPTH 512

struct jp {
	const char *s;
	size_t n, i;
	struct lm_buf out;
	unsigned flags;
	int mute; /* > 0 while parsing a member that is dropped */
	int depth;
	/* keys from the root to the current value: raw key text (without quotes), or
	 * start == NULL for an array element */
	struct {
		const char *start;
		size_t len;
	} path[SLIM_DEPTH + 1];
	size_t npath;
};

enum doc_action { DOC_KEEP, DOC_DROP, DOC_BLANK };

/* Where a botocore service model keeps prose: paths of the objects whose "documentation"
 * string goes ('*' = any key, "[]" = any array element). A member's documentation becomes
 * " " instead: botocore.docs only creates a parameter's 'param-documentation' section when
 * it is non-empty, and its own handlers (S3 CopySource, SSE ...) write into that section
 * when a docstring is generated (help(client.copy_object)). */
static const struct {
	const char *path;
	enum doc_action action;
} boto_doc_parents[] = {
	{ "", DOC_DROP },
	{ "operations/*", DOC_DROP },
	{ "operations/*/input", DOC_DROP },
	{ "operations/*/output", DOC_DROP },
	{ "operations/*/errors/[]", DOC_DROP },
	{ "shapes/*", DOC_DROP },
	{ "shapes/*/members/*", DOC_BLANK },
	{ "shapes/*/key", DOC_DROP },
	{ "shapes/*/value", DOC_DROP },
	{ "shapes/*/member", DOC_DROP },
};

static int path_is(const struct jp *p, const char *pat)
{
	size_t k = 0;
	while (*pat) {
		const char *slash = strchr(pat, '/');
		size_t n = slash ? (size_t)(slash - pat) : strlen(pat);
		if (k >= p->npath)
			return 0;
		if (n == 2 && memcmp(pat, "[]", 2) == 0) {
			if (p->path[k].start)
				return 0;
		} else if (!p->path[k].start) {
			return 0;
		} else if (!(n == 1 && *pat == '*') && (p->path[k].len != n || memcmp(p->path[k].start, pat, n) != 0)) {
			return 0;
		}
		k++;
		pat += n;
		if (*pat == '/')
			pat++;
	}
	return k == p->npath;
}

static enum doc_action doc_parent(const struct jp *p)
{
	for (size_t i = 0; i < sizeof(boto_doc_parents) / sizeof(boto_doc_parents[0]); i++)
		if (path_is(p, boto_doc_parents[i].path))
			return boto_doc_parents[i].action;
	return DOC_KEEP;
}

static void emit(struct jp *p, const char *b, size_t n)
{
	if (!p->mute)
		buf_append(&p->out, b, n);
}

static void ws(struct jp *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' || p->s[p->i] == '\r'))
		p->i++;
}

static int peek(const struct jp *p)
{
	return p->i < p->n ? (unsigned char)p->s[p->i] : -1;
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Skips a string at p->i (a '"'); start and len get its raw contents. Emits nothing. */
static int scan_string(struct jp *p, size_t *start, size_t *len)
{
	size_t i = p->i + 1;
	*start = i;
	for (;;) {
		unsigned char c;
		if (i >= p->n)
			return -1;
		c = (unsigned char)p->s[i];
		if (c == '"')
			break;
		if (c < 0x20)
			return -1; /* json.loads (strict) rejects raw control characters too */
		if (c == '\\') {
			if (i + 1 >= p->n)
				return -1;
			c = (unsigned char)p->s[i + 1];
			if (c == 'u') {
				if (i + 5 >= p->n || !is_hex(p->s[i + 2]) || !is_hex(p->s[i + 3]) || !is_hex(p->s[i + 4]) ||
				    !is_hex(p->s[i + 5]))
					return -1;
				i += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", c) || !c)
				return -1;
			i += 2;
			continue;
		}
		i++;
	}
	*len = i - *start;
	p->i = i + 1;
	return 0;
}

static int digits(struct jp *p)
{
	size_t from = p->i;
	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > from ? 0 : -1;
}

static int number(struct jp *p)
{
	size_t from = p->i;
	if (peek(p) == '-')
		p->i++;
	if (peek(p) == '0')
		p->i++;
	else if (peek(p) < '1' || peek(p) > '9' || digits(p) < 0)
		return -1;
	if (peek(p) == '.') {
		p->i++;
		if (digits(p) < 0)
			return -1;
	}
	if (peek(p) == 'e' || peek(p) == 'E') {
		p->i++;
		if (peek(p) == '+' || peek(p) == '-')
			p->i++;
		if (digits(p) < 0)
			return -1;
	}
	emit(p, p->s + from, p->i - from);
	return 0;
}

static int value(struct jp *p);

static int push(struct jp *p, const char *start, size_t len)
{
	if (p->npath >= SLIM_DEPTH)
		return -1;
	p->path[p->npath].start = start;
	p->path[p->npath].len = len;
	p->npath++;
	return 0;
}

static int object(struct jp *p)
{
	int emitted = 0;
	enum doc_action docs_here = p->flags & SLIM_JSON_BOTO_DOCS ? doc_parent(p) : DOC_KEEP;
	p->i++;
	emit(p, "{", 1);
	ws(p);
	if (peek(p) == '}') {
		p->i++;
		emit(p, "}", 1);
		return 0;
	}
	for (;;) {
		size_t ks, kl;
		int drop;
		ws(p);
		if (peek(p) != '"' || scan_string(p, &ks, &kl) < 0)
			return -1;
		ws(p);
		if (peek(p) != ':')
			return -1;
		p->i++;
		ws(p);
		drop = docs_here != DOC_KEEP && kl == 13 && memcmp(p->s + ks, "documentation", 13) == 0 &&
		       peek(p) == '"';
		if (!drop || docs_here == DOC_BLANK) {
			if (emitted)
				emit(p, ",", 1);
			emit(p, p->s + ks - 1, kl + 2);
			emit(p, drop ? ":\" \"" : ":", drop ? 4 : 1);
			emitted = 1;
		}
		if (drop)
			p->mute++;
		if (push(p, p->s + ks, kl) < 0 || value(p) < 0)
			return -1;
		p->npath--;
		if (drop)
			p->mute--;
		ws(p);
		if (peek(p) == ',') {
			p->i++;
			continue;
		}
		if (peek(p) != '}')
			return -1;
		p->i++;
		emit(p, "}", 1);
		return 0;
	}
}

static int array(struct jp *p)
{
	p->i++;
	emit(p, "[", 1);
	ws(p);
	if (peek(p) == ']') {
		p->i++;
		emit(p, "]", 1);
		return 0;
	}
	for (int first = 1;; first = 0) {
		ws(p);
		if (!first)
			emit(p, ",", 1);
		if (push(p, NULL, 0) < 0 || value(p) < 0)
			return -1;
		p->npath--;
		ws(p);
		if (peek(p) == ',') {
			p->i++;
			continue;
		}
		if (peek(p) != ']')
			return -1;
		p->i++;
		emit(p, "]", 1);
		return 0;
	}
}

static int literal(struct jp *p, const char *word)
{
	size_t n = strlen(word);
	if (p->n - p->i < n || memcmp(p->s + p->i, word, n) != 0)
		return -1;
	emit(p, word, n);
	p->i += n;
	return 0;
}

/* A value at p->i (no leading whitespace). */
static int value(struct jp *p)
{
	int c = peek(p), r;
	size_t from = p->i, s, l;
	if (++p->depth > SLIM_DEPTH)
		return -1;
	switch (c) {
	case '{':
		r = object(p);
		break;
	case '[':
		r = array(p);
		break;
	case '"':
		r = scan_string(p, &s, &l);
		if (r == 0)
			emit(p, p->s + from, p->i - from);
		break;
	case 't':
		r = literal(p, "true");
		break;
	case 'f':
		r = literal(p, "false");
		break;
	case 'n':
		r = literal(p, "null");
		break;
	default:
		r = c == '-' || (c >= '0' && c <= '9') ? number(p) : -1;
	}
	p->depth--;
	return r;
}

int slim_json(const char *in, size_t len, unsigned flags, char **out, size_t *outlen)
{
	struct jp *p = lm_xcalloc(1, sizeof(*p));
	int ok;
	p->s = in;
	p->n = len;
	p->flags = flags;
	buf_init(&p->out, 0);
	ws(p);
	ok = value(p) == 0;
	ws(p);
	ok = ok && p->i == p->n && p->out.len < len;
	if (ok)
		*out = buf_steal(&p->out, outlen);
	buf_release(&p->out);
	free(p);
	return ok;
}

int slim_metadata(const char *in, size_t len, char **out, size_t *outlen)
{
	size_t i = 0;
	/* the email parser ends the headers at the first empty line; an empty first line
	 * means there are no headers at all: leave such a file alone */
	while (i < len) {
		const char *nl = memchr(in + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - in) : len;
		size_t content = end > i && in[end - 1] == '\r' ? end - 1 : end;
		if (content == i) {
			if (i == 0 || !nl || end + 1 >= len)
				return 0; /* no headers, or nothing after the blank line */
			*out = lm_xmalloc(i + 1);
			memcpy(*out, in, i);
			(*out)[i] = '\0';
			*outlen = i;
			return 1;
		}
		if (!nl)
			return 0;
		i = end + 1;
	}
	return 0;
}
