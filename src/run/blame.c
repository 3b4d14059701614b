/* blame.c - naming the prune rule behind a failed verification.
 *
 * When checks fail and prune removed files, the image is re-checked with the files
 * prune removed put back (laid over the image's root filesystem: nothing is rebuilt):
 * first all of them (what still fails is not prune's doing), then those of one rule at
 * a time, the likeliest first (verify_blame_order), and the rules that changed a
 * failure together. Handler calls are never repeated. */
#include "run/verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "run/run_internal.h"

/* --- naming the prune rule: pure parts ----------------------------------------------------- */

void verify_strv_free(char **v)
{
	if (!v)
		return;
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static void strv_add(char ***v, size_t *n, char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i], s) == 0) {
			free(s);
			return;
		}
	*v = lm_xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

/* Every quoted string that follows marker in text: "...'X'" -> X (quote is ' or "). */
static void after_marker(const char *text, const char *marker, char quote, char ***v, size_t *n, int paths)
{
	size_t ml = strlen(marker);
	for (const char *p = strstr(text, marker); p; p = strstr(p + ml, marker)) {
		const char *q = p + ml, *e;
		if (*q != quote || !(e = strchr(q + 1, quote)) || e == q + 1)
			continue;
		if (paths && q[1] != '/')
			continue;
		strv_add(v, n, lm_xstrndup(q + 1, (size_t)(e - q - 1)));
	}
}

/* An npm package name: "name" or "@scope/name" (lowercase letters, digits, - . _ ~). */
static int is_package_name(const char *s, size_t n)
{
	size_t slashes = 0;
	if (n == 0 || s[0] == '.' || s[0] == '_')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '/')
			slashes++;
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
			   c == '~' || (c == '@' && i == 0)))
			return 0;
	}
	return s[0] == '@' ? slashes == 1 && s[n - 1] != '/' : slashes == 0;
}

/* Node: the package of "require('pkg')" / "import('pkg/sub')" as "node_modules/pkg"; the
 * files of a stack ("at f (/var/task/x.js:1:2)", "at /var/task/x.js:1:2") and of a
 * require stack ("- /var/task/x.js"). */
static void node_hints(const char *what, const char *tb, char ***v, size_t *n)
{
	static const char *const calls[] = { "require('", "import('" };
	for (size_t k = 0; k < 2; k++) {
		const char *a = strstr(what, calls[k]), *e;
		if (!a || !(e = strchr(a += strlen(calls[k]), '\'')))
			continue;
		size_t len = (size_t)(e - a);
		/* the package of a deep import: "pkg/sub" -> pkg, "@s/p/sub" -> @s/p */
		const char *sl = memchr(a, '/', len);
		if (sl && a[0] == '@')
			sl = memchr(sl + 1, '/', len - (size_t)(sl + 1 - a));
		if (sl)
			len = (size_t)(sl - a);
		if (is_package_name(a, len))
			strv_add(v, n, lm_asprintf("node_modules/%.*s", (int)len, a));
	}
	if (!strstr(tb, "\n    at ") && !strstr(tb, "Require stack:"))
		return; /* not a Node stack (a Python traceback has its own markers) */
	for (const char *p = tb; (p = strstr(p, "/")) != NULL; p++) {
		/* a path starts after "(", "at " or "- " */
		if (p == tb || !((p[-1] == '(') || (p - tb >= 3 && strncmp(p - 3, "at ", 3) == 0) ||
				 (p - tb >= 2 && strncmp(p - 2, "- ", 2) == 0)))
			continue;
		size_t len = strcspn(p, " )\n'\"");
		const char *end = p + len;
		/* strip ":line:column" */
		for (int k = 0; k < 2; k++) {
			const char *c = end;
			while (c > p && c[-1] >= '0' && c[-1] <= '9')
				c--;
			if (c < end && c > p && c[-1] == ':')
				end = c - 1;
		}
		if (end - p > 1)
			strv_add(v, n, lm_xstrndup(p, (size_t)(end - p)));
		p += len ? len - 1 : 0;
	}
}

/* 3: p is in (or is) the package h ("node_modules/x"); 0 otherwise. */
static int score_package(const char *p, const char *h)
{
	size_t hl = strlen(h);
	for (const char *s = strstr(p, h); s; s = strstr(s + 1, h))
		if (s[-1] == '/' && (s[hl] == '/' || s[hl] == '\0'))
			return 3;
	return 0;
}

static int is_dotted_name(const char *s)
{
	if (!*s || *s == '.')
		return 0;
	for (const char *p = s; *p; p++)
		if (!(*p == '.' || *p == '_' || (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
		      (*p >= 'A' && *p <= 'Z')))
			return 0;
	return s[strlen(s) - 1] != '.';
}

char **verify_blame_hints(const char *what, const char *traceback)
{
	char **v = lm_xcalloc(1, sizeof(*v)), **raw = NULL;
	size_t n = 0, nraw = 0;
	const char *tb = traceback ? traceback : "";

	after_marker(what, "import ", '\'', &raw, &nraw, 0);
	after_marker(tb, "No module named ", '\'', &raw, &nraw, 0);
	after_marker(tb, "' from ", '\'', &raw, &nraw, 0); /* cannot import name 'n' from 'x' (...) */
	for (size_t i = 0; i < nraw; i++) {
		if (is_dotted_name(raw[i]))
			strv_add(&v, &n, raw[i]);
		else
			free(raw[i]);
	}
	free(raw);
	/* cannot import name 'n' from 'x': n may be a submodule x.n */
	for (const char *p = strstr(tb, "cannot import name '"); p; p = strstr(p + 1, "cannot import name '")) {
		const char *a = p + strlen("cannot import name '"), *b = strchr(a, '\'');
		const char *c = b ? strstr(b, "' from '") : NULL;
		const char *d = c ? strchr(c + 8, '\'') : NULL;
		if (!b || !c || c != b || !d)
			continue;
		char *m = lm_asprintf("%.*s.%.*s", (int)(d - c - 8), c + 8, (int)(b - a), a);
		if (is_dotted_name(m))
			strv_add(&v, &n, m);
		else
			free(m);
	}
	after_marker(tb, "File ", '"', &v, &n, 1);
	after_marker(tb, ": ", '\'', &v, &n, 1); /* FileNotFoundError: [Errno 2] ...: '/var/task/x' */
	node_hints(what, tb, &v, &n);
	return v;
}

/* 3: path is the module m, inside it, or m's own file; 2: inside m's top-level
 * package; 0 otherwise. p is "/"-prefixed. */
static int score_module(const char *p, const char *m)
{
	char *mp = lm_xstrdup(m);
	int best = 0;
	for (char *q = mp; *q; q++)
		if (*q == '.')
			*q = '/';
	size_t ml = strlen(mp);
	for (const char *s = strstr(p, mp); s; s = strstr(s + 1, mp)) {
		char after = s[ml];
		if (s[-1] != '/')
			continue;
		/* "a/b/" (inside), "a/b" (the dir itself) or "a/b.py", "a/b.cpython-311.so" */
		if (after == '/' || after == '\0' || (after == '.' && !strchr(s + ml, '/'))) {
			best = 3;
			break;
		}
	}
	if (best < 3) {
		char *slash = strchr(mp, '/');
		if (slash) {
			*slash = '\0';
			ml = strlen(mp);
			for (const char *s = strstr(p, mp); s; s = strstr(s + 1, mp))
				if (s[-1] == '/' && s[ml] == '/') {
					best = 2;
					break;
				}
		}
	}
	free(mp);
	return best;
}

/* 3: path is the file h names, or a directory holding it; 1: in the same directory;
 * 0 otherwise. */
static int score_path(const char *p, const char *h)
{
	size_t pl = strlen(p);
	const char *slash = strrchr(h, '/');
	if (strcmp(p, h) == 0 || (strncmp(h, p, pl) == 0 && h[pl] == '/'))
		return 3;
	/* in the same directory only: everything is somewhere below /var/task */
	if (slash && slash > h && strncmp(p, h, (size_t)(slash - h + 1)) == 0 && !strchr(p + (slash - h + 1), '/'))
		return 1;
	return 0;
}

struct ranked {
	struct verify_blame_cand c;
	size_t idx;
};

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->c.score != y->c.score)
		return x->c.score > y->c.score ? -1 : 1;
	if (x->c.hits != y->c.hits)
		return x->c.hits > y->c.hits ? -1 : 1;
	if (x->c.files != y->c.files)
		return x->c.files > y->c.files ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

void verify_blame_order(struct verify_blame_cand *c, size_t n, char *const *hints)
{
	struct ranked *r = lm_xcalloc(n + 1, sizeof(*r));
	for (size_t i = 0; i < n; i++) {
		c[i].score = 0;
		c[i].hits = 0;
		for (size_t k = 0; k < c[i].npaths; k++) {
			char *p = lm_asprintf("/%s", c[i].paths[k]);
			int best = 0;
			for (size_t h = 0; hints && hints[h]; h++) {
				int sc = hints[h][0] == '/' ? score_path(p, hints[h])
					 : lm_str_startswith(hints[h], "node_modules/") ? score_package(p, hints[h])
											 : score_module(p, hints[h]);
				if (sc > best)
					best = sc;
			}
			free(p);
			if (best > c[i].score) {
				c[i].score = best;
				c[i].hits = 0;
			}
			if (best == c[i].score && best > 0)
				c[i].hits++;
		}
		r[i].c = c[i];
		r[i].idx = i;
	}
	qsort(r, n, sizeof(*r), cmp_ranked);
	for (size_t i = 0; i < n; i++)
		c[i] = r[i].c;
	free(r);
}

/* --- naming the prune rule: the re-checks ---------------------------------------------------- */

/* The last line of a traceback: the exception ("ModuleNotFoundError: No module named 'x'"). */
static char *last_line(const char *tb)
{
	const char *end = tb + strlen(tb), *start;
	while (end > tb && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > tb && start[-1] != '\n')
		start--;
	return lm_xstrndup(start, (size_t)(end - start));
}

struct suspect {
	struct verify_blame_cand c;
	unsigned char *back; /* entries of its layer that disabling it puts back; NULL: not computed */
	int useless;         /* disabling it alone puts nothing back (another rule takes over) */
};

struct blame {
	struct vctx *x;
	const struct verify_prune *p;
	struct prune_decision *d0; /* per layer: what the build removed */
	struct suspect *s;         /* in the order tried */
	size_t ns;
	char **targets;            /* failed checks to explain (what) */
	char **last;               /* per target: its exception line in the failed build */
	size_t ntargets;
	char **fixed_by;           /* per target: how it passes, or NULL */
	int *unexplained;          /* per target: still fails with nothing pruned */
	unsigned char *involved;   /* [target * ns + suspect]: disabling it changed the exception */
	unsigned char *fixer;      /* per suspect: disabling it alone fixed a target */
	size_t runs;               /* re-checks with single rules */
};

static size_t left(const struct blame *b)
{
	size_t n = 0;
	for (size_t t = 0; t < b->ntargets; t++)
		n += !b->fixed_by[t] && !b->unexplained[t];
	return n;
}

/* Runs the checks with every entry marked in sel[layer] put back. passes[t]: target t
 * passed; changed[t] (when non-NULL): it failed with another exception than before. */
static int recheck(struct blame *b, unsigned char *const *sel, int *passes, int *changed, struct lm_err *err)
{
	const char *overlay = imagerun_overlay(b->x->ir, err);
	struct vfails f = { 0 };
	int ret = -1;

	if (!overlay)
		goto out;
	for (size_t l = 0; l < b->p->nlayers; l++) {
		const struct lm_tree *t = b->p->layers[l].tree;
		unsigned char *mask;
		struct tree_select ts = { 0 };
		int r;
		if (!sel[l])
			continue;
		/* the decision covers the entries prune saw; generated ones after them stay out */
		mask = lm_xcalloc(t->n + 1, 1);
		memcpy(mask, sel[l], b->d0[l].n < t->n ? b->d0[l].n : t->n);
		ts.mask = mask;
		ts.copy = 1; /* leave the sources' ctime alone (the stat cache reads it) */
		r = tree_materialize(t, overlay, &ts, err);
		free(mask);
		if (r < 0) {
			lm_err_wrap(err, "put back");
			goto out;
		}
	}
	if (verify_run_checks(b->x, overlay, 0, &f, NULL, err) < 0)
		goto out;
	for (size_t t = 0; t < b->ntargets; t++) {
		passes[t] = !f.crash && !vfails_has(&f, b->targets[t]);
		if (changed) {
			changed[t] = 0;
			for (size_t i = 0; i < f.n; i++)
				if (strcmp(f.v[i].what, b->targets[t]) == 0) {
					char *l = last_line(f.v[i].tb);
					changed[t] = strcmp(l, b->last[t]) != 0;
					free(l);
				}
		}
	}
	ret = 0;
out:
	vfails_release(&f);
	return ret;
}

/* "removed 3 files, 21 B in layer 'deps'" (the layer only when there are several). */
static char *removed_desc(const struct verify_blame_cand *c, const struct verify_prune *p)
{
	char h[32];
	return lm_asprintf("removed %llu file%s, %s%s%s%s", (unsigned long long)c->files, c->files == 1 ? "" : "s",
			   lm_human_bytes(c->bytes, h, sizeof(h)), p->nlayers > 1 ? " in layer '" : "",
			   p->nlayers > 1 ? p->layers[c->layer].name : "", p->nlayers > 1 ? "'" : "");
}

/* What disabling suspect k alone puts back (cached in s->back). */
static int put_back(struct blame *b, size_t k, struct lm_err *err)
{
	struct suspect *s = &b->s[k];
	const struct verify_prune_layer *pl = &b->p->layers[s->c.layer];
	const struct prune_decision *base = &b->d0[s->c.layer];
	struct prune_decision d = { 0 };
	size_t any = 0;

	if (s->back || s->useless)
		return 0;
	if (prune_decide(pl->global, pl->layer, pl->tree, pl->root, b->p->platform, b->p->base, s->c.label, &d, err) < 0)
		return -1;
	s->back = lm_xcalloc(base->n + 1, 1);
	for (size_t i = 0; i < base->n && i < d.n; i++)
		if (base->removed[i] && !d.removed[i])
			s->back[i] = 1, any++;
	prune_decision_release(&d);
	if (!any) {
		free(s->back);
		s->back = NULL;
		s->useless = 1;
	}
	return 0;
}

/* Tries suspect k alone. */
static int try_one(struct blame *b, size_t k, unsigned char **sel, int *passes, int *changed, struct lm_err *err)
{
	struct suspect *s = &b->s[k];
	if (put_back(b, k, err) < 0)
		return -1;
	if (s->useless)
		return 0;
	sel[s->c.layer] = s->back;
	int r = recheck(b, sel, passes, changed, err);
	sel[s->c.layer] = NULL;
	b->runs++;
	if (r < 0)
		return -1;
	for (size_t t = 0; t < b->ntargets; t++) {
		if (b->fixed_by[t] || b->unexplained[t])
			continue;
		if (passes[t]) {
			char *d = removed_desc(&s->c, b->p);
			b->fixed_by[t] = lm_asprintf("prune rule '%s' disabled (%s)", s->c.label, d);
			free(d);
			b->fixer[k] = 1;
		} else if (changed[t]) {
			b->involved[t * b->ns + k] = 1;
		}
	}
	return 0;
}

/* Tries the rules that fixed something or changed a remaining failure, together: a check
 * that two removals broke passes only with both put back. Once per set. */
static int try_together(struct blame *b, unsigned char **sel, unsigned char *last_set, int *passes,
			struct lm_err *err)
{
	unsigned char *set = lm_xcalloc(b->ns + 1, 1);
	size_t nset = 0;
	int ret = -1;

	for (size_t k = 0; k < b->ns; k++) {
		int in = b->fixer[k];
		for (size_t t = 0; t < b->ntargets && !in; t++)
			in = !b->fixed_by[t] && !b->unexplained[t] && b->involved[t * b->ns + k];
		set[k] = (unsigned char)in;
		nset += (size_t)in;
	}
	if (nset < 2 || memcmp(set, last_set, b->ns) == 0) {
		ret = 0;
		goto out;
	}
	memcpy(last_set, set, b->ns);
	for (size_t l = 0; l < b->p->nlayers; l++)
		sel[l] = lm_xcalloc(b->d0[l].n + 1, 1);
	for (size_t k = 0; k < b->ns; k++)
		for (size_t i = 0; set[k] && i < b->d0[b->s[k].c.layer].n; i++)
			sel[b->s[k].c.layer][i] |= b->s[k].back[i];
	int r = recheck(b, sel, passes, NULL, err);
	for (size_t l = 0; l < b->p->nlayers; l++) {
		free(sel[l]);
		sel[l] = NULL;
	}
	if (r < 0)
		goto out;
	for (size_t t = 0; t < b->ntargets; t++) {
		if (b->fixed_by[t] || b->unexplained[t] || !passes[t])
			continue;
		char *msg = NULL;
		size_t done = 0;
		for (size_t k = 0; k < b->ns; k++) {
			if (!set[k])
				continue;
			char *d = removed_desc(&b->s[k].c, b->p);
			verify_append(&msg, "%s'%s' (%s)", done == 0 ? "" : done + 1 == nset ? " and " : ", ", b->s[k].c.label, d);
			free(d);
			done++;
		}
		b->fixed_by[t] = lm_asprintf("prune rules %s disabled together", msg);
		free(msg);
	}
	ret = 0;
out:
	free(set);
	return ret;
}

/* Returns the lines to add to the failure message (caller frees), or NULL. */
char *verify_blame(struct vctx *x, const struct verify_prune *p, const struct vfails *fails, struct lm_err *err)
{
	struct blame b;
	struct verify_blame_cand *cand = NULL;
	char ***paths = NULL; /* per candidate before ordering */
	unsigned char **sel = lm_xcalloc(p->nlayers + 1, sizeof(*sel));
	unsigned char *last_set = NULL;
	char **hints = lm_xcalloc(1, sizeof(*hints));
	size_t nhints = 0, ncand = 0;
	int *passes = NULL, *changed = NULL;
	char *out = NULL;
	int ok = 0;

	memset(&b, 0, sizeof(b));
	b.x = x;
	b.p = p;
	for (size_t i = 0; i < fails->n; i++) {
		if (lm_str_endswith(fails->v[i].what, ": call") || strcmp(fails->v[i].what, "event file") == 0)
			continue; /* a handler is not called again */
		b.targets = lm_xrealloc(b.targets, (b.ntargets + 1) * sizeof(*b.targets));
		b.last = lm_xrealloc(b.last, (b.ntargets + 1) * sizeof(*b.last));
		b.targets[b.ntargets] = fails->v[i].what;
		b.last[b.ntargets++] = last_line(fails->v[i].tb);
		char **h = verify_blame_hints(fails->v[i].what, fails->v[i].tb);
		for (char **q = h; *q; q++)
			strv_add(&hints, &nhints, lm_xstrdup(*q));
		verify_strv_free(h);
	}
	if (!b.ntargets)
		goto done;
	b.fixed_by = lm_xcalloc(b.ntargets, sizeof(*b.fixed_by));
	b.unexplained = lm_xcalloc(b.ntargets, sizeof(int));
	passes = lm_xcalloc(b.ntargets, sizeof(int));
	changed = lm_xcalloc(b.ntargets, sizeof(int));

	/* what the build removed, and which rule removed it: the suspects */
	b.d0 = lm_xcalloc(p->nlayers + 1, sizeof(*b.d0));
	for (size_t l = 0; l < p->nlayers; l++) {
		const struct verify_prune_layer *pl = &p->layers[l];
		struct prune_decision *d = &b.d0[l];
		if (prune_decide(pl->global, pl->layer, pl->tree, pl->root, p->platform, p->base, NULL, d, err) < 0)
			goto done;
		for (size_t k = 0; k < d->nlabels; k++) {
			struct verify_blame_cand c = { 0 };
			char **pv = NULL;
			for (size_t i = 0; i < d->n; i++) {
				const struct lm_entry *e = &pl->tree->v[i];
				if (d->rule[i] != (int)k)
					continue;
				pv = lm_xrealloc(pv, (c.npaths + 1) * sizeof(*pv));
				pv[c.npaths++] = e->path;
				if (e->type != LM_F_DIR) {
					c.files++;
					c.bytes += e->size;
				}
			}
			if (!c.npaths)
				continue;
			c.label = d->labels[k];
			c.layer = l;
			c.paths = (const char *const *)pv;
			cand = lm_xrealloc(cand, (ncand + 1) * sizeof(*cand));
			paths = lm_xrealloc(paths, (ncand + 1) * sizeof(*paths));
			paths[ncand] = pv;
			cand[ncand++] = c;
		}
	}
	if (!ncand)
		goto done; /* prune removed nothing */
	verify_blame_order(cand, ncand, hints);
	b.ns = ncand;
	b.s = lm_xcalloc(ncand, sizeof(*b.s));
	for (size_t k = 0; k < ncand; k++)
		b.s[k].c = cand[k];
	b.involved = lm_xcalloc(b.ntargets * ncand + 1, 1);
	b.fixer = lm_xcalloc(ncand + 1, 1);
	last_set = lm_xcalloc(ncand + 1, 1);

	/* everything back: what still fails is not prune's doing */
	for (size_t l = 0; l < p->nlayers; l++)
		sel[l] = b.d0[l].removed;
	{
		int r = recheck(&b, sel, passes, NULL, err);
		memset(sel, 0, p->nlayers * sizeof(*sel));
		if (r < 0)
			goto done;
	}
	for (size_t t = 0; t < b.ntargets; t++)
		b.unexplained[t] = !passes[t];
	/* one rule at a time, the likeliest first; before the unlikely ones, the guilty ones
	 * together */
	for (size_t k = 0; k < ncand && left(&b) && b.runs < VERIFY_BLAME_MAX_RUNS; k++) {
		if (b.s[k].c.score == 0 && try_together(&b, sel, last_set, passes, err) < 0)
			goto done;
		if (left(&b) && try_one(&b, k, sel, passes, changed, err) < 0)
			goto done;
	}
	if (left(&b) && try_together(&b, sel, last_set, passes, err) < 0)
		goto done;
	for (size_t t = 0; t < b.ntargets; t++) {
		if (b.fixed_by[t])
			verify_append(&out, "\nverify: %s failed; it passes with %s", b.targets[t], b.fixed_by[t]);
		else if (b.unexplained[t])
			verify_append(&out, "\nverify: %s fails with every prune rule disabled too: pruning is not the cause",
			       b.targets[t]);
		else
			verify_append(&out, "\nverify: %s failed; it passes with every prune rule disabled, but not with %s of "
				     "the %zu rules that removed something disabled alone",
			       b.targets[t], b.runs < ncand ? "the likeliest" : "any", ncand);
	}
	ok = 1;
done:
	if (!ok) {
		free(out);
		out = NULL;
	}
	for (size_t t = 0; t < b.ntargets; t++) {
		if (b.fixed_by)
			free(b.fixed_by[t]);
		free(b.last[t]);
	}
	free(b.fixed_by);
	free(b.last);
	free(b.unexplained);
	free(b.targets);
	free(b.involved);
	free(b.fixer);
	for (size_t k = 0; k < b.ns; k++)
		free(b.s[k].back);
	free(b.s);
	for (size_t l = 0; b.d0 && l < p->nlayers; l++)
		prune_decision_release(&b.d0[l]);
	free(b.d0);
	for (size_t k = 0; k < ncand; k++)
		free(paths[k]);
	free(paths);
	free(cand);
	free(sel);
	free(last_set);
	free(passes);
	free(changed);
	verify_strv_free(hints);
	return out;
}
