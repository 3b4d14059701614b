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
	"  -o, --output FILE     write the zip to FILE (temporary name, renamed on success;\n"
	"                        nothing is left behind on failure). Without -o the zip is\n"
	"                        only measured for the report.\n"
	"  -k, --kind KIND       function (default) or layer; overrides \"zip.kind\"\n"
	"  -l, --layer NAME      put manifest layer NAME in the zip; repeatable; overrides\n"
	"                        \"zip.layers\" (default: every layer)\n"
	"      --level N         deflate level 0-9, 0 stores (default 6; overrides \"zip.level\")\n"
	"      --base SOURCE     base image (overrides \"base\"): a registry reference,\n"
	"                        oci-archive:PATH[:REF], oci:DIR[:TAG] or docker-archive:PATH\n"
	"      --no-verify       skip the manifest's \"verify\" step\n"
	"      --json            print the size report as JSON on standard output (exact bytes,\n"
	"                        the zip's sha256 and Lambda's CodeSha256, each limit's verdict)\n"
	"      --no-cache        use and record no cached result: redo every stage (the\n"
	"                        output is byte-identical to a cached build's)\n"
	"      --cache-from REF  also look for earlier results in the registry cache REF\n"
	"                        (repeatable; see docs/cache.md)\n"
	"      --cache-to REF    push the results this build used to REF\n"
	"  -h, --help            this help\n"
	"\n"
	"%s"
	"\n"
	"Limits checked: image 10 GB uncompressed; zip 50 MB (52,428,800 bytes) for a direct\n"
	"upload (larger zips go through S3); 250 MiB (262,144,000 bytes) unzipped for a\n"
	"function and all its layers together. A zip over the unzipped limit is not written\n"
	"(exit status 3); one over the direct-upload limit is, with a warning.\n"
	"Prints the zip's digest (sha256:<hex>) on standard output when -o is given.\n"
	"Global options (lamina --help) go before the command: --cache, --jobs (deflate\n"
	"threads; the bytes do not depend on it), --quiet (no progress and no report).\n"
	"SOURCE_DATE_EPOCH sets every entry's time (UTC; default and minimum 1980-01-01).\n"
	"Exit status: 0 written, 2 usage, 3 bad input (manifest; a file the kind cannot hold;\n"
	"over 250 MiB unzipped), 4 file system, 5 network or registry, 7 verification failed.\n";

enum { OPT_BASE = 0x100, OPT_NO_VERIFY, OPT_LEVEL, OPT_JSON, OPT_NO_CACHE, OPT_CACHE_FROM, OPT_CACHE_TO };

int cmd_zip(int argc, char **argv, const struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "kind", required_argument, NULL, 'k' },
		{ "layer", required_argument, NULL, 'l' },
		{ "level", required_argument, NULL, OPT_LEVEL },
		{ "base", required_argument, NULL, OPT_BASE },
		REGCLI_LONGOPTS,
		{ "no-verify", no_argument, NULL, OPT_NO_VERIFY },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
		{ "cache-from", required_argument, NULL, OPT_CACHE_FROM },
		{ "cache-to", required_argument, NULL, OPT_CACHE_TO },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct build_request r;
	struct build_zip z = { NULL, -1, NULL, 0, -1, 0 };
	struct build_result res;
	struct lm_manifest m;
	struct reg_opts reg = { 0 };
	struct regcli rc;
	char **cache_from = NULL;
	const char **layers = NULL;
	int c, ret = -1, json = 0, have_m = 0;
	memset(&r, 0, sizeof(r));
	build_result_init(&res);
	regcli_init(&rc);
	regcli_global(&reg, o);
	while ((c = getopt_long(argc, argv, "o:k:l:h", longopts, NULL)) != -1) {
		int h = regcli_handle(c, optarg, &rc, err);
		if (h < 0)
			goto out;
		if (h > 0)
			continue;
		switch (c) {
		case 'o':
			z.out = optarg;
			break;
		case 'k': {
			enum zip_kind k;
			if (zip_kind_parse(optarg, &k) < 0) {
				lm_err_set(err, LM_E_USAGE, "--kind '%s' must be function or layer", optarg);
				goto out;
			}
			z.kind = (int)k;
			break;
		}
		case 'l':
			layers = lm_xrealloc(layers, (z.nlayers + 1) * sizeof(*layers));
			layers[z.nlayers++] = optarg;
			break;
		case OPT_LEVEL: {
			char *end;
			long v;
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || v < 0 || v > 9) {
				lm_err_set(err, LM_E_USAGE, "--level '%s' must be a number from 0 to 9", optarg);
				goto out;
			}
			z.level = (int)v;
			break;
		}
		case OPT_BASE:
			r.base = optarg;
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
		case OPT_JSON:
			json = 1;
			break;
		case 'h':
			printf(usage, regcli_help);
			ret = 0;
			goto out;
		default:
			lm_err_set(err, LM_E_USAGE, "see 'lamina zip --help'");
			goto out;
		}
	}
	if (optind != argc - 1) {
		lm_err_set(err, LM_E_USAGE, "expected one MANIFEST argument; see 'lamina zip --help'");
		goto out;
	}
	if (z.out && !*z.out) {
		lm_err_set(err, LM_E_USAGE, "--output must name a file");
		goto out;
	}
	if (regcli_check(&rc, err) < 0)
		goto out;
	z.layers = layers;
	if (manifest_load(argv[optind], &m, err) < 0)
		goto out;
	have_m = 1;
	r.m = &m;
	regcli_fill(&rc, &reg);
	r.reg = &reg;
	r.platform = reg.platform; /* --platform overrides the manifest's */
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
	if (have_m)
		manifest_release(&m);
	build_result_release(&res);
	regcli_release(&rc);
	free(cache_from);
	return ret;
}
