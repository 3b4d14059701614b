/* cmd_build.c - lamina build MANIFEST -o OUT.tar */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "cli/cmds.h"
#include "image/compress.h"
#include "cli/options.h"

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
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"Prints the image manifest digest on standard output. Without -o and --push the image\n"
	"is built into the cache only (useful to check a manifest). Exit status 7 when a\n"
	"verify check fails (nothing is written or pushed).\n"
	"Global options (lamina --help) go before the command: --cache, --jobs, --quiet.\n"
	"SOURCE_DATE_EPOCH sets every file time in the new layers (default 1980-01-01).\n";

enum { OPT_BASE = 0x100, OPT_PUSH, OPT_NO_VERIFY, OPT_REPORT, OPT_LEVEL };

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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct build_req r;
	struct build_zip z = { NULL, -1, NULL, 0, -1, 1 };
	struct size_report rep;
	struct regcli rc;
	int c, ret = -1;
	memset(&r, 0, sizeof(r));
	size_report_init(&rep);
	regcli_init(&rc);
	regcli_global(&r.reg, o);
	while ((c = getopt_long(argc, argv, "o:t:h", longopts, NULL)) != -1) {
		int h = regcli_handle(c, optarg, &rc, err);
		if (h < 0)
			goto out;
		if (h > 0)
			continue;
		switch (c) {
		case 'o':
			r.out = optarg;
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
		case OPT_REPORT:
			r.zip = &z;
			r.report = &rep;
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
	r.manifest = argv[optind];
	regcli_fill(&rc, &r.reg);
	r.platform = r.reg.platform; /* --platform overrides the manifest's */
	ret = build_run(&r, o, NULL, err);
	if (ret == 0 && r.report)
		size_report_print(&rep, stderr);
out:
	size_report_release(&rep);
	regcli_release(&rc);
	return ret;
}
