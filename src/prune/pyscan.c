#include "prune/pyscan.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

enum tk { TK_EOF, TK_NAME, TK_STRING, TK_NEWLINE, TK_OP, TK_NUMBER };

struct tok {
	enum tk kind;
	const char *s; /* NAME: the name; STRING: the contents between the quotes; OP: the char */
	size_t n;
};

struct lexer {
	const char *p, *end;
	int depth; /* open brackets: newlines inside them do not end a statement */
	struct tok back;
	int has_back;
};

static int is_id_start(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
}

static int is_id_char(unsigned char c)
{
	return is_id_start(c) || (c >= '0' && c <= '9');
}

static int is_str_prefix(const char *s, size_t n)
{
	static const char *const pre[] = { "r", "u", "b", "f", "br", "rb", "fr", "rf", NULL };
	if (n > 2)
		return 0;
	for (size_t i = 0; pre[i]; i++) {
		if (strlen(pre[i]) != n)
			continue;
		size_t j = 0;
		for (; j < n; j++)
			if ((s[j] | 0x20) != pre[i][j])
				break;
		if (j == n)
			return 1;
	}
	return 0;
}

/* Lexes a string literal starting at the quote; sets t to its contents. */
static void lex_string(struct lexer *lx, struct tok *t)
{
	const char *p = lx->p;
	char q = *p;
	int triple = lx->end - p >= 3 && p[1] == q && p[2] == q;
	p += triple ? 3 : 1;
	t->kind = TK_STRING;
	t->s = p;
	while (p < lx->end) {
		if (*p == '\\') {
			p += 2;
			continue;
		}
		if (*p == q) {
			if (!triple) {
				t->n = (size_t)(p - t->s);
				lx->p = p + 1;
				return;
			}
			if (lx->end - p >= 3 && p[1] == q && p[2] == q) {
				t->n = (size_t)(p - t->s);
				lx->p = p + 3;
				return;
			}
		} else if (*p == '\n' && !triple) {
			break; /* unterminated: stop at the line end */
		}
		p++;
	}
	if (p > lx->end)
		p = lx->end;
	t->n = (size_t)(p - t->s);
	lx->p = p;
}

static void lex_next(struct lexer *lx, struct tok *t)
{
	if (lx->has_back) {
		*t = lx->back;
		lx->has_back = 0;
		return;
	}
	for (;;) {
		const char *p = lx->p;
		unsigned char c;
		if (p >= lx->end) {
			t->kind = TK_EOF;
			t->s = p;
			t->n = 0;
			return;
		}
		c = (unsigned char)*p;
		if (c == ' ' || c == '\t' || c == '\r' || c == '\f') {
			lx->p++;
			continue;
		}
		if (c == '\\' && p + 1 < lx->end && (p[1] == '\n' || p[1] == '\r')) {
			lx->p += 2; /* explicit line continuation */
			continue;
		}
		if (c == '#') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
			continue;
		}
		if (c == '\n') {
			lx->p++;
			if (lx->depth > 0)
				continue;
			t->kind = TK_NEWLINE;
			t->s = p;
			t->n = 1;
			return;
		}
		if (c == '"' || c == '\'') {
			lex_string(lx, t);
			return;
		}
		if (is_id_start(c)) {
			const char *s = p;
			while (p < lx->end && is_id_char((unsigned char)*p))
				p++;
			if (p < lx->end && (*p == '"' || *p == '\'') && is_str_prefix(s, (size_t)(p - s))) {
				lx->p = p;
				lex_string(lx, t);
				return;
			}
			lx->p = p;
			t->kind = TK_NAME;
			t->s = s;
			t->n = (size_t)(p - s);
			return;
		}
		if (c >= '0' && c <= '9') {
			while (p < lx->end && (is_id_char((unsigned char)*p) || *p == '.'))
				p++;
			lx->p = p;
			t->kind = TK_NUMBER;
			t->s = lx->p;
			t->n = 0;
			return;
		}
		if (c == '(' || c == '[' || c == '{')
			lx->depth++;
		else if ((c == ')' || c == ']' || c == '}') && lx->depth > 0)
			lx->depth--;
		lx->p++;
		t->kind = TK_OP;
		t->s = p;
		t->n = 1;
		return;
	}
}

static void lex_unget(struct lexer *lx, const struct tok *t)
{
	lx->back = *t;
	lx->has_back = 1;
}

static int tok_is(const struct tok *t, enum tk k, const char *s)
{
	return t->kind == k && t->n == strlen(s) && memcmp(t->s, s, t->n) == 0;
}

/* Reads NAME ('.' NAME)* into a new string; NULL (token pushed back) when none. */
static char *read_dotted(struct lexer *lx)
{
	struct tok t;
	char *out = NULL;
	size_t n = 0;
	lex_next(lx, &t);
	if (t.kind != TK_NAME) {
		lex_unget(lx, &t);
		return NULL;
	}
	for (;;) {
		out = lm_xrealloc(out, n + t.n + 2);
		if (n)
			out[n++] = '.';
		memcpy(out + n, t.s, t.n);
		n += t.n;
		out[n] = '\0';
		lex_next(lx, &t);
		if (!tok_is(&t, TK_OP, ".")) {
			lex_unget(lx, &t);
			return out;
		}
		lex_next(lx, &t);
		if (t.kind != TK_NAME) {
			lex_unget(lx, &t);
			return out;
		}
	}
}

/* Skips "as NAME" if present. */
static void skip_as(struct lexer *lx)
{
	struct tok t;
	lex_next(lx, &t);
	if (tok_is(&t, TK_NAME, "as")) {
		lex_next(lx, &t);
		if (t.kind != TK_NAME)
			lex_unget(lx, &t);
		return;
	}
	lex_unget(lx, &t);
}

static void parse_import(struct lexer *lx, pyscan_fn fn, void *ctx)
{
	struct tok t;
	for (;;) {
		char *m = read_dotted(lx);
		if (!m)
			return;
		fn(m, ctx);
		free(m);
		skip_as(lx);
		lex_next(lx, &t);
		if (!tok_is(&t, TK_OP, ",")) {
			lex_unget(lx, &t);
			return;
		}
	}
}

/* Resolves a relative import: ndots leading dots in package pkg, then name (may be NULL).
 * NULL when it climbs above the top level. */
static char *resolve_relative(const char *pkg, size_t ndots, const char *name)
{
	size_t n = strlen(pkg);
	char *base;
	if (!*pkg)
		return NULL;
	for (size_t i = 1; i < ndots; i++) {
		while (n > 0 && pkg[n - 1] != '.')
			n--;
		if (n == 0)
			return NULL;
		n--; /* the dot */
	}
	base = lm_xstrndup(pkg, n);
	if (name) {
		char *t = lm_asprintf("%s.%s", base, name);
		free(base);
		base = t;
	}
	return base;
}

static void parse_from(struct lexer *lx, const char *pkg, pyscan_fn fn, void *ctx)
{
	struct tok t;
	size_t ndots = 0;
	char *name, *base;
	int paren = 0;
	for (;;) {
		lex_next(lx, &t);
		if (!tok_is(&t, TK_OP, "."))
			break;
		ndots++;
	}
	lex_unget(lx, &t);
	/* "from . import x": no module name after the dots */
	name = tok_is(&t, TK_NAME, "import") ? NULL : read_dotted(lx);
	if (!ndots && !name)
		return;
	base = ndots ? resolve_relative(pkg, ndots, name) : lm_xstrdup(name);
	free(name);
	lex_next(lx, &t);
	if (!base || !tok_is(&t, TK_NAME, "import")) {
		lex_unget(lx, &t);
		free(base);
		return;
	}
	fn(base, ctx);
	lex_next(lx, &t);
	if (tok_is(&t, TK_OP, "(")) {
		paren = 1;
		lex_next(lx, &t);
	}
	while (t.kind == TK_NAME) {
		char *sub = lm_asprintf("%s.%.*s", base, (int)t.n, t.s);
		fn(sub, ctx);
		free(sub);
		skip_as(lx);
		lex_next(lx, &t);
		if (!tok_is(&t, TK_OP, ","))
			break;
		lex_next(lx, &t);
	}
	if (!(paren && tok_is(&t, TK_OP, ")")))
		lex_unget(lx, &t);
	free(base);
}

static int is_dotted_name(const char *s, size_t n)
{
	int start = 1;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.') {
			if (start && i > 0)
				return 0;
			start = 1;
			continue;
		}
		if (start ? !is_id_start(c) : !is_id_char(c))
			return 0;
		start = 0;
	}
	return !start;
}

/* import_module("a.b") / __import__("a.b"): after the name, '(' and a string literal. */
static void parse_dynamic(struct lexer *lx, const char *pkg, pyscan_fn fn, void *ctx)
{
	struct tok t;
	lex_next(lx, &t);
	if (!tok_is(&t, TK_OP, "(")) {
		lex_unget(lx, &t);
		return;
	}
	lex_next(lx, &t);
	if (t.kind != TK_STRING) {
		lex_unget(lx, &t);
		return;
	}
	if (!is_dotted_name(t.s, t.n))
		return;
	if (t.s[0] == '.') {
		size_t nd = 0;
		char *rest, *m;
		while (nd < t.n && t.s[nd] == '.')
			nd++;
		rest = nd < t.n ? lm_xstrndup(t.s + nd, t.n - nd) : NULL;
		m = resolve_relative(pkg, nd, rest);
		if (m)
			fn(m, ctx);
		free(m);
		free(rest);
	} else {
		char *m = lm_xstrndup(t.s, t.n);
		fn(m, ctx);
		free(m);
	}
}

void pyscan_imports(const char *src, size_t len, const char *pkg, pyscan_fn fn, void *ctx)
{
	struct lexer lx = { src, src + len, 0, { TK_EOF, NULL, 0 }, 0 };
	struct tok t;
	int stmt_start = 1;
	if (!pkg)
		pkg = "";
	for (;;) {
		lex_next(&lx, &t);
		if (t.kind == TK_EOF)
			return;
		if (stmt_start && tok_is(&t, TK_NAME, "import"))
			parse_import(&lx, fn, ctx);
		else if (stmt_start && tok_is(&t, TK_NAME, "from"))
			parse_from(&lx, pkg, fn, ctx);
		else if (tok_is(&t, TK_NAME, "import_module") || tok_is(&t, TK_NAME, "__import__"))
			parse_dynamic(&lx, pkg, fn, ctx);
		stmt_start = t.kind == TK_NEWLINE || tok_is(&t, TK_OP, ";") || tok_is(&t, TK_OP, ":");
		/* after a parsed statement the next token decides; the keywords themselves are
		 * never statement starts */
		if (tok_is(&t, TK_NAME, "import") || tok_is(&t, TK_NAME, "from"))
			stmt_start = 0;
	}
}

static int is_identifier(const char *s, size_t n)
{
	if (!n || !is_id_start((unsigned char)s[0]))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!is_id_char((unsigned char)s[i]))
			return 0;
	return 1;
}

/* Module stem of a file name, or 0 when it is not a module file. */
static size_t module_stem(const char *name, int *is_init)
{
	size_t n = strlen(name);
	const char *dot;
	*is_init = 0;
	if (strcmp(name, "__init__.py") == 0 || strcmp(name, "__init__.pyc") == 0) {
		*is_init = 1;
		return 0;
	}
	if (lm_str_endswith(name, ".py"))
		return n - 3;
	if (lm_str_endswith(name, ".pyc"))
		return n - 4;
	if (lm_str_endswith(name, ".so") || lm_str_endswith(name, ".pyd")) {
		dot = strchr(name, '.');
		return (size_t)(dot - name);
	}
	return 0;
}

char *pyscan_module_name(const char *relpath, int is_dir)
{
	char *out = lm_xmalloc(strlen(relpath) + 1);
	size_t o = 0;
	const char *p = relpath;
	for (;;) {
		const char *s = strchr(p, '/');
		size_t n = s ? (size_t)(s - p) : strlen(p);
		if (!s && !is_dir) {
			int init;
			size_t stem = module_stem(p, &init);
			if (init)
				break;
			if (!stem || !is_identifier(p, stem))
				goto bad;
			n = stem;
		} else if (!is_identifier(p, n)) {
			goto bad;
		}
		if (o)
			out[o++] = '.';
		memcpy(out + o, p, n);
		o += n;
		if (!s)
			break;
		p = s + 1;
	}
	if (!o)
		goto bad;
	out[o] = '\0';
	return out;
bad:
	free(out);
	return NULL;
}

char *pyscan_file_package(const char *relpath)
{
	const char *s = strrchr(relpath, '/');
	char *pkg;
	if (!s)
		return lm_xstrdup("");
	pkg = lm_xstrndup(relpath, (size_t)(s - relpath));
	for (char *c = pkg; *c; c++)
		if (*c == '/')
			*c = '.';
	return pkg;
}
