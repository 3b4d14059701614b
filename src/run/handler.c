#include "run/handler.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

const char *lm_runtime_name(enum lm_runtime rt)
{
	switch (rt) {
	case LM_RUNTIME_PYTHON:
		return "python";
	case LM_RUNTIME_NODE:
		return "node";
	default:
		return NULL;
	}
}

int lm_runtime_parse(const char *s, enum lm_runtime *out)
{
	if (!s)
		return -1;
	if (strcmp(s, "python") == 0)
		*out = LM_RUNTIME_PYTHON;
	else if (strcmp(s, "node") == 0 || strcmp(s, "nodejs") == 0)
		*out = LM_RUNTIME_NODE;
	else
		return -1;
	return 0;
}

void handler_ref_release(struct handler_ref *h)
{
	if (!h)
		return;
	free(h->module);
	free(h->function);
	for (size_t i = 0; i < sizeof(h->files) / sizeof(h->files[0]); i++)
		free(h->files[i]);
	memset(h, 0, sizeof(*h));
}

/* 1 when s has an empty '/'-separated component, or '.' / '..' as one */
static int bad_path(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0)
		return 1;
	while (i <= n) {
		size_t j = i;
		while (j < n && s[j] != '/')
			j++;
		size_t len = j - i;
		if (len == 0 || (len == 1 && s[i] == '.') || (len == 2 && s[i] == '.' && s[i + 1] == '.'))
			return 1;
		i = j + 1;
	}
	return 0;
}

static int python(const char *h, struct handler_ref *out, char **why)
{
	const char *dot = strrchr(h, '.');
	if (!dot || dot == h || !dot[1] || strchr(dot, '/')) {
		*why = lm_asprintf("'%s' is not of the form \"module.function\"", h);
		return -1;
	}
	char *m = lm_xstrndup(h, (size_t)(dot - h));
	for (char *p = m; *p; p++)
		if (*p == '/')
			*p = '.';
	if (m[0] == '.' || m[strlen(m) - 1] == '.' || strstr(m, "..")) {
		*why = lm_asprintf("'%s': the module '%s' has an empty part", h, m);
		free(m);
		return -1;
	}
	out->module = m;
	out->function = lm_xstrdup(dot + 1);
	{
		char *path = lm_xstrdup(m);
		for (char *p = path; *p; p++)
			if (*p == '.')
				*p = '/';
		out->files[0] = lm_asprintf("%s.py", path);
		out->files[1] = lm_asprintf("%s/__init__.py", path);
		free(path);
	}
	return 0;
}

static int node(const char *h, struct handler_ref *out, char **why)
{
	const char *base = strrchr(h, '/'), *dot;
	base = base ? base + 1 : h;
	dot = strchr(base, '.');
	if (strstr(h, "..")) {
		*why = lm_asprintf("'%s': '..' is not allowed in a handler", h);
		return -1;
	}
	if (h[0] == '/' || !dot || dot == base || !dot[1] || dot[strlen(dot) - 1] == '.') {
		*why = lm_asprintf("'%s' is not of the form \"module.function\"", h);
		return -1;
	}
	if (bad_path(h, (size_t)(dot - h))) {
		*why = lm_asprintf("'%s': the module path has an empty or '.' part", h);
		return -1;
	}
	out->module = lm_xstrndup(h, (size_t)(dot - h));
	out->function = lm_xstrdup(dot + 1);
	out->files[0] = lm_asprintf("%s.js", out->module);
	out->files[1] = lm_asprintf("%s.mjs", out->module);
	out->files[2] = lm_asprintf("%s.cjs", out->module);
	return 0;
}

int handler_resolve(enum lm_runtime rt, const char *handler, struct handler_ref *out, char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	if (!handler || !*handler) {
		*why = lm_xstrdup("the handler is empty");
		return -1;
	}
	return rt == LM_RUNTIME_NODE ? node(handler, out, why) : python(handler, out, why);
}
