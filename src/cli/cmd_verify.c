/* cmd_verify.c - lamina verify OUT.tar|MANIFEST|SOURCE [--import MOD]... [--event FILE] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "build/build.h"
#include "cli/buildcmd.h"
#include "image/cache.h"
#include "cli/cmds.h"
#include "build/manifest.h"
#include "cli/options.h"
#include "build/source.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "run/verify.h"

static const char usage[] =
	"usage: lamina verify OUT.tar|MANIFEST|SOURCE [options]\n"
	"\n"
	"Runs checks inside the image's own root filesystem, with its ENV, a read-only\n"
	"/var/task (the whole root is read-only, as on Lambda) and a writable /tmp, using\n"
	"the image's own interpreter: Python (python3) or Node.js (node), in /var/lang/bin or\n"
	"on the image's PATH; an image with both is taken as Node.js when /var/runtime holds\n"
	"the Node runtime (--runtime chooses). It imports each module named with --import (and\n"
	"in the manifest's \"verify.imports\"): Python import, Node require() (import() for ESM-\n"
	"only packages); a Node image with no imports listed imports every dependency in\n"
	"/var/task/package.json. It resolves the handler named by CMD[0] the way the runtime\n"
	"does (Python \"pkg/module.function\"; Node \"src/app.handler\" from .js, .mjs or .cjs),\n"
	"and with --event calls it as the runtime would (awaited, or given a callback) with a\n"
	"context object, printing its return value as JSON on standard output (and nothing\n"
	"else: 'lamina verify IMAGE -e e.json | jq' works) - a local invoke without Docker.\n"
	"Every failure is collected and reported at the end with its traceback.\n"
	"\n"
	"The environment is the image's ENV, then what Lambda sets (AWS_LAMBDA_FUNCTION_NAME=\n"
	"lamina-verify, AWS_LAMBDA_FUNCTION_VERSION, AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128,\n"
	"AWS_LAMBDA_LOG_GROUP_NAME, AWS_LAMBDA_LOG_STREAM_NAME, AWS_LAMBDA_INITIALIZATION_TYPE,\n"
	"AWS_EXECUTION_ENV, _HANDLER; LAMBDA_TASK_ROOT, LAMBDA_RUNTIME_DIR, TZ=:UTC and\n"
	"AWS_REGION=AWS_DEFAULT_REGION=us-east-1 where the image has none), then the manifest's\n"
	"\"verify.env\", --env-file and --env, in that order. No network, no credentials:\n"
	"give an SDK client dummy ones with --env if it needs them to be constructed.\n"
	"\n"
	"An image built from a manifest with \"verify\" carries that spec in its label\n"
	"lamina.verify: 'lamina verify OUT.tar' without --import runs the same checks.\n"
	"\n"
	"With a MANIFEST whose prune rules removed files, a failed import or handler check is\n"
	"re-run with the removed files put back (over the image's root filesystem; nothing is\n"
	"rebuilt): all of them, then one rule's at a time, the likeliest first (rules that\n"
	"removed files of the module that failed), and the rule is named:\n"
	"  verify: import 'foo' failed; it passes with prune rule 'remove: foo/' disabled\n"
	"  (removed 3 files, 1.2 KiB)\n"
	"(or the rules that break it only together, or that pruning is not the cause). The\n"
	"handler is not called again for this. 'lamina build' does the same for \"verify\".\n"
	"\n"
	"The image is one of:\n"
	"  OUT.tar              an archive written by 'lamina build -o' (OCI archive)\n"
	"  MANIFEST             a build manifest (*.json): the image is built into the cache\n"
	"                       (not written anywhere) and verified\n"
	"  SOURCE               oci-archive:PATH[:REF], oci:DIR[:TAG], docker-archive:PATH or\n"
	"                       a registry reference\n"
	"\n"
	"Options:\n"
	"  -i, --import MOD        import MOD (repeatable)\n"
	"      --handler           resolve the handler from CMD[0] (default)\n"
	"      --no-handler        do not check the handler\n"
	"  -e, --event FILE        call the handler with the JSON event in FILE; print its\n"
	"                          result\n"
	"      --env KEY=VALUE     set KEY for the checks (repeatable; over everything else)\n"
	"      --env-file FILE     KEY=VALUE lines (blank lines and # comments skipped), as\n"
	"                          docker run --env-file reads them (repeatable)\n"
	"      --runtime NAME      python or node: the interpreter to check with\n"
	"      --base SOURCE       MANIFEST only: base image (overrides \"base\")\n"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"Needs root, or unprivileged user namespaces (then a user namespace maps you to root\n"
	"inside; where they are disabled lamina says which setting and exits with status 4),\n"
	"and overlayfs. Root filesystems are cached under <cache>/rootfs: the 8 most recently\n"
	"used are kept, older ones removed; an interrupted run leaves nothing there.\n"
	"A check that fails gives exit status 7, with every failure on standard error; an\n"
	"image without the interpreter (no python3 and no node) is exit 3.\n";

enum { OPT_HANDLER = 0x100, OPT_NO_HANDLER, OPT_BASE, OPT_ENV, OPT_ENV_FILE, OPT_RUNTIME };

/* --env KEY=VALUE */
static int add_env(struct verify_spec *v, const char *kv, const char *where, struct lm_err *err)
{
	const char *eq = strchr(kv, '=');
	if (!eq || eq == kv)
		return lm_err_set(err, LM_E_USAGE, "%s: '%s' is not KEY=VALUE", where, kv);
	char *k = lm_xstrndup(kv, (size_t)(eq - kv));
	verify_spec_setenv(v, k, eq + 1);
	free(k);
	return 0;
}

/* --env-file FILE: KEY=VALUE per line, blank lines and lines starting with # skipped */
static int add_env_file(struct verify_spec *v, const char *path, struct lm_err *err)
{
	char *text = NULL, *line, *save = NULL;
	size_t len = 0, lineno = 0;
	int ret = 0;
	if (lm_read_file(path, 1u << 20, &text, &len, err) < 0)
		return lm_err_wrap(err, "--env-file");
	for (line = strtok_r(text, "\n", &save); line && ret == 0; line = strtok_r(NULL, "\n", &save)) {
		size_t n = strlen(line);
		lineno++;
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		char *where = lm_asprintf("%s:%zu", path, lineno);
		ret = add_env(v, line, where, err);
		free(where);
	}
	free(text);
	return ret;
}

static int is_manifest(const char *path)
{
	FILE *f;
	int ch;
	if (lm_str_endswith(path, ".json"))
		return 1;
	if (!(f = fopen(path, "rb")))
		return 0;
	while ((ch = fgetc(f)) == ' ' || ch == '\n' || ch == '\t' || ch == '\r')
		;
	fclose(f);
	return ch == '{';
}

static void cli_env_put(struct verify_spec *v, const char *kv)
{
	char *k = lm_xstrdup(kv), *eq = strchr(k, '=');
	*eq = '\0';
	verify_spec_setenv(v, k, eq + 1);
	free(k);
}

/* v from the image's lamina.verify label, when it has one (v->from_label then). */
static int label_spec(const struct lm_image *img, struct verify_spec *v, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view view = { 0 };
	int ret = 0;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0)
		return lm_err_wrap(err, "image config");
	oci_config_view_get(cfg, &view);
	for (size_t i = 0; i < view.nlabels; i++) {
		size_t kl = strlen(VERIFY_LABEL);
		if (strncmp(view.labels[i], VERIFY_LABEL, kl) != 0 || view.labels[i][kl] != '=')
			continue;
		const char *event = v->event;
		if (verify_spec_from_json(view.labels[i] + kl + 1, v, err) < 0)
			ret = -1;
		v->event = event;
		v->from_label = 1;
		break;
	}
	oci_config_view_release(&view);
	oci_config_free(cfg);
	return ret;
}

int cmd_verify(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct cli_getopt gopt;
	static const struct option longopts[] = {
		{ "import", required_argument, NULL, 'i' },
		{ "handler", no_argument, NULL, OPT_HANDLER },
		{ "no-handler", no_argument, NULL, OPT_NO_HANDLER },
		{ "event", required_argument, NULL, 'e' },
		{ "base", required_argument, NULL, OPT_BASE },
		{ "env", required_argument, NULL, OPT_ENV },
		{ "env-file", required_argument, NULL, OPT_ENV_FILE },
		{ "runtime", required_argument, NULL, OPT_RUNTIME },
		REGCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_spec v = { 0 }, cli = { 0 }; /* cli: --env and --env-file, applied last */
	struct verify_outcome vo = { 0 };
	struct lm_manifest m;
	struct lm_image img;
	struct build_result res;
	struct cache *c = NULL;
	struct reg_opts reg = { 0 };
	struct regcli rc;
	const char *base = NULL, *target;
	char *spec = NULL;
	int handler = -1, ch, ret = -1, have_manifest = 0;
	struct stat st;

	memset(&m, 0, sizeof(m));
	image_init(&img);
	build_result_init(&res);
	regcli_init(&rc);
	cli_getopt_init(&gopt, "i:e:h", longopts);
	while ((ch = regcli_next(&gopt, &rc, argc, argv, o, err)) != -1) {
		if (ch == CLI_GETOPT_ERROR)
			goto out;
		switch (ch) {
		case 'i':
			v.imports = lm_xrealloc(v.imports, (v.nimports + 1) * sizeof(*v.imports));
			v.imports[v.nimports++] = lm_xstrdup(optarg);
			break;
		case OPT_HANDLER:
			handler = 1;
			break;
		case OPT_NO_HANDLER:
			handler = 0;
			break;
		case 'e':
			v.event = optarg;
			break;
		case OPT_BASE:
			base = optarg;
			break;
		case OPT_ENV:
			if (add_env(&cli, optarg, "--env", err) < 0)
				goto out;
			break;
		case OPT_ENV_FILE:
			if (add_env_file(&cli, optarg, err) < 0)
				goto out;
			break;
		case OPT_RUNTIME:
			if (lm_runtime_parse(optarg, &cli.runtime) < 0) {
				lm_err_set(err, LM_E_USAGE, "--runtime '%s': python or node", optarg);
				goto out;
			}
			break;
		default: /* -h, --help (or an option this switch does not handle) */
			ret = cli_help_option(ch, "verify", err, usage, regcli_help);
			goto out;
		}
	}
	if (regcli_check(&rc, err) < 0)
		goto out;
	regcli_global(&reg, o); /* after the parse: global options may follow the command */
	regcli_fill(&rc, &reg);
	if (optind != argc - 1) {
		lm_err_set(err, LM_E_USAGE, "expected one OUT.tar, MANIFEST or SOURCE argument; see 'lamina verify --help'");
		goto out;
	}
	target = argv[optind];
	if (v.event && handler == 0) {
		lm_err_set(err, LM_E_USAGE, "--event calls the handler; it cannot go with --no-handler");
		goto out;
	}

	v.runtime = cli.runtime;
	if (stat(target, &st) == 0 && S_ISREG(st.st_mode) && is_manifest(target)) {
		struct build_request r;
		if (manifest_load(target, &m, err) < 0)
			goto out;
		have_manifest = 1;
		for (size_t i = 0; i < m.verify.nimports; i++) {
			v.imports = lm_xrealloc(v.imports, (v.nimports + 1) * sizeof(*v.imports));
			v.imports[v.nimports++] = lm_xstrdup(m.verify.imports[i]);
		}
		v.imports_set |= m.verify.imports_set;
		if (handler < 0 && m.verify.set)
			handler = m.verify.handler;
		if (v.runtime == LM_RUNTIME_AUTO)
			v.runtime = m.verify.runtime;
		for (size_t i = 0; i < m.verify.nenv; i++)
			cli_env_put(&v, m.verify.env[i]);
		for (size_t i = 0; i < cli.nenv; i++)
			cli_env_put(&v, cli.env[i]);
		v.set = 1;
		v.handler = handler != 0;
		memset(&r, 0, sizeof(r));
		r.m = &m;
		r.base = base;
		r.platform = reg.platform;
		r.reg = &reg;
		/* the build verifies, knowing what prune removed */
		r.verify = &v;
		ret = cli_build(&r, o, &res, err);
		if (ret == 0)
			cli_build_summary(&res, o);
		vo = res.verify;
		memset(&res.verify, 0, sizeof(res.verify));
	} else {
		struct source_opts so = { reg.platform, &reg, NULL, 0, 0 };
		if (base) {
			lm_err_set(err, LM_E_USAGE, "--base goes with a MANIFEST, not with an image");
			goto out;
		}
		spec = cli_source_spec(target);
		if (!(c = cache_open(o->cache_dir, err)))
			goto out;
		if (source_open(spec, &so, c, &img, err) < 0)
			goto out;
		/* no imports asked for: the checks the build recorded in the image */
		if (!v.nimports && handler < 0 && label_spec(&img, &v, err) < 0)
			goto out;
		for (size_t i = 0; i < cli.nenv; i++)
			cli_env_put(&v, cli.env[i]);
	}
	if (!have_manifest) {
		if (cli.runtime != LM_RUNTIME_AUTO)
			v.runtime = cli.runtime; /* over the label's */
		v.set = 1;
		if (handler >= 0)
			v.handler = handler;
		else if (!v.from_label)
			v.handler = 1;
		ret = verify_run(&img, c, &v, NULL, o, &vo, err);
	}
	/* standard output carries the handler's result, and nothing else */
	if (vo.result)
		printf("%s\n", vo.result);
	if (ret == 0 && !o->quiet)
		fprintf(stderr, "lamina: verify: ok (%s, %zu import%s%s%s%s)\n",
			vo.runtime == LM_RUNTIME_NODE ? "Node.js" : "Python", vo.imported, vo.imported == 1 ? "" : "s",
			v.handler ? ", handler resolved" : "", v.event ? " and called" : "",
			v.from_label ? "; checks from the image's lamina.verify label" : "");
out:
	if (have_manifest)
		manifest_release(&m);
	image_release(&img);
	build_result_release(&res);
	cache_free(c);
	verify_spec_release(&v);
	verify_spec_release(&cli);
	verify_outcome_release(&vo);
	regcli_release(&rc);
	free(spec);
	return ret;
}
