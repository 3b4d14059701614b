/* verify.c - import modules and resolve (and call) the handler inside the image.
 *
 * One sandboxed run of the image's Python, with the image's ENV plus the variables
 * Lambda sets, in the image's root (read-only, /var/task included). The checks are
 * passed as JSON in the io directory and every failure comes back there with its
 * traceback, so one run reports them all. */
#include "run/verify.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run/rootfs.h"
#include "run/sandbox.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

void verify_spec_release(struct verify_spec *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nimports; i++)
		free(v->imports[i]);
	free(v->imports);
	v->imports = NULL;
	v->nimports = 0;
}

int verify_handler_split(const char *handler, char **module, char **func)
{
	const char *dot = strrchr(handler, '.');
	if (!dot || dot == handler || !dot[1] || strchr(dot, '/'))
		return -1;
	char *m = lm_xstrndup(handler, (size_t)(dot - handler));
	for (char *p = m; *p; p++)
		if (*p == '/')
			*p = '.';
	if (m[0] == '.' || m[strlen(m) - 1] == '.' || strstr(m, "..")) {
		free(m);
		return -1;
	}
	*module = m;
	*func = lm_xstrdup(dot + 1);
	return 0;
}

/* Reads SANDBOX_IO/spec.json, writes SANDBOX_IO/result.json. */
static const char verify_py[] =
	"import json, os, sys, time, traceback, uuid, importlib\n"
	"io = '" SANDBOX_IO "'\n"
	"spec = json.load(open(io + '/spec.json'))\n"
	"fails = []\n"
	"result = None\n"
	"root = os.environ.get('LAMBDA_TASK_ROOT', '/var/task')\n"
	"if root not in sys.path:\n"
	"    sys.path.insert(0, root)\n"
	"def fail(what):\n"
	"    et, ev, tb = sys.exc_info()\n"
	"    while tb and tb.tb_next and (tb.tb_frame.f_code.co_filename == '<string>' or\n"
	"                                 'importlib' in tb.tb_frame.f_code.co_filename):\n"
	"        tb = tb.tb_next\n"
	"    fails.append({'what': what, 'traceback': ''.join(traceback.format_exception(et, ev, tb))})\n"
	"for m in spec['imports']:\n"
	"    try:\n"
	"        importlib.import_module(m)\n"
	"    except BaseException:\n"
	"        fail('import %r' % m)\n"
	"h = spec.get('handler')\n"
	"fn = None\n"
	"if h:\n"
	"    try:\n"
	"        mod = importlib.import_module(spec['module'])\n"
	"    except BaseException:\n"
	"        fail('handler %r: import %r' % (h, spec['module']))\n"
	"    else:\n"
	"        fn = getattr(mod, spec['function'], None)\n"
	"        if fn is None:\n"
	"            fails.append({'what': 'handler %r' % h, 'traceback': 'module %r (%s) has no attribute %r\\n' % "
	"(spec['module'], getattr(mod, '__file__', '?'), spec['function'])})\n"
	"        elif not callable(fn):\n"
	"            fails.append({'what': 'handler %r' % h, 'traceback': '%r is not callable\\n' % fn})\n"
	"            fn = None\n"
	"if fn is not None and spec.get('event'):\n"
	"    name = os.environ.get('AWS_LAMBDA_FUNCTION_NAME', 'lamina-verify')\n"
	"    deadline = time.time() + 900\n"
	"    class Context:\n"
	"        function_name = name\n"
	"        function_version = '$LATEST'\n"
	"        invoked_function_arn = 'arn:aws:lambda:us-east-1:000000000000:function:' + name\n"
	"        memory_limit_in_mb = '128'\n"
	"        aws_request_id = str(uuid.uuid4())\n"
	"        log_group_name = '/aws/lambda/' + name\n"
	"        log_stream_name = 'lamina-verify'\n"
	"        identity = None\n"
	"        client_context = None\n"
	"        def get_remaining_time_in_millis(self):\n"
	"            return max(0, int((deadline - time.time()) * 1000))\n"
	"    try:\n"
	"        event = json.load(open(io + '/event.json'))\n"
	"    except BaseException:\n"
	"        fail('event file')\n"
	"    else:\n"
	"        try:\n"
	"            result = json.dumps(fn(event, Context()))\n"
	"        except BaseException:\n"
	"            fail('handler %r: call' % h)\n"
	"with open(io + '/result.json', 'w') as f:\n"
	"    json.dump({'failures': fails, 'result': result}, f)\n";

/* --- one run of the checks ---------------------------------------------------------------- */

struct vfail {
	char *what, *tb;
};

struct vfails {
	struct vfail *v;
	size_t n, cap;
	char *crash; /* the interpreter died before reporting: why (status and output) */
};

static void vfails_add(struct vfails *f, const char *what, const char *tb)
{
	lm_grow((void **)&f->v, &f->cap, f->n + 1, sizeof(*f->v));
	f->v[f->n].what = lm_xstrdup(what ? what : "?");
	f->v[f->n].tb = lm_xstrdup(tb ? tb : "");
	f->n++;
}

static void vfails_release(struct vfails *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].what);
		free(f->v[i].tb);
	}
	free(f->v);
	free(f->crash);
	memset(f, 0, sizeof(*f));
}

static int vfails_has(const struct vfails *f, const char *what)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].what, what) == 0)
			return 1;
	return 0;
}

/* What every run shares. */
struct vctx {
	const struct verify_spec *v;
	const char *root, *python, *workdir, *tmp;
	const char *handler, *module, *func; /* NULL: no handler to check */
	char **env;
	unsigned runs;
};

static int write_spec(const char *io, const struct vctx *x, int call, struct lm_err *err)
{
	json_t *o = json_object(), *imp = json_array();
	for (size_t i = 0; i < x->v->nimports; i++)
		json_array_append_new(imp, json_string(x->v->imports[i]));
	json_object_set_new(o, "imports", imp);
	json_object_set_new(o, "handler", x->handler ? json_string(x->handler) : json_null());
	json_object_set_new(o, "module", x->module ? json_string(x->module) : json_null());
	json_object_set_new(o, "function", x->func ? json_string(x->func) : json_null());
	json_object_set_new(o, "event", json_boolean(call && x->v->event != NULL));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char *p = lm_path_join(io, "spec.json");
	int r = lm_write_file_atomic(p, text, strlen(text), err);
	free(p);
	free(text);
	return r;
}

/* Runs the checks once, with overlay (or NULL) laid over the image's root; call: also
 * call the handler with the event. Fills f (and *result when the handler returned).
 * Fails only when the run itself could not be made. */
static int run_checks(struct vctx *x, const char *overlay, int call, struct vfails *f, char **result,
		      struct lm_err *err)
{
	char *dir = lm_asprintf("%s/run%u", x->tmp, x->runs++);
	char *io = lm_path_join(dir, "io"), *scratch = lm_path_join(dir, "scratch");
	char *text = NULL;
	size_t len;
	int ret = -1, logfd = -1, status = 0;
	json_t *doc = NULL;

	if (lm_mkdir_p(io, err) < 0 || lm_mkdir_p(scratch, err) < 0 || write_spec(io, x, call, err) < 0)
		goto out;
	if (call && x->v->event) {
		char *ev = NULL, *p;
		if (lm_read_file(x->v->event, 6u << 20, &ev, &len, err) < 0) {
			lm_err_wrap(err, "verify: event");
			goto out;
		}
		p = lm_path_join(io, "event.json");
		int r = lm_write_file_atomic(p, ev, len, err);
		free(p);
		free(ev);
		if (r < 0)
			goto out;
	}
	{
		char *logp = lm_path_join(io, "log");
		logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		free(logp);
		if (logfd < 0) {
			lm_err_sys(err, "verify: create log");
			goto out;
		}
	}
	{
		char *argv[] = { (char *)x->python, "-B", "-c", (char *)verify_py, NULL };
		struct sandbox_spec sp = { .rootfs = x->root, .overlay = overlay, .io = io, .scratch = scratch,
					   .argv = argv, .env = x->env, .workdir = x->workdir,
					   .stdout_fd = logfd, .stderr_fd = logfd };
		if (sandbox_run(&sp, &status, err) < 0) {
			lm_err_wrap(err, "verify");
			goto out;
		}
	}
	{
		char *rp = lm_path_join(io, "result.json");
		struct lm_err e2 = LM_ERR_INIT;
		json_error_t je;
		int r = lm_read_file(rp, 64u << 20, &text, &len, &e2);
		free(rp);
		lm_err_release(&e2);
		if (r == 0)
			doc = json_loadb(text, len, 0, &je);
	}
	if (!doc) {
		char *logp = lm_path_join(io, "log"), *log = NULL;
		struct lm_err e2 = LM_ERR_INIT;
		if (lm_read_file(logp, 1 << 16, &log, &len, &e2) < 0)
			lm_err_release(&e2);
		free(logp);
		f->crash = lm_asprintf("'%s' exited with status %d before reporting:\n%s", x->python, status,
				       log ? log : "");
		free(log);
	} else {
		json_t *fails = json_object_get(doc, "failures"), *it;
		size_t i;
		json_array_foreach(fails, i, it)
		{
			vfails_add(f, json_string_value(json_object_get(it, "what")),
				   json_string_value(json_object_get(it, "traceback")));
		}
		const char *rv = json_string_value(json_object_get(doc, "result"));
		if (rv && result)
			*result = lm_xstrdup(rv);
	}
	ret = 0;
out:
	if (logfd >= 0)
		close(logfd);
	json_decref(doc);
	lm_rm_rf_quiet(dir);
	free(text);
	free(io);
	free(scratch);
	free(dir);
	return ret;
}

/* Appends "\n  WHAT:\n    traceback lines" to *report. */
static void add_failure(char **report, const char *what, const char *tb)
{
	char *ind = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&ind, &n);
	fprintf(f, "\n  %s:", what);
	for (const char *p = tb; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(f, "\n    %.*s", (int)len, p);
		p += len + (nl ? 1 : 0);
	}
	fclose(f);
	char *old = *report;
	*report = lm_asprintf("%s%s", old ? old : "", ind);
	free(old);
	free(ind);
}

static void append(char **s, const char *fmt, ...) LM_PRINTF(2, 3);
static void append(char **s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *add = lm_vasprintf(fmt, ap);
	va_end(ap);
	char *old = *s;
	*s = lm_asprintf("%s%s", old ? old : "", add);
	free(old);
	free(add);
}

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
				int sc = hints[h][0] == '/' ? score_path(p, hints[h]) : score_module(p, hints[h]);
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

/* Puts entry e at its image path under dir: hard link or copy for a file. */
static int stage_entry(const char *dir, const struct lm_entry *e, struct lm_err *err)
{
	char *dst = lm_path_join(dir, e->path);
	char *parent = lm_path_dirname(dst);
	char *data = NULL;
	size_t len;
	int ret = -1;

	if (lm_mkdir_p(e->type == LM_F_DIR ? dst : parent, err) < 0)
		goto out;
	if (e->type == LM_F_DIR) {
		ret = 0;
	} else if (e->type == LM_F_SYMLINK) {
		if (symlink(e->link ? e->link : "", dst) < 0 && errno != EEXIST)
			lm_err_sys(err, "symlink '%s'", dst);
		else
			ret = 0;
	} else if (!e->src) {
		ret = 0;
	} else if (link(e->src, dst) == 0 || errno == EEXIST) {
		ret = 0;
	} else if (lm_read_file(e->src, (size_t)1 << 31, &data, &len, err) == 0 &&
		   lm_write_file_atomic(dst, data, len, err) == 0) {
		chmod(dst, e->mode & 0777);
		ret = 0;
	}
out:
	free(data);
	free(parent);
	free(dst);
	return ret;
}

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
	char *overlay = lm_asprintf("%s/overlay%u", b->x->tmp, b->x->runs);
	struct vfails f = { 0 };
	int ret = -1;

	if (lm_mkdir_p(overlay, err) < 0)
		goto out;
	for (size_t l = 0; l < b->p->nlayers; l++) {
		const struct lm_tree *t = b->p->layers[l].tree;
		for (size_t i = 0; sel[l] && i < b->d0[l].n && i < t->n; i++)
			if (sel[l][i] && stage_entry(overlay, &t->v[i], err) < 0) {
				lm_err_wrap(err, "put back '/%s'", t->v[i].path);
				goto out;
			}
	}
	if (run_checks(b->x, overlay, 0, &f, NULL, err) < 0)
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
	lm_rm_rf_quiet(overlay);
	free(overlay);
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
	if (prune_decide(pl->global, pl->layer, pl->tree, pl->root, b->p->platform, s->c.label, &d, err) < 0)
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
			append(&msg, "%s'%s' (%s)", done == 0 ? "" : done + 1 == nset ? " and " : ", ", b->s[k].c.label, d);
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
static char *blame_run(struct vctx *x, const struct verify_prune *p, const struct vfails *fails,
		       struct lm_err *err)
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
		if (prune_decide(pl->global, pl->layer, pl->tree, pl->root, p->platform, NULL, d, err) < 0)
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
			append(&out, "\nverify: %s failed; it passes with %s", b.targets[t], b.fixed_by[t]);
		else if (b.unexplained[t])
			append(&out, "\nverify: %s fails with every prune rule disabled too: pruning is not the cause",
			       b.targets[t]);
		else
			append(&out, "\nverify: %s failed; it passes with every prune rule disabled, but not with %s of "
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

/* --- verify_run -------------------------------------------------------------------------- */

int verify_run(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
	       const struct verify_prune *prune, const struct lm_opts *o, char **result, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	struct rootfs rfs = { NULL, -1 };
	struct vctx x = { 0 };
	struct vfails f = { 0 };
	char *python = NULL, *tmp = NULL, *module = NULL, *func = NULL;
	char *report = NULL, *res = NULL, *blamed = NULL;
	const char *handler = NULL;
	char **env = NULL;
	size_t nfail = 0;
	int ret = -1;

	(void)o;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0) {
		lm_err_wrap(err, "verify: image config");
		goto out;
	}
	oci_config_view_get(cfg, &view);
	if (v->handler) {
		if (!view.cmd || view.ncmd == 0 || !view.cmd[0] || !*view.cmd[0]) {
			add_failure(&report, "handler", "the image has no CMD naming the handler (\"module.function\")\n");
			nfail++;
		} else if (verify_handler_split(view.cmd[0], &module, &func) < 0) {
			char *m = lm_asprintf("CMD[0] '%s' is not a handler of the form \"module.function\"\n", view.cmd[0]);
			add_failure(&report, "handler", m);
			free(m);
			nfail++;
		} else {
			handler = view.cmd[0];
		}
	}
	if (rootfs_open(&rfs, c, img->manifest.layers, img->manifest.nlayers, err) < 0) {
		lm_err_wrap(err, "verify: root filesystem of the image");
		goto out;
	}
	{
		char *extra[] = { "AWS_LAMBDA_FUNCTION_NAME=lamina-verify", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
				  "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "PYTHONDONTWRITEBYTECODE=1", NULL };
		char *h = handler ? lm_asprintf("_HANDLER=%s", handler) : NULL;
		if (h)
			extra[4] = h;
		env = sandbox_env(view.env, view.nenv, extra, h ? 5 : 4);
		free(h);
		/* Lambda sets a region; SDK clients need one */
		if (!sandbox_env_get(env, "AWS_REGION")) {
			char *more[] = { "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1" };
			char **e2 = NULL;
			size_t ne = 0;
			while (env[ne])
				ne++;
			e2 = sandbox_env(env, ne, more, sandbox_env_get(env, "AWS_DEFAULT_REGION") ? 1 : 2);
			sandbox_env_free(env);
			env = e2;
		}
	}
	python = sandbox_find_python(rfs.path, env);
	if (!python) {
		lm_err_set(err, LM_E_VERIFY, "verify: the image has no Python interpreter (no /var/lang/bin/python3, no "
					     "python3 on its PATH)");
		goto out;
	}
	tmp = rootfs_tmpdir(c, err);
	if (!tmp)
		goto out;
	x.v = v;
	x.root = rfs.path;
	x.python = python;
	x.workdir = view.workdir && *view.workdir ? view.workdir : "/var/task";
	x.tmp = tmp;
	x.handler = handler;
	x.module = module;
	x.func = func;
	x.env = env;
	if (run_checks(&x, NULL, 1, &f, &res, err) < 0)
		goto out;
	if (f.crash) {
		add_failure(&report, "interpreter", f.crash);
		nfail++;
	}
	for (size_t i = 0; i < f.n; i++) {
		add_failure(&report, f.v[i].what, f.v[i].tb);
		nfail++;
	}
	if (result)
		*result = res, res = NULL;
	if (nfail) {
		if (prune && prune->nlayers && f.n && !f.crash) {
			struct lm_err e2 = LM_ERR_INIT;
			blamed = blame_run(&x, prune, &f, &e2);
			if (e2.code) {
				blamed = lm_asprintf("\nverify: could not re-check with prune rules disabled: %s", e2.msg);
				lm_err_release(&e2);
			}
		}
		lm_err_set(err, LM_E_VERIFY, "%zu check%s failed in the image:%s%s", nfail, nfail == 1 ? "" : "s",
			   report, blamed ? blamed : "");
		goto out;
	}
	ret = 0;
out:
	lm_rm_rf_quiet(tmp);
	vfails_release(&f);
	sandbox_env_free(env);
	oci_config_view_release(&view);
	oci_config_free(cfg);
	rootfs_close(&rfs);
	free(python);
	free(tmp);
	free(module);
	free(func);
	free(report);
	free(res);
	free(blamed);
	return ret;
}

int verify_image(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
		 const struct lm_opts *o, struct lm_err *err)
{
	return verify_run(img, c, v, NULL, o, NULL, err);
}
