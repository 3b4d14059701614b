/* dedupe.c - dedupe-base: the packages of a layer that the base image already ships, the
 * same name, version and bytes, so the import resolves to identical files either way. The
 * base's copy is found through the base's own search path (its site-packages on sys.path,
 * its node_modules on NODE_PATH), so the app's copy can go; a different version stays and
 * is reported, because the app may need it. */
#include "prune/prune_internal.h"

#include <ctype.h>
#include <stdarg.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/attr.h"
#include "common/fs.h"
#include "common/str.h"
#include "prune/jsscan.h"
#include "prune/pkgid.h"

/* --- struct prune_base ------------------------------------------------------------- */

void prune_base_init(struct prune_base *b)
{
	memset(b, 0, sizeof(*b));
}

void prune_base_release(struct prune_base *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		free(b->v[i].path);
		free(b->v[i].text);
	}
	free(b->v);
	lm_strv_free(b->node_path, b->nnode_path);
	prune_base_init(b);
}

void prune_base_add(struct prune_base *b, const char *path, const char *digest, uint64_t size, const char *text)
{
	struct prune_base_file *f;
	lm_grow((void **)&b->v, &b->cap, b->n + 1, sizeof(*b->v));
	f = &b->v[b->n++];
	memset(f, 0, sizeof(*f));
	f->path = lm_xstrdup(path);
	snprintf(f->digest, sizeof(f->digest), "%s", digest);
	f->size = size;
	f->text = text ? lm_xstrdup(text) : NULL;
	f->seq = b->n;
	b->sorted = 0;
}

void prune_base_remove_under(struct prune_base *b, const char *path, int opaque)
{
	size_t k = 0, pl = strlen(path);
	for (size_t i = 0; i < b->n; i++) {
		const char *p = b->v[i].path;
		int under = strncmp(p, path, pl) == 0 && (p[pl] == '/' || (!opaque && !p[pl]));
		if (under) {
			free(b->v[i].path);
			free(b->v[i].text);
		} else {
			b->v[k++] = b->v[i];
		}
	}
	b->n = k;
}

static int cmp_file(const void *a, const void *b)
{
	const struct prune_base_file *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	/* equal paths: the later one last */
	return c ? c : (x->seq < y->seq ? -1 : x->seq > y->seq);
}

void prune_base_finish(struct prune_base *b)
{
	size_t k = 0;
	if (b->n)
		qsort(b->v, b->n, sizeof(*b->v), cmp_file);
	for (size_t i = 0; i < b->n; i++) {
		if (i + 1 < b->n && strcmp(b->v[i].path, b->v[i + 1].path) == 0) {
			free(b->v[i].path);
			free(b->v[i].text);
			continue;
		}
		b->v[k++] = b->v[i];
	}
	for (size_t i = 0; i < k; i++)
		b->v[i].seq = i;
	b->n = k;
	b->sorted = 1;
}

const struct prune_base_file *prune_base_find(const struct prune_base *b, const char *path)
{
	size_t lo = 0, hi = b ? b->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(b->v[mid].path, path);
		if (c == 0)
			return &b->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* --- pure helpers ------------------------------------------------------------------ */

/* --- the run ------------------------------------------------------------------------ */

/* A distribution the base ships: its import root (site-packages) and metadata dir. */
struct bdist {
	char *root; /* "var/lang/lib/python3.11/site-packages" */
	char *name, *version;
};

struct bdists {
	struct bdist *v;
	size_t n, cap;
};

static void bdists_release(struct bdists *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->v[i].root);
		free(d->v[i].name);
		free(d->v[i].version);
	}
	free(d->v);
}

/* The base's distributions: a .dist-info/.egg-info directory right in a site-packages
 * or dist-packages directory. */
static void base_dists(const struct prune_base *b, struct bdists *out)
{
	for (size_t i = 0; i < b->n; i++) {
		const char *p = b->v[i].path, *m, *slash, *start;
		char *root, *dir, *name = NULL, *version = NULL;
		int dup = 0;
		m = strstr(p, ".dist-info/");
		if (!m)
			m = strstr(p, ".egg-info/");
		if (!m)
			continue;
		slash = strchr(m, '/');
		dir = lm_xstrndup(p, (size_t)(slash - p));
		start = strrchr(dir, '/');
		if (!start) {
			free(dir);
			continue;
		}
		root = lm_xstrndup(dir, (size_t)(start - dir));
		if (!prune_is_pyroot_name(root) || pkgid_dist_split(start + 1, &name, &version) < 0) {
			free(root);
			free(dir);
			continue;
		}
		for (size_t k = 0; k < out->n && !dup; k++)
			dup = strcmp(out->v[k].root, root) == 0 && strcmp(out->v[k].name, name) == 0;
		if (dup) {
			free(root);
			free(name);
			free(version);
		} else {
			lm_grow((void **)&out->v, &out->cap, out->n + 1, sizeof(*out->v));
			out->v[out->n].root = root;
			out->v[out->n].name = name;
			out->v[out->n].version = version;
			out->n++;
		}
		free(dir);
	}
}

/* Files whose content is allowed to differ: how it was installed, and caches. */
static int ignorable(const char *rel)
{
	const char *b = prune_base_name(rel);
	if (strstr(rel, "__pycache__/") || lm_str_endswith(rel, ".pyc"))
		return 1;
	if (strstr(rel, ".dist-info/"))
		return strcmp(b, "INSTALLER") == 0 || strcmp(b, "REQUESTED") == 0 || strcmp(b, "RECORD") == 0 ||
		       strcmp(b, "direct_url.json") == 0;
	return 0;
}

/* 1 when every member file of the app (memb) is in the base at broot + its path below
 * the app's prefix (plen bytes of rel), with the same content. Adds the members' bytes
 * to *bytes. */
static int same_files(struct run *r, const unsigned char *memb, size_t plen, const char *broot, uint64_t *bytes)
{
	int same = 1;
	*bytes = 0;
	for (size_t i = 0; i < r->t->n; i++) {
		struct lm_entry *e = &r->t->v[i];
		const char *rel;
		char *bp;
		const struct prune_base_file *bf;
		if (!memb[i] || e->type == LM_F_DIR)
			continue;
		*bytes += e->size;
		rel = prune_rel(r, i);
		if (!same || ignorable(rel))
			continue;
		if (e->type != LM_F_REG || !e->src) {
			same = 0;
			continue;
		}
		bp = lm_asprintf("%s/%s", broot, rel + plen);
		bf = prune_base_find(r->base, bp);
		free(bp);
		if (!bf || bf->size != e->size) {
			same = 0;
			continue;
		}
		if (!e->digest[0]) {
			struct lm_err err = LM_ERR_INIT;
			uint64_t sz;
			if (digest_file(e->src, e->digest, &sz, &err) < 0) {
				e->digest[0] = '\0';
				lm_err_release(&err);
			}
		}
		if (strcmp(bf->digest, e->digest) != 0)
			same = 0;
	}
	return same;
}

/* Marks entry i and everything below it. Sorted bytewise, a subtree is not contiguous
 * ("boto3-1.26.27.egg-info/..." comes between "boto3" and "boto3/..."), but it follows. */
static void mark_subtree(const struct run *r, unsigned char *memb, size_t i)
{
	const char *p = r->t->v[i].path;
	size_t pl = strlen(p);
	memb[i] = 1;
	for (size_t k = i + 1; k < r->t->n; k++) {
		const char *q = r->t->v[k].path;
		int c = strncmp(q, p, pl);
		if (c > 0)
			break; /* past every path that starts with p */
		if (c == 0 && q[pl] == '/' && r->in_root[k] && !r->t->v[k].generated)
			memb[k] = 1;
	}
}

/* The members of the distribution whose metadata directory is entry d: the directory,
 * what its RECORD lists, else what its top_level.txt names. 0 when neither says. */
static int dist_members(struct run *r, size_t d, unsigned char *memb)
{
	size_t plen = r->pyroot[d];
	char *rec = lm_asprintf("%s/RECORD", r->t->v[d].path);
	char *top = lm_asprintf("%s/top_level.txt", r->t->v[d].path);
	const struct lm_entry *re = tree_find(r->t, rec), *te = tree_find(r->t, top);
	const struct lm_entry *src = re && re->src ? re : te && te->src ? te : NULL;
	char *buf = NULL;
	size_t len = 0;
	struct lm_err err = LM_ERR_INIT;
	int ok = 0;
	free(rec);
	free(top);
	if (!src || lm_read_file(src->src, (size_t)16 << 20, &buf, &len, &err) < 0) {
		lm_err_release(&err);
		return 0;
	}
	mark_subtree(r, memb, d);
	for (char *line = strtok(buf, "\r\n"); line; line = strtok(NULL, "\r\n")) {
		if (src == re) {
			const char *c = prune_record_path(line);
			char *full;
			const struct lm_entry *e;
			if (!c || *c == '/')
				continue;
			/* RECORD paths are relative to the import root */
			full = lm_asprintf("%.*s%s", (int)(r->rootlen + plen), r->t->v[d].path, c);
			e = tree_find(r->t, full);
			free(full);
			if (e)
				memb[e - r->t->v] = 1;
		} else {
			const char *name = line;
			while (*name == ' ' || *name == '\t')
				name++;
			if (!*name)
				continue;
			/* the package directory, or module files at the import root named after it */
			for (size_t i = 0; i < r->t->n; i++) {
				const char *rel;
				char *stem;
				if (!r->in_root[i] || r->t->v[i].generated || r->pyroot[i] != plen)
					continue;
				rel = prune_rel(r, i);
				if (strncmp(rel, prune_rel(r, d), plen) != 0 || strchr(rel + plen, '/'))
					continue;
				stem = prune_module_stem(rel + plen);
				if (strcmp(stem, name) == 0)
					mark_subtree(r, memb, i);
				free(stem);
			}
		}
	}
	ok = 1;
	free(buf);
	return ok;
}

static void note(struct run *r, const char *fmt, ...) LM_PRINTF(2, 3);
static void note(struct run *r, const char *fmt, ...)
{
	va_list ap;
	char *s;
	va_start(ap, fmt);
	s = lm_vasprintf(fmt, ap);
	va_end(ap);
	lm_grow((void **)&r->notes, &r->capnotes, r->nnotes + 1, sizeof(char *));
	r->notes[r->nnotes++] = s;
}

static void python_dists(struct run *r, const struct bdists *bd, unsigned char *memb)
{
	for (size_t d = 0; d < r->t->n; d++) {
		const struct lm_entry *e = &r->t->v[d];
		const char *rel, *b;
		char *name = NULL, *version = NULL;
		const struct bdist *same = NULL, *other = NULL;
		uint64_t bytes = 0;
		if (!r->in_root[d] || e->generated || e->type != LM_F_DIR)
			continue;
		rel = prune_rel(r, d);
		b = prune_base_name(rel);
		/* right in an import root (or the layer root) */
		if ((size_t)(b - rel) != r->pyroot[d] || pkgid_dist_split(b, &name, &version) < 0)
			continue;
		for (size_t k = 0; k < bd->n; k++)
			if (strcmp(bd->v[k].name, name) == 0) {
				if (strcmp(bd->v[k].version, version) == 0 && !same)
					same = &bd->v[k];
				else if (!other)
					other = &bd->v[k];
			}
		if (same || other) {
			memset(memb, 0, r->t->n + 1);
			if (!dist_members(r, d, memb)) {
				free(name);
				free(version);
				continue;
			}
		}
		if (same && same_files(r, memb, r->pyroot[d], same->root, &bytes)) {
			for (size_t i = 0; i < r->t->n; i++)
				if (memb[i])
					r->dedupe[i] = 1;
		} else if (same) {
			char h[32];
			note(r, "dedupe-base: '%s' %s is in the base too (/%s) but its files differ: kept (%s)", name,
			     version, same->root, lm_human_bytes(bytes, h, sizeof(h)));
		} else if (other) {
			char h[32];
			same_files(r, memb, r->pyroot[d], other->root, &bytes);
			note(r, "dedupe-base: '%s' %s shadows the base's %s (/%s): %s more in the image; drop it "
				"unless the app needs this version",
			     name, version, other->version, other->root, lm_human_bytes(bytes, h, sizeof(h)));
		}
		free(name);
		free(version);
	}
}

/* ES modules resolve bare specifiers through node_modules directories only, never
 * NODE_PATH: what ES module code imports must stay where it is. */

/* 1 when package.json's text says "type": "module". */
static int pkg_is_module(const struct lm_entry *e)
{
	char *buf = NULL;
	size_t len = 0;
	struct lm_err err = LM_ERR_INIT;
	int esm = 0;
	if (e->src && lm_read_file(e->src, (size_t)1 << 20, &buf, &len, &err) == 0) {
		json_t *j = json_loadb(buf, len, 0, NULL);
		json_t *t = j ? json_object_get(j, "type") : NULL;
		esm = json_is_string(t) && strcmp(json_string_value(t), "module") == 0;
		json_decref(j);
	}
	lm_err_release(&err);
	free(buf);
	return esm;
}

/* 1 when the file at image path p is an ES module: .mjs, or .js in the scope of a
 * package.json (the nearest one up) with "type": "module". */
static int is_esm_file(const struct run *r, const char *p, const struct lm_strset *module_dirs)
{
	char *dir;
	int esm = 0;
	if (lm_str_endswith(p, ".mjs"))
		return 1;
	if (!lm_str_endswith(p, ".js"))
		return 0;
	for (dir = lm_path_dirname(p); strcmp(dir, ".") != 0;) {
		char *pj = lm_asprintf("%s/package.json", dir), *up;
		int found = tree_find(r->t, pj) != NULL;
		free(pj);
		if (found) {
			esm = lm_strset_has(module_dirs, dir);
			break;
		}
		if (r->rootlen && strlen(dir) < r->rootlen)
			break; /* above the layer */
		up = lm_path_dirname(dir);
		free(dir);
		dir = up;
	}
	free(dir);
	return esm;
}

/* The package a bare specifier names ("@scope/name/sub" -> "@scope/name"), NULL for a
 * relative one, a builtin ("node:fs") or a URL. Caller frees. */
static char *bare_package(const char *spec)
{
	const char *slash;
	if (!*spec || jsscan_is_relative(spec) || spec[0] == '/' || strchr(spec, ':'))
		return NULL;
	slash = strchr(spec, '/');
	if (spec[0] == '@' && slash)
		slash = strchr(slash + 1, '/');
	return slash ? lm_xstrndup(spec, (size_t)(slash - spec)) : lm_xstrdup(spec);
}

static void on_esm_spec(const char *spec, void *vctx)
{
	struct lm_strset *names = vctx;
	char *p = bare_package(spec);
	if (p)
		lm_strset_add(names, p);
	free(p);
}

/* The packages ES module code imports, in files outside skip (the candidates' own files:
 * the base has them, and they resolve there). */
static void esm_imports(const struct run *r, const unsigned char *skip, struct lm_strset *names)
{
	struct lm_strset module_dirs = LM_STRSET_INIT;
	for (size_t i = 0; i < r->t->n; i++) {
		const struct lm_entry *e = &r->t->v[i];
		if (r->in_root[i] && !e->generated && e->type == LM_F_REG &&
		    strcmp(prune_base_name(e->path), "package.json") == 0 && pkg_is_module(e)) {
			char *d = lm_path_dirname(e->path);
			lm_strset_add(&module_dirs, d);
			free(d);
		}
	}
	for (size_t i = 0; i < r->t->n; i++) {
		const struct lm_entry *e = &r->t->v[i];
		char *buf = NULL;
		size_t len = 0;
		struct lm_err err = LM_ERR_INIT;
		if (!r->in_root[i] || e->generated || e->type != LM_F_REG || !e->src || skip[i] || e->size > PRUNE_SCAN_MAX ||
		    !is_esm_file(r, e->path, &module_dirs))
			continue;
		if (lm_read_file(e->src, PRUNE_SCAN_MAX, &buf, &len, &err) == 0)
			jsscan_specifiers(buf, len, on_esm_spec, names);
		lm_err_release(&err);
		free(buf);
	}
	lm_strset_release(&module_dirs);
}

/* A top-level Node package that the base ships identically. */
struct ncand {
	char *name;
	size_t dir;	 /* its node_modules/NAME entry */
	size_t pkgjson;	 /* its package.json entry */
	char *broot;	 /* the base's copy: "var/runtime/node_modules/NAME" */
	int out;	 /* dropped from the candidates */
};

/* The names package.json's text requires at run time: dependencies, optional and peer. */
static void npm_deps(const char *text, size_t len, struct lm_strset *out)
{
	static const char *const keys[] = { "dependencies", "optionalDependencies", "peerDependencies" };
	json_t *j = json_loadb(text, len, 0, NULL);
	for (size_t k = 0; j && k < sizeof(keys) / sizeof(keys[0]); k++) {
		const char *name;
		json_t *v;
		json_object_foreach(json_object_get(j, keys[k]), name, v)
		{
			(void)v;
			lm_strset_add(out, name);
		}
	}
	json_decref(j);
}

/* 1 when candidate c's dependencies resolve to the same files from the app's copy as from
 * the base's: each one is inside the package (its own node_modules, compared with it), not
 * in the app's node_modules at all (then both find the base's), or itself a candidate. A
 * package with the same files but a dependency of another version in the app would load
 * that version from /var/task and the base's from /var/runtime. Else 0, with the
 * dependency's name in *why (caller frees). */
static int deps_same(const struct run *r, const struct ncand *c, const struct ncand *v, size_t n, char **why)
{
	struct lm_strset deps = LM_STRSET_INIT;
	const struct lm_entry *pj = &r->t->v[c->pkgjson];
	char *buf = NULL;
	size_t len = 0;
	struct lm_err err = LM_ERR_INIT;
	int same = 1;
	if (lm_read_file(pj->src, (size_t)1 << 20, &buf, &len, &err) < 0) {
		lm_err_release(&err);
		*why = lm_xstrdup("(package.json unreadable)");
		return 0;
	}
	npm_deps(buf, len, &deps);
	free(buf);
	for (size_t k = 0; same && k < deps.cap; k++) {
		const char *d = deps.v[k];
		char *nested, *top;
		int cand = 0;
		if (!d)
			continue;
		nested = lm_asprintf("%s/node_modules/%s", r->t->v[c->dir].path, d);
		top = lm_asprintf("%.*snode_modules/%s", (int)r->rootlen, r->rootlen ? r->t->v[c->dir].path : "", d);
		if (!tree_find(r->t, nested) && tree_find(r->t, top)) {
			for (size_t m = 0; m < n; m++)
				if (!v[m].out && strcmp(v[m].name, d) == 0)
					cand = 1;
			if (!cand) {
				same = 0;
				*why = lm_xstrdup(d);
			}
		}
		free(nested);
		free(top);
	}
	lm_strset_release(&deps);
	return same;
}

static void node_packages(struct run *r, unsigned char *memb)
{
	struct ncand *v = NULL;
	struct lm_strset esm = LM_STRSET_INIT;
	size_t n = 0, cap = 0;
	for (size_t i = 0; i < r->t->n; i++) {
		const struct lm_entry *e = &r->t->v[i];
		const char *rel;
		char *pkg, *want, *buf = NULL, *version = NULL;
		size_t len = 0;
		struct lm_err err = LM_ERR_INIT;
		if (!r->in_root[i] || e->generated || e->type != LM_F_REG || !e->src)
			continue;
		rel = prune_rel(r, i);
		if (!lm_str_startswith(rel, "node_modules/") || !(pkg = pkgid_npm_package(rel)))
			continue;
		want = lm_asprintf("node_modules/%s/package.json", pkg);
		if (strcmp(rel, want) == 0 && lm_read_file(e->src, (size_t)1 << 20, &buf, &len, &err) == 0)
			version = pkgid_npm_version(buf, len);
		lm_err_release(&err);
		free(buf);
		free(want);
		for (size_t k = 0; version && k < r->base->nnode_path; k++) {
			char *bp = lm_asprintf("%s/%s/package.json", r->base->node_path[k], pkg);
			const struct prune_base_file *bf = prune_base_find(r->base, bp);
			char *bv = bf && bf->text ? pkgid_npm_version(bf->text, strlen(bf->text)) : NULL;
			char *broot = lm_asprintf("%s/%s", r->base->node_path[k], pkg);
			const struct lm_entry *dir;
			char *drel = lm_asprintf("%.*snode_modules/%s", (int)r->rootlen, r->rootlen ? e->path : "", pkg);
			uint64_t bytes = 0;
			char h[32];
			free(bp);
			dir = tree_find(r->t, drel);
			free(drel);
			if (!bv || !dir) {
				free(bv);
				free(broot);
				continue;
			}
			memset(memb, 0, r->t->n + 1);
			mark_subtree(r, memb, (size_t)(dir - r->t->v));
			if (strcmp(bv, version) != 0) {
				same_files(r, memb, strlen("node_modules/") + strlen(pkg) + 1, broot, &bytes);
				note(r, "dedupe-base: '%s' %s shadows the base's %s (/%s): %s more in the image; drop it "
					"unless the app needs this version",
				     pkg, version, bv, broot, lm_human_bytes(bytes, h, sizeof(h)));
			} else if (same_files(r, memb, strlen("node_modules/") + strlen(pkg) + 1, broot, &bytes)) {
				lm_grow((void **)&v, &cap, n + 1, sizeof(*v));
				v[n].name = lm_xstrdup(pkg);
				v[n].dir = (size_t)(dir - r->t->v);
				v[n].pkgjson = i;
				v[n].broot = broot;
				v[n].out = 0;
				broot = NULL;
				n++;
			} else {
				note(r, "dedupe-base: '%s' %s is in the base too (/%s) but its files differ: kept (%s)", pkg,
				     version, broot, lm_human_bytes(bytes, h, sizeof(h)));
			}
			free(bv);
			free(broot);
			break;
		}
		free(version);
		free(pkg);
	}
	/* what ES module code outside the candidates imports stays, with what it requires
	 * (an ES module build imports its dependencies too): until nothing changes */
	if (n) {
		memset(memb, 0, r->t->n + 1);
		for (size_t c = 0; c < n; c++)
			mark_subtree(r, memb, v[c].dir);
		esm_imports(r, memb, &esm);
	}
	for (int changed = 1; changed && esm.n;) {
		changed = 0;
		for (size_t c = 0; c < n; c++) {
			char *buf = NULL;
			size_t len = 0;
			struct lm_err err = LM_ERR_INIT;
			if (v[c].out || !lm_strset_has(&esm, v[c].name))
				continue;
			v[c].out = 1;
			changed = 1;
			note(r, "dedupe-base: '%s' is in the base too (/%s) but ES module code imports it, and import "
				"does not search NODE_PATH: kept",
			     v[c].name, v[c].broot);
			if (lm_read_file(r->t->v[v[c].pkgjson].src, (size_t)1 << 20, &buf, &len, &err) == 0)
				npm_deps(buf, len, &esm);
			lm_err_release(&err);
			free(buf);
		}
	}
	lm_strset_release(&esm);
	/* a candidate whose dependency the app holds in another version stays; that may
	 * make another one stay: until nothing changes */
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t c = 0; c < n; c++) {
			char *why = NULL;
			if (v[c].out || deps_same(r, &v[c], v, n, &why))
				continue;
			v[c].out = 1;
			changed = 1;
			note(r, "dedupe-base: '%s' is in the base too (/%s) but it requires '%s', which the app keeps (the "
				"base's copy would load the base's): kept",
			     v[c].name, v[c].broot, why);
			free(why);
		}
	}
	for (size_t c = 0; c < n; c++) {
		if (!v[c].out) {
			memset(memb, 0, r->t->n + 1);
			mark_subtree(r, memb, v[c].dir);
			for (size_t m = 0; m < r->t->n; m++)
				if (memb[m])
					r->dedupe[m] = 1;
		}
		free(v[c].name);
		free(v[c].broot);
	}
	free(v);
}

void prune_dedupe_mark(struct run *r)
{
	int want = 0;
	unsigned char *memb;
	struct bdists bd = { 0 };
	for (size_t k = 0; k < r->nrules; k++)
		want |= (r->rules[k].flags & PRUNE_R_DEDUPE_BASE) != 0;
	if (!want || !r->base || !r->base->n)
		return;
	r->dedupe = lm_xcalloc(r->t->n + 1, 1);
	memb = lm_xcalloc(r->t->n + 1, 1);
	base_dists(r->base, &bd);
	if (bd.n)
		python_dists(r, &bd, memb);
	if (r->base->nnode_path)
		node_packages(r, memb);
	bdists_release(&bd);
	free(memb);
}
