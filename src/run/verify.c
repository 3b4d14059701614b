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
#include <sys/stat.h>

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
	for (size_t i = 0; i < v->nenv; i++)
		free(v->env[i]);
	free(v->env);
	v->imports = v->env = NULL;
	v->nimports = v->nenv = 0;
}

void verify_spec_setenv(struct verify_spec *v, const char *key, const char *value)
{
	size_t kl = strlen(key);
	char *kv = lm_asprintf("%s=%s", key, value);
	for (size_t i = 0; i < v->nenv; i++)
		if (strncmp(v->env[i], key, kl) == 0 && v->env[i][kl] == '=') {
			free(v->env[i]);
			v->env[i] = kv;
			return;
		}
	v->env = lm_xrealloc(v->env, (v->nenv + 1) * sizeof(*v->env));
	v->env[v->nenv++] = kv;
}

char *verify_spec_to_json(const struct verify_spec *v)
{
	json_t *o = json_object(), *env = json_object();
	char *text;
	if (v->imports_set || v->nimports) {
		json_t *imp = json_array();
		for (size_t i = 0; i < v->nimports; i++)
			json_array_append_new(imp, json_string(v->imports[i]));
		json_object_set_new(o, "imports", imp);
	}
	json_object_set_new(o, "handler", json_boolean(v->handler));
	if (v->runtime != LM_RUNTIME_AUTO)
		json_object_set_new(o, "runtime", json_string(lm_runtime_name(v->runtime)));
	for (size_t i = 0; i < v->nenv; i++) {
		char *k = lm_xstrdup(v->env[i]), *eq = strchr(k, '=');
		*eq = '\0';
		json_object_set_new(env, k, json_string(eq + 1));
		free(k);
	}
	if (v->nenv)
		json_object_set_new(o, "env", env);
	else
		json_decref(env);
	text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return text;
}

int verify_spec_from_json(const char *text, struct verify_spec *v, struct lm_err *err)
{
	json_error_t je;
	json_t *o = json_loads(text, 0, &je), *imp, *h, *rt, *env, *val;
	const char *k;
	size_t i;
	verify_spec_release(v);
	memset(v, 0, sizeof(*v));
	if (!json_is_object(o)) {
		json_decref(o);
		return lm_err_set(err, LM_E_INPUT, "label %s is not a JSON object", VERIFY_LABEL);
	}
	v->set = 1;
	v->handler = 1;
	imp = json_object_get(o, "imports");
	if (json_is_array(imp)) {
		v->imports_set = 1;
		json_array_foreach(imp, i, val)
		{
			if (!json_is_string(val))
				continue;
			v->imports = lm_xrealloc(v->imports, (v->nimports + 1) * sizeof(*v->imports));
			v->imports[v->nimports++] = lm_xstrdup(json_string_value(val));
		}
	}
	if (json_is_boolean(h = json_object_get(o, "handler")))
		v->handler = json_is_true(h);
	rt = json_object_get(o, "runtime");
	if (json_is_string(rt) && lm_runtime_parse(json_string_value(rt), &v->runtime) < 0) {
		json_decref(o);
		return lm_err_set(err, LM_E_INPUT, "label %s: unknown runtime", VERIFY_LABEL);
	}
	env = json_object_get(o, "env");
	if (json_is_object(env))
		json_object_foreach(env, k, val)
		{
			if (json_is_string(val) && *k && !strchr(k, '='))
				verify_spec_setenv(v, k, json_string_value(val));
		}
	json_decref(o);
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
	for (size_t i = 0; i < f->ntimes; i++)
		free(f->times[i].module);
	free(f->times);
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
	/* Node: with no imports listed, the app's package.json dependencies */
	json_object_set_new(o, "defaultImports",
			    json_boolean(x->runtime == LM_RUNTIME_NODE && !x->v->imports_set && !x->v->nimports));
	json_object_set_new(o, "handler", x->handler ? json_string(x->handler) : json_null());
	json_object_set_new(o, "module", x->handler ? json_string(x->ref.module) : json_null());
	json_object_set_new(o, "function", x->handler ? json_string(x->ref.function) : json_null());
	{
		json_t *files = json_array();
		for (size_t i = 0; x->handler && x->ref.files[i]; i++)
			json_array_append_new(files, json_string(x->ref.files[i]));
		json_object_set_new(o, "files", files);
	}
	json_object_set_new(o, "event", json_boolean(call && x->v->event != NULL));
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* Removes the "import time: ..." lines -X importtime writes before verify.py sends them
 * to a file (its own imports), so that a crash's log shows only the crash. In place. */
static void drop_importtime(char *log)
{
	char *w = log;
	for (const char *p = log; p && *p;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (strncmp(p, "import time:", 12) != 0) {
			memmove(w, p, len);
			w += len;
		}
		p += len;
	}
	if (w)
		*w = '\0';
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
		int node = x->runtime == LM_RUNTIME_NODE;
		char *pyargv[] = { (char *)x->interp, "-B", "-X", "importtime", SANDBOX_IO "/verify.py", SANDBOX_IO, NULL };
		char *jsargv[] = { (char *)x->interp, SANDBOX_IO "/verify.js", SANDBOX_IO, NULL };
		struct imagerun_file files[] = {
			{ node ? "verify.js" : "verify.py", node ? lm_script_verify_js : lm_script_verify_py,
			  node ? lm_script_verify_js_len : lm_script_verify_py_len },
			{ "spec.json", spec, strlen(spec) },
			{ "event.json", ev ? ev : "", evlen },
		};
		struct imagerun_call c = { .argv = node ? jsargv : pyargv, .overlay = overlay, .workdir = x->workdir,
					   .files = files, .nfiles = ev ? 3 : 2, .env = x->env, .nenv = x->nenv };
		if (imagerun_exec(x->ir, &c, &out, err) < 0) {
			lm_err_wrap(err, "verify");
			goto out;
		}
	}
	json_error_t je;
	{
		struct lm_err e2 = LM_ERR_INIT;
		if (imagerun_read(&out, "result.json", 64u << 20, &text, &len, &e2) == 0)
			doc = json_loadb(text, len, 0, &je);
		else if (e2.code == LM_E_VERIFY) /* something planted where the result should be */
			f->crash = lm_xstrdup(e2.msg);
		lm_err_release(&e2);
	}
	if (!doc) {
		char *log = imagerun_log_tail(&out, 1 << 16), *side = NULL;
		size_t sidelen = 0;
		struct lm_err e3 = LM_ERR_INIT;
		drop_importtime(log);
		/* what the app wrote to standard error while its imports loaded went to
		 * importtime.txt with the timings (verify.py) */
		if (imagerun_read(&out, "importtime.txt", 4u << 20, &side, &sidelen, &e3) == 0 && side) {
			char *both;
			drop_importtime(side);
			sidelen = strlen(side);
			both = lm_asprintf("%s%s", log ? log : "", sidelen > 65536 ? side + sidelen - 65536 : side);
			free(log);
			log = both;
		}
		lm_err_release(&e3);
		free(side);
		if (!f->crash)
			f->crash = lm_asprintf("'%s' exited with status %d before reporting:\n%s", x->interp, out.status, log);
		free(log);
	} else {
		json_t *fails = json_object_get(doc, "failures"), *it;
		size_t i;
		json_array_foreach(fails, i, it)
		{
			vfails_add(f, json_string_value(json_object_get(it, "what")),
				   json_string_value(json_object_get(it, "traceback")));
		}
		f->imported = json_array_size(json_object_get(doc, "imports"));
		{
			json_t *times = json_object_get(doc, "importTimes");
			size_t n = json_array_size(times);
			for (size_t k = 0; k < f->ntimes; k++)
				free(f->times[k].module);
			free(f->times);
			f->times = NULL;
			f->ntimes = 0;
			if (n > 100)
				n = 100;
			if (n)
				f->times = lm_xcalloc(n, sizeof(*f->times));
			for (size_t k = 0; k < n; k++) {
				json_t *t = json_array_get(times, k);
				const char *m = json_string_value(json_object_get(t, "module"));
				json_int_t su = json_integer_value(json_object_get(t, "selfUs"));
				json_int_t cu = json_integer_value(json_object_get(t, "cumulativeUs"));
				if (!m || su < 0 || cu < 0)
					continue;
				f->times[f->ntimes].module = lm_str_printable(m);
				f->times[f->ntimes].self_us = (uint64_t)su;
				f->times[f->ntimes].cum_us = (uint64_t)cu;
				f->ntimes++;
			}
		}
		const char *rv = json_string_value(json_object_get(doc, "result"));
		json_t *parsed = rv ? json_loads(rv, JSON_DECODE_ANY, &je) : NULL;
		/* printed on stdout: JSON, and nothing a terminal would act on */
		if (rv && !parsed)
			vfails_add(f, "handler result", "what the handler returned did not come back as JSON\n");
		else if (rv && result)
			*result = lm_xstrdup(rv);
		json_decref(parsed);
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

static void strv_push(char ***v, size_t *n, char *s)
{
	*v = lm_xrealloc(*v, (*n + 2) * sizeof(**v));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

char **verify_lambda_env(enum lm_runtime rt, const char *handler, char *const *img_env, size_t nimg)
{
	char **v = lm_xcalloc(1, sizeof(*v));
	size_t n = 0;
	const char *name = "lamina-verify";
	strv_push(&v, &n, lm_asprintf("AWS_LAMBDA_FUNCTION_NAME=%s", name));
	strv_push(&v, &n, lm_xstrdup("AWS_LAMBDA_FUNCTION_VERSION=$LATEST"));
	strv_push(&v, &n, lm_xstrdup("AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128"));
	strv_push(&v, &n, lm_asprintf("AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/%s", name));
	strv_push(&v, &n, lm_xstrdup("AWS_LAMBDA_LOG_STREAM_NAME=lamina-verify"));
	strv_push(&v, &n, lm_xstrdup("AWS_LAMBDA_INITIALIZATION_TYPE=on-demand"));
	strv_push(&v, &n, lm_xstrdup(rt == LM_RUNTIME_NODE ? "AWS_EXECUTION_ENV=AWS_Lambda_nodejs"
							   : "AWS_EXECUTION_ENV=AWS_Lambda_python"));
	if (handler)
		strv_push(&v, &n, lm_asprintf("_HANDLER=%s", handler));
	if (!env_has(img_env, nimg, "LAMBDA_TASK_ROOT"))
		strv_push(&v, &n, lm_xstrdup("LAMBDA_TASK_ROOT=/var/task"));
	if (!env_has(img_env, nimg, "LAMBDA_RUNTIME_DIR"))
		strv_push(&v, &n, lm_xstrdup("LAMBDA_RUNTIME_DIR=/var/runtime"));
	if (!env_has(img_env, nimg, "TZ"))
		strv_push(&v, &n, lm_xstrdup("TZ=:UTC"));
	/* SDK clients need a region to be constructed */
	if (!env_has(img_env, nimg, "AWS_REGION")) {
		strv_push(&v, &n, lm_xstrdup("AWS_REGION=us-east-1"));
		if (!env_has(img_env, nimg, "AWS_DEFAULT_REGION"))
			strv_push(&v, &n, lm_xstrdup("AWS_DEFAULT_REGION=us-east-1"));
	}
	if (rt == LM_RUNTIME_PYTHON)
		strv_push(&v, &n, lm_xstrdup("PYTHONDONTWRITEBYTECODE=1"));
	return v;
}

void verify_outcome_release(struct verify_outcome *o)
{
	if (!o)
		return;
	free(o->result);
	for (size_t i = 0; i < o->ntimes; i++)
		free(o->times[i].module);
	free(o->times);
	memset(o, 0, sizeof(*o));
}

/* 1 when the image's root holds path (not followed: a hint, never opened). */
static int root_has(struct imagerun *ir, const char *path)
{
	struct stat st;
	char *p = lm_path_join(imagerun_root(ir), path);
	int r = lstat(p, &st) == 0;
	free(p);
	return r;
}

/* Picks the runtime and its interpreter; LM_E_INPUT when the image has none. */
static int pick_runtime(struct imagerun *ir, enum lm_runtime want, enum lm_runtime *rt, char **interp,
			struct lm_err *err)
{
	char *py = imagerun_find(ir, "python3", NULL), *node = imagerun_find(ir, "node", NULL);
	int ret = 0;
	if (want == LM_RUNTIME_AUTO)
		want = py && node ? (root_has(ir, "var/runtime/index.mjs") || root_has(ir, "var/runtime/index.js")
					     ? LM_RUNTIME_NODE
					     : LM_RUNTIME_PYTHON)
		       : node	  ? LM_RUNTIME_NODE
		       : py	  ? LM_RUNTIME_PYTHON
				  : LM_RUNTIME_AUTO;
	if (want == LM_RUNTIME_AUTO)
		ret = lm_err_set(err, LM_E_INPUT,
				 "verify: the image has no Python (python3) and no Node.js (node), in /var/lang/bin or "
				 "on its PATH: lamina verifies Python and Node.js images");
	else if (want == LM_RUNTIME_PYTHON && !py)
		ret = lm_err_set(err, LM_E_INPUT,
				 "verify: runtime python: the image has no python3 (in /var/lang/bin or on its PATH)");
	else if (want == LM_RUNTIME_NODE && !node)
		ret = lm_err_set(err, LM_E_INPUT,
				 "verify: runtime node: the image has no node (in /var/lang/bin or on its PATH)");
	if (ret == 0) {
		*rt = want;
		*interp = want == LM_RUNTIME_NODE ? node : py;
		if (want == LM_RUNTIME_NODE)
			node = NULL;
		else
			py = NULL;
	}
	free(py);
	free(node);
	return ret;
}

int verify_run(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
	       const struct verify_prune *prune, const struct lm_opts *o, struct verify_outcome *outcome,
	       struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	struct imagerun *ir = NULL;
	struct vctx x = { 0 };
	struct vfails f = { 0 };
	char *interp = NULL, *report = NULL, *res = NULL, *blamed = NULL;
	char **env = NULL;
	size_t nenv = 0, nfail = 0;
	int ret = -1;

	(void)o;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0) {
		lm_err_wrap(err, "verify: image config");
		goto out;
	}
	oci_config_view_get(cfg, &view);
	if (imagerun_open(&ir, img, c, NULL, err) < 0) {
		lm_err_wrap(err, "verify");
		goto out;
	}
	if (pick_runtime(ir, v->runtime, &x.runtime, &interp, err) < 0)
		goto out;
	if (v->handler) {
		char *why = NULL;
		if (!view.cmd || view.ncmd == 0 || !view.cmd[0] || !*view.cmd[0]) {
			add_failure(&report, "handler", "the image has no CMD naming the handler (\"module.function\")\n");
			nfail++;
		} else if (handler_resolve(x.runtime, view.cmd[0], &x.ref, &why) < 0) {
			char *m = lm_asprintf("CMD[0] %s\n", why);
			add_failure(&report, "handler", m);
			free(m);
			free(why);
			nfail++;
		} else {
			x.handler = view.cmd[0];
		}
	}
	env = verify_lambda_env(x.runtime, x.handler, view.env, view.nenv);
	while (env[nenv])
		nenv++;
	for (size_t i = 0; i < v->nenv; i++)
		strv_push(&env, &nenv, lm_xstrdup(v->env[i]));
	x.v = v;
	x.ir = ir;
	x.interp = interp;
	x.workdir = view.workdir && *view.workdir ? view.workdir : "/var/task";
	x.env = env;
	x.nenv = nenv;
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
	if (outcome) {
		outcome->result = res;
		res = NULL;
		outcome->runtime = x.runtime;
		outcome->imported = f.imported;
		outcome->times = f.times;
		outcome->ntimes = f.ntimes;
		f.times = NULL;
		f.ntimes = 0;
	}
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
	handler_ref_release(&x.ref);
	imagerun_close(ir);
	oci_config_view_release(&view);
	oci_config_free(cfg);
	verify_strv_free(env);
	free(interp);
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
