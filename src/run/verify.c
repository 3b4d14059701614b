/* verify.c - import modules and resolve (and call) the handler inside the image.
 *
 * One sandboxed run (imagerun.h) of the image's Python with scripts/verify.py, the
 * image's ENV plus the variables Lambda sets, in the image's root (read-only, /var/task
 * included). The checks go in as JSON and every failure comes back with its traceback
 * (read through imagerun's checked reader), so one run reports them all. When checks
 * fail after prune removed files, blame.c names the rule. */
#include "run/verify.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "run/run_internal.h"
#include "run/sandbox.h"
#include "run/scripts.h"

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
/* --- one run of the checks ---------------------------------------------------------------- */

void vfails_add(struct vfails *f, const char *what, const char *tb)
{
	lm_grow((void **)&f->v, &f->cap, f->n + 1, sizeof(*f->v));
	f->v[f->n].what = lm_xstrdup(what ? what : "?");
	f->v[f->n].tb = lm_xstrdup(tb ? tb : "");
	f->n++;
}

void vfails_release(struct vfails *f)
{
	for (size_t i = 0; i < f->n; i++) {
		free(f->v[i].what);
		free(f->v[i].tb);
	}
	free(f->v);
	free(f->crash);
	memset(f, 0, sizeof(*f));
}

int vfails_has(const struct vfails *f, const char *what)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->v[i].what, what) == 0)
			return 1;
	return 0;
}


static char *spec_json(const struct vctx *x, int call)
{
	json_t *o = json_object(), *imp = json_array();
	char *text;
	for (size_t i = 0; i < x->v->nimports; i++)
		json_array_append_new(imp, json_string(x->v->imports[i]));
	json_object_set_new(o, "imports", imp);
	json_object_set_new(o, "handler", x->handler ? json_string(x->handler) : json_null());
	json_object_set_new(o, "module", x->module ? json_string(x->module) : json_null());
	json_object_set_new(o, "function", x->func ? json_string(x->func) : json_null());
	json_object_set_new(o, "event", json_boolean(call && x->v->event != NULL));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

int verify_run_checks(struct vctx *x, const char *overlay, int call, struct vfails *f, char **result,
		      struct lm_err *err)
{
	struct imagerun_out out = { 0, -1, NULL };
	char *spec = spec_json(x, call), *ev = NULL, *text = NULL;
	size_t evlen = 0, len = 0;
	json_t *doc = NULL;
	int ret = -1;

	if (call && x->v->event && lm_read_file(x->v->event, 6u << 20, &ev, &evlen, err) < 0) {
		lm_err_wrap(err, "verify: event");
		goto out;
	}
	{
		char *argv[] = { (char *)x->python, "-B", SANDBOX_IO "/verify.py", SANDBOX_IO, NULL };
		struct imagerun_file files[] = {
			{ "verify.py", lm_script_verify_py, lm_script_verify_py_len },
			{ "spec.json", spec, strlen(spec) },
			{ "event.json", ev ? ev : "", evlen },
		};
		struct imagerun_call c = { .argv = argv, .overlay = overlay, .workdir = x->workdir, .files = files,
					   .nfiles = ev ? 3 : 2 };
		if (imagerun_exec(x->ir, &c, &out, err) < 0) {
			lm_err_wrap(err, "verify");
			goto out;
		}
	}
	{
		struct lm_err e2 = LM_ERR_INIT;
		json_error_t je;
		if (imagerun_read(&out, "result.json", 64u << 20, &text, &len, &e2) == 0)
			doc = json_loadb(text, len, 0, &je);
		else if (e2.code == LM_E_VERIFY) /* something planted where the result should be */
			f->crash = lm_xstrdup(e2.msg);
		lm_err_release(&e2);
	}
	if (!doc) {
		char *log = imagerun_log_tail(&out, 1 << 16);
		if (!f->crash)
			f->crash = lm_asprintf("'%s' exited with status %d before reporting:\n%s", x->python, out.status, log);
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
	imagerun_out_release(&out);
	json_decref(doc);
	free(text);
	free(spec);
	free(ev);
	return ret;
}

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

void verify_append(char **s, const char *fmt, ...)
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

/* --- verify_run -------------------------------------------------------------------------- */

/* 1 when the NULL-terminated or n-long environment env has key. */
static int env_has(char *const *env, size_t n, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; i < n && env[i]; i++)
		if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=')
			return 1;
	return 0;
}

int verify_run(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
	       const struct verify_prune *prune, const struct lm_opts *o, char **result, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	struct imagerun *ir = NULL;
	struct vctx x = { 0 };
	struct vfails f = { 0 };
	char *python = NULL, *module = NULL, *func = NULL, *h = NULL;
	char *report = NULL, *res = NULL, *blamed = NULL;
	const char *handler = NULL;
	char *extra[8];
	size_t nextra = 0, nfail = 0;
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
	/* what Lambda sets; a region because SDK clients need one */
	extra[nextra++] = "AWS_LAMBDA_FUNCTION_NAME=lamina-verify";
	extra[nextra++] = "AWS_LAMBDA_FUNCTION_VERSION=$LATEST";
	extra[nextra++] = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128";
	extra[nextra++] = "PYTHONDONTWRITEBYTECODE=1";
	if (handler)
		extra[nextra++] = h = lm_asprintf("_HANDLER=%s", handler);
	if (!env_has(view.env, view.nenv, "AWS_REGION")) {
		extra[nextra++] = "AWS_REGION=us-east-1";
		if (!env_has(view.env, view.nenv, "AWS_DEFAULT_REGION"))
			extra[nextra++] = "AWS_DEFAULT_REGION=us-east-1";
	}
	{
		struct imagerun_opts io = { NULL, extra, nextra };
		if (imagerun_open(&ir, img, c, &io, err) < 0) {
			lm_err_wrap(err, "verify");
			goto out;
		}
	}
	python = imagerun_find(ir, "python3", NULL);
	if (!python) {
		lm_err_set(err, LM_E_VERIFY, "verify: the image has no Python interpreter (no /var/lang/bin/python3, no "
					     "python3 on its PATH)");
		goto out;
	}
	x.v = v;
	x.ir = ir;
	x.python = python;
	x.workdir = view.workdir && *view.workdir ? view.workdir : "/var/task";
	x.handler = handler;
	x.module = module;
	x.func = func;
	if (verify_run_checks(&x, NULL, 1, &f, &res, err) < 0)
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
			blamed = verify_blame(&x, prune, &f, &e2);
			if (e2.code) {
				free(blamed);
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
	vfails_release(&f);
	imagerun_close(ir);
	oci_config_view_release(&view);
	oci_config_free(cfg);
	free(python);
	free(module);
	free(func);
	free(h);
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
