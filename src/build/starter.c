/* starter.c - lamina init's project scan and starter manifest (see starter.h). */
#include "build/starter.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/str.h"

#define STARTER_FILE_MAX (1u << 20)

static const char *const py_candidates[] = { "lambda_function.py", "app.py",	  "handler.py", "main.py",
					     "index.py",	   "function.py", NULL };
static const char *const js_candidates[] = { "index.mjs",   "index.js",	  "index.cjs",	"app.mjs",   "app.js",
					     "handler.mjs", "handler.js", "lambda.mjs", "lambda.js", NULL };

static int is_ident(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
}

/* how much we like a function name as the handler: 0 not at all */
static int handler_rank(const char *name, size_t n, int first_param_event)
{
	if (n == 7 && memcmp(name, "handler", 7) == 0)
		return 4;
	if (n == 14 && memcmp(name, "lambda_handler", 14) == 0)
		return 5;
	if (n >= 7 && (memcmp(name + n - 7, "handler", 7) == 0 || memcmp(name + n - 7, "Handler", 7) == 0))
		return 3;
	return first_param_event ? 2 : 0;
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static int take(const char **p, const char *end, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(end - *p) >= n && memcmp(*p, word, n) == 0) {
		*p += n;
		return 1;
	}
	return 0;
}

char *starter_handler_of(const char *file, const char *text, size_t len, enum starter_runtime rt)
{
	const char *line = text, *end = text + len, *best = NULL, *base, *dot;
	size_t bestn = 0;
	int bestr = 0;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line)), *eol = nl ? nl : end, *p = line, *name;
		size_t n;
		int event = 0, ok = 0;
		if (rt == STARTER_PYTHON) {
			/* top-level "def NAME(event" or "async def NAME(" */
			take(&p, eol, "async ");
			ok = take(&p, eol, "def "); /* at column 0: not a method */
		} else {
			p = skip_ws(p, eol);
			ok = take(&p, eol, "exports.") || take(&p, eol, "module.exports.") ||
			     take(&p, eol, "export const ") || take(&p, eol, "export let ") ||
			     take(&p, eol, "export var ") || take(&p, eol, "export async function ") ||
			     take(&p, eol, "export function ");
		}
		if (ok) {
			p = skip_ws(p, eol);
			name = p;
			while (p < eol && is_ident(*p))
				p++;
			n = (size_t)(p - name);
			p = skip_ws(p, eol);
			if (rt == STARTER_PYTHON && p < eol && *p == '(') {
				p = skip_ws(p + 1, eol);
				event = take(&p, eol, "event");
			}
			if (n > 0 && handler_rank(name, n, event) > bestr) {
				bestr = handler_rank(name, n, event);
				best = name;
				bestn = n;
			}
		}
		line = nl ? nl + 1 : end;
	}
	if (!best)
		return NULL;
	base = strrchr(file, '/');
	base = base ? base + 1 : file;
	dot = strrchr(base, '.');
	return lm_asprintf("%.*s.%.*s", (int)(dot ? dot - base : (long)strlen(base)), base, (int)bestn, best);
}

char *starter_image_name(const char *name)
{
	size_t n = strlen(name), o = 0;
	char *out = lm_xmalloc(n + 1);
	const char *slash = strrchr(name, '/'); /* "@scope/pkg" */
	if (slash)
		name = slash + 1;
	for (const char *p = name; *p; p++) {
		char c = *p;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
			out[o++] = c;
		else if (o > 0 && out[o - 1] != '-')
			out[o++] = '-';
	}
	while (o > 0 && out[o - 1] == '-')
		o--;
	out[o] = '\0';
	if (o == 0 || o > 128) {
		free(out);
		return NULL;
	}
	return out;
}

static int exists(const char *dir, const char *rel, int want_dir)
{
	char *p = lm_path_join(dir, rel);
	struct stat st;
	int r = stat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
	free(p);
	return r;
}

/* a requirements.txt with a requirement in it (not only comments and blank lines) */
static int requirements_nonempty(const char *dir)
{
	char *p = lm_path_join(dir, "requirements.txt"), *text = NULL;
	size_t len = 0;
	struct lm_err e = LM_ERR_INIT;
	int any = 0;
	if (lm_read_file(p, STARTER_FILE_MAX, &text, &len, &e) == 0) {
		for (char *l = text; l && *l;) {
			char *nl = strchr(l, '\n');
			const char *q = l;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q && *q != '#' && *q != '\n' && *q != '\r')
				any = 1;
			l = nl ? nl + 1 : NULL;
		}
	}
	lm_err_release(&e);
	free(text);
	free(p);
	return any;
}

/* the handler in one of dir/sub's files: the usual names first, then the others in
 * name order */
static char *find_handler(const char *dir, const char *sub, enum starter_runtime rt, char **file)
{
	const char *const *cands = rt == STARTER_PYTHON ? py_candidates : js_candidates;
	char *d = sub ? lm_path_join(dir, sub) : lm_xstrdup(dir), *found = NULL;
	struct dirent **ents = NULL;
	int n = scandir(d, &ents, NULL, alphasort);
	size_t ncands = 0;
	while (cands[ncands])
		ncands++;
	/* pass 0: the usual names in their order; pass 1: every other file */
	for (int pass = 0; pass < 2 && !found; pass++) {
		size_t count = pass == 0 ? ncands : (size_t)(n > 0 ? n : 0);
		for (size_t i = 0; i < count && !found; i++) {
			const char *name = pass == 0 ? cands[i] : ents[i]->d_name;
			char *path, *text = NULL;
			size_t len = 0;
			struct lm_err e = LM_ERR_INIT;
			if (pass == 1) {
				int ours = rt == STARTER_PYTHON
						   ? lm_str_endswith(name, ".py")
						   : lm_str_endswith(name, ".js") || lm_str_endswith(name, ".mjs") ||
							     lm_str_endswith(name, ".cjs");
				if (!ours || name[0] == '.')
					continue;
			}
			path = lm_path_join(d, name);
			if (lm_read_regular(path, STARTER_FILE_MAX, &text, &len, &e) == 0) {
				found = starter_handler_of(name, text, len, rt);
				if (found)
					*file = sub ? lm_path_join(sub, name) : lm_xstrdup(name);
			}
			lm_err_release(&e);
			free(text);
			free(path);
		}
	}
	for (int i = 0; i < n; i++)
		free(ents[i]);
	free(ents);
	free(d);
	return found;
}

/* package.json's "name" and whether it has dependencies */
static void read_package_json(const char *dir, char **name, int *deps)
{
	char *p = lm_path_join(dir, "package.json");
	json_t *root = json_load_file(p, 0, NULL);
	free(p);
	if (!root)
		return;
	if (json_is_string(json_object_get(root, "name")))
		*name = starter_image_name(json_string_value(json_object_get(root, "name")));
	*deps = json_object_size(json_object_get(root, "dependencies")) > 0;
	json_decref(root);
}

static int any_file_with(const char *dir, const char *suffix)
{
	struct dirent **ents = NULL;
	int n = scandir(dir, &ents, NULL, alphasort), any = 0;
	for (int i = 0; i < n; i++) {
		any |= ents[i]->d_name[0] != '.' && lm_str_endswith(ents[i]->d_name, suffix);
		free(ents[i]);
	}
	free(ents);
	return any;
}

int starter_scan(const char *dir, enum starter_runtime want, struct starter *s, struct lm_err *err)
{
	struct stat st;
	int has_pkg, has_req, has_pyproject, has_py, has_js, node_deps = 0, nf = 0;
	char *pkg_name = NULL, *real = NULL;
	memset(s, 0, sizeof(*s));
	if (stat(dir, &st) != 0)
		return lm_err_sys(err, "'%s'", dir);
	if (!S_ISDIR(st.st_mode))
		return lm_err_set(err, LM_E_USAGE, "'%s' is not a directory", dir);
	has_pkg = exists(dir, "package.json", 0);
	has_req = exists(dir, "requirements.txt", 0);
	has_pyproject = exists(dir, "pyproject.toml", 0);
	has_py = has_req || has_pyproject || any_file_with(dir, ".py");
	if (!has_py && exists(dir, "src", 1)) {
		char *src = lm_path_join(dir, "src");
		has_py = any_file_with(src, ".py");
		free(src);
	}
	has_js = has_pkg || any_file_with(dir, ".js") || any_file_with(dir, ".mjs");
	if (has_req)
		s->found[nf++] = "requirements.txt";
	if (has_pyproject)
		s->found[nf++] = "pyproject.toml";
	if (has_pkg)
		s->found[nf++] = "package.json";
	s->runtime = want;
	if (want == STARTER_AUTO) {
		if (has_pkg && (has_req || has_pyproject))
			return lm_err_set(
				err, LM_E_USAGE,
				"'%s' has both package.json and Python project files: pass --runtime python or "
				"--runtime node",
				dir);
		s->runtime = has_pkg ? STARTER_NODE : has_py ? STARTER_PYTHON : has_js ? STARTER_NODE : STARTER_AUTO;
		if (s->runtime == STARTER_AUTO)
			return lm_err_set(
				err, LM_E_INPUT,
				"'%s' has no requirements.txt, pyproject.toml, package.json, .py or .js file: "
				"pass --runtime python or --runtime node",
				dir);
	}
	s->base = lm_xstrdup(s->runtime == STARTER_PYTHON ? "public.ecr.aws/lambda/python:3.12"
							  : "public.ecr.aws/lambda/nodejs:22");
	s->handler = find_handler(dir, NULL, s->runtime, &s->handler_file);
	if (!s->handler && exists(dir, "src", 1)) {
		s->handler = find_handler(dir, "src", s->runtime, &s->handler_file);
		if (s->handler)
			s->app_from = lm_xstrdup("src");
	}
	if (!s->app_from)
		s->app_from = lm_xstrdup(".");
	if (s->runtime == STARTER_PYTHON) {
		if (requirements_nonempty(dir) || has_pyproject) {
			s->deps_from = lm_xstrdup("build/deps");
			s->deps_to = lm_xstrdup("/var/task");
			s->deps_missing = !exists(dir, "build/deps", 1);
		}
	} else {
		read_package_json(dir, &pkg_name, &node_deps);
		if (node_deps || exists(dir, "node_modules", 1)) {
			s->deps_from = lm_xstrdup("node_modules");
			s->deps_to = lm_xstrdup("/var/task/node_modules");
			s->deps_missing = !exists(dir, "node_modules", 1);
		}
	}
	if (pkg_name) {
		s->name = pkg_name;
	} else if ((real = realpath(dir, NULL))) {
		const char *b = strrchr(real, '/');
		s->name = starter_image_name(b && b[1] ? b + 1 : "app");
		free(real);
	}
	return 0;
}

void starter_set_base(struct starter *s, const char *base)
{
	free(s->base);
	s->base = lm_xstrdup(base);
}

void starter_release(struct starter *s)
{
	if (!s)
		return;
	free(s->base);
	free(s->name);
	free(s->handler);
	free(s->handler_file);
	free(s->app_from);
	free(s->deps_from);
	free(s->deps_to);
	memset(s, 0, sizeof(*s));
}

static json_t *strings(const char *const *v)
{
	json_t *a = json_array();
	for (; *v; v++)
		json_array_append_new(a, json_string(*v));
	return a;
}

/* JSON for people: a value that fits on its line stays on one line ({"name": "app",
 * "from": "."}), a longer one is opened one level, two spaces per level. */
static void dump(struct lm_buf *b, json_t *v, int depth)
{
	char *one = json_dumps(v, JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
	size_t n = 0;
	if (one && (strlen(one) + (size_t)depth * 2 + 20 <= 88 || !(json_is_object(v) || json_is_array(v)))) {
		buf_appends(b, one);
		free(one);
		return;
	}
	free(one);
	buf_appends(b, json_is_object(v) ? "{\n" : "[\n");
	if (json_is_object(v)) {
		const char *key;
		json_t *x;
		json_object_foreach(v, key, x)
		{
			json_t *k = json_string(key);
			char *ks = json_dumps(k, JSON_ENCODE_ANY);
			if (n++)
				buf_appends(b, ",\n");
			for (int i = 0; i <= depth; i++)
				buf_appends(b, "  ");
			buf_appends(b, ks);
			buf_appends(b, ": ");
			dump(b, x, depth + 1);
			free(ks);
			json_decref(k);
		}
	} else {
		for (size_t i = 0; i < json_array_size(v); i++) {
			if (n++)
				buf_appends(b, ",\n");
			for (int d = 0; d <= depth; d++)
				buf_appends(b, "  ");
			dump(b, json_array_get(v, i), depth + 1);
		}
	}
	buf_appends(b, "\n");
	for (int i = 0; i < depth; i++)
		buf_appends(b, "  ");
	buf_appends(b, json_is_object(v) ? "}" : "]");
}

char *starter_manifest(const struct starter *s)
{
	static const char *const py_top[] = { "/lamina.json", "/.git/",	 "/.venv/",	   "/venv/", "/build/",
					      "/dist/",	      "/tests/", "/test/",	   "/*.tar", "/*.zip",
					      "__pycache__/", "*.pyc",	 ".pytest_cache/", NULL };
	static const char *const py_src[] = { "__pycache__/", "*.pyc", NULL };
	static const char *const js_top[] = { "/lamina.json", "/.git/", "/node_modules/", "/test/", "/tests/",
					      "/coverage/",   "/*.tar", "/*.zip",	  NULL };
	int py = s->runtime == STARTER_PYTHON, top = strcmp(s->app_from, ".") == 0;
	json_t *root = json_object(), *layers = json_array(), *l, *verify, *config;
	char *out;

	json_object_set_new(root, "base", json_string(s->base));
	json_object_set_new(root, "platform", json_string("linux/amd64"));
	if (s->deps_from) {
		l = json_object();
		json_object_set_new(l, "name", json_string("deps"));
		json_object_set_new(l, "from", json_string(s->deps_from));
		json_object_set_new(l, "to", json_string(s->deps_to));
		json_array_append_new(layers, l);
	}
	l = json_object();
	json_object_set_new(l, "name", json_string("app"));
	json_object_set_new(l, "from", json_string(s->app_from));
	json_object_set_new(l, "to", json_string("/var/task"));
	if (py || top)
		json_object_set_new(l, "exclude", strings(py ? (top ? py_top : py_src) : js_top));
	json_array_append_new(layers, l);
	json_object_set_new(root, "layers", layers);
	json_object_set_new(root, "prune", json_pack("{s:[s]}", "presets", py ? "python-safe" : "node-safe"));
	if (py)
		json_object_set_new(root, "precompile",
				    json_pack("{s:{s:s}}", "python", "invalidation", "unchecked-hash"));
	/* Node: verify imports package.json's dependencies by default; the handler's
	 * import pulls in Python's */
	verify = json_object();
	if (s->handler)
		json_object_set_new(verify, "handler", json_true());
	if (s->handler || !py)
		json_object_set_new(root, "verify", verify);
	else
		json_decref(verify);
	if (s->handler) {
		config = json_object();
		json_object_set_new(config, "cmd", json_pack("[s]", s->handler));
		json_object_set_new(root, "config", config);
	}
	if (s->name) {
		char *tag = lm_asprintf("%s:latest", s->name);
		json_object_set_new(root, "tag", json_string(tag));
		free(tag);
	}
	{
		struct lm_buf b;
		size_t len;
		buf_init(&b, 0);
		dump(&b, root, 0);
		buf_appends(&b, "\n");
		out = buf_steal(&b, &len);
	}
	json_decref(root);
	return out;
}
