/* precompile.c - .pyc for the app layers, made by the image's own interpreter.
 *
 * The sources are staged (hard links, else copies) at their image paths in a directory
 * laid over the base rootfs; one sandboxed interpreter run reads the list of sources
 * from the io directory, forks `jobs` workers, and writes each .pyc there under its
 * index, with the header the chosen invalidation mode needs. The .pyc's timestamp is
 * the build epoch (the mtime every file gets in the layer), not the staged file's
 * mtime, so timestamp .pyc stay valid once the layer is unpacked. */
#include "run/precompile.h"

#include <errno.h>
#include <fcntl.h>
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

/* argv: mode optimize sourceless epoch jobs. Reads SANDBOX_IO/list (NUL-separated
 * "index\tpath"), writes SANDBOX_IO/pyc/<index> and SANDBOX_IO/res.<worker> lines
 * "ok\t<index>\t<pyc image path>" or "err\t<index>\t<line>\t<message>". */
static const char compile_py[] =
	"import os, sys, importlib.util, importlib._bootstrap_external as be\n"
	"mode, opt, sourceless, epoch, jobs = sys.argv[1], int(sys.argv[2]), sys.argv[3] == '1', int(sys.argv[4]), "
	"int(sys.argv[5])\n"
	"io = '" SANDBOX_IO "'\n"
	"with open(io + '/list', 'rb') as f:\n"
	"    items = [x.decode('utf-8', 'surrogateescape').split('\\t', 1) for x in f.read().split(b'\\0') if x]\n"
	"def one(idx, path):\n"
	"    with open(path, 'rb') as f:\n"
	"        data = f.read()\n"
	"    code = compile(data, path, 'exec', dont_inherit=True, optimize=opt)\n"
	"    if mode == 'timestamp':\n"
	"        pyc = be._code_to_timestamp_pyc(code, epoch, len(data))\n"
	"    else:\n"
	"        pyc = be._code_to_hash_pyc(code, importlib.util.source_hash(data), mode == 'checked-hash')\n"
	"    with open(io + '/pyc/' + idx, 'wb') as f:\n"
	"        f.write(pyc)\n"
	"    if sourceless:\n"
	"        return path[:-3] + '.pyc'\n"
	"    return importlib.util.cache_from_source(path, optimization=opt if opt else '')\n"
	"def clean(s):\n"
	"    return str(s).replace('\\t', ' ').replace('\\n', ' ').replace('\\r', ' ')\n"
	"def work(w):\n"
	"    with open('%s/res.%d' % (io, w), 'w', encoding='utf-8', errors='surrogateescape') as out:\n"
	"        for idx, path in items[w::jobs]:\n"
	"            try:\n"
	"                out.write('ok\\t%s\\t%s\\n' % (idx, one(idx, path)))\n"
	"            except SyntaxError as e:\n"
	"                out.write('err\\t%s\\t%d\\t%s: %s\\n' % (idx, e.lineno or 0, type(e).__name__, clean(e.msg)))\n"
	"            except Exception as e:\n"
	"                out.write('err\\t%s\\t0\\t%s: %s\\n' % (idx, type(e).__name__, clean(e)))\n"
	"jobs = max(1, min(jobs, len(items)))\n"
	"pids = []\n"
	"for w in range(jobs):\n"
	"    pid = os.fork()\n"
	"    if pid == 0:\n"
	"        try:\n"
	"            work(w)\n"
	"        finally:\n"
	"            os._exit(0)\n"
	"    pids.append(pid)\n"
	"bad = 0\n"
	"for pid in pids:\n"
	"    bad |= os.waitpid(pid, 0)[1]\n"
	"sys.exit(1 if bad else 0)\n";

static const char *const mode_names[] = { "unchecked-hash", "checked-hash", "timestamp" };

int precompile_is_third_party(const char *path)
{
	return strstr(path, "site-packages/") != NULL || strstr(path, "dist-packages/") != NULL;
}

struct src {
	size_t tree, entry;
};

/* Puts the host file src at dir/path (image path), by hard link or copy. */
static int stage_file(const char *dir, const char *path, const char *src, struct lm_err *err)
{
	char *dst = lm_path_join(dir, path);
	char *parent = lm_path_dirname(dst);
	char *data = NULL;
	size_t len;
	int ret = -1;

	if (lm_mkdir_p(parent, err) < 0)
		goto out;
	if (link(src, dst) == 0 || errno == EEXIST) {
		ret = 0;
		goto out;
	}
	if (lm_read_file(src, (size_t)1 << 31, &data, &len, err) < 0 || lm_write_file_atomic(dst, data, len, err) < 0)
		goto out;
	ret = 0;
out:
	free(data);
	free(parent);
	free(dst);
	return ret;
}

void precompile_result_release(struct precompile_result *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nwarnings; i++)
		free(r->warnings[i]);
	free(r->warnings);
	memset(r, 0, sizeof(*r));
}

static void add_warning(struct precompile_result *r, char *w)
{
	lm_grow((void **)&r->warnings, &r->capwarnings, r->nwarnings + 1, sizeof(*r->warnings));
	r->warnings[r->nwarnings++] = w;
}

static int read_results(const char *io, int jobs, struct lm_tree *trees, const struct src *v, size_t n,
			const struct precompile_spec *s, struct precompile_result *res, struct lm_err *err)
{
	struct buf_err {
		char *text;
		size_t len, cap;
	} errs = { 0 };
	size_t nerr = 0, nok = 0;
	int ret = -1;

	for (int w = 0; w < jobs; w++) {
		char *name = lm_asprintf("%s/res.%d", io, w);
		char *text = NULL, *save = NULL;
		size_t len;
		int r = lm_read_file(name, (size_t)64 << 20, &text, &len, err);
		free(name);
		if (r < 0) {
			lm_err_wrap(err, "precompile worker %d", w);
			goto out;
		}
		for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *f[4] = { 0 };
			size_t nf = 0;
			for (char *p = line; nf < 4;) {
				f[nf++] = p;
				char *t = nf < 4 ? strchr(p, '\t') : NULL;
				if (!t)
					break;
				*t = '\0';
				p = t + 1;
			}
			size_t idx = nf >= 2 ? strtoul(f[1], NULL, 10) : n;
			if (idx >= n || nf < 3) {
				free(text);
				lm_err_set(err, LM_E_INTERNAL, "precompile: bad result line '%s'", line);
				goto out;
			}
			struct lm_tree *t = &trees[v[idx].tree];
			char *ipath = lm_xstrdup(t->v[v[idx].entry].path);
			char *hsrc = t->v[v[idx].entry].src ? lm_xstrdup(t->v[v[idx].entry].src) : lm_xstrdup(ipath);
			if (strcmp(f[0], "ok") == 0) {
				char *pyc = tree_norm_path(f[2]);
				char *host = lm_asprintf("%s/pyc/%zu", io, idx);
				struct stat st;
				if (!pyc || stat(host, &st) < 0) {
					lm_err_set(err, LM_E_INTERNAL, "precompile: no .pyc for '/%s'", ipath);
					free(pyc);
					free(host);
					free(ipath);
					free(hsrc);
					free(text);
					goto out;
				}
				struct lm_entry *e = tree_add(t, LM_F_REG, pyc, host, NULL, 0644, (uint64_t)st.st_size);
				e->generated = 1;
				if (s->sourceless)
					t->v[v[idx].entry].removed = 1;
				nok++;
				free(pyc);
				free(host);
			} else if (precompile_is_third_party(ipath)) {
				/* like pip: third-party code that does not compile (py2 leftovers, templates
				 * named .py) is left as source; importing it fails the same either way */
				add_warning(res, lm_asprintf("skipped '/%s' line %s: %s", ipath, f[2], nf > 3 ? f[3] : ""));
			} else {
				char *m = lm_asprintf("%s%s:%s: %s (/%s in the image)", nerr ? "\n  " : "", hsrc, f[2],
						      nf > 3 ? f[3] : "", ipath);
				size_t ml = strlen(m);
				lm_grow((void **)&errs.text, &errs.cap, errs.len + ml + 1, 1);
				memcpy(errs.text + errs.len, m, ml + 1);
				errs.len += ml;
				free(m);
				nerr++;
			}
			free(ipath);
			free(hsrc);
		}
		free(text);
	}
	if (nerr) {
		lm_err_set(err, LM_E_INPUT, "%zu file%s do%s not compile:\n  %s", nerr, nerr == 1 ? "" : "s",
			   nerr == 1 ? "es" : "", errs.text);
		goto out;
	}
	(void)nok;
	ret = 0;
out:
	free(errs.text);
	return ret;
}

int precompile_python(const struct precompile_spec *s, const struct lm_image *base, struct cache *c,
		      struct lm_tree *trees, size_t ntrees, const struct lm_opts *o, const char *workdir,
		      struct precompile_result *res, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	struct src *v = NULL;
	size_t n = 0, cap = 0;
	struct rootfs rfs = { NULL, -1 };
	const char *root;
	char *python = NULL, *app = NULL, *io = NULL, *scratch = NULL, *tmp = NULL;
	char **env = NULL;
	char *list = NULL;
	size_t listlen = 0, listcap = 0;
	int ret = -1, logfd = -1, status;
	int jobs = s->jobs > 0 ? s->jobs : o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);

	if (s->set && !s->enabled)
		return 0;
	if (jobs < 1)
		jobs = 1;
	if (s->optimize < 0 || s->optimize > 2)
		return lm_err_set(err, LM_E_INPUT, "precompile: optimize must be 0, 1 or 2");
	for (size_t t = 0; t < ntrees; t++)
		for (size_t i = 0; i < trees[t].n; i++) {
			const struct lm_entry *e = &trees[t].v[i];
			if (e->type != LM_F_REG || e->removed || !lm_str_endswith(e->path, ".py") || !e->src ||
			    strpbrk(e->path, "\t\n\r"))
				continue;
			lm_grow((void **)&v, &cap, n + 1, sizeof(*v));
			v[n].tree = t;
			v[n].entry = i;
			n++;
		}
	if (n == 0)
		return 0;
	if ((size_t)jobs > n)
		jobs = (int)n;

	if (oci_config_parse(base->config_raw, base->config_len, &cfg, err) < 0) {
		lm_err_wrap(err, "precompile: base image config");
		goto out;
	}
	oci_config_view_get(cfg, &view);
	if (rootfs_open(&rfs, c, base->manifest.layers, base->manifest.nlayers, err) < 0) {
		lm_err_wrap(err, "precompile: root filesystem of the base image");
		goto out;
	}
	root = rfs.path;
	{
		char *extra[] = { "PYTHONDONTWRITEBYTECODE=1" };
		env = sandbox_env(view.env, view.nenv, extra, 1);
	}
	python = sandbox_find_python(root, env);
	if (!python) {
		if (!s->set) {
			ret = 0; /* default: only when the base has Python */
			goto out;
		}
		lm_err_set(err, LM_E_INPUT,
			   "precompile: the base image has no Python interpreter (no /var/lang/bin/python3, no python3 "
			   "on its PATH)");
		goto out;
	}

	tmp = lm_mkdtemp(workdir, "precompile-", err);
	if (!tmp)
		goto out;
	app = lm_path_join(tmp, "app");
	io = lm_path_join(tmp, "io");
	scratch = lm_path_join(tmp, "scratch");
	{
		char *pycdir = lm_path_join(io, "pyc");
		int r = lm_mkdir_p(pycdir, err);
		free(pycdir);
		if (r < 0 || lm_mkdir_p(app, err) < 0 || lm_mkdir_p(scratch, err) < 0)
			goto out;
	}
	for (size_t k = 0; k < n; k++) {
		const struct lm_entry *e = &trees[v[k].tree].v[v[k].entry];
		if (stage_file(app, e->path, e->src, err) < 0) {
			lm_err_wrap(err, "precompile: stage '/%s'", e->path);
			goto out;
		}
		char *line = lm_asprintf("%zu\t/%s", k, e->path);
		size_t ll = strlen(line) + 1;
		lm_grow((void **)&list, &listcap, listlen + ll, 1);
		memcpy(list + listlen, line, ll);
		listlen += ll;
		free(line);
	}
	{
		char *lp = lm_path_join(io, "list");
		int r = lm_write_file_atomic(lp, list, listlen, err);
		free(lp);
		if (r < 0)
			goto out;
	}
	{
		char *logp = lm_path_join(io, "log");
		logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		free(logp);
		if (logfd < 0) {
			lm_err_sys(err, "precompile: create log");
			goto out;
		}
	}
	{
		char a_opt[16], a_epoch[32], a_jobs[16];
		snprintf(a_opt, sizeof(a_opt), "%d", s->optimize);
		snprintf(a_epoch, sizeof(a_epoch), "%lld", (long long)o->epoch);
		snprintf(a_jobs, sizeof(a_jobs), "%d", jobs);
		char *argv[] = { python, "-I", "-S", "-B", "-c", (char *)compile_py, (char *)mode_names[s->invalidation],
				 a_opt, s->sourceless ? "1" : "0", a_epoch, a_jobs, NULL };
		struct sandbox_spec sp = { .rootfs = root, .overlay = app, .io = io, .scratch = scratch, .argv = argv,
					   .env = env, .workdir = "/", .stdout_fd = logfd, .stderr_fd = logfd };
		if (sandbox_run(&sp, &status, err) < 0) {
			lm_err_wrap(err, "precompile");
			goto out;
		}
	}
	if (status != 0) {
		char *logp = lm_path_join(io, "log"), *text = NULL;
		size_t len;
		struct lm_err e2 = LM_ERR_INIT;
		if (lm_read_file(logp, 1 << 16, &text, &len, &e2) < 0)
			lm_err_release(&e2);
		lm_err_set(err, LM_E_GENERIC, "precompile: '%s' in the image exited with status %d%s%s", python, status,
			   text && *text ? ":\n" : "", text ? text : "");
		free(text);
		free(logp);
		goto out;
	}
	if (read_results(io, jobs, trees, v, n, s, res, err) < 0)
		goto out;
	ret = 0;
out:
	if (logfd >= 0)
		close(logfd);
	/* the staged sources are no longer needed; the .pyc (in io/pyc) are */
	lm_rm_rf_quiet(app);
	sandbox_env_free(env);
	oci_config_view_release(&view);
	oci_config_free(cfg);
	free(list);
	free(v);
	rootfs_close(&rfs);
	free(python);
	free(app);
	free(io);
	free(scratch);
	free(tmp);
	return ret;
}
