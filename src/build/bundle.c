/* bundle.c - esbuild for Node layers (see bundle.h). */
#include "build/bundle.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/child.h"
#include "common/fs.h"
#include "common/str.h"
#include "common/strset.h"
#include "image/tree.h"

extern char **environ;

#define PKG_JSON_MAX (4u << 20)
#define JS_MAX (64u << 20)
#define MAP_MAX (1u << 30)
#define META_MAX (256u << 20)
#define NATIVE_DEPTH 12
#define ESBUILD_RUNS_MAX 3

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static void strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
	lm_grow((void **)v, cap, *n + 2, sizeof(**v));
	(*v)[(*n)++] = lm_xstrdup(s);
	(*v)[*n] = NULL;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void bundle_node_spec_release(struct bundle_node_spec *s)
{
	if (!s)
		return;
	free_strv(s->entry, s->nentry);
	free_strv(s->external, s->nexternal);
	free(s->target);
	memset(s, 0, sizeof(*s));
}

void bundle_pkg_release(struct bundle_pkg *p)
{
	if (!p)
		return;
	free(p->name);
	free(p->dir);
	free(p->native);
	free_strv(p->optional, p->noptional);
	free_strv(p->deps, p->ndeps);
	free(p->detail);
	memset(p, 0, sizeof(*p));
}

void bundle_result_release(struct bundle_result *r)
{
	if (!r)
		return;
	free(r->esbuild);
	free_strv(r->outputs, r->noutputs);
	free_strv(r->bundled, r->nbundled);
	free_strv(r->external, r->nexternal);
	memset(r, 0, sizeof(*r));
}

/* ---- pure parts ---- */

/* npm's rules, loosely: lowercase-friendly URL-safe characters, an optional @scope/. */
static int pkg_name_ok(const char *s, int allow_star)
{
	const char *p = s;
	int slash = 0;
	if (!*s || *s == '.' || *s == '_' || *s == '-' || strlen(s) > 214)
		return 0;
	if (*p == '@')
		p++;
	for (; *p; p++) {
		if (*p == '/') {
			if (s[0] != '@' || slash++ || p == s + 1 || !p[1])
				return 0;
			if (allow_star && strcmp(p + 1, "*") == 0)
				return 1;
			continue;
		}
		if (!(isalnum((unsigned char)*p) || strchr("-._~", *p)))
			return 0;
	}
	return s[0] != '@' || slash == 1;
}

int bundle_spec_check(const struct bundle_node_spec *s, const char **field, size_t *bad, struct lm_err *err)
{
	*bad = 0;
	if (!s->nentry) {
		*field = "entry";
		return lm_err_set(err, LM_E_INPUT, "needs at least one entry (such as \"index.js\")");
	}
	for (size_t i = 0; i < s->nentry; i++) {
		const char *e = s->entry[i];
		char *n = e[0] == '/' ? NULL : tree_norm_path(e);
		*field = "entry";
		*bad = i;
		if (!n)
			return lm_err_set(err, LM_E_INPUT, "'%s' must be a path relative to the layer's \"from\", without '..'",
					  e);
		free(n);
		if (e[0] == '-')
			return lm_err_set(err, LM_E_INPUT, "'%s' must not start with '-'", e);
	}
	for (size_t i = 0; i < s->nexternal; i++)
		if (!pkg_name_ok(s->external[i], 1)) {
			*field = "external";
			*bad = i;
			return lm_err_set(err, LM_E_INPUT, "'%s' is not a package name (\"name\", \"@scope/name\" or \"@scope/*\")",
					  s->external[i]);
		}
	if (s->target) {
		const char *p = s->target;
		int ok = strncmp(p, "node", 4) == 0 && isdigit((unsigned char)p[4]);
		for (p += 4; ok && *p; p++)
			ok = isdigit((unsigned char)*p) || (*p == '.' && isdigit((unsigned char)p[1]));
		if (!ok) {
			*field = "target";
			return lm_err_set(err, LM_E_INPUT, "'%s' must be a Node.js version such as \"node22\" or \"node20.11\"",
					  s->target);
		}
	}
	return 0;
}

const char *bundle_why_text(enum bundle_why w)
{
	switch (w) {
	case BUNDLE_IN:
		return "bundled";
	case BUNDLE_WHY_USER:
		return "named in \"external\"";
	case BUNDLE_WHY_NATIVE:
		return "native addon";
	case BUNDLE_WHY_PLATFORM:
		return "platform package (os/cpu) of an optionalDependency";
	case BUNDLE_WHY_PICKS:
		return "loads a platform package from its optionalDependencies";
	case BUNDLE_WHY_LISTED:
		return "reads its own files (documented list)";
	case BUNDLE_WHY_OWNFILES:
		return "reads its own files through __dirname or import.meta.url";
	}
	return "?";
}

/* Packages known to read their own files at run time (docs/bundle.md). */
static const char *const listed[] = { "@ffmpeg-installer/*", "@ffprobe-installer/*", "pdfjs-dist", "pdf-parse", NULL };

int bundle_user_external(const char *name, char *const *ext, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(ext[i]);
		if (strcmp(ext[i], name) == 0)
			return 1;
		if (l > 2 && ext[i][0] == '@' && strcmp(ext[i] + l - 2, "/*") == 0 && strncmp(name, ext[i], l - 1) == 0 &&
		    !strchr(name + l - 1, '/'))
			return 1;
	}
	return 0;
}

int bundle_listed(const char *name)
{
	return bundle_user_external(name, (char *const *)listed, sizeof(listed) / sizeof(listed[0]) - 1);
}

static void set_why(struct bundle_pkg *p, enum bundle_why w, const char *detail)
{
	if (p->why != BUNDLE_IN)
		return;
	p->why = w;
	free(p->detail);
	p->detail = detail ? lm_xstrdup(detail) : NULL;
}

void bundle_classify(struct bundle_pkg *p, size_t n, char *const *ext, size_t next)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].detail);
		p[i].detail = NULL;
		p[i].why = BUNDLE_IN;
	}
	for (size_t i = 0; i < n; i++) {
		if (bundle_user_external(p[i].name, ext, next))
			set_why(&p[i], BUNDLE_WHY_USER, NULL);
		if (p[i].native)
			set_why(&p[i], BUNDLE_WHY_NATIVE, p[i].native);
		if (bundle_listed(p[i].name))
			set_why(&p[i], BUNDLE_WHY_LISTED, NULL);
	}
	/* platform packages and the packages that pick one of them */
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < p[i].noptional; k++)
			for (size_t j = 0; j < n; j++)
				if (p[j].os_cpu && strcmp(p[j].name, p[i].optional[k]) == 0) {
					char *d = lm_asprintf("of %s", p[i].name);
					set_why(&p[j], BUNDLE_WHY_PLATFORM, d);
					free(d);
					set_why(&p[i], BUNDLE_WHY_PICKS, p[j].name);
				}
}

static int ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '$';
}

/* The text just before position i, spaces skipped, ends with word. */
static int before(const char *t, size_t i, const char *word)
{
	size_t l = strlen(word);
	while (i > 0 && (t[i - 1] == ' ' || t[i - 1] == '\t'))
		i--;
	/* a word that starts like an identifier must not continue one ("myjoin(") */
	return i >= l && memcmp(t + i - l, word, l) == 0 && (i == l || !isalpha((unsigned char)word[0]) || !ident_char(t[i - l - 1]));
}

static int is_module_ext(const char *s, size_t l)
{
	static const char *const ext[] = { ".js", ".mjs", ".cjs", NULL };
	for (const char *const *e = ext; *e; e++) {
		size_t el = strlen(*e);
		if (l >= el && memcmp(s + l - el, *e, el) == 0)
			return 1;
	}
	return 0;
}

int bundle_js_reads_own_files(const char *t, size_t len)
{
	static const char dn[] = "__dirname", mu[] = "import.meta.url";
	int in_line = 0, in_block = 0;
	for (size_t i = 0; i < len; i++) {
		/* comments: skipped (strings are not tracked: a false hit costs a bigger layer) */
		if (in_line) {
			in_line = t[i] != '\n';
			continue;
		}
		if (in_block) {
			if (t[i] == '*' && i + 1 < len && t[i + 1] == '/') {
				in_block = 0;
				i++;
			}
			continue;
		}
		if (t[i] == '/' && i + 1 < len && t[i + 1] == '/' && (i == 0 || t[i - 1] != '\\') &&
		    (i == 0 || t[i - 1] != ':')) {
			in_line = 1;
			continue;
		}
		if (t[i] == '/' && i + 1 < len && t[i + 1] == '*') {
			in_block = 1;
			i++;
			continue;
		}
		if (i + sizeof(dn) - 1 <= len && memcmp(t + i, dn, sizeof(dn) - 1) == 0 &&
		    (i == 0 || !ident_char(t[i - 1])) &&
		    (i + sizeof(dn) - 1 == len || !ident_char(t[i + sizeof(dn) - 1]))) {
			size_t k = i + sizeof(dn) - 1;
			while (k < len && (t[k] == ' ' || t[k] == '\t'))
				k++;
			if (before(t, i, "join(") || before(t, i, "resolve(") || before(t, i, "load(") ||
			    before(t, i, "${") || (k < len && t[k] == '+' && (k + 1 >= len || t[k + 1] != '+')))
				return 1;
			i = k - 1;
			continue;
		}
		if (i + sizeof(mu) - 1 <= len && memcmp(t + i, mu, sizeof(mu) - 1) == 0) {
			/* new URL("./file", import.meta.url): look back for the literal */
			size_t k = i;
			while (k > 0 && (t[k - 1] == ' ' || t[k - 1] == '\t' || t[k - 1] == '\n' || t[k - 1] == ','))
				k--;
			if (k > 0 && (t[k - 1] == '"' || t[k - 1] == '\'' || t[k - 1] == '`')) {
				char q = t[k - 1];
				size_t end = k - 1, s = end;
				while (s > 0 && t[s - 1] != q && end - s < 512)
					s--;
				if (s > 0 && before(t, s - 1, "URL(") && end > s && (t[s] == '.') && !is_module_ext(t + s, end - s))
					return 1;
			}
		}
	}
	return 0;
}

static const char *const builtins[] = {
	"assert", "async_hooks", "buffer", "child_process", "cluster", "console", "constants", "crypto", "dgram",
	"diagnostics_channel", "dns", "domain", "events", "fs", "http", "http2", "https", "inspector", "module", "net",
	"os", "path", "perf_hooks", "process", "punycode", "querystring", "readline", "repl", "stream",
	"string_decoder", "sys", "timers", "tls", "trace_events", "tty", "url", "util", "v8", "vm", "wasi",
	"worker_threads", "zlib", NULL
};

char *bundle_pkg_of_import(const char *spec)
{
	const char *slash;
	size_t l;
	if (!*spec || spec[0] == '.' || spec[0] == '/' || strncmp(spec, "node:", 5) == 0)
		return NULL;
	slash = strchr(spec, '/');
	if (spec[0] == '@') {
		if (!slash || !slash[1])
			return NULL;
		slash = strchr(slash + 1, '/');
	}
	l = slash ? (size_t)(slash - spec) : strlen(spec);
	for (const char *const *b = builtins; *b; b++)
		if (strlen(*b) == l && memcmp(*b, spec, l) == 0)
			return NULL;
	char *r = lm_xmalloc(l + 1);
	memcpy(r, spec, l);
	r[l] = '\0';
	return r;
}

/* In an ES module bundle, code from CommonJS packages still calls require(): give it one. */
#define ESM_BANNER                                                                                                  \
	"--banner:js=import { createRequire as __lamina_createRequire } from 'node:module'; "                        \
	"const require = __lamina_createRequire(import.meta.url);"

char **bundle_esbuild_args(const struct bundle_node_spec *s, const char *esbuild, char *const *ext, size_t next,
			   const char *outdir, const char *metafile)
{
	char **v = NULL;
	size_t n = 0, cap = 0;
	char *t;
	strv_push(&v, &n, &cap, esbuild);
	for (size_t i = 0; i < s->nentry; i++) {
		t = lm_asprintf("./%s", s->entry[i]);
		strv_push(&v, &n, &cap, t);
		free(t);
	}
	/* pinned: the same inputs give the same bytes, whatever esbuild's defaults become */
	static const char *const pinned[] = { "--bundle", "--platform=node", "--log-level=warning", "--color=false",
					      "--charset=utf8", "--legal-comments=eof", "--tree-shaking=true",
					      "--main-fields=main,module", NULL };
	for (const char *const *p = pinned; *p; p++)
		strv_push(&v, &n, &cap, *p);
	t = lm_asprintf("--target=%s", s->target ? s->target : "node22");
	strv_push(&v, &n, &cap, t);
	free(t);
	strv_push(&v, &n, &cap, s->format == BUNDLE_ESM ? "--format=esm" : "--format=cjs");
	if (s->format == BUNDLE_ESM) {
		/* .mjs: Node loads it as an ES module without a package.json */
		strv_push(&v, &n, &cap, "--out-extension:.js=.mjs");
		strv_push(&v, &n, &cap, ESM_BANNER);
	}
	if (s->minify)
		strv_push(&v, &n, &cap, "--minify");
	if (s->sourcemap)
		strv_push(&v, &n, &cap, "--sourcemap=linked");
	for (size_t i = 0; i < next; i++) {
		t = lm_asprintf("--external:%s", ext[i]);
		strv_push(&v, &n, &cap, t);
		free(t);
	}
	t = lm_asprintf("--outdir=%s", outdir);
	strv_push(&v, &n, &cap, t);
	free(t);
	if (metafile) {
		t = lm_asprintf("--metafile=%s", metafile);
		strv_push(&v, &n, &cap, t);
		free(t);
	}
	return v;
}

char *bundle_find_esbuild(const char *const *projects, size_t nprojects, const char *env, const char *path,
			  int (*exists)(const char *file))
{
	for (size_t i = 0; i < nprojects; i++) {
		char *c = lm_asprintf("%s/node_modules/.bin/esbuild", projects[i]);
		if (exists(c))
			return c;
		free(c);
	}
	if (env && *env)
		return lm_xstrdup(env);
	for (const char *p = path; p && *p;) {
		const char *e = strchr(p, ':');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l) {
			char *c = lm_asprintf("%.*s/esbuild", (int)l, p);
			if (exists(c))
				return c;
			free(c);
		}
		p = e ? e + 1 : NULL;
	}
	return NULL;
}

int bundle_map_rebase(const char *map, size_t len, const char *prefix, const char *repl, char **out,
		      size_t *outlen)
{
	json_error_t je;
	json_t *root = json_loadb(map, len, 0, &je), *src;
	size_t pl = strlen(prefix);
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return -1;
	}
	src = json_object_get(root, "sources");
	for (size_t i = 0; json_is_array(src) && i < json_array_size(src); i++) {
		const char *s = json_string_value(json_array_get(src, i));
		if (s && strncmp(s, prefix, pl) == 0) {
			char *t = lm_asprintf("%s%s", repl, s + pl);
			json_array_set_new(src, i, json_string(t));
			free(t);
		}
	}
	*out = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
	json_decref(root);
	if (!*out)
		return -1;
	*outlen = strlen(*out);
	return 0;
}

/* ---- the scan of node_modules ---- */

struct scan {
	const char *root; /* the project ("from"), absolute */
	struct bundle_pkg *v;
	size_t n, cap;
};

/* The names in dir, sorted, without "." and "..". */
static int list_sorted(const char *dir, char ***names, size_t *n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t cap = 0;
	*names = NULL;
	*n = 0;
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			strv_push(names, n, &cap, de->d_name);
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof(**names), cmp_str);
	return 0;
}

/* The first .node file or binding.gyp under dir (not in its node_modules), relative. */
static char *find_native(const char *dir, const char *rel, int depth)
{
	char **names = NULL, *found = NULL;
	size_t n = 0;
	if (depth > NATIVE_DEPTH || list_sorted(dir, &names, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !found; i++) {
		char *p = lm_path_join(dir, names[i]);
		struct stat st;
		if (lstat(p, &st) == 0) {
			char *r = *rel ? lm_asprintf("%s/%s", rel, names[i]) : lm_xstrdup(names[i]);
			if (S_ISREG(st.st_mode) && (lm_str_endswith(names[i], ".node") || strcmp(names[i], "binding.gyp") == 0))
				found = lm_xstrdup(r);
			else if (S_ISDIR(st.st_mode) && !(depth == 0 && strcmp(names[i], "node_modules") == 0))
				found = find_native(p, r, depth + 1);
			free(r);
		}
		free(p);
	}
	free_strv(names, n);
	return found;
}

static void json_names(json_t *obj, char ***v, size_t *n, size_t *cap)
{
	const char *k;
	json_t *x;
	if (!json_is_object(obj))
		return;
	json_object_foreach(obj, k, x) {
		(void)x;
		strv_push(v, n, cap, k);
	}
}

static void scan_nm(struct scan *s, const char *rel, int depth);

static void scan_pkg(struct scan *s, const char *rel, const char *dirname_name, int depth)
{
	char *abs = lm_path_join(s->root, rel), *pj = lm_path_join(abs, "package.json"), *buf = NULL;
	size_t len = 0, cap_o = 0, cap_d = 0;
	struct lm_err e = LM_ERR_INIT;
	struct bundle_pkg p = { 0 };
	json_t *root = NULL;
	struct stat st;
	if (stat(abs, &st) < 0 || !S_ISDIR(st.st_mode) || lm_read_file(pj, PKG_JSON_MAX, &buf, &len, &e) < 0)
		goto out;
	root = json_loadb(buf, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	{
		const char *nm = json_string_value(json_object_get(root, "name"));
		p.name = lm_xstrdup(nm && *nm ? nm : dirname_name);
	}
	p.dir = lm_xstrdup(rel);
	p.os_cpu = json_object_get(root, "os") != NULL || json_object_get(root, "cpu") != NULL;
	json_names(json_object_get(root, "optionalDependencies"), &p.optional, &p.noptional, &cap_o);
	json_names(json_object_get(root, "dependencies"), &p.deps, &p.ndeps, &cap_d);
	json_names(json_object_get(root, "optionalDependencies"), &p.deps, &p.ndeps, &cap_d);
	json_names(json_object_get(root, "peerDependencies"), &p.deps, &p.ndeps, &cap_d);
	p.native = find_native(abs, "", 0);
	lm_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
	s->v[s->n++] = p;
	memset(&p, 0, sizeof(p));
	{
		char *nm = lm_asprintf("%s/node_modules", rel);
		scan_nm(s, nm, depth + 1);
		free(nm);
	}
out:
	bundle_pkg_release(&p);
	json_decref(root);
	lm_err_release(&e);
	free(buf);
	free(pj);
	free(abs);
}

static void scan_nm(struct scan *s, const char *rel, int depth)
{
	char *abs = lm_path_join(s->root, rel), **names = NULL;
	size_t n = 0;
	if (depth > 32 || list_sorted(abs, &names, &n) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (names[i][0] == '.')
			continue;
		if (names[i][0] == '@') {
			char *srel = lm_asprintf("%s/%s", rel, names[i]), *sabs = lm_path_join(s->root, srel), **sub = NULL;
			size_t ns = 0;
			if (list_sorted(sabs, &sub, &ns) == 0)
				for (size_t k = 0; k < ns; k++) {
					char *prel = lm_asprintf("%s/%s", srel, sub[k]), *nm = lm_asprintf("%s/%s", names[i], sub[k]);
					if (sub[k][0] != '.')
						scan_pkg(s, prel, nm, depth);
					free(prel);
					free(nm);
				}
			free_strv(sub, ns);
			free(srel);
			free(sabs);
			continue;
		}
		char *prel = lm_asprintf("%s/%s", rel, names[i]);
		scan_pkg(s, prel, names[i], depth);
		free(prel);
	}
out:
	free_strv(names, n);
	free(abs);
}

/* Like strchr, the result is not const when the caller's array is not. */
static struct bundle_pkg *pkg_by_dir(const struct bundle_pkg *v, size_t n, const char *dir)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].dir, dir) == 0)
			return (struct bundle_pkg *)&v[i];
	return NULL;
}

/* The package directory a file under node_modules belongs to ("node_modules/a/x.js" ->
 * "node_modules/a"), or NULL. Caller frees. */
static char *pkg_dir_of_file(const char *path)
{
	const char *p = path, *last = NULL, *q;
	while ((q = strstr(p, "node_modules/"))) {
		if (q == path || q[-1] == '/')
			last = q;
		p = q + 1;
	}
	if (!last)
		return NULL;
	q = last + strlen("node_modules/");
	if (*q == '@') {
		q = strchr(q, '/');
		if (!q)
			return NULL;
		q++;
	}
	q = strchr(q, '/');
	if (!q)
		return NULL;
	char *r = lm_xmalloc((size_t)(q - path) + 1);
	memcpy(r, path, (size_t)(q - path));
	r[q - path] = '\0';
	return r;
}

/* Node's lookup of package name from the package at dir: dir/node_modules/name, then
 * up through each enclosing node_modules, then the project's. */
static struct bundle_pkg *resolve_from(const struct bundle_pkg *v, size_t n, const char *dir, const char *name)
{
	char *cur = lm_xstrdup(dir);
	struct bundle_pkg *found = NULL;
	for (;;) {
		char *c = lm_asprintf("%s/node_modules/%s", cur, name);
		found = pkg_by_dir(v, n, c);
		free(c);
		if (found)
			break;
		char *cut = NULL, *p = cur, *q;
		while ((q = strstr(p, "/node_modules/"))) {
			cut = q;
			p = q + 1;
		}
		if (!cut)
			break;
		*cut = '\0';
	}
	free(cur);
	if (!found) {
		char *c = lm_asprintf("node_modules/%s", name);
		found = pkg_by_dir(v, n, c);
		free(c);
	}
	return found;
}

void bundle_closure(const struct bundle_pkg *v, size_t n, unsigned char *take)
{
	size_t *queue = lm_xcalloc(n + 1, sizeof(*queue)), qn = 0;
	for (size_t i = 0; i < n; i++)
		if (take[i])
			queue[qn++] = i;
	for (size_t q = 0; q < qn; q++) {
		const struct bundle_pkg *p = &v[queue[q]];
		for (size_t k = 0; k < p->ndeps; k++) {
			const struct bundle_pkg *d = resolve_from(v, n, p->dir, p->deps[k]);
			if (d && !take[d - v]) {
				take[d - v] = 1;
				queue[qn++] = (size_t)(d - v);
			}
		}
	}
	free(queue);
}

/* ---- running esbuild ---- */

static int can_exec(const char *f)
{
	struct stat st;
	return stat(f, &st) == 0 && S_ISREG(st.st_mode) && access(f, X_OK) == 0;
}

struct esbuild_args {
	char **argv;
	const char *cwd;
};

/* In the child: stdin from /dev/null, stdout to stderr (esbuild's messages are the
 * user's to read), then esbuild. */
static void esbuild_child(void *ctx, int efd)
{
	const struct esbuild_args *a = ctx;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (chdir(a->cwd) < 0)
		lm_child_fail(efd, "run '%s': chdir '%s'", a->argv[0], a->cwd);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(2, 1) < 0)
		lm_child_fail(efd, "run '%s': standard streams", a->argv[0]);
	execve(a->argv[0], a->argv, environ);
	lm_child_fail(efd, "run '%s'", a->argv[0]);
}

static int run_esbuild(char **argv, const char *cwd, int *status, struct lm_err *err)
{
	struct esbuild_args a = { argv, cwd };
	struct lm_child ch;
	char msg[600];
	int got;
	if (lm_child_spawn(&ch, esbuild_child, &a, err) < 0 || (got = lm_child_wait(&ch, msg, sizeof(msg), status, err)) < 0)
		return -1;
	if (got)
		return lm_err_set(err, LM_E_IO, "%s", msg);
	return 0;
}

/* The relative path from directory a to directory b (both absolute, canonical), with a
 * trailing '/' ("" when equal). */
char *bundle_relpath(const char *a, const char *b)
{
	size_t i = 0, common = 0;
	const char *ra, *rb;
	char *r;
	while (a[i] && a[i] == b[i]) {
		if (a[i] == '/')
			common = i + 1;
		i++;
	}
	if (!a[i] && !b[i]) {
		ra = rb = "";
	} else if (!a[i] && b[i] == '/') { /* b is below a */
		ra = a + i;
		rb = b + i + 1;
	} else if (!b[i] && a[i] == '/') { /* a is below b */
		ra = a + i + 1;
		rb = b + i;
	} else {
		ra = a + common;
		rb = b + common;
	}
	r = lm_xstrdup("");
	for (const char *p = ra; p && *p;) {
		char *t = lm_asprintf("%s../", r);
		free(r);
		r = t;
		p = strchr(p, '/');
		if (p)
			p++;
	}
	if (*rb) {
		char *t = lm_asprintf("%s%s/", r, rb);
		free(r);
		r = t;
	}
	return r;
}

/* Every regular file under dir, relative, sorted (dir's node_modules left out). */
static void list_files(const char *dir, const char *rel, char ***v, size_t *n, size_t *cap)
{
	char **names = NULL;
	size_t nn = 0;
	if (list_sorted(dir, &names, &nn) < 0)
		return;
	for (size_t i = 0; i < nn; i++) {
		char *p = lm_path_join(dir, names[i]), *r = *rel ? lm_asprintf("%s/%s", rel, names[i]) : lm_xstrdup(names[i]);
		struct stat st;
		if (lstat(p, &st) == 0) {
			if (S_ISREG(st.st_mode))
				strv_push(v, n, cap, r);
			else if (S_ISDIR(st.st_mode) && !(!*rel && strcmp(names[i], "node_modules") == 0))
				list_files(p, r, v, n, cap);
		}
		free(p);
		free(r);
	}
	free_strv(names, nn);
}

/* Source maps name the temporary directory; make them relative to the project. */
static int rebase_maps(const char *outdir, const char *from, char *const *outputs, size_t n, struct lm_err *err)
{
	char *rout = realpath(outdir, NULL), *rfrom = realpath(from, NULL);
	int ret = -1;
	if (!rout || !rfrom) {
		lm_err_sys(err, "realpath '%s'", !rout ? outdir : from);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *path = NULL, *buf = NULL, *nb = NULL, *mapdir = NULL, *prefix = NULL, *repl = NULL;
		size_t len = 0, nlen = 0;
		int r = 0;
		if (!lm_str_endswith(outputs[i], ".map"))
			continue;
		path = lm_path_join(outdir, outputs[i]);
		{
			char *d = lm_path_dirname(outputs[i]);
			mapdir = strcmp(d, ".") == 0 ? lm_xstrdup(rout) : lm_path_join(rout, d);
			repl = strcmp(d, ".") == 0 ? lm_xstrdup("") : bundle_relpath(mapdir, rout);
			free(d);
		}
		prefix = bundle_relpath(mapdir, rfrom);
		r = lm_read_file(path, MAP_MAX, &buf, &len, err);
		if (r == 0 && bundle_map_rebase(buf, len, prefix, repl, &nb, &nlen) < 0)
			r = lm_err_set(err, LM_E_INPUT, "source map '%s' written by esbuild is not JSON", outputs[i]);
		if (r == 0)
			r = lm_write_file_atomic(path, nb, nlen, err);
		free(path);
		free(buf);
		free(nb);
		free(mapdir);
		free(prefix);
		free(repl);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	free(rout);
	free(rfrom);
	return ret;
}

/* What esbuild's metafile says: the packages bundled (pkg dirs of inputs), the input
 * files under node_modules, and the packages the outputs import as externals. */
struct meta {
	char **inputs; /* project-relative input files under node_modules */
	size_t ninputs, cap_i;
	char **ext; /* external package names imported, unique */
	size_t next, cap_e;
};

static void meta_release(struct meta *m)
{
	free_strv(m->inputs, m->ninputs);
	free_strv(m->ext, m->next);
	memset(m, 0, sizeof(*m));
}

static int meta_read(const char *file, struct meta *mt, struct lm_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	json_t *root = NULL, *x, *o;
	const char *k;
	struct lm_strset seen = LM_STRSET_INIT;
	if (lm_read_file(file, META_MAX, &buf, &len, err) < 0)
		return -1;
	root = json_loadb(buf, len, 0, NULL);
	free(buf);
	if (!json_is_object(root)) {
		json_decref(root);
		return lm_err_set(err, LM_E_INPUT, "esbuild's metafile is not JSON");
	}
	json_object_foreach(json_object_get(root, "inputs"), k, x) {
		(void)x;
		if (k[0] != '(' && k[0] != '<' && strstr(k, "node_modules/"))
			strv_push(&mt->inputs, &mt->ninputs, &mt->cap_i, k);
	}
	json_object_foreach(json_object_get(root, "outputs"), k, o) {
		json_t *imps = json_object_get(o, "imports");
		for (size_t i = 0; json_is_array(imps) && i < json_array_size(imps); i++) {
			json_t *im = json_array_get(imps, i);
			const char *p = json_string_value(json_object_get(im, "path"));
			char *name;
			if (!p || !json_is_true(json_object_get(im, "external")) || !(name = bundle_pkg_of_import(p)))
				continue;
			if (!lm_strset_has(&seen, name)) {
				lm_strset_add(&seen, name);
				strv_push(&mt->ext, &mt->next, &mt->cap_e, name);
			}
			free(name);
		}
	}
	lm_strset_release(&seen);
	json_decref(root);
	if (mt->ninputs)
		qsort(mt->inputs, mt->ninputs, sizeof(*mt->inputs), cmp_str);
	if (mt->next)
		qsort(mt->ext, mt->next, sizeof(*mt->ext), cmp_str);
	return 0;
}

static int is_js(const char *f)
{
	return lm_str_endswith(f, ".js") || lm_str_endswith(f, ".cjs") || lm_str_endswith(f, ".mjs");
}

/* Copies package p (without its node_modules) to outdir/p->dir. */
static int copy_pkg(const char *from, const char *outdir, const struct bundle_pkg *p, unsigned long long *bytes,
		    struct lm_err *err)
{
	static const char *const ex[] = { "/node_modules/" };
	struct tree_scan_opts so = { ex, 1, 0 };
	struct tree_select sel = { 0 };
	struct lm_tree t;
	char *src = lm_path_join(from, p->dir), *dest = lm_asprintf("/%s", p->dir);
	uint64_t files = 0, b = 0;
	int r;
	tree_init(&t);
	sel.copy = 1; /* hard links would change the sources' ctime (statcache.h) */
	r = tree_scan(&t, src, dest, &so, err);
	if (r == 0) {
		tree_finish(&t);
		tree_totals(&t, &files, &b);
		r = tree_materialize(&t, outdir, &sel, err);
	}
	*bytes += b;
	tree_release(&t);
	free(src);
	free(dest);
	return r;
}

int bundle_node_run(const struct bundle_node_spec *s, const char *layer, size_t idx, const char *from,
		    const char *project_dir, const char *outdir, const char *scratch, struct bundle_result *res,
		    struct lm_err *err)
{
	struct scan sc = { from, NULL, 0, 0 };
	struct meta mt = { 0 };
	char **ext = NULL, **argv = NULL, *metafile = lm_path_join(scratch, "esbuild-meta.json");
	size_t next = 0, cap_e = 0;
	unsigned char *take = NULL;
	int ret = -1;
	const char *field = "bundle.node";

	memset(res, 0, sizeof(*res));
	/* esbuild */
	{
		const char *projects[2] = { from, project_dir };
		size_t np = project_dir && strcmp(project_dir, from) ? 2 : 1;
		res->esbuild = bundle_find_esbuild(projects, np, getenv("LAMINA_ESBUILD"), getenv("PATH"), can_exec);
		if (!res->esbuild) {
			lm_err_set(err, LM_E_INPUT,
				   "esbuild not found (looked for '%s/node_modules/.bin/esbuild', $LAMINA_ESBUILD, PATH): "
				   "install it with 'npm install --save-dev esbuild'",
				   from);
			goto out;
		}
	}
	/* the entries */
	for (size_t i = 0; i < s->nentry; i++) {
		char *p = lm_path_join(from, s->entry[i]);
		struct stat st;
		int ok = stat(p, &st) == 0 && S_ISREG(st.st_mode);
		free(p);
		if (!ok) {
			char *q = lm_str_quote(s->entry[i], 200);
			lm_err_set(err, LM_E_INPUT, "entry[%zu] '%s' is not a file in '%s'", i, q, from);
			free(q);
			field = "bundle.node.entry";
			goto out;
		}
	}
	/* what stays external */
	scan_nm(&sc, "node_modules", 0);
	bundle_classify(sc.v, sc.n, s->external, s->nexternal);
	for (int run = 0;; run++) {
		struct lm_strset es = LM_STRSET_INIT;
		int wst = 0, again = 0;
		free_strv(ext, next);
		ext = NULL;
		next = cap_e = 0;
		for (size_t i = 0; i < s->nexternal; i++)
			if (!lm_strset_has(&es, s->external[i])) {
				lm_strset_add(&es, s->external[i]);
				strv_push(&ext, &next, &cap_e, s->external[i]);
			}
		for (size_t i = 0; i < sc.n; i++)
			if (sc.v[i].why != BUNDLE_IN && !lm_strset_has(&es, sc.v[i].name)) {
				lm_strset_add(&es, sc.v[i].name);
				strv_push(&ext, &next, &cap_e, sc.v[i].name);
			}
		lm_strset_release(&es);
		if (next)
			qsort(ext, next, sizeof(*ext), cmp_str);
		if (lm_rm_rf(outdir, err) < 0 || lm_mkdir_p(outdir, err) < 0)
			goto out;
		if (argv)
			for (char **a = argv; *a; a++)
				free(*a);
		free(argv);
		argv = bundle_esbuild_args(s, res->esbuild, ext, next, outdir, metafile);
		res->runs++;
		if (run_esbuild(argv, from, &wst, err) < 0)
			goto out;
		if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0) {
			char *q = lm_str_quote(s->entry[0], 200);
			if (WIFEXITED(wst))
				lm_err_set(err, LM_E_INPUT, "esbuild failed (exit status %d) bundling '%s'%s; its errors are above",
					   WEXITSTATUS(wst), q, s->nentry > 1 ? " and the other entries" : "");
			else
				lm_err_set(err, LM_E_INPUT, "esbuild was killed by signal %d bundling '%s'", WTERMSIG(wst), q);
			free(q);
			goto out;
		}
		meta_release(&mt);
		if (meta_read(metafile, &mt, err) < 0)
			goto out;
		/* a bundled package that reads its own files cannot stay bundled */
		for (size_t i = 0; i < mt.ninputs; i++) {
			char *pd = pkg_dir_of_file(mt.inputs[i]);
			struct bundle_pkg *p = pd ? pkg_by_dir(sc.v, sc.n, pd) : NULL;
			if (p && p->why == BUNDLE_IN && is_js(mt.inputs[i])) {
				char *path = lm_path_join(from, mt.inputs[i]), *buf = NULL;
				size_t len = 0;
				struct lm_err e2 = LM_ERR_INIT;
				if (lm_read_file(path, JS_MAX, &buf, &len, &e2) == 0 && bundle_js_reads_own_files(buf, len)) {
					/* every copy of the package by that name: --external goes by name */
					for (size_t k = 0; k < sc.n; k++)
						if (strcmp(sc.v[k].name, p->name) == 0 && sc.v[k].why == BUNDLE_IN) {
							sc.v[k].why = BUNDLE_WHY_OWNFILES;
							free(sc.v[k].detail);
							sc.v[k].detail = lm_xstrdup(mt.inputs[i] + strlen(pd) + 1);
						}
					again = 1;
				}
				lm_err_release(&e2);
				free(buf);
				free(path);
			}
			free(pd);
		}
		if (!again || run + 1 >= ESBUILD_RUNS_MAX)
			break;
	}
	/* the report: outputs and what was bundled */
	{
		size_t c1 = 0;
		list_files(outdir, "", &res->outputs, &res->noutputs, &c1);
		if (s->sourcemap && rebase_maps(outdir, from, res->outputs, res->noutputs, err) < 0)
			goto out;
	}
	{
		struct lm_strset bs = LM_STRSET_INIT;
		size_t c2 = 0;
		for (size_t i = 0; i < mt.ninputs; i++) {
			char *pd = pkg_dir_of_file(mt.inputs[i]);
			struct bundle_pkg *p = pd ? pkg_by_dir(sc.v, sc.n, pd) : NULL;
			if (p && !lm_strset_has(&bs, p->name)) {
				lm_strset_add(&bs, p->name);
				strv_push(&res->bundled, &res->nbundled, &c2, p->name);
			}
			free(pd);
		}
		lm_strset_release(&bs);
		if (res->nbundled)
			qsort(res->bundled, res->nbundled, sizeof(*res->bundled), cmp_str);
	}
	/* the externals the bundle imports, with their closure, into node_modules */
	take = lm_xcalloc(sc.n + 1, 1);
	{
		size_t c3 = 0;
		for (size_t i = 0; i < mt.next; i++) {
			char *d = lm_asprintf("node_modules/%s", mt.ext[i]);
			struct bundle_pkg *p = pkg_by_dir(sc.v, sc.n, d);
			free(d);
			if (!p) {
				if (bundle_user_external(mt.ext[i], s->external, s->nexternal)) {
					lm_err_set(err, LM_E_INPUT, "the bundle imports '%s', named in \"external\", but '%s' has no "
								    "node_modules/%s",
						   mt.ext[i], from, mt.ext[i]);
					field = "bundle.node.external";
					goto out;
				}
				continue; /* esbuild's own externals (an optional require in a try) */
			}
			{
				char *line = p->detail ? lm_asprintf("%s (%s: %s)", p->name, bundle_why_text(p->why), p->detail)
						       : lm_asprintf("%s (%s)", p->name, bundle_why_text(p->why));
				strv_push(&res->external, &res->nexternal, &c3, line);
				free(line);
			}
			take[p - sc.v] = 1;
		}
		bundle_closure(sc.v, sc.n, take);
	}
	for (size_t i = 0; i < sc.n; i++)
		if (take[i]) {
			if (copy_pkg(from, outdir, &sc.v[i], &res->copied_bytes, err) < 0)
				goto out;
			res->copied++;
		}
	ret = 0;
out:
	if (ret < 0) {
		char *w = lm_asprintf("layer '%s' (layers[%zu].%s)", layer, idx, field);
		lm_err_wrap(err, "%s", w);
		free(w);
	}
	if (argv)
		for (char **a = argv; *a; a++)
			free(*a);
	free(argv);
	free_strv(ext, next);
	meta_release(&mt);
	for (size_t i = 0; i < sc.n; i++)
		bundle_pkg_release(&sc.v[i]);
	free(sc.v);
	free(take);
	free(metafile);
	return ret;
}

static char *join_list(char *const *v, size_t n, const char *sep)
{
	char *r = lm_xstrdup("");
	for (size_t i = 0; i < n; i++) {
		char *t = lm_asprintf("%s%s%s", r, i ? sep : "", v[i]);
		free(r);
		r = t;
	}
	return r;
}

char *bundle_report_text(const char *layer, const struct bundle_result *res)
{
	char hb[32];
	char *outs = join_list(res->outputs, res->noutputs, ", ");
	char *b = join_list(res->bundled, res->nbundled, ", ");
	char *e = join_list(res->external, res->nexternal, "\n    ");
	char *r = lm_asprintf("bundle '%s': esbuild (%s) wrote %s%s\n"
			      "  bundled: %zu package%s%s%s\n"
			      "  external: %zu package%s%s%s\n"
			      "  node_modules beside the bundle: %zu package%s (the externals and their dependencies), %s",
			      layer, res->esbuild, outs, res->runs > 1 ? " (esbuild ran again with the packages that read their own files external)" : "",
			      res->nbundled, res->nbundled == 1 ? "" : "s", res->nbundled ? ": " : "", b, res->nexternal,
			      res->nexternal == 1 ? "" : "s", res->nexternal ? "\n    " : "", e, res->copied,
			      res->copied == 1 ? "" : "s", lm_human_bytes(res->copied_bytes, hb, sizeof(hb)));
	free(outs);
	free(b);
	free(e);
	return r;
}
