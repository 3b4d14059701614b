/* cmd_push.c - lamina push ARCHIVE REF: send an image archive to a registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/cache.h"
#include "cli/cmds.h"
#include "image/image.h"
#include "cli/options.h"
#include "registry/registry.h"
#include "build/sbom.h"
#include "build/source.h"
#include "image/oci.h"
#include "common/alloc.h"

static const char usage[] =
	"usage: lamina push [options] ARCHIVE REF\n"
	"\n"
	"Pushes the single-platform image in ARCHIVE (what 'lamina build -o' writes: an OCI\n"
	"archive; also oci-archive:PATH[:REF], oci:DIR[:TAG], docker-archive:PATH, or a registry\n"
	"reference to copy from) to the\n"
	"registry reference REF, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/fn:v1.\n"
	"Blobs the repository already has are skipped, blobs of another repository of the\n"
	"same registry are mounted, the rest are uploaded (in 16 MiB chunks when large);\n"
	"then the manifest is put with its media type. The image is never pushed as an index\n"
	"(the only index --sbom may write is the referrers tag's, beside the image).\n"
	"\n"
	"Prints REF@DIGEST (the pushed manifest digest) on standard output.\n"
	"\n"
	"Options:\n"
	"      --sbom FILE         after the image, attach FILE (the OUT.spdx.json 'lamina build'\n"
	"                          writes) as an OCI 1.1 referrer artifact of the pushed manifest\n"
	"                          (artifactType application/spdx+json, subject = the image);\n"
	"                          a registry without the referrers API gets the referrers tag\n"
	"                          index sha256-<hex> instead. Never part of the image (Lambda\n"
	"                          takes no index), and a registry that refuses it only costs a\n"
	"                          warning: the image push still succeeds (docs/sbom.md)\n"
	"  -h, --help              this help\n"
	"%s"
	"\n"
	"Global options (lamina --help) go anywhere: --cache DIR, -j N (parallel\n"
	"uploads, default 4), -q (no progress), -v (one line per HTTP request).\n";

enum { OPT_SBOM = 0x300 };

/* regcli_parse with --sbom FILE: 1 for --help, 0, or -1 (usage) */
static int parse(int argc, char **argv, struct regcli *rc, const char **sbom, struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		REGCLI_LONGOPTS,
		{ "sbom", required_argument, NULL, OPT_SBOM },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_getopt g;
	int opt;
	cli_getopt_init(&g, "h", longopts);
	while ((opt = cli_getopt_next(&g, argc, argv, o, err)) != -1) {
		int r = opt == CLI_GETOPT_ERROR ? -1 : regcli_handle(opt, optarg, rc, err);
		if (r < 0)
			return -1;
		if (r > 0)
			continue;
		if (opt == 'h')
			return 1;
		if (opt == OPT_SBOM) {
			if (!*optarg)
				return lm_err_set(err, LM_E_USAGE, "--sbom must name a file");
			*sbom = optarg;
			continue;
		}
		return lm_err_set(err, LM_E_USAGE, "see 'lamina push --help'");
	}
	if (argc - optind != 2)
		return lm_err_set(err, LM_E_USAGE, "expected ARCHIVE and REF; see 'lamina push --help'");
	return regcli_check(rc, err);
}

int cmd_push(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct regcli rc;
	struct reg_opts ro = { 0 };
	struct source_opts so = { 0 };
	struct cache *c = NULL;
	struct lm_image img;
	char *spec = NULL;
	char digest[LM_DIGEST_LEN];
	const char *src, *sbom = NULL;
	int r, ret = -1;

	regcli_init(&rc);
	image_init(&img);
	r = parse(argc, argv, &rc, &sbom, o, err);
	regcli_global(&ro, o); /* after the parse: global options may follow the command */
	if (r > 0)
		cli_help(usage, regcli_help);
	if (r != 0) {
		ret = r > 0 ? 0 : -1;
		goto out;
	}
	src = argv[optind];
	spec = cli_source_spec(src);
	regcli_fill(&rc, &ro);
	so.platform = rc.platform;
	so.reg = &ro;
	if (sbom && access(sbom, R_OK) != 0) {
		lm_err_sys(err, "--sbom '%s'", sbom);
		goto out;
	}
	c = cache_open(o->cache_dir, err);
	if (!c)
		goto out;
	if (source_open(spec, &so, c, &img, err) < 0)
		goto out;
	if (registry_push(&img, c, argv[optind + 1], &ro, digest, err) < 0)
		goto out;
	if (sbom) {
		/* the image is pushed: from here on nothing fails the command */
		struct oci_descriptor subj;
		struct lm_err e2 = LM_ERR_INIT;
		enum reg_attach_how how = 0;
		char ad[LM_DIGEST_LEN];
		registry_subject(&img, c, digest, &subj);
		if (registry_attach(argv[optind + 1], c, &ro, &subj, SBOM_SPDX_MEDIA_TYPE, sbom, &how, ad, &e2) < 0)
			fprintf(stderr, "lamina: push: warning: SBOM '%s' not attached (the image is pushed): %s\n", sbom,
				e2.msg);
		else if (!o->quiet)
			fprintf(stderr, "sbom %s attached as %s (%s)\n", sbom, ad, registry_attach_how_name(how));
		lm_err_release(&e2);
	}
	printf("%s@%s\n", argv[optind + 1], digest);
	ret = 0;
out:
	image_release(&img);
	cache_free(c);
	free(spec);
	regcli_release(&rc);
	return ret;
}
