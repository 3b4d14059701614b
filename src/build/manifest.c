#include "build/manifest.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <errno.h>

#include <jansson.h>

#include "image/compress.h"
#include "image/oci.h"
#include "common/alloc.h"
#include "common/buf.h"
#include "common/fs.h"
#include "common/str.h"
#include "registry/ref.h"

#define MANIFEST_MAX (1u << 20)

struct ctx {
	const char *name; /* file name for messages */
	const char *buf;
	size_t len;
	const char *dir;
	struct lm_err *err;
};

static const char *const top_keys[] = { "$schema", "base", "platform", "layers", "config", "tag", "prune",
					 "precompile", "verify", "zip", "compression", NULL };
static const char *const layer_keys[] = { "name", "from", "to", "exclude", "prune", "bundle", NULL };
static const char *const bundle_keys[] = { "node", NULL };
static const char *const bundle_node_keys[] = { "entry", "external", "format", "minify", "sourcemap", "target", NULL };
static const char *const config_keys[] = { "cmd", "entrypoint", "env", "workdir", "labels", NULL };
static const char *const prune_keys[] = { "presets", "remove", "keep", "strip", NULL };
static const char *const precompile_keys[] = { "python", "node", NULL };
static const char *const python_keys[] = { "invalidation", "optimize", "sourceless", "jobs", NULL };
static const char *const node_keys[] = { "compileCache", "dir", "memorySizes", "nodeArgs", "entries", "uids", NULL };
static const char *const verify_keys[] = { "imports", "handler", "runtime", "env", NULL };
static const char *const zip_keys[] = { "kind", "layers", "level", NULL };
static const char *const compression_keys[] = { "level", NULL };

int manifest_check_sources(const struct lm_manifest *m, struct lm_err *err)
{
	struct lm_buf all;
	int code = 0;
	buf_init(&all, 0);
	for (size_t i = 0; i < m->nlayers; i++) {
		const struct mf_layer *l = &m->layers[i];
		struct stat st;
		char *line = NULL;
		int bad = stat(l->from, &st) != 0 || (S_ISDIR(st.st_mode) && access(l->from, R_OK | X_OK) != 0);
		if (bad) {
			line = lm_asprintf("%s: layer '%s' (layers[%zu].from): source '%s': %s", m->path, l->name, i,
					   l->from, strerror(errno));
			code = code ? code : LM_E_IO;
		} else if (!S_ISDIR(st.st_mode)) {
			line = lm_asprintf("%s: layer '%s' (layers[%zu].from): source '%s' is not a directory", m->path,
					   l->name, i, l->from);
			code = code ? code : LM_E_INPUT;
		}
		if (line) {
			if (all.len)
				buf_appends(&all, "\n");
			buf_appends(&all, line);
			free(line);
		}
	}
	if (code) {
		size_t n;
		char *msg = buf_steal(&all, &n);
		lm_err_set(err, code, "%s", msg);
		free(msg);
		return -1;
	}
	buf_release(&all);
	return 0;
}

long manifest_find_layer(const struct lm_manifest *m, const char *name, const char *what, struct lm_err *err)
{
	const char **names = lm_xcalloc(m->nlayers + 1, sizeof(*names)), *near;
	for (size_t j = 0; j < m->nlayers; j++) {
		if (strcmp(m->layers[j].name, name) == 0) {
			free(names);
			return (long)j;
		}
		names[j] = m->layers[j].name;
	}
	near = lm_str_nearest(name, names, m->nlayers);
	if (near)
		lm_err_set(err, LM_E_USAGE, "%s '%s': %s has no layer of that name (did you mean '%s'?)", what, name,
			   m->path, near);
	else
		lm_err_set(err, LM_E_USAGE, "%s '%s': %s has no layer of that name", what, name, m->path);
	free(names);
	return -1;
}

size_t manifest_edit_distance(const char *a, const char *b)
{
	return lm_edit_distance(a, b);
}

/* Finds "key": in the source text to give a line:column for messages. Only a key that
 * occurs once is located: with several ("to" in two layers) the first match may well
 * be the wrong one, and no position is better than a wrong one. */
static void locate_key(const struct ctx *c, const char *key, int *line, int *col)
{
	char *needle = lm_asprintf("\"%s\"", key);
	size_t nl = strlen(needle);
	int found = 0;
	*line = *col = 0;
	for (size_t i = 0; c->buf && i + nl <= c->len; i++) {
		if (memcmp(c->buf + i, needle, nl) != 0)
			continue;
		size_t k = i + nl;
		while (k < c->len && (c->buf[k] == ' ' || c->buf[k] == '\t' || c->buf[k] == '\r' || c->buf[k] == '\n'))
			k++;
		if (k >= c->len || c->buf[k] != ':')
			continue;
		int l = 1, cl = 1;
		for (size_t j = 0; j < i; j++) {
			if (c->buf[j] == '\n') {
				l++;
				cl = 1;
			} else {
				cl++;
			}
		}
		if (found++) {
			*line = *col = 0;
			break;
		}
		*line = l;
		*col = cl;
	}
	free(needle);
}

/* Error about a field: "FILE:LINE:COL: where.key: message" (position when findable). */
static int field_err(const struct ctx *c, const char *where, const char *key, const char *fmt, ...)
	LM_PRINTF(4, 5);

static int field_err(const struct ctx *c, const char *where, const char *key, const char *fmt, ...)
{
	va_list ap;
	char *msg, *path;
	int line = 0, col = 0;
	va_start(ap, fmt);
	msg = lm_vasprintf(fmt, ap);
	va_end(ap);
	if (key)
		locate_key(c, key, &line, &col);
	path = key ? (*where ? lm_asprintf("%s.%s", where, key) : lm_xstrdup(key)) : lm_xstrdup(where);
	if (line)
		lm_err_set(c->err, LM_E_INPUT, "%s:%d:%d: %s: %s", c->name, line, col, path, msg);
	else
		lm_err_set(c->err, LM_E_INPUT, "%s: %s: %s", c->name, path, msg);
	free(msg);
	free(path);
	return -1;
}

static int check_keys(const struct ctx *c, json_t *obj, const char *where, const char *const *known)
{
	const char *key;
	json_t *v;
	int bad = 0;
	json_object_foreach(obj, key, v) {
		const char *best = NULL;
		size_t bestd = (size_t)-1;
		int ok = 0;
		for (const char *const *k = known; *k; k++) {
			size_t d;
			if (strcmp(*k, key) == 0) {
				ok = 1;
				break;
			}
			d = manifest_edit_distance(*k, key);
			if (d < bestd) {
				bestd = d;
				best = *k;
			}
		}
		if (ok)
			continue;
		/* every unknown key of the object, one line each */
		{
			char *prev = bad ? lm_xstrdup(c->err->msg) : NULL, *joined;
			if (best && bestd <= 2 && bestd < strlen(key))
				field_err(c, where, key, "unknown field (did you mean '%s'?)", best);
			else
				field_err(c, where, key, "unknown field");
			if (prev) {
				joined = lm_asprintf("%s\n%s", prev, c->err->msg);
				lm_err_set(c->err, LM_E_INPUT, "%s", joined);
				free(joined);
				free(prev);
			}
			bad = 1;
		}
	}
	return bad ? -1 : 0;
}

static int get_string(const struct ctx *c, json_t *obj, const char *where, const char *key, char **out)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return field_err(c, where, key, "must be a string");
	if (!*json_string_value(v))
		return field_err(c, where, key, "must not be empty");
	*out = lm_xstrdup(json_string_value(v));
	return 0;
}

static int get_strv(const struct ctx *c, json_t *obj, const char *where, const char *key, char ***out, size_t *n,
		    int allow_scalar)
{
	json_t *v = json_object_get(obj, key);
	char **r;
	if (!v || json_is_null(v))
		return 0;
	if (allow_scalar && json_is_string(v)) {
		r = lm_xcalloc(2, sizeof(*r));
		r[0] = lm_xstrdup(json_string_value(v));
		*out = r;
		*n = 1;
		return 0;
	}
	if (!json_is_array(v))
		return field_err(c, where, key, "must be an array of strings");
	r = lm_xcalloc(json_array_size(v) + 1, sizeof(*r));
	for (size_t i = 0; i < json_array_size(v); i++) {
		json_t *s = json_array_get(v, i);
		if (!json_is_string(s)) {
			for (size_t j = 0; j < i; j++)
				free(r[j]);
			free(r);
			return field_err(c, where, key, "element %zu must be a string", i);
		}
		r[i] = lm_xstrdup(json_string_value(s));
	}
	*out = r;
	*n = json_array_size(v);
	return 0;
}

static int get_kv(const struct ctx *c, json_t *obj, const char *where, const char *key, struct mf_kv **out,
		  size_t *n)
{
	json_t *v = json_object_get(obj, key), *val;
	const char *k;
	size_t i = 0;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v))
		return field_err(c, where, key, "must be an object of strings");
	*out = lm_xcalloc(json_object_size(v) + 1, sizeof(**out));
	json_object_foreach(v, k, val) {
		char *w = *where ? lm_asprintf("%s.%s", where, key) : lm_xstrdup(key);
		if (!json_is_string(val)) {
			*n = i;
			field_err(c, w, k, "must be a string (write numbers and booleans in quotes)");
			free(w);
			return -1;
		}
		if (!*k || strchr(k, '=')) {
			*n = i;
			field_err(c, w, k, "is not a valid name");
			free(w);
			return -1;
		}
		free(w);
		(*out)[i].key = lm_xstrdup(k);
		(*out)[i].value = lm_xstrdup(json_string_value(val));
		i++;
	}
	*n = i;
	return 0;
}

static int get_bool(const struct ctx *c, json_t *obj, const char *where, const char *key, int *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_boolean(v))
		return field_err(c, where, key, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

static int get_int(const struct ctx *c, json_t *obj, const char *where, const char *key, int lo, int hi, int *out)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return field_err(c, where, key, "must be an integer from %d to %d", lo, hi);
	*out = (int)json_integer_value(v);
	return 0;
}

static int is_abs_path(const char *p)
{
	return p && p[0] == '/';
}

static int parse_prune(const struct ctx *c, json_t *obj, const char *where, struct prune_spec *p)
{
	json_t *v;
	char *w = *where ? lm_asprintf("%s.prune", where) : lm_xstrdup("prune");
	int r = -1;
	if (!json_is_object(obj)) {
		field_err(c, where, "prune", "must be an object");
		goto out;
	}
	p->set = 1;
	if (check_keys(c, obj, w, prune_keys) < 0 || get_strv(c, obj, w, "presets", &p->presets, &p->npresets, 0) < 0 ||
	    get_strv(c, obj, w, "remove", &p->remove, &p->nremove, 0) < 0 ||
	    get_strv(c, obj, w, "keep", &p->keep, &p->nkeep, 0) < 0)
		goto out;
	for (size_t i = 0; i < p->npresets; i++) {
		if (!prune_preset_known(p->presets[i])) {
			char *list = lm_xstrdup("");
			for (const char *const *n = prune_preset_names(); *n; n++) {
				char *t = lm_asprintf("%s%s%s", list, *list ? ", " : "", *n);
				free(list);
				list = t;
			}
			field_err(c, w, "presets", "unknown preset '%s' (known: %s)", p->presets[i],
				  *list ? list : "none");
			free(list);
			goto out;
		}
	}
	v = json_object_get(obj, "strip");
	if (v) {
		const char *s = json_string_value(v);
		p->strip_set = 1;
		if (s && strcmp(s, "debug") == 0)
			p->strip = PRUNE_STRIP_DEBUG;
		else if (s && strcmp(s, "none") == 0)
			p->strip = PRUNE_STRIP_NONE;
		else if (s && strcmp(s, "unneeded") == 0)
			p->strip = PRUNE_STRIP_UNNEEDED;
		else {
			field_err(c, w, "strip", "must be \"debug\", \"none\" or \"unneeded\"");
			goto out;
		}
	}
	r = 0;
out:
	free(w);
	return r;
}

/* "bundle": {"node": {...}} of layer where ("layers[N]"). */
static int parse_bundle(const struct ctx *c, json_t *obj, const char *where, struct bundle_node_spec *b)
{
	char *w = lm_asprintf("%s.bundle", where), *wn = lm_asprintf("%s.bundle.node", where);
	json_t *n, *f;
	int r = -1;
	if (!json_is_object(obj)) {
		field_err(c, where, "bundle", "must be an object such as {\"node\": {\"entry\": [\"index.js\"]}}");
		goto out;
	}
	if (check_keys(c, obj, w, bundle_keys) < 0)
		goto out;
	n = json_object_get(obj, "node");
	if (!n) {
		field_err(c, where, "bundle", "needs \"node\" (the one bundler lamina runs: esbuild)");
		goto out;
	}
	if (!json_is_object(n)) {
		field_err(c, w, "node", "must be an object with \"entry\"");
		goto out;
	}
	b->set = 1;
	if (check_keys(c, n, wn, bundle_node_keys) < 0 || get_strv(c, n, wn, "entry", &b->entry, &b->nentry, 1) < 0 ||
	    get_strv(c, n, wn, "external", &b->external, &b->nexternal, 0) < 0 ||
	    get_bool(c, n, wn, "minify", &b->minify) < 0 || get_bool(c, n, wn, "sourcemap", &b->sourcemap) < 0 ||
	    get_string(c, n, wn, "target", &b->target) < 0)
		goto out;
	f = json_object_get(n, "format");
	if (f) {
		const char *s = json_string_value(f);
		if (s && strcmp(s, "cjs") == 0)
			b->format = BUNDLE_CJS;
		else if (s && strcmp(s, "esm") == 0)
			b->format = BUNDLE_ESM;
		else {
			field_err(c, wn, "format", "must be \"cjs\" or \"esm\"");
			goto out;
		}
	}
	if (!b->entry) {
		field_err(c, wn, NULL, "missing \"entry\" (the app's entry files, relative to the layer's \"from\")");
		goto out;
	}
	{
		const char *field = NULL;
		size_t bad = 0;
		struct lm_err e2 = LM_ERR_INIT;
		if (bundle_spec_check(b, &field, &bad, &e2) < 0) {
			if (strcmp(field, "target") == 0 || !b->nentry)
				field_err(c, wn, field, "%s", e2.msg);
			else
				field_err(c, wn, field, "element %zu: %s", bad, e2.msg);
			lm_err_release(&e2);
			goto out;
		}
	}
	r = 0;
out:
	free(w);
	free(wn);
	return r;
}

static int parse_layer(const struct ctx *c, json_t *obj, size_t idx, struct mf_layer *l)
{
	char *w = lm_asprintf("layers[%zu]", idx);
	char *from = NULL;
	int r = -1;
	json_t *p;
	if (!json_is_object(obj)) {
		field_err(c, w, NULL, "must be an object with \"from\" and \"to\"");
		goto out;
	}
	if (check_keys(c, obj, w, layer_keys) < 0 || get_string(c, obj, w, "name", &l->name) < 0 ||
	    get_string(c, obj, w, "from", &from) < 0 || get_string(c, obj, w, "to", &l->to) < 0 ||
	    get_strv(c, obj, w, "exclude", &l->exclude, &l->nexclude, 0) < 0)
		goto out;
	if (!from) {
		field_err(c, w, NULL, "missing \"from\" (the directory to copy into the image)");
		goto out;
	}
	l->from = is_abs_path(from) ? lm_xstrdup(from) : lm_path_join(c->dir, from);
	if (!l->name)
		l->name = lm_asprintf("layer%zu", idx + 1);
	if (!l->to)
		l->to = lm_xstrdup("/var/task");
	if (!is_abs_path(l->to)) {
		field_err(c, w, "to", "must be an absolute path in the image, such as \"/var/task\"");
		goto out;
	}
	{
		char *n = tree_norm_path(l->to);
		if (!n) {
			field_err(c, w, "to", "must be a directory below '/' without '..'");
			goto out;
		}
		free(n);
	}
	p = json_object_get(obj, "prune");
	if (p && parse_prune(c, p, w, &l->prune) < 0)
		goto out;
	p = json_object_get(obj, "bundle");
	if (p && parse_bundle(c, p, w, &l->bundle) < 0)
		goto out;
	r = 0;
out:
	free(from);
	free(w);
	return r;
}

static int parse_config(const struct ctx *c, json_t *obj, struct mf_config *cf)
{
	json_t *ep;
	if (!json_is_object(obj))
		return field_err(c, "", "config", "must be an object");
	if (check_keys(c, obj, "config", config_keys) < 0 ||
	    get_strv(c, obj, "config", "cmd", &cf->cmd, &cf->ncmd, 1) < 0 ||
	    get_string(c, obj, "config", "workdir", &cf->workdir) < 0 ||
	    get_kv(c, obj, "config", "env", &cf->env, &cf->nenv) < 0 ||
	    get_kv(c, obj, "config", "labels", &cf->labels, &cf->nlabels) < 0)
		return -1;
	ep = json_object_get(obj, "entrypoint");
	if (ep) {
		cf->entrypoint_given = 1;
		if (get_strv(c, obj, "config", "entrypoint", &cf->entrypoint, &cf->nentrypoint, 1) < 0)
			return -1;
		if (cf->entrypoint && cf->nentrypoint && !is_abs_path(cf->entrypoint[0]))
			return field_err(c, "config", "entrypoint",
					 "must start with an absolute path (Lambda does not search PATH)");
	}
	if (cf->workdir && !is_abs_path(cf->workdir))
		return field_err(c, "config", "workdir", "must be an absolute path");
	return 0;
}

/* A JSON array of integers from lo to hi. */
static int get_intv(const struct ctx *c, json_t *obj, const char *where, const char *key, long lo, long hi, long **out,
		    size_t *n)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return 0;
	if (!json_is_array(v) || json_array_size(v) == 0)
		return field_err(c, where, key, "must be a non-empty array of integers");
	*out = lm_xcalloc(json_array_size(v), sizeof(**out));
	*n = json_array_size(v);
	for (size_t i = 0; i < *n; i++) {
		json_t *x = json_array_get(v, i);
		if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
			return field_err(c, where, key, "element %zu must be an integer from %ld to %ld", i, lo, hi);
		(*out)[i] = (long)json_integer_value(x);
	}
	return 0;
}

static int no_tab_nl(const char *s)
{
	return *s && !strpbrk(s, "\t\r\n");
}

static int parse_precompile_node(const struct ctx *c, json_t *v, struct precompile_node_spec *s)
{
	const char *w = "precompile.node";
	json_t *args;
	long *mem = NULL;
	size_t nmem = 0;
	s->set = 1;
	s->compile_cache = 1;
	if (json_is_boolean(v)) {
		s->compile_cache = json_is_true(v);
		return 0;
	}
	if (!json_is_object(v))
		return field_err(c, "precompile", "node", "must be an object, true or false");
	if (check_keys(c, v, w, node_keys) < 0 || get_bool(c, v, w, "compileCache", &s->compile_cache) < 0 ||
	    get_string(c, v, w, "dir", &s->dir) < 0 || get_strv(c, v, w, "entries", &s->entries, &s->nentries, 0) < 0 ||
	    get_intv(c, v, w, "uids", 0, 2147483647L, &s->uids, &s->nuids) < 0 ||
	    get_intv(c, v, w, "memorySizes", PRECOMPILE_NODE_MEMORY_MIN, PRECOMPILE_NODE_MEMORY_MAX, &mem, &nmem) < 0) {
		free(mem);
		return -1;
	}
	if (nmem) {
		s->memory_sizes = lm_xcalloc(nmem, sizeof(*s->memory_sizes));
		for (size_t i = 0; i < nmem; i++)
			s->memory_sizes[i] = (int)mem[i];
		s->nmemory_sizes = nmem;
	}
	free(mem);
	if (s->dir) {
		char *n = s->dir[0] == '/' ? tree_norm_path(s->dir) : NULL;
		free(n);
		if (!n || strpbrk(s->dir, "\t\r\n"))
			return field_err(c, w, "dir", "must be an absolute path below '/' without '..', such as \"%s\"",
					 PRECOMPILE_NODE_DIR);
	}
	for (size_t i = 0; i < s->nentries; i++)
		if (!no_tab_nl(s->entries[i]))
			return field_err(c, w, "entries", "element %zu must be a non-empty name or path without tabs or newlines",
					 i);
	args = json_object_get(v, "nodeArgs");
	if (args) {
		if (!json_is_array(args) || json_array_size(args) == 0)
			return field_err(c, w, "nodeArgs", "must be a non-empty array of flag lists, such as [[\"--expose-gc\"]]");
		s->node_args = lm_xcalloc(json_array_size(args), sizeof(*s->node_args));
		s->nnode_args = json_array_size(args);
		for (size_t i = 0; i < s->nnode_args; i++) {
			json_t *set = json_array_get(args, i);
			if (!json_is_array(set))
				return field_err(c, w, "nodeArgs", "element %zu must be an array of flags (strings)", i);
			s->node_args[i].v = lm_xcalloc(json_array_size(set) + 1, sizeof(char *));
			for (size_t j = 0; j < json_array_size(set); j++) {
				const char *f = json_string_value(json_array_get(set, j));
				if (!f || f[0] != '-' || !no_tab_nl(f))
					return field_err(c, w, "nodeArgs", "element %zu.%zu must be a flag starting with '-'", i, j);
				s->node_args[i].v[j] = lm_xstrdup(f);
				s->node_args[i].n = j + 1;
			}
		}
	}
	return 0;
}

static int parse_precompile(const struct ctx *c, json_t *obj, struct precompile_spec *p,
			    struct precompile_node_spec *pn)
{
	json_t *py, *nd;
	if (json_is_false(obj)) {
		p->set = 1;
		p->enabled = 0;
		return 0;
	}
	if (!json_is_object(obj))
		return field_err(c, "", "precompile", "must be an object or false");
	if (check_keys(c, obj, "precompile", precompile_keys) < 0)
		return -1;
	nd = json_object_get(obj, "node");
	if (nd && parse_precompile_node(c, nd, pn) < 0)
		return -1;
	py = json_object_get(obj, "python");
	if (!py && nd)
		return 0; /* only "node": Python keeps its default */
	p->set = 1;
	p->enabled = 1;
	if (!py)
		return 0;
	if (json_is_false(py)) {
		p->enabled = 0;
		return 0;
	}
	if (json_is_true(py))
		return 0;
	if (!json_is_object(py))
		return field_err(c, "precompile", "python", "must be an object, true or false");
	if (check_keys(c, py, "precompile.python", python_keys) < 0 ||
	    get_int(c, py, "precompile.python", "optimize", 0, 2, &p->optimize) < 0 ||
	    get_bool(c, py, "precompile.python", "sourceless", &p->sourceless) < 0 ||
	    get_int(c, py, "precompile.python", "jobs", 0, 256, &p->jobs) < 0)
		return -1;
	{
		json_t *v = json_object_get(py, "invalidation");
		if (v) {
			const char *s = json_string_value(v);
			if (s && strcmp(s, "unchecked-hash") == 0)
				p->invalidation = PYC_UNCHECKED_HASH;
			else if (s && strcmp(s, "checked-hash") == 0)
				p->invalidation = PYC_CHECKED_HASH;
			else if (s && strcmp(s, "timestamp") == 0)
				p->invalidation = PYC_TIMESTAMP;
			else
				return field_err(c, "precompile.python", "invalidation",
						 "must be \"unchecked-hash\", \"checked-hash\" or \"timestamp\"");
		}
	}
	return 0;
}

static int parse_verify(const struct ctx *c, json_t *obj, struct verify_spec *v)
{
	if (!json_is_object(obj))
		return field_err(c, "", "verify", "must be an object");
	v->set = 1;
	v->handler = 1;
	char *rt = NULL;
	struct mf_kv *env = NULL;
	size_t nenv = 0;
	int r = 0;
	if (check_keys(c, obj, "verify", verify_keys) < 0 ||
	    get_strv(c, obj, "verify", "imports", &v->imports, &v->nimports, 0) < 0 ||
	    get_bool(c, obj, "verify", "handler", &v->handler) < 0 || get_string(c, obj, "verify", "runtime", &rt) < 0 ||
	    get_kv(c, obj, "verify", "env", &env, &nenv) < 0)
		r = -1;
	v->imports_set = json_object_get(obj, "imports") != NULL;
	if (r == 0 && rt && lm_runtime_parse(rt, &v->runtime) < 0)
		r = field_err(c, "verify", "runtime", "must be \"python\" or \"node\"");
	for (size_t i = 0; i < nenv; i++) {
		if (r == 0)
			verify_spec_setenv(v, env[i].key, env[i].value);
		free(env[i].key);
		free(env[i].value);
	}
	free(env);
	free(rt);
	return r;
}

/* "zip": { "kind": "function"|"layer", "layers": [names], "level": 0..9 }; after "layers". */
static int parse_zip(const struct ctx *c, json_t *obj, const struct lm_manifest *m, struct mf_zip *z)
{
	json_t *v;
	if (!json_is_object(obj))
		return field_err(c, "", "zip", "must be an object");
	z->set = 1;
	if (check_keys(c, obj, "zip", zip_keys) < 0 || get_int(c, obj, "zip", "level", 0, 9, &z->level) < 0 ||
	    get_strv(c, obj, "zip", "layers", &z->layers, &z->nlayers, 0) < 0)
		return -1;
	v = json_object_get(obj, "kind");
	if (v) {
		if (zip_kind_parse(json_string_value(v), &z->kind) < 0)
			return field_err(c, "zip", "kind", "must be \"function\" or \"layer\"");
		z->kind_set = 1;
	}
	if (z->layers && !z->nlayers)
		return field_err(c, "zip", "layers", "must name at least one layer (leave it out for every layer)");
	for (size_t i = 0; i < z->nlayers; i++) {
		const char *best = NULL;
		size_t bestd = (size_t)-1;
		int found = 0;
		for (size_t j = 0; j < i; j++)
			if (strcmp(z->layers[j], z->layers[i]) == 0)
				return field_err(c, "zip", "layers", "layer '%s' is named twice", z->layers[i]);
		for (size_t j = 0; j < m->nlayers && !found; j++) {
			size_t d = manifest_edit_distance(m->layers[j].name, z->layers[i]);
			found = d == 0;
			if (d < bestd) {
				bestd = d;
				best = m->layers[j].name;
			}
		}
		if (found)
			continue;
		if (best && bestd <= 2 && bestd < strlen(z->layers[i]))
			return field_err(c, "zip", "layers", "no layer named '%s' (did you mean '%s'?)", z->layers[i], best);
		return field_err(c, "zip", "layers", "no layer named '%s' in \"layers\"", z->layers[i]);
	}
	return 0;
}

static int parse_compression(const struct ctx *c, json_t *obj, int *level)
{
	if (!json_is_object(obj))
		return field_err(c, "", "compression", "must be an object");
	if (check_keys(c, obj, "compression", compression_keys) < 0 ||
	    get_int(c, obj, "compression", "level", GZ_LEVEL_MIN, GZ_LEVEL_MAX, level) < 0)
		return -1;
	return 0;
}

/* A tag such as "hello:latest" or "registry:5000/team/app:v1" (checked loosely here;
 * the registry module parses references fully when pushing). */

/* Moves the error just set into all (one line per error) and clears it. */
static void collect(const struct ctx *c, struct lm_buf *all, int *n)
{
	if (all->len)
		buf_appends(all, "\n");
	buf_appends(all, c->err->msg ? c->err->msg : "error");
	lm_err_release(c->err);
	(*n)++;
}

int manifest_parse(const char *buf, size_t len, const char *name, const char *dir, struct lm_manifest *m,
		   struct lm_err *err)
{
	struct ctx c = { name, buf, len, dir, err };
	json_error_t je;
	json_t *root, *v;
	struct lm_buf all;
	int r = -1, nerr = 0, layers_bad = 0, bad_layer = 0;
	buf_init(&all, 0);
	memset(m, 0, sizeof(*m));
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return lm_err_set(err, LM_E_INPUT, "%s:%d:%d: invalid JSON: %s", name, je.line, je.column, je.text);
	if (!json_is_object(root)) {
		lm_err_set(err, LM_E_INPUT, "%s: the manifest must be a JSON object", name);
		goto out;
	}
	m->path = lm_xstrdup(name);
	m->dir = lm_xstrdup(dir);
	/* Each part is checked on its own and every error is kept (one line each), so one
	 * run names them all; a part that failed is not looked at further. */
	if (check_keys(&c, root, "", top_keys) < 0)
		collect(&c, &all, &nerr);
	if (get_string(&c, root, "", "base", &m->base) < 0)
		collect(&c, &all, &nerr);
	if (get_string(&c, root, "", "platform", &m->platform) < 0)
		collect(&c, &all, &nerr);
	if (get_string(&c, root, "", "tag", &m->tag) < 0)
		collect(&c, &all, &nerr);
	if (!m->platform)
		m->platform = lm_xstrdup("linux/amd64");
	{
		struct oci_platform p;
		struct lm_err perr = LM_ERR_INIT;
		if (oci_platform_parse(m->platform, &p, &perr) < 0) {
			field_err(&c, "", "platform", "%s", perr.msg);
			lm_err_release(&perr);
			collect(&c, &all, &nerr);
		} else {
			oci_platform_release(&p);
		}
	}
	if (m->tag) {
		struct lm_err terr = LM_ERR_INIT;
		if (ref_check_name(m->tag, &terr) < 0) {
			field_err(&c, "", "tag", "%s", terr.msg);
			lm_err_release(&terr);
			collect(&c, &all, &nerr);
		}
	}
	v = json_object_get(root, "layers");
	if (v) {
		if (!json_is_array(v)) {
			field_err(&c, "", "layers", "must be an array of layer objects");
			collect(&c, &all, &nerr);
			layers_bad = 1;
		} else {
			m->layers = lm_xcalloc(json_array_size(v) + 1, sizeof(*m->layers));
		}
		for (size_t i = 0; !layers_bad && i < json_array_size(v); i++) {
			m->nlayers = i + 1;
			if (parse_layer(&c, json_array_get(v, i), i, &m->layers[i]) < 0) {
				collect(&c, &all, &nerr);
				bad_layer = 1;
				continue;
			}
			for (size_t j = 0; j < i; j++)
				if (m->layers[j].name && strcmp(m->layers[j].name, m->layers[i].name) == 0) {
					char *w = lm_asprintf("layers[%zu]", i);
					field_err(&c, w, NULL, "name '%s' is used twice", m->layers[i].name);
					free(w);
					collect(&c, &all, &nerr);
					bad_layer = 1;
					break;
				}
		}
		layers_bad |= bad_layer;
	}
	v = json_object_get(root, "config");
	if (v && !json_is_null(v) && parse_config(&c, v, &m->config) < 0)
		collect(&c, &all, &nerr);
	if (!m->config.workdir)
		m->config.workdir = lm_xstrdup("/var/task");
	v = json_object_get(root, "prune");
	if (v && parse_prune(&c, v, "", &m->prune) < 0)
		collect(&c, &all, &nerr);
	v = json_object_get(root, "precompile");
	if (v && parse_precompile(&c, v, &m->precompile, &m->precompile_node) < 0)
		collect(&c, &all, &nerr);
	else if (m->precompile_node.set && m->precompile_node.compile_cache)
		for (size_t i = 0; i < m->config.nenv; i++)
			if (strcmp(m->config.env[i].key, "NODE_COMPILE_CACHE") == 0 &&
			    strcmp(m->config.env[i].value, precompile_node_dir(&m->precompile_node)) != 0) {
				field_err(&c, "config.env", "NODE_COMPILE_CACHE",
					  "is '%s' but precompile.node.dir is '%s' (lamina sets it; leave it out)",
					  m->config.env[i].value, precompile_node_dir(&m->precompile_node));
				collect(&c, &all, &nerr);
			}
	v = json_object_get(root, "verify");
	if (v && parse_verify(&c, v, &m->verify) < 0)
		collect(&c, &all, &nerr);
	m->zip.level = -1;
	v = json_object_get(root, "zip");
	/* zip.layers names layers: not checked against layers that failed */
	if (v && !layers_bad && parse_zip(&c, v, m, &m->zip) < 0)
		collect(&c, &all, &nerr);
	v = json_object_get(root, "compression");
	if (v && parse_compression(&c, v, &m->compression_level) < 0)
		collect(&c, &all, &nerr);
	if (nerr) {
		size_t l;
		char *msg = buf_steal(&all, &l);
		lm_err_set(err, LM_E_INPUT, "%s", msg);
		free(msg);
		goto out;
	}
	r = 0;
out:
	buf_release(&all);
	json_decref(root);
	if (r < 0)
		manifest_release(m);
	return r;
}

int manifest_load(const char *path, struct lm_manifest *m, struct lm_err *err)
{
	char *buf = NULL, *dir = NULL, *abs = NULL;
	size_t len = 0;
	int r;
	if (lm_read_file(path, MANIFEST_MAX, &buf, &len, err) < 0)
		return lm_err_wrap(err, "manifest");
	abs = realpath(path, NULL);
	dir = lm_path_dirname(abs ? abs : path);
	r = manifest_parse(buf, len, path, dir, m, err);
	free(buf);
	free(dir);
	free(abs);
	return r;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void free_kv(struct mf_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

void manifest_release(struct lm_manifest *m)
{
	if (!m)
		return;
	free(m->path);
	free(m->dir);
	free(m->base);
	free(m->platform);
	for (size_t i = 0; i < m->nlayers; i++) {
		struct mf_layer *l = &m->layers[i];
		free(l->name);
		free(l->from);
		free(l->to);
		free_strv(l->exclude, l->nexclude);
		prune_spec_release(&l->prune);
		bundle_node_spec_release(&l->bundle);
	}
	free(m->layers);
	free_strv(m->config.cmd, m->config.ncmd);
	free_strv(m->config.entrypoint, m->config.nentrypoint);
	free(m->config.workdir);
	free_kv(m->config.env, m->config.nenv);
	free_kv(m->config.labels, m->config.nlabels);
	free(m->tag);
	prune_spec_release(&m->prune);
	precompile_node_spec_release(&m->precompile_node);
	verify_spec_release(&m->verify);
	free_strv(m->zip.layers, m->zip.nlayers);
	memset(m, 0, sizeof(*m));
}
