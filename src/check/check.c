/* check.c - the report and the rules (see check.h); every rule's source is in docs/check.md. */
#include "check/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/str.h"
#include "common/strset.h"

static const char *const image_rules[] = {
	"single-manifest", "platform",	 "layer-media-type", "layer-digest", "hardlink",    "parent-dir", "whiteout",
	"permissions",	   "entrypoint", "handler",	     "size",	     "layer-count", NULL,
};
static const char *const zip_rules[] = {
	"zip-size", "unzipped-size", "layer-count", "paths", "handler", "permissions", "symlinks", NULL,
};

static void bprintf(struct lm_buf *b, const char *fmt, ...) LM_PRINTF(2, 3);
static void bprintf(struct lm_buf *b, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	s = lm_vasprintf(fmt, ap);
	va_end(ap);
	buf_appends(b, s);
	free(s);
}

const char *const *check_rules(int is_zip)
{
	return is_zip ? zip_rules : image_rules;
}

void check_report_init(struct check_report *r, int is_zip)
{
	memset(r, 0, sizeof(*r));
	r->is_zip = is_zip;
}

void check_report_release(struct check_report *r)
{
	for (size_t i = 0; r && i < r->n; i++) {
		free(r->v[i].rule);
		free(r->v[i].where);
		free(r->v[i].msg);
	}
	if (r)
		free(r->v);
}

void check_add(struct check_report *r, const char *rule, enum check_sev sev, const char *where, const char *fmt, ...)
{
	struct check_finding *f;
	va_list ap;
	lm_grow((void **)&r->v, &r->cap, r->n + 1, sizeof(*r->v));
	f = &r->v[r->n++];
	f->rule = lm_xstrdup(rule);
	f->sev = sev;
	f->where = lm_xstrdup(where ? where : "");
	va_start(ap, fmt);
	f->msg = lm_vasprintf(fmt, ap);
	va_end(ap);
	if (sev == CHECK_FAIL)
		r->nfail++;
	else
		r->nwarn++;
}

static const char *rule_status(const struct check_report *r, const char *rule)
{
	const char *st = r->partial ? "skipped" : "ok";
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->v[i].rule, rule) == 0) {
			if (r->v[i].sev == CHECK_FAIL)
				return "fail";
			st = "warn";
		}
	return st;
}

char *check_report_text(const struct check_report *r, const char *source)
{
	struct lm_buf b;
	char *s;
	buf_init(&b, 0);
	for (const char *const *rule = check_rules(r->is_zip); *rule; rule++) {
		int any = 0;
		for (size_t i = 0; i < r->n; i++) {
			const struct check_finding *f = &r->v[i];
			if (strcmp(f->rule, *rule) != 0)
				continue;
			any = 1;
			bprintf(&b, "%-4s %s: %s%s%s\n", f->sev == CHECK_FAIL ? "FAIL" : "warn", f->rule, f->where,
				*f->where ? ": " : "", f->msg);
		}
		if (!any)
			bprintf(&b, "%-4s %s\n", r->partial ? "skip" : "ok", *rule);
	}
	if (r->nfail)
		bprintf(&b, "%s: %zu failed, %zu warning%s: Lambda will refuse it\n", source, r->nfail, r->nwarn,
			r->nwarn == 1 ? "" : "s");
	else
		bprintf(&b, "%s: passed, %zu warning%s\n", source, r->nwarn, r->nwarn == 1 ? "" : "s");
	s = buf_steal(&b, NULL);
	return s;
}

char *check_report_json(const struct check_report *r, const char *source)
{
	json_t *j = json_object(), *rules = json_array(), *fs = json_array();
	char *out;
	json_object_set_new(j, "source", json_string(source));
	json_object_set_new(j, "kind", json_string(r->is_zip ? "zip" : "image"));
	json_object_set_new(j, "passed", json_boolean(r->nfail == 0));
	json_object_set_new(j, "failures", json_integer((json_int_t)r->nfail));
	json_object_set_new(j, "warnings", json_integer((json_int_t)r->nwarn));
	for (const char *const *rule = check_rules(r->is_zip); *rule; rule++) {
		json_t *o = json_object();
		json_object_set_new(o, "rule", json_string(*rule));
		json_object_set_new(o, "status", json_string(rule_status(r, *rule)));
		json_array_append_new(rules, o);
	}
	for (size_t i = 0; i < r->n; i++) {
		json_t *o = json_object();
		json_object_set_new(o, "rule", json_string(r->v[i].rule));
		json_object_set_new(o, "severity", json_string(r->v[i].sev == CHECK_FAIL ? "fail" : "warn"));
		json_object_set_new(o, "where", json_string(r->v[i].where));
		json_object_set_new(o, "message", json_string(r->v[i].msg));
		json_array_append_new(fs, o);
	}
	json_object_set_new(j, "rules", rules);
	json_object_set_new(j, "findings", fs);
	out = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	return out;
}

void check_report_demote_layers(struct check_report *r, size_t nfirst, const char *why)
{
	for (size_t i = 0; i < r->n; i++) {
		struct check_finding *f = &r->v[i];
		unsigned long n = 0;
		char *m;
		if (f->sev != CHECK_FAIL || sscanf(f->where, "layer %lu ", &n) != 1 || n == 0 || n > nfirst)
			continue;
		if (strcmp(f->rule, "hardlink") != 0 && strcmp(f->rule, "parent-dir") != 0 &&
		    strcmp(f->rule, "whiteout") != 0)
			continue;
		f->sev = CHECK_WARN;
		r->nfail--;
		r->nwarn++;
		m = lm_asprintf("%s: %s", why, f->msg);
		free(f->msg);
		f->msg = m;
	}
}

char *check_report_first_fail(const struct check_report *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].sev == CHECK_FAIL)
			return lm_asprintf("%s: %s%s%s", r->v[i].rule, r->v[i].where, *r->v[i].where ? ": " : "",
					   r->v[i].msg);
	return NULL;
}

/* ---- images ------------------------------------------------------------------------ */

void check_image_init(struct check_image *ci)
{
	memset(ci, 0, sizeof(*ci));
}

static void layer_release(struct check_layer *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].path);
		free(l->v[i].link);
	}
	free(l->v);
	free(l->media_type);
	free(l->problem);
}

void check_image_release(struct check_image *ci)
{
	if (!ci)
		return;
	for (size_t i = 0; i < ci->nlayers; i++)
		layer_release(&ci->layers[i]);
	free(ci->layers);
	oci_config_view_release(&ci->cfg);
	memset(ci, 0, sizeof(*ci));
}

/* "./a/b/" -> "a/b"; "/" and "." -> "". Caller frees. */
static char *norm_path(const char *p)
{
	size_t n;
	for (;;) {
		if (p[0] == '.' && p[1] == '/')
			p += 2;
		else if (p[0] == '/')
			p++;
		else
			break;
	}
	if (strcmp(p, ".") == 0)
		p = "";
	n = strlen(p);
	while (n > 0 && p[n - 1] == '/')
		n--;
	return lm_xstrndup(p, n);
}

void check_layer_add(struct check_layer *l, const struct layer_entry *e)
{
	struct check_entry *ce;
	lm_grow((void **)&l->v, &l->cap, l->n + 1, sizeof(*l->v));
	ce = &l->v[l->n++];
	ce->path = norm_path(e->path);
	ce->type = e->type;
	ce->mode = e->mode;
	ce->link = e->link ? lm_xstrdup(e->link) : NULL;
	ce->size = e->size;
}

static const char *base_name(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* "layer 3 sha256:..." into buf */
static const char *layer_where(const struct check_image *ci, size_t i, char *buf, size_t sz)
{
	snprintf(buf, sz, "layer %zu %s", i + 1, ci->layers[i].digest);
	return buf;
}

/* Appends up to CHECK_NAMES names to a list line; returns it (caller frees). */
struct names {
	struct lm_buf b;
	size_t n;
};

static void names_add(struct names *nm, const char *name)
{
	if (nm->n < CHECK_NAMES)
		bprintf(&nm->b, "%s'%s'", nm->n ? ", " : "", name);
	else if (nm->n == CHECK_NAMES)
		buf_appends(&nm->b, ", ...");
	nm->n++;
}

static char *names_take(struct names *nm)
{
	return buf_steal(&nm->b, NULL);
}

/* ---- the flattened image: lookups through the layers, whiteouts and symlinks ---- */

/* 1 when a is p or an ancestor directory of p */
static int is_self_or_ancestor(const char *a, size_t alen, const char *p)
{
	if (alen == 0)
		return 1;
	return strncmp(p, a, alen) == 0 && (p[alen] == '\0' || p[alen] == '/');
}

/* The entry at p (no symlink followed), looking from the top layer down. */
static const struct check_entry *lookup(const struct check_image *ci, const char *p)
{
	for (size_t li = ci->nlayers; li-- > 0;) {
		const struct check_layer *l = &ci->layers[li];
		const struct check_entry *found = NULL;
		int hidden = 0;
		for (size_t k = 0; k < l->n; k++) {
			const struct check_entry *e = &l->v[k];
			const char *bn = base_name(e->path);
			if (strncmp(bn, ".wh.", 4) == 0) {
				size_t dlen = (size_t)(bn - e->path);
				if (dlen)
					dlen--; /* without the '/' */
				if (strcmp(bn, ".wh..wh..opq") == 0) {
					/* the directory's lower content is gone (not the directory) */
					if (is_self_or_ancestor(e->path, dlen, p) && strlen(p) > dlen)
						hidden = 1;
				} else {
					/* ".wh.NAME" removes DIR/NAME and what is under it */
					char *target = dlen ? lm_asprintf("%.*s/%s", (int)dlen, e->path, bn + 4)
							    : lm_xstrdup(bn + 4);
					if (is_self_or_ancestor(target, strlen(target), p))
						hidden = 1;
					free(target);
				}
				continue;
			}
			if (strcmp(e->path, p) == 0)
				found = e;
		}
		if (found)
			return found;
		if (hidden)
			return NULL;
	}
	return NULL;
}

/* "a/b/../c" -> "a/c" (no leading '/'); NULL when it climbs above the root. */
static char *norm_dots(const char *p)
{
	char *copy = lm_xstrdup(p), *save = NULL, *tok;
	struct lm_buf b;
	buf_init(&b, 0);
	for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
		if (strcmp(tok, ".") == 0)
			continue;
		if (strcmp(tok, "..") == 0) {
			char *s = b.len ? strrchr(b.data, '/') : NULL;
			if (!b.len) {
				/* above the root stays at the root, as the kernel does */
				continue;
			}
			b.len = s ? (size_t)(s - b.data) : 0;
			b.data[b.len] = '\0';
			continue;
		}
		bprintf(&b, "%s%s", b.len ? "/" : "", tok);
	}
	free(copy);
	return buf_steal(&b, NULL);
}

/* The entry p names with every symlink followed (the last one too); *real (may be NULL)
 * receives the path it resolved to (caller frees). NULL when it does not exist. */
static const struct check_entry *resolve(const struct check_image *ci, const char *path, char **real)
{
	char *cur = norm_dots(path);
	const struct check_entry *e = NULL;
	int hops = 0;
again:
	if (hops++ > 32) {
		free(cur);
		return NULL;
	}
	{
		size_t len = strlen(cur);
		for (size_t i = 0; i <= len; i++) {
			if (cur[i] != '/' && cur[i] != '\0')
				continue;
			{
				char *pre = lm_xstrndup(cur, i);
				e = *pre ? lookup(ci, pre) : NULL;
				if (e && e->type == LAYER_ENT_SYMLINK && e->link) {
					char *dir = lm_xstrdup(pre), *s = strrchr(dir, '/'), *joined, *next;
					if (s)
						*s = '\0';
					else
						dir[0] = '\0';
					joined = e->link[0] == '/' ? lm_xstrdup(e->link)
								   : lm_asprintf("%s/%s", dir, e->link);
					next = lm_asprintf("%s%s", joined, cur + i);
					free(dir);
					free(joined);
					free(pre);
					free(cur);
					cur = norm_dots(next);
					free(next);
					goto again;
				}
				free(pre);
			}
			if (cur[i] == '\0')
				break;
		}
	}
	e = *cur ? lookup(ci, cur) : NULL;
	if (e && real)
		*real = cur;
	else
		free(cur);
	return e;
}

static const char *env_get(const struct oci_config_view *v, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < v->nenv; i++)
		if (strncmp(v->env[i], key, kl) == 0 && v->env[i][kl] == '=')
			return v->env[i] + kl + 1;
	return NULL;
}

static int exists_file(const struct check_image *ci, const char *p)
{
	const struct check_entry *e = resolve(ci, p, NULL);
	return e && e->type == LAYER_ENT_FILE;
}

/* The runtime the image's bootstrap runs: node or python3 in /var/lang/bin or /usr/bin. */
static enum lm_runtime image_runtime(const struct check_image *ci)
{
	int node = exists_file(ci, "var/lang/bin/node") || exists_file(ci, "usr/bin/node") ||
		   exists_file(ci, "usr/local/bin/node");
	int py = exists_file(ci, "var/lang/bin/python3") || exists_file(ci, "usr/bin/python3") ||
		 exists_file(ci, "usr/local/bin/python3");
	if (node && py)
		return exists_file(ci, "var/runtime/index.mjs") || exists_file(ci, "var/runtime/index.js")
			       ? LM_RUNTIME_NODE
			       : LM_RUNTIME_PYTHON;
	return node ? LM_RUNTIME_NODE : py ? LM_RUNTIME_PYTHON : LM_RUNTIME_AUTO;
}

/* ---- the rules ---- */

static void rule_platform(struct check_report *r, const struct check_image *ci, const struct check_opts *o)
{
	const char *os = ci->cfg.os ? ci->cfg.os : "", *arch = ci->cfg.arch ? ci->cfg.arch : "";
	if (strcmp(os, "linux") != 0)
		check_add(r, "platform", CHECK_FAIL, "config.os", "'%s': Lambda runs linux images only", os);
	if (strcmp(arch, "amd64") != 0 && strcmp(arch, "arm64") != 0)
		check_add(r, "platform", CHECK_FAIL, "config.architecture",
			  "'%s': Lambda runs amd64 (x86_64) and arm64 images only", arch);
	else if (o->arch && strcmp(o->arch, arch) != 0)
		check_add(r, "platform", CHECK_FAIL, "config.architecture",
			  "'%s', not the function's architecture %s (--arch)", arch, o->arch);
}

static void rule_layer_media(struct check_report *r, const struct check_image *ci)
{
	char w[128];
	for (size_t i = 0; i < ci->nlayers; i++) {
		const struct check_layer *l = &ci->layers[i];
		const char *mt = l->media_type ? l->media_type : "";
		layer_where(ci, i, w, sizeof(w));
		if (l->docker_uncompressed)
			check_add(r, "layer-media-type", CHECK_FAIL, w,
				  "an uncompressed tar in a docker save archive: it will be refused on push unless "
				  "recompressed (Lambda: UnsupportedImageLayerDetected; lamina push gzips it)");
		else if (strcmp(mt, DOCKER_MT_LAYER_TAR) == 0)
			check_add(r, "layer-media-type", CHECK_FAIL, w,
				  "uncompressed layer under a Docker media type '%s' (not in the Docker image spec): "
				  "Lambda refuses it (UnsupportedImageLayerDetected) unless recompressed as gzip",
				  mt);
		else if (strcmp(mt, OCI_MT_LAYER_TAR) == 0)
			check_add(r, "layer-media-type", CHECK_FAIL, w,
				  "uncompressed layer '%s': Lambda takes gzip layers (UnsupportedImageLayerDetected)",
				  mt);
		else if (strcmp(mt, OCI_MT_LAYER_ZSTD) == 0)
			check_add(r, "layer-media-type", CHECK_WARN, w,
				  "zstd layer '%s': Lambda documents gzip; zstd is unconfirmed", mt);
		else if (!oci_is_gzip_layer(mt))
			check_add(r, "layer-media-type", CHECK_FAIL, w, "media type '%s' is not a gzip layer's", mt);
	}
}

static void rule_digest(struct check_report *r, const struct check_image *ci)
{
	char w[128];
	for (size_t i = 0; i < ci->nlayers; i++) {
		const struct check_layer *l = &ci->layers[i];
		layer_where(ci, i, w, sizeof(w));
		if (l->problem)
			check_add(r, "layer-digest", CHECK_FAIL, w, "%s", l->problem);
		else if (i < ci->cfg.ndiff_ids && strcmp(l->diff_id, ci->cfg.diff_ids[i]) != 0)
			check_add(r, "layer-digest", CHECK_FAIL, w,
				  "its uncompressed content is %s, config.rootfs.diff_ids[%zu] says %s", l->diff_id, i,
				  ci->cfg.diff_ids[i]);
	}
	if (ci->nlayers != ci->cfg.ndiff_ids)
		check_add(r, "layer-digest", CHECK_FAIL, "config.rootfs.diff_ids", "lists %zu layers, the manifest %zu",
			  ci->cfg.ndiff_ids, ci->nlayers);
}

/* hardlink, parent-dir, whiteout, permissions: one pass over each layer's entries */
static int lambda_path(const char *p)
{
	static const char *const roots[] = { "var/task", "opt", "var/runtime", "var/lang", NULL };
	for (size_t i = 0; roots[i]; i++)
		if (is_self_or_ancestor(roots[i], strlen(roots[i]), p))
			return 1;
	return 0;
}

static void rules_entries(struct check_report *r, const struct check_image *ci)
{
	char w[128];
	for (size_t i = 0; i < ci->nlayers; i++) {
		const struct check_layer *l = &ci->layers[i];
		struct lm_strset dirs = LM_STRSET_INIT;
		struct names hl = { 0 }, pd = { 0 }, wh = { 0 }, pf = { 0 }, pdir = { 0 };
		layer_where(ci, i, w, sizeof(w));
		buf_init(&hl.b, 0);
		buf_init(&pd.b, 0);
		buf_init(&wh.b, 0);
		buf_init(&pf.b, 0);
		buf_init(&pdir.b, 0);
		for (size_t k = 0; k < l->n; k++) {
			const struct check_entry *e = &l->v[k];
			const char *bn = base_name(e->path);
			if (!*e->path)
				continue; /* the root */
			if (e->type == LAYER_ENT_HARDLINK)
				names_add(&hl, e->path);
			if (bn != e->path) {
				char *parent = lm_xstrndup(e->path, (size_t)(bn - e->path - 1));
				if (!lm_strset_has(&dirs, parent))
					names_add(&pd, e->path);
				free(parent);
			}
			if (e->type == LAYER_ENT_DIR)
				lm_strset_add(&dirs, e->path);
			if (strncmp(bn, ".wh.", 4) == 0) {
				int opq = strcmp(bn, ".wh..wh..opq") == 0;
				if ((e->type != LAYER_ENT_FILE && e->type != LAYER_ENT_HARDLINK) || bn[4] == '\0' ||
				    (!opq && strncmp(bn, ".wh..wh.", 8) == 0) || strcmp(bn + 4, ".") == 0 ||
				    strcmp(bn + 4, "..") == 0)
					names_add(&wh, e->path);
				continue;
			}
			if (!lambda_path(e->path))
				continue;
			if (e->type == LAYER_ENT_FILE && (e->mode & 0444) != 0444)
				names_add(&pf, e->path);
			else if (e->type == LAYER_ENT_DIR && (e->mode & 0555) != 0555)
				names_add(&pdir, e->path);
		}
		if (hl.n) {
			char *s = names_take(&hl);
			check_add(r, "hardlink", CHECK_FAIL, w, "%zu hardlink entr%s (Lambda refuses them): %s", hl.n,
				  hl.n == 1 ? "y" : "ies", s);
			free(s);
		}
		if (pd.n) {
			char *s = names_take(&pd);
			check_add(r, "parent-dir", CHECK_FAIL, w,
				  "%zu entr%s before (or without) their parent directory (MissingParentDirectory): %s",
				  pd.n, pd.n == 1 ? "y" : "ies", s);
			free(s);
		}
		if (wh.n) {
			char *s = names_take(&wh);
			check_add(r, "whiteout", CHECK_FAIL, w,
				  "%zu malformed whiteout%s (a whiteout is an empty regular file '.wh.NAME' or "
				  "'.wh..wh..opq'): %s",
				  wh.n, wh.n == 1 ? "" : "s", s);
			free(s);
		}
		if (pf.n) {
			char *s = names_take(&pf);
			check_add(r, "permissions", CHECK_WARN, w,
				  "%zu file%s the Lambda user (not root) cannot read (want 0644 or wider): %s", pf.n,
				  pf.n == 1 ? "" : "s", s);
			free(s);
		}
		if (pdir.n) {
			char *s = names_take(&pdir);
			check_add(r, "permissions", CHECK_WARN, w,
				  "%zu director%s the Lambda user (not root) cannot traverse (want 0755): %s", pdir.n,
				  pdir.n == 1 ? "y" : "ies", s);
			free(s);
		}
		buf_release(&hl.b);
		buf_release(&pd.b);
		buf_release(&wh.b);
		buf_release(&pf.b);
		buf_release(&pdir.b);
		lm_strset_release(&dirs);
	}
}

static void rule_entrypoint(struct check_report *r, const struct check_image *ci)
{
	const struct oci_config_view *v = &ci->cfg;
	const char *prog = NULL, *field = NULL;
	const struct check_entry *e;
	char *real = NULL;
	if (v->entrypoint && v->nentrypoint > 0) {
		prog = v->entrypoint[0];
		field = "config.Entrypoint[0]";
	} else if (v->cmd && v->ncmd > 0) {
		prog = v->cmd[0];
		field = "config.Cmd[0]";
	}
	if (!prog) {
		check_add(r, "entrypoint", CHECK_FAIL, "config", "neither ENTRYPOINT nor CMD is set: nothing to run");
		return;
	}
	if (prog[0] != '/') {
		check_add(r, "entrypoint", CHECK_FAIL, field, "'%s' is not an absolute path", prog);
		return;
	}
	e = resolve(ci, prog, &real);
	if (!e)
		check_add(r, "entrypoint", CHECK_FAIL, field, "'%s' does not exist in the image", prog);
	else if (e->type != LAYER_ENT_FILE)
		check_add(r, "entrypoint", CHECK_FAIL, field, "'%s' is not a regular file", prog);
	else if ((e->mode & 0001) == 0)
		check_add(r, "entrypoint", CHECK_FAIL, field,
			  "'%s' (/%s, mode %04o) is not executable by the Lambda user", prog, real, e->mode);
	free(real);
}

/* A Python module without its .py: sourceless (mod.pyc beside where mod.py would be) or
 * an extension module (mod.so, mod.cpython-312-x86_64-linux-gnu.so, mod.abi3.so). */
static int python_other_forms(const struct check_image *ci, const char *root, const char *py)
{
	char *p, *base;
	size_t blen;
	int found;
	if (!py || !lm_str_endswith(py, ".py"))
		return 0;
	p = lm_asprintf("%s/%sc", root, py);
	found = exists_file(ci, p);
	free(p);
	if (found)
		return 1;
	/* "ROOT/pkg/mod." without the leading '/', for entries' paths */
	base = lm_asprintf("%s/%.*s.", root + (root[0] == '/'), (int)(strlen(py) - 3), py);
	blen = strlen(base);
	for (size_t li = 0; li < ci->nlayers && !found; li++)
		for (size_t k = 0; k < ci->layers[li].n && !found; k++) {
			const struct check_entry *e = &ci->layers[li].v[k];
			found = e->type == LAYER_ENT_FILE && strncmp(e->path, base, blen) == 0 &&
				lm_str_endswith(e->path, ".so") && !strchr(e->path + blen, '/');
		}
	free(base);
	return found;
}

static void rule_handler(struct check_report *r, const struct check_image *ci, const struct check_opts *o)
{
	const struct oci_config_view *v = &ci->cfg;
	enum lm_runtime rt = o->runtime;
	struct handler_ref h;
	char *why = NULL;
	const char *roots[2] = { NULL, NULL };
	size_t nroots = 0;
	int found = 0;
	/* the handler is CMD[0] only when an ENTRYPOINT (the runtime's bootstrap) takes it */
	if (!v->entrypoint || v->nentrypoint == 0 || !v->cmd || v->ncmd == 0)
		return;
	if (rt == LM_RUNTIME_AUTO)
		rt = image_runtime(ci);
	if (rt == LM_RUNTIME_AUTO)
		return; /* a custom runtime: its bootstrap decides what CMD means */
	if (handler_resolve(rt, v->cmd[0], &h, &why) < 0) {
		check_add(r, "handler", CHECK_FAIL, "config.Cmd[0]", "'%s' is not a %s handler: %s", v->cmd[0],
			  lm_runtime_name(rt), why);
		free(why);
		return;
	}
	/* where the runtime looks: LAMBDA_TASK_ROOT (Lambda's bases set it), else the working
	 * directory (awslambdaric and the Node client started from WORKDIR, as AWS's
	 * non-AWS-base examples do), else /var/task */
	roots[nroots++] = env_get(v, "LAMBDA_TASK_ROOT");
	if (!roots[0]) {
		nroots = 0;
		if (v->workdir && v->workdir[0] == '/' && strcmp(v->workdir, "/") != 0)
			roots[nroots++] = v->workdir;
		roots[nroots++] = "/var/task";
	}
	for (size_t k = 0; k < nroots && !found; k++) {
		const char *root = roots[k];
		for (size_t i = 0; h.files[i] && !found; i++) {
			char *p = lm_asprintf("%s/%s", root, h.files[i]);
			const struct check_entry *e = resolve(ci, p, NULL);
			if (e && e->type == LAYER_ENT_FILE) {
				found = 1;
				if ((e->mode & 0004) == 0)
					check_add(r, "handler", CHECK_FAIL, "config.Cmd[0]",
						  "'%s': %s (mode %04o) is not readable by the Lambda user", v->cmd[0],
						  p, e->mode);
			}
			free(p);
		}
		if (!found && rt == LM_RUNTIME_PYTHON)
			found = python_other_forms(ci, root, h.files[0]);
		if (!found && rt == LM_RUNTIME_NODE) {
			/* not a file of the task root: Node resolves the name as a package */
			char *p = lm_asprintf("%s/node_modules/%s", root, h.module);
			found = resolve(ci, p, NULL) != NULL;
			free(p);
		}
	}
	if (!found)
		check_add(r, "handler", CHECK_FAIL, "config.Cmd[0]",
			  "'%s': %s module '%s' is not in %s%s%s (looked for %s%s%s)", v->cmd[0], lm_runtime_name(rt),
			  h.module, roots[0], nroots > 1 ? " or " : "", nroots > 1 ? roots[1] : "",
			  h.files[0] ? h.files[0] : "", h.files[1] ? ", " : "", h.files[1] ? h.files[1] : "");
	handler_ref_release(&h);
}

static void rule_size(struct check_report *r, const struct check_image *ci)
{
	uint64_t total = 0;
	char h[32];
	for (size_t i = 0; i < ci->nlayers; i++)
		total += ci->layers[i].usize;
	if (total > CHECK_IMAGE_MAX)
		check_add(r, "size", CHECK_FAIL, "layers",
			  "%s (%llu bytes) uncompressed; Lambda's limit is 10 GiB (%llu)",
			  lm_human_bytes(total, h, sizeof(h)), (unsigned long long)total,
			  (unsigned long long)CHECK_IMAGE_MAX);
}

static void rule_layer_count(struct check_report *r, const struct check_image *ci)
{
	if (ci->nlayers > CHECK_LAYERS_WARN)
		check_add(r, "layer-count", CHECK_WARN, "manifest.layers",
			  "%zu layers: more than %d, the most Docker's overlay unpacker mounts; Lambda documents no "
			  "number",
			  ci->nlayers, CHECK_LAYERS_WARN);
}

void check_image_rules(struct check_report *r, const struct check_image *ci, const struct check_opts *o)
{
	rule_platform(r, ci, o);
	rule_layer_media(r, ci);
	rule_digest(r, ci);
	rules_entries(r, ci);
	rule_entrypoint(r, ci);
	rule_handler(r, ci, o);
	rule_size(r, ci);
	rule_layer_count(r, ci);
}

/* ---- the document at the reference ---- */

static int is_attestation(json_t *m)
{
	json_t *a = json_object_get(m, "annotations"), *p = json_object_get(m, "platform");
	const char *t = json_string_value(json_object_get(a, "vnd.docker.reference.type"));
	const char *os = json_string_value(json_object_get(p, "os"));
	const char *arch = json_string_value(json_object_get(p, "architecture"));
	if (t && strcmp(t, "attestation-manifest") == 0)
		return 1;
	return os && arch && strcmp(os, "unknown") == 0 && strcmp(arch, "unknown") == 0;
}

static int is_index_mt(const char *mt)
{
	return mt && (strcmp(mt, OCI_MT_INDEX) == 0 || strcmp(mt, DOCKER_MT_LIST) == 0);
}

/* Names the attestation manifests of index ix. */
static void attestations(struct check_report *r, json_t *ix, const char *where)
{
	json_t *ms = json_object_get(ix, "manifests");
	for (size_t i = 0; i < json_array_size(ms); i++) {
		json_t *m = json_array_get(ms, i);
		if (is_attestation(m))
			check_add(r, "single-manifest", CHECK_FAIL, where,
				  "manifests[%zu] %s is an attestation manifest (platform unknown/unknown, as buildx "
				  "makes for provenance): Lambda refuses the index that carries it",
				  i,
				  json_string_value(json_object_get(m, "digest"))
					  ? json_string_value(json_object_get(m, "digest"))
					  : "?");
	}
}

void check_top_rules(struct check_report *r, const char *top, size_t len, int layout, check_blob_fn get, void *ctx)
{
	json_t *j;
	json_t *ms;
	const char *mt;
	size_t n;
	if (!top)
		return; /* a docker save archive: one image per manifest.json entry */
	j = json_loadb(top, len, 0, NULL);
	if (!json_is_object(j)) {
		check_add(r, "single-manifest", CHECK_FAIL, layout ? "index.json" : "reference", "not a JSON object");
		json_decref(j);
		return;
	}
	mt = json_string_value(json_object_get(j, "mediaType"));
	ms = json_object_get(j, "manifests");
	if (!json_is_array(ms) && !is_index_mt(mt)) {
		/* an image manifest at the reference */
		if (!mt)
			check_add(r, "single-manifest", CHECK_WARN, "reference",
				  "the manifest has no top-level mediaType (ECR answers \"Invalid JSON syntax\")");
		json_decref(j);
		return;
	}
	n = json_array_size(ms);
	if (!layout) {
		check_add(r, "single-manifest", CHECK_FAIL, "reference",
			  "an image index (manifest list) of %zu manifest%s, not an image manifest: Lambda refuses it "
			  "(\"The image manifest, config or layer media type ... is not supported\")",
			  n, n == 1 ? "" : "s");
		attestations(r, j, "reference");
		json_decref(j);
		return;
	}
	/* a layout's index.json: one image manifest is how a single image is written */
	if (n != 1)
		check_add(r, "single-manifest", CHECK_FAIL, "index.json",
			  "lists %zu manifests, not one: pushed as is, the reference would name an index", n);
	attestations(r, j, "index.json");
	for (size_t i = 0; i < n; i++) {
		json_t *m = json_array_get(ms, i);
		const char *emt = json_string_value(json_object_get(m, "mediaType"));
		const char *dg = json_string_value(json_object_get(m, "digest"));
		char *sub, w[160];
		size_t sublen = 0;
		if (!is_index_mt(emt))
			continue;
		snprintf(w, sizeof(w), "index.json manifests[%zu]", i);
		check_add(
			r, "single-manifest", CHECK_FAIL, w,
			"%s is an image index (manifest list), not an image manifest: the reference Lambda uses would "
			"name an index",
			dg ? dg : "?");
		if (dg && get && (sub = get(ctx, dg, &sublen))) {
			json_t *sj = json_loadb(sub, sublen, 0, NULL);
			snprintf(w, sizeof(w), "index %.71s", dg);
			attestations(r, sj, w);
			json_decref(sj);
			free(sub);
		}
	}
	json_decref(j);
}

/* ---- zips -------------------------------------------------------------------------- */

void check_zip_init(struct check_zip *z, const char *path)
{
	memset(z, 0, sizeof(*z));
	z->path = lm_xstrdup(path ? path : "");
}

void check_zip_release(struct check_zip *z)
{
	if (!z)
		return;
	for (size_t i = 0; i < z->n; i++)
		free(z->v[i].name);
	free(z->v);
	free(z->path);
	memset(z, 0, sizeof(*z));
}

void check_zip_add(struct check_zip *z, const char *name, enum check_zip_type type, unsigned mode, int has_mode,
		   uint64_t usize)
{
	struct check_zip_entry *e;
	lm_grow((void **)&z->v, &z->cap, z->n + 1, sizeof(*z->v));
	e = &z->v[z->n++];
	e->name = lm_xstrdup(name);
	e->type = type;
	e->mode = mode;
	e->has_mode = has_mode;
	e->usize = usize;
}

static int bad_zip_path(const char *n)
{
	const char *p = n;
	if (n[0] == '/' || n[0] == '\\' || (n[0] && n[1] == ':'))
		return 1;
	while (*p) {
		size_t l = strcspn(p, "/\\");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return 1;
		p += l;
		if (*p)
			p++;
	}
	return 0;
}

static void zip_each(struct check_report *r, const struct check_zip *z, int via_s3)
{
	struct names bad = { 0 }, sl = { 0 }, pf = { 0 };
	char h[32];
	buf_init(&bad.b, 0);
	buf_init(&sl.b, 0);
	buf_init(&pf.b, 0);
	if (z->size > CHECK_ZIP_UPLOAD_MAX)
		check_add(r, "zip-size", via_s3 ? CHECK_WARN : CHECK_FAIL, z->path,
			  "%s (%llu bytes) zipped: more than the 50 MiB (%llu bytes) of a direct upload; upload it "
			  "through S3",
			  lm_human_bytes(z->size, h, sizeof(h)), (unsigned long long)z->size,
			  (unsigned long long)CHECK_ZIP_UPLOAD_MAX);
	for (size_t i = 0; i < z->n; i++) {
		const struct check_zip_entry *e = &z->v[i];
		if (bad_zip_path(e->name))
			names_add(&bad, e->name);
		if (e->type == CHECK_ZSYMLINK)
			names_add(&sl, e->name);
		else if (e->has_mode && e->type == CHECK_ZFILE && (e->mode & 0444) != 0444)
			names_add(&pf, e->name);
		else if (e->has_mode && e->type == CHECK_ZDIR && (e->mode & 0555) != 0555)
			names_add(&pf, e->name);
	}
	if (bad.n) {
		char *s = names_take(&bad);
		check_add(r, "paths", CHECK_FAIL, z->path, "%zu absolute or '..' path%s: %s", bad.n,
			  bad.n == 1 ? "" : "s", s);
		free(s);
	}
	if (sl.n) {
		char *s = names_take(&sl);
		check_add(r, "symlinks", CHECK_WARN, z->path,
			  "%zu symlink%s (kept as links by Lambda's unzip; a target outside the zip may not exist): %s",
			  sl.n, sl.n == 1 ? "" : "s", s);
		free(s);
	}
	if (pf.n) {
		char *s = names_take(&pf);
		check_add(r, "permissions", CHECK_WARN, z->path,
			  "%zu entr%s the Lambda user cannot read (files want 0644, directories 0755): %s", pf.n,
			  pf.n == 1 ? "y" : "ies", s);
		free(s);
	}
	buf_release(&bad.b);
	buf_release(&sl.b);
	buf_release(&pf.b);
}

static const struct check_zip_entry *zip_find(const struct check_zip *z, const char *name)
{
	for (size_t i = 0; i < z->n; i++) {
		const char *n = z->v[i].name;
		while (n[0] == '.' && n[1] == '/')
			n += 2;
		if (strcmp(n, name) == 0)
			return &z->v[i];
	}
	return NULL;
}

static void zip_handler(struct check_report *r, const struct check_zip *fn, const char *handler, enum lm_runtime rt)
{
	static const enum lm_runtime both[] = { LM_RUNTIME_PYTHON, LM_RUNTIME_NODE };
	char *why = NULL, *looked = NULL;
	for (size_t k = 0; k < 2; k++) {
		struct handler_ref h;
		char *w2 = NULL;
		if (rt != LM_RUNTIME_AUTO && both[k] != rt)
			continue;
		if (handler_resolve(both[k], handler, &h, &w2) < 0) {
			if (!why)
				why = lm_asprintf("not a %s handler: %s", lm_runtime_name(both[k]), w2);
			free(w2);
			continue;
		}
		for (size_t i = 0; h.files[i]; i++) {
			const struct check_zip_entry *e = zip_find(fn, h.files[i]);
			if (!e && both[k] == LM_RUNTIME_PYTHON && lm_str_endswith(h.files[i], ".py")) {
				/* sourceless: the .pyc where the .py would be */
				char *pyc = lm_asprintf("%sc", h.files[i]);
				e = zip_find(fn, pyc);
				free(pyc);
			}
			if (e && e->type != CHECK_ZDIR) {
				if (e->has_mode && (e->mode & 0004) == 0)
					check_add(r, "handler", CHECK_FAIL, fn->path,
						  "handler '%s': '%s' (mode %04o) is not readable by the Lambda user",
						  handler, e->name, e->mode);
				handler_ref_release(&h);
				free(why);
				free(looked);
				return;
			}
			{
				char *l2 =
					lm_asprintf("%s%s'%s'", looked ? looked : "", looked ? ", " : "", h.files[i]);
				free(looked);
				looked = l2;
			}
		}
		handler_ref_release(&h);
	}
	if (looked)
		check_add(r, "handler", CHECK_FAIL, fn->path, "handler '%s': the zip has none of %s", handler, looked);
	else
		check_add(r, "handler", CHECK_FAIL, fn->path, "handler '%s' is %s", handler, why ? why : "not valid");
	free(why);
	free(looked);
}

void check_zip_rules(struct check_report *r, const struct check_zip *fn, const struct check_zip *layers, size_t nlayers,
		     const char *handler, enum lm_runtime rt, int via_s3)
{
	uint64_t total = 0;
	char h[32];
	if (fn)
		zip_each(r, fn, via_s3);
	for (size_t i = 0; i < nlayers; i++)
		zip_each(r, &layers[i], via_s3);
	if (nlayers > CHECK_ZIP_LAYERS_MAX)
		check_add(r, "layer-count", CHECK_FAIL, "--with-layer", "%zu layers: a function takes at most %d",
			  nlayers, CHECK_ZIP_LAYERS_MAX);
	for (size_t i = 0; fn && i < fn->n; i++)
		total += fn->v[i].usize;
	for (size_t k = 0; k < nlayers; k++)
		for (size_t i = 0; i < layers[k].n; i++)
			total += layers[k].v[i].usize;
	if (total > CHECK_ZIP_UNZIPPED_MAX)
		check_add(r, "unzipped-size", CHECK_FAIL, nlayers ? "function and layers" : (fn ? fn->path : ""),
			  "%s (%llu bytes) unzipped: more than the %llu bytes Lambda takes for a function and all its "
			  "layers",
			  lm_human_bytes(total, h, sizeof(h)), (unsigned long long)total,
			  (unsigned long long)CHECK_ZIP_UNZIPPED_MAX);
	if (fn && handler)
		zip_handler(r, fn, handler, rt);
}
