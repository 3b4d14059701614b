/* cmd_build.c - lamina build MANIFEST -o OUT.tar */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "build/manifest.h"
#include "build/sbom.h"
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
	"      --sbom none|spdx    with -o, also write OUT.spdx.json beside OUT.tar (default\n"
	"                          spdx): an SPDX 2.3 JSON SBOM of the image: the base by\n"
	"                          reference and digest, the Python distributions and npm\n"
	"                          packages of the app layers (those prune removed noted),\n"
	"                          every app file's SHA-256; created at SOURCE_DATE_EPOCH, so\n"
	"                          reproducible. Never put into the image (docs/sbom.md)\n"
	"  -t, --tag NAME[:TAG]    image name recorded in the archive (overrides \"tag\")\n"
	"      --push REF          push the image to REF after building\n"
	"      --report            also measure the zip of the same app (as 'lamina zip' would\n"
	"                          write it, see \"zip\" in the manifest) and print image vs zip\n"
	"                          sizes against Lambda's limits on standard error (as JSON:\n"
	"                          lamina zip MANIFEST --json)\n"
	"      --compression-level N\n"
	"                          gzip level of the new layers, 1 (fastest) to 12 (smallest;\n"
	"                          10-12 are very slow); overrides \"compression.level\";\n"
	"                          default 4, about 1.05x the size of gzip -6 at 4x its speed\n"
	"%s"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"Prints the image manifest digest on standard output. Without -o and --push the image\n"
	"is built into the cache only (useful to check a manifest). The manifest's \"verify\"\n"
	"checks run in the image's own root filesystem ('lamina verify --help'); when one\n"
	"fails after prune rules removed files, the rule behind it is named, and nothing is\n"
	"written or pushed (exit status 7).\n"
	"Global options (lamina --help: --cache, --cache-max, -j, -q, -v) go anywhere.\n"
	"SOURCE_DATE_EPOCH sets every file time in the new layers (default 1980-01-01).\n"
	"%s";

enum { OPT_PUSH = 0x100, OPT_REPORT, OPT_LEVEL, OPT_SBOM };

int cmd_build(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "tag", required_argument, NULL, 't' },
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "report", no_argument, NULL, OPT_REPORT },
		{ "compression-level", required_argument, NULL, OPT_LEVEL },
		{ "sbom", required_argument, NULL, OPT_SBOM },
		BUILDCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_getopt gopt;
	struct build_request r;
	struct build_zip z = { NULL, -1, NULL, 0, -1, 1 };
	struct build_result res;
	struct buildcli b;
	long v;
	int c, ret = -1, sbom = 1;
	char *sbom_path = NULL;

	memset(&r, 0, sizeof(r));
	build_result_init(&res);
	buildcli_init(&b);
	cli_getopt_init(&gopt, "o:t:h", longopts);
	while ((c = cli_getopt_next(&gopt, argc, argv, o, err)) != -1) {
		int h = c == CLI_GETOPT_ERROR ? -1 : buildcli_handle(c, optarg, &b, err);
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
		case OPT_PUSH:
			r.push = optarg;
			break;
		case OPT_SBOM:
			if (strcmp(optarg, "none") == 0) {
				sbom = 0;
			} else if (strcmp(optarg, "spdx") == 0) {
				sbom = 1;
			} else {
				lm_err_set(err, LM_E_USAGE, "--sbom takes none or spdx, not '%s'", optarg);
				goto out;
			}
			break;
		case OPT_REPORT:
			r.zip = &z;
			r.report = 1;
			break;
		case OPT_LEVEL:
			if (cli_int("--compression-level", optarg, GZ_LEVEL_MIN, GZ_LEVEL_MAX, &v, err) < 0)
				goto out;
			r.level = (int)v;
			break;
		case 'h':
		{
			char *ex = lm_exit_status_text();
			printf(usage, buildcli_help, regcli_help, ex);
			free(ex);
		}
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
	if (r.archive && !*r.archive) {
		lm_err_set(err, LM_E_USAGE, "--output must name a file");
		goto out;
	}
	if (r.archive && sbom)
		r.sbom = sbom_path = sbom_path_for(r.archive);
	if (buildcli_finish(&b, argv[optind], o, &r, err) < 0)
		goto out;
	if (cli_build(&r, o, &res, err) < 0)
		goto out;
	cli_build_summary(&res, o);
	if (r.sbom && !o->quiet)
		fprintf(stderr, "  sbom    %s (SPDX 2.3)\n", r.sbom);
	if (r.push && !o->quiet)
		fprintf(stderr, "pushed %s@%s\n", r.push, res.pushed);
	printf("%s\n", res.img.manifest_digest);
	if (r.report)
		size_report_print(&res.report, stderr);
	ret = 0;
out:
	buildcli_release(&b);
	build_result_release(&res);
	free(sbom_path);
	return ret;
}
