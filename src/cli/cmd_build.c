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
#include "common/str.h"
#include "registry/ref.h"
#include "report/render.h"

static const char usage[] =
	"usage: lamina build MANIFEST [-o OUT.tar] [options]\n"
	"\n"
	"Builds a Lambda container image from a manifest (docs/manifest.md): the base image's\n"
	"layers pass through byte-identical, each manifest layer becomes one reproducible\n"
	"gzip tar layer, prune rules and Python precompilation are applied, and the result\n"
	"is written as one tar that is both an OCI image layout and a `docker load` archive.\n"
	"A layer with \"bundle\": {\"node\": {\"entry\": [...]}} is bundled with esbuild first\n"
	"(node_modules/.bin/esbuild, $LAMINA_ESBUILD or PATH; docs/bundle.md): the bundle and\n"
	"the packages that must stay outside it become the layer.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE       write the image archive to FILE (temporary name, renamed\n"
	"                          on success; nothing is left behind on failure)\n"
	"      --sbom none|spdx    with -o, also write OUT.spdx.json beside OUT.tar (default\n"
	"                          spdx): an SPDX 2.3 JSON SBOM of the image: the base by\n"
	"                          reference and digest, the Python distributions and npm\n"
	"                          packages of the app layers (those prune removed noted),\n"
	"                          every app file's SHA-256; created at SOURCE_DATE_EPOCH, so\n"
	"                          reproducible. Never put into the image (docs/sbom.md);\n"
	"                          with --push, attached to the pushed image as an OCI 1.1\n"
	"                          referrer artifact (as 'lamina push --sbom'; a registry\n"
	"                          that refuses it gets a warning, the push stands)\n"
	"  -t, --tag NAME[:TAG]    image name recorded in the archive (overrides \"tag\"); a\n"
	"                          Docker reference: lowercase path components ([a-z0-9]\n"
	"                          joined by . _ __ or -), an optional HOST[:PORT]/, a tag of\n"
	"                          at most 128 letters, digits, _ . - (not first: . -), no\n"
	"                          digest; checked before anything is built (exit status 2)\n"
	"      --push REF          push the image to REF after building\n"
	"      --report [FORMAT]   also report on the image ('lamina report --help'): the zip\n"
	"                          of the same app is measured (as 'lamina zip' would write\n"
	"                          it), and verify is run rather than taken from the cache.\n"
	"                          text (default): a summary on standard error, every table\n"
	"                          with -v; json, markdown or html: written to --report-file,\n"
	"                          or beside -o OUT.tar as OUT.report.json/.md/.html\n"
	"      --report-file FILE  where --report writes (its format from the extension\n"
	"                          when --report names none)\n"
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
	"SOURCE_DATE_EPOCH sets every file time in the new layers (default 1980-01-01).\n";

enum { OPT_PUSH = 0x100, OPT_REPORT, OPT_REPORT_FILE, OPT_LEVEL, OPT_SBOM };

/* OUT.tar -> OUT.report.EXT */
static char *report_path(const char *archive, enum report_format f)
{
	static const char *const ext[] = { "txt", "json", "md", "html" };
	size_t n = strlen(archive);
	if (n > 4 && strcmp(archive + n - 4, ".tar") == 0)
		n -= 4;
	return lm_asprintf("%.*s.report.%s", (int)n, archive, ext[f]);
}

int cmd_build(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "tag", required_argument, NULL, 't' },
		{ "push", required_argument, NULL, OPT_PUSH },
		{ "report", optional_argument, NULL, OPT_REPORT },
		{ "report-file", required_argument, NULL, OPT_REPORT_FILE },
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
	enum report_format rfmt = REPORT_TEXT;
	const char *rfile = NULL;
	char *rpath = NULL;
	long v;
	int c, ret = -1, rfmt_set = 0, sbom = 1;
	char *sbom_path = NULL;

	memset(&r, 0, sizeof(r));
	build_result_init(&res);
	buildcli_init(&b);
	cli_getopt_init(&gopt, "o:t:h", longopts);
	while ((c = buildcli_next(&gopt, &b, argc, argv, o, err)) != -1) {
		if (c == CLI_GETOPT_ERROR)
			goto out;
		switch (c) {
		case 'o':
			r.archive = optarg;
			break;
		case 't':
			/* refused here, before any slow work, as docker load would refuse it */
			if (ref_check_name(optarg, err) < 0) {
				err->code = LM_E_USAGE;
				lm_err_wrap(err, "--tag");
				goto out;
			}
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
		case OPT_REPORT: {
			/* --report html, --report=html and a bare --report before the manifest */
			const char *f = optarg;
			enum report_format tmp;
			struct lm_err e2 = LM_ERR_INIT;
			if (!f && optind < argc && report_format_parse(argv[optind], &tmp, &e2) == 0)
				f = argv[optind++];
			lm_err_release(&e2);
			if (f) {
				if (report_format_parse(f, &rfmt, err) < 0)
					goto out;
				rfmt_set = 1;
			}
			r.zip = &z;
			r.report = 1;
			r.full_report = 1;
			break;
		}
		case OPT_REPORT_FILE:
			rfile = optarg;
			break;
		case OPT_LEVEL:
			if (cli_int("--compression-level", optarg, GZ_LEVEL_MIN, GZ_LEVEL_MAX, &v, err) < 0)
				goto out;
			r.level = (int)v;
			break;
		default: /* -h, --help (or an option this switch does not handle) */
			ret = cli_help_option(c, "build", err, usage, buildcli_help, regcli_help);
			goto out;
		}
	}
	if (cli_operands(argc, 1, "one MANIFEST argument", "build", err) < 0)
		goto out;
	if (r.archive && !*r.archive) {
		lm_err_set(err, LM_E_USAGE, "--output must name a file");
		goto out;
	}
	if (rfile && !r.report) {
		lm_err_set(err, LM_E_USAGE, "--report-file goes with --report");
		goto out;
	}
	if (rfile && !rfmt_set)
		rfmt = report_format_for_path(rfile);
	if (r.report && rfmt != REPORT_TEXT && !rfile) {
		if (!r.archive) {
			lm_err_set(err, LM_E_USAGE, "--report %s needs --report-file FILE or -o OUT.tar (beside which it goes)",
				   rfmt == REPORT_JSON ? "json" : rfmt == REPORT_HTML ? "html" : "markdown");
			goto out;
		}
		rfile = rpath = report_path(r.archive, rfmt);
	}
	if (r.archive && sbom)
		r.sbom = sbom_path = sbom_path_for(r.archive);
	r.push_sbom = sbom;
	if (buildcli_finish(&b, argv[optind], o, &r, err) < 0)
		goto out;
	if (cli_build(&r, o, &res, err) < 0)
		goto out;
	cli_build_summary(&res, o);
	if (r.sbom && !o->quiet)
		fprintf(stderr, "  sbom    %s (SPDX 2.3)\n", r.sbom);
	if (r.push && !o->quiet)
		fprintf(stderr, "pushed %s@%s\n", r.push, res.pushed);
	if (r.push && res.sbom_attached[0] && !o->quiet)
		fprintf(stderr, "sbom attached as %s (%s)\n", res.sbom_attached, registry_attach_how_name(res.sbom_how));
	printf("%s\n", res.img.manifest_digest);
	if (r.report && rfile) {
		if (report_write_file(&res.full, rfmt, rfile, err) < 0)
			goto out;
		if (!o->quiet)
			fprintf(stderr, "report: %s\n", rfile);
	} else if (r.report && !o->quiet) {
		report_text(&res.full, !o->verbose, stderr);
	}
	ret = 0;
out:
	free(rpath);
	buildcli_release(&b);
	build_result_release(&res);
	free(sbom_path);
	return ret;
}
