/* cmd_build.c - lamina build MANIFEST -o OUT.tar */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "build/manifest.h"
#include "cli/buildcmd.h"
#include "cli/cmds.h"
#include "image/compress.h"
#include "cli/options.h"
#include "common/alloc.h"

static const char usage[] =
	"usage: lamina build MANIFEST [-o OUT.tar] [options]\n"
	"\n"
	"Builds a Lambda container image from a manifest (docs/manifest.md): the base image's\n"
	"layers pass through byte-identical, each manifest layer becomes one reproducible\n"
	"gzip tar layer, prune rules and Python precompilation are applied, and the result\n"
	"is written as one tar that is both an OCI image layout and a `docker load` archive.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE       write the image archive to FILE (temporary name, renamed\n"
	"                          on success; nothing is left behind on failure)\n"
	"  -t, --tag NAME[:TAG]    image name recorded in the archive (overrides \"tag\")\n"
	"      --base SOURCE       base image (overrides \"base\"): a registry reference,\n"
	"                          oci-archive:PATH[:REF], oci:DIR[:TAG] or docker-archive:PATH\n"
	"      --push REF          push the image to REF after building\n"
	"      --no-verify         skip the manifest's \"verify\" step (imports and handler\n"
	"                          checked in the image's own root filesystem, see\n"
	"                          'lamina verify --help'; when a check fails after prune\n"
	"                          rules removed files, the rule behind it is named)\n"
	"      --report            also measure the zip of the same app (as 'lamina zip' would\n"
	"                          write it, see \"zip\" in the manifest) and print image vs zip\n"
	"                          sizes against Lambda's limits on standard error (as JSON:\n"
	"                          lamina zip MANIFEST --json)\n"
	"      --compression-level N\n"
	"                          gzip level of the new layers, 1 (fastest) to 12 (smallest;\n"
	"                          10-12 are very slow); overrides \"compression.level\";\n"
	"                          default 4, about 1.05x the size of gzip -6 at 4x its speed\n"
	"      --no-cache          use and record no cached result: redo every stage (the\n"
	"                          output is byte-identical to a cached build's)\n"
	"      --cache-from REF    also look for earlier results in the registry cache REF\n"
	"                          (repeatable; fetched when a stage needs them; a missing\n"
	"                          or unreachable REF is a warning; see docs/cache.md)\n"
	"      --cache-to REF      push the results this build used to REF, for other\n"
	"                          machines' --cache-from (a plain OCI image manifest)\n"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"Prints the image manifest digest on standard output. Without -o and --push the image\n"
	"is built into the cache only (useful to check a manifest). Exit status 7 when a\n"
	"verify check fails (nothing is written or pushed).\n"
	"Global options (lamina --help) go before the command: --cache, --jobs, --quiet.\n"
	"SOURCE_DATE_EPOCH sets every file time in the new layers (default 1980-01-01).\n";

enum { OPT_BASE = 0x100, OPT_PUSH, OPT_NO_VERIFY, OPT_REPORT, OPT_LEVEL, OPT_NO_CACHE, OPT_CACHE_FROM, OPT_CACHE_TO };

int cmd_build(int argc, char **argv, const struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "tag", required_argument, NULL, 't' },
		{ "base", required_argument, NULL, OPT_BASE },
		REGCLI_LONGOPTS,
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "report", no_argument, NULL, OPT_REPORT },
		{ "compression-level", required_argument, NULL, OPT_LEVEL },
		{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
		{ "cache-from", required_argument, NULL, OPT_CACHE_FROM },
		{ "cache-to", required_argument, NULL, OPT_CACHE_TO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct build_request r;
	struct build_zip z = { NULL, -1, NULL, 0, -1, 1 };
	struct build_result res;
	struct lm_manifest m;
	struct reg_opts reg = { 0 };
	struct regcli rc;
	char **cache_from = NULL;
	int c, ret = -1, have_m = 0;
	memset(&r, 0, sizeof(r));
	build_result_init(&res);
	regcli_init(&rc);
	regcli_global(&reg, o);
	while ((c = getopt_long(argc, argv, "o:t:h", longopts, NULL)) != -1) {
		int h = regcli_handle(c, optarg, &rc, err);
		if (h < 0)
			goto out;
		if (h > 0)
			continue;
		switch (c) {
		case 'o':
			r.archive = optarg;
			break;
		case 't':
			r.tag = optarg;
			break;
		case OPT_BASE:
			r.base = optarg;
			break;
		case OPT_PUSH:
			r.push = optarg;
			break;
		case OPT_NO_VERIFY:
			r.no_verify = 1;
			break;
		case OPT_NO_CACHE:
			r.no_cache = 1;
			break;
		case OPT_CACHE_FROM:
			cache_from = lm_xrealloc(cache_from, (r.ncache_from + 1) * sizeof(*cache_from));
			cache_from[r.ncache_from++] = optarg;
			r.cache_from = cache_from;
			break;
		case OPT_CACHE_TO:
			r.cache_to = optarg;
			break;
		case OPT_REPORT:
			r.zip = &z;
			r.report = 1;
			break;
		case OPT_LEVEL: {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*optarg < '0' || *optarg > '9' || *end || v < GZ_LEVEL_MIN || v > GZ_LEVEL_MAX) {
				lm_err_set(err, LM_E_USAGE, "--compression-level '%s' must be an integer from %d to %d",
					   optarg, GZ_LEVEL_MIN, GZ_LEVEL_MAX);
				goto out;
			}
			r.level = (int)v;
			break;
		}
		case 'h':
			printf(usage, regcli_help);
			ret = 0;
			goto out;
		default:
			lm_err_set(err, LM_E_USAGE, "see 'lamina build --help'");
			goto out;
		}
	}
	if (optind != argc - 1) {
		lm_err_set(err, LM_E_USAGE, "expected one MANIFEST argument; see 'lamina build --help'");
		goto out;
	}
	if (regcli_check(&rc, err) < 0)
		goto out;
	if (manifest_load(argv[optind], &m, err) < 0)
		goto out;
	have_m = 1;
	r.m = &m;
	regcli_fill(&rc, &reg);
	r.reg = &reg;
	r.platform = reg.platform; /* --platform overrides the manifest's */
	if (cli_build(&r, o, &res, err) < 0)
		goto out;
	cli_build_summary(&res, o);
	if (r.push && !o->quiet)
		fprintf(stderr, "pushed %s@%s\n", r.push, res.pushed);
	printf("%s\n", res.img.manifest_digest);
	if (r.report)
		size_report_print(&res.report, stderr);
	ret = 0;
out:
	if (have_m)
		manifest_release(&m);
	build_result_release(&res);
	regcli_release(&rc);
	free(cache_from);
	return ret;
}
