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
#include "common/str.h"
#include "run/verify.h"

static const char usage[] =
	"usage: lamina verify OUT.tar|MANIFEST|SOURCE [options]\n"
	"\n"
	"Runs checks inside the image's own root filesystem, with its ENV, a read-only\n"
	"/var/task (the whole root is read-only, as on Lambda) and a writable /tmp, using\n"
	"the image's Python (/var/lang/bin/python3, else python3 on its PATH): imports each\n"
	"module named with --import (and in the manifest's \"verify.imports\"), resolves the\n"
	"handler named by CMD[0] (\"module.function\" or \"pkg/module.function\"), and with\n"
	"--event calls it with that event and a minimal context object, printing its return\n"
	"value as JSON on standard output - a local invoke without Docker.\n"
	"Every failure is collected and reported at the end with its traceback.\n"
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
	"      --base SOURCE       MANIFEST only: base image (overrides \"base\")\n"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"Needs root, or unprivileged user namespaces (then a user namespace maps you to root\n"
	"inside; where they are disabled lamina says which setting and exits with status 4),\n"
	"and overlayfs. Root filesystems are cached under <cache>/rootfs: the 8 most recently\n"
	"used are kept, older ones removed; an interrupted run leaves nothing there.\n"
	"A check that fails gives exit status 7, with every failure on standard error.\n"
	"%s";

enum { OPT_HANDLER = 0x100, OPT_NO_HANDLER, OPT_BASE };

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

int cmd_verify(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct cli_getopt gopt;
	static const struct option longopts[] = {
		{ "import", required_argument, NULL, 'i' },
		{ "handler", no_argument, NULL, OPT_HANDLER },
		{ "no-handler", no_argument, NULL, OPT_NO_HANDLER },
		{ "event", required_argument, NULL, 'e' },
		{ "base", required_argument, NULL, OPT_BASE },
		REGCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct verify_spec v = { 0 };
	struct lm_manifest m;
	struct lm_image img;
	struct build_result res;
	struct cache *c = NULL;
	struct reg_opts reg = { 0 };
	struct regcli rc;
	const char *base = NULL, *target;
	char *result = NULL, *spec = NULL;
	int handler = -1, ch, ret = -1, have_manifest = 0;
	struct stat st;

	memset(&m, 0, sizeof(m));
	image_init(&img);
	build_result_init(&res);
	regcli_init(&rc);
	cli_getopt_init(&gopt, "i:e:h", longopts);
	while ((ch = cli_getopt_next(&gopt, argc, argv, o, err)) != -1) {
		int h = ch == CLI_GETOPT_ERROR ? -1 : regcli_handle(ch, optarg, &rc, err);
		if (h < 0)
			goto out;
		if (h > 0)
			continue;
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
		case 'h': {
			char *ex = lm_exit_status_text();
			printf(usage, regcli_help, ex);
			free(ex);
			ret = 0;
			goto out;
		}
		default:
			lm_err_set(err, LM_E_USAGE, "see 'lamina verify --help'");
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

	if (stat(target, &st) == 0 && S_ISREG(st.st_mode) && is_manifest(target)) {
		struct build_request r;
		if (manifest_load(target, &m, err) < 0)
			goto out;
		have_manifest = 1;
		for (size_t i = 0; i < m.verify.nimports; i++) {
			v.imports = lm_xrealloc(v.imports, (v.nimports + 1) * sizeof(*v.imports));
			v.imports[v.nimports++] = lm_xstrdup(m.verify.imports[i]);
		}
		if (handler < 0 && m.verify.set)
			handler = m.verify.handler;
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
		result = res.verify_result;
		res.verify_result = NULL;
	} else {
		struct source_opts so = { reg.platform, &reg };
		if (base) {
			lm_err_set(err, LM_E_USAGE, "--base goes with a MANIFEST, not with an image");
			goto out;
		}
		spec = stat(target, &st) == 0 ? lm_asprintf("oci-archive:%s", target) : lm_xstrdup(target);
		if (!(c = cache_open(o->cache_dir, err)))
			goto out;
		if (source_open(spec, &so, c, &img, err) < 0)
			goto out;
	}
	if (!have_manifest) {
		v.set = 1;
		v.handler = handler != 0;
		ret = verify_run(&img, c, &v, NULL, o, &result, err);
	}
	if (result)
		printf("%s\n", result);
	if (ret == 0 && !o->quiet)
		fprintf(stderr, "lamina: verify: ok (%zu import%s%s%s)\n", v.nimports, v.nimports == 1 ? "" : "s",
			v.handler ? ", handler resolved" : "", v.event ? " and called" : "");
out:
	if (have_manifest)
		manifest_release(&m);
	image_release(&img);
	build_result_release(&res);
	cache_free(c);
	verify_spec_release(&v);
	regcli_release(&rc);
	free(result);
	free(spec);
	return ret;
}
