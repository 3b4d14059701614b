/* verify.c - import modules and resolve (and call) the handler inside the image.
 *
 * One sandboxed run of the image's Python, with the image's ENV plus the variables
 * Lambda sets, in the image's root (read-only, /var/task included). The checks are
 * passed as JSON in the io directory and every failure comes back there with its
 * traceback, so one run reports them all. */
#include "verify.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rootfs.h"
#include "sandbox.h"
#include "util.h"

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

static int write_spec(const char *io, const struct verify_spec *v, const char *handler, const char *module,
		      const char *func, struct lm_err *err)
{
	json_t *o = json_object(), *imp = json_array();
	for (size_t i = 0; i < v->nimports; i++)
		json_array_append_new(imp, json_string(v->imports[i]));
	json_object_set_new(o, "imports", imp);
	json_object_set_new(o, "handler", handler ? json_string(handler) : json_null());
	json_object_set_new(o, "module", module ? json_string(module) : json_null());
	json_object_set_new(o, "function", func ? json_string(func) : json_null());
	json_object_set_new(o, "event", json_boolean(v->event != NULL));
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char *p = lm_path_join(io, "spec.json");
	int r = lm_write_file_atomic(p, text, strlen(text), err);
	free(p);
	free(text);
	return r;
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

int verify_run(const struct lm_image *img, struct cache *c, const struct verify_spec *v, const struct lm_opts *o,
	       char **result, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	char *root = NULL, *python = NULL, *tmp = NULL, *io = NULL, *scratch = NULL, *module = NULL, *func = NULL;
	char *report = NULL, *text = NULL, *res = NULL;
	const char *handler = NULL;
	char **env = NULL;
	size_t nfail = 0, len;
	int ret = -1, logfd = -1, status;
	json_t *doc = NULL;

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
	root = rootfs_get(c, img->manifest.layers, img->manifest.nlayers, err);
	if (!root) {
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
	python = sandbox_find_python(root, env);
	if (!python) {
		lm_err_set(err, LM_E_VERIFY, "verify: the image has no Python interpreter (no /var/lang/bin/python3, no "
					     "python3 on its PATH)");
		goto out;
	}
	tmp = lm_mkdtemp(NULL, "lamina-verify-", err);
	if (!tmp)
		goto out;
	io = lm_path_join(tmp, "io");
	scratch = lm_path_join(tmp, "scratch");
	if (lm_mkdir_p(io, err) < 0 || lm_mkdir_p(scratch, err) < 0)
		goto out;
	if (write_spec(io, v, handler, module, func, err) < 0)
		goto out;
	if (v->event) {
		char *ev = NULL, *p;
		if (lm_read_file(v->event, 6u << 20, &ev, &len, err) < 0) {
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
		char *argv[] = { python, "-B", "-c", (char *)verify_py, NULL };
		struct sandbox_spec sp = { .rootfs = root, .io = io, .scratch = scratch, .argv = argv, .env = env,
					   .workdir = view.workdir && *view.workdir ? view.workdir : "/var/task",
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
		char *m = lm_asprintf("'%s' exited with status %d before reporting:\n%s", python, status, log ? log : "");
		add_failure(&report, "interpreter", m);
		free(m);
		free(log);
		nfail++;
	} else {
		json_t *fails = json_object_get(doc, "failures"), *it;
		size_t i;
		json_array_foreach(fails, i, it)
		{
			add_failure(&report, json_string_value(json_object_get(it, "what")),
				    json_string_value(json_object_get(it, "traceback")));
			nfail++;
		}
		const char *rv = json_string_value(json_object_get(doc, "result"));
		if (rv)
			res = lm_xstrdup(rv);
	}
	if (result)
		*result = res, res = NULL;
	if (nfail) {
		lm_err_set(err, LM_E_VERIFY, "%zu check%s failed in the image:%s", nfail, nfail == 1 ? "" : "s", report);
		goto out;
	}
	ret = 0;
out:
	if (logfd >= 0)
		close(logfd);
	lm_rm_rf_quiet(tmp);
	json_decref(doc);
	sandbox_env_free(env);
	oci_config_view_release(&view);
	oci_config_free(cfg);
	free(root);
	free(python);
	free(tmp);
	free(io);
	free(scratch);
	free(module);
	free(func);
	free(report);
	free(text);
	free(res);
	return ret;
}

int verify_image(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
		 const struct lm_opts *o, struct lm_err *err)
{
	return verify_run(img, c, v, o, NULL, err);
}
