/* cmd_zip.c - lamina zip MANIFEST -o OUT.zip: a Lambda .zip and the image-vs-zip size report */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/build.h"
#include "build/manifest.h"
#include "cli/buildcmd.h"
#include "cli/cmds.h"
#include "cli/options.h"
#include "zip/sizereport.h"
#include "common/alloc.h"
#include "zip/zip.h"

static const char usage[] =
	"usage: lamina zip MANIFEST [-o OUT.zip] [options]\n"
	"\n"
	"Builds a Lambda .zip (docs/zip.md) from the same manifest as 'lamina build': the\n"
	"layers' \"from\" directories are scanned, pruned, and Python is precompiled with the\n"
	"base image's own interpreter (so --base or \"base\" must name the image of the\n"
	"runtime the zip will run on, e.g. public.ecr.aws/lambda/python:3.12 for python3.12);\n"
	"the manifest's \"verify\" step runs in that image. Then it writes a zip instead of an\n"
	"image and reports image vs zip sizes against Lambda's limits on standard error.\n"
	"A layer zip needs no base image when nothing runs in one: no \"base\" and no --base,\n"
	"no \"verify\" (or --no-verify), no \"precompile.node\", and no .py file unless\n"
	"\"precompile\" is false (pure JavaScript or data); the report then has no image.\n"
	"\n"
	"  function zip   files under /var/task, at the zip's root (Lambda unpacks it there)\n"
	"  layer zip      files under /opt, relative to /opt: a layer with \"to\": \"/opt/python\"\n"
	"                 gives python/... (Lambda unpacks layers into /opt)\n"
	"A file the kind cannot hold (outside /var/task, or /opt) is an error naming it.\n"
	"\n"
	"The zip is reproducible: entries sorted, every directory present, modes 0644 and\n"
	"0755 (symlinks kept), one time from SOURCE_DATE_EPOCH (UTC, 1980-01-01 at the\n"
	"earliest), no extra fields, deflate; two builds from copies of the sources give the\n"
	"same bytes.\n"
	"\n"
	"Options:\n"
	"  -o, --output FILE       write the zip to FILE (temporary name, renamed on success;\n"
	"                          nothing is left behind on failure). Without -o the zip is\n"
	"                          only measured for the report.\n"
	"  -k, --kind KIND         function (default) or layer; overrides \"zip.kind\"\n"
	"  -l, --layer NAME        put manifest layer NAME in the zip; repeatable; overrides\n"
	"                          \"zip.layers\" (default: every layer)\n"
	"      --level N           deflate level 0-9, 0 stores (default 6; overrides \"zip.level\")\n"
	"      --json              print the size report as JSON on standard output (exact\n"
	"                          bytes, the zip's sha256 and Lambda's CodeSha256, each\n"
	"                          limit's verdict)\n"
	"%s"
	"  -h, --help              this help\n"
	"\n"
	"%s"
	"\n"
	"Limits checked: image 10 GB uncompressed; zip 50 MB (52,428,800 bytes) for a direct\n"
	"upload (larger zips go through S3); 250 MiB (262,144,000 bytes) unzipped for a\n"
	"function and all its layers together. A zip over the unzipped limit is not written\n"
	"(exit status 3, as is a file the kind cannot hold); one over the direct-upload limit\n"
	"is, with a warning.\n"
	"Prints the zip's digest (sha256:<hex>) on standard output when -o is given, and on\n"
	"standard error its CodeSha256 (base64 of the SHA-256: Lambda's CodeSha256 and\n"
	"Terraform's source_code_hash).\n"
	"Global options (lamina --help) go anywhere: --cache, --jobs (deflate threads; the\n"
	"bytes do not depend on it), --quiet (no progress and no report).\n"
	"SOURCE_DATE_EPOCH sets every entry's time (UTC; default and minimum 1980-01-01).\n";

enum { OPT_LEVEL = 0x100, OPT_JSON };

int cmd_zip(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const char *const kinds[] = { "function", "layer", NULL };
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "kind", required_argument, NULL, 'k' },
		{ "layer", required_argument, NULL, 'l' },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "json", no_argument, NULL, OPT_JSON },
		BUILDCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_getopt gopt;
	struct build_request r;
	struct build_zip z = { NULL, -1, NULL, 0, -1, 0 };
	struct build_result res;
	struct buildcli b;
	const char **layers = NULL;
	long v;
	int c, k, ret = -1, json = 0;

	memset(&r, 0, sizeof(r));
	build_result_init(&res);
	buildcli_init(&b);
	cli_getopt_init(&gopt, "o:k:l:h", longopts);
	while ((c = buildcli_next(&gopt, &b, argc, argv, o, err)) != -1) {
		if (c == CLI_GETOPT_ERROR)
			goto out;
		switch (c) {
		case 'o':
			z.out = optarg;
			break;
		case 'k':
			if (cli_enum("--kind", optarg, kinds, &k, err) < 0)
				goto out;
			z.kind = k == 0 ? ZIP_FUNCTION : ZIP_LAYER;
			break;
		case 'l':
			layers = lm_xrealloc(layers, (z.nlayers + 1) * sizeof(*layers));
			layers[z.nlayers++] = optarg;
			break;
		case OPT_LEVEL:
			if (cli_int("--level", optarg, 0, 9, &v, err) < 0)
				goto out;
			z.level = (int)v;
			break;
		case OPT_JSON:
			json = 1;
			break;
		default: /* -h, --help (or an option this switch does not handle) */
			ret = cli_help_option(c, "zip", err, usage, buildcli_help, regcli_help);
			goto out;
		}
	}
	if (cli_operands(argc, 1, "one MANIFEST argument", "zip", err) < 0)
		goto out;
	if (z.out && !*z.out) {
		lm_err_set(err, LM_E_USAGE, "--output must name a file");
		goto out;
	}
	z.layers = layers;
	if (buildcli_finish(&b, argv[optind], o, &r, err) < 0)
		goto out;
	/* a misspelt --layer is known before any slow work */
	for (size_t i = 0; i < z.nlayers; i++)
		if (manifest_find_layer(&b.m, layers[i], "--layer", err) < 0)
			goto out;
	r.zip = &z;
	r.report = 1;
	if (cli_build(&r, o, &res, err) < 0)
		goto out;
	if (json) {
		char *s = size_report_json(&res.report);
		printf("%s\n", s);
		free(s);
	} else {
		if (!o->quiet)
			size_report_print(&res.report, stderr);
		if (z.out)
			printf("%s\n", res.report.zip_digest);
	}
	ret = 0;
out:
	free(layers);
	buildcli_release(&b);
	build_result_release(&res);
	return ret;
}
