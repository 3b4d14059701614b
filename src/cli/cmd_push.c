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
#include "build/source.h"
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
	"then the manifest is put with its media type. Never pushes an index.\n"
	"\n"
	"Prints REF@DIGEST (the pushed manifest digest) on standard output.\n"
	"\n"
	"Options:\n"
	"  -h, --help              this help\n"
	"%s"
	"\n"
	"Global options (lamina --help) go anywhere: --cache DIR, -j N (parallel\n"
	"uploads, default 4), -q (no progress), -v (one line per HTTP request).\n";

int cmd_push(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct regcli rc;
	struct reg_opts ro = { 0 };
	struct source_opts so = { 0 };
	struct cache *c = NULL;
	struct lm_image img;
	char *spec = NULL;
	char digest[LM_DIGEST_LEN];
	const char *src;
	int r, ret = -1;

	regcli_init(&rc);
	image_init(&img);
	r = regcli_parse(argc, argv, "push", 2, "ARCHIVE and REF", &rc, o, err);
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
	c = cache_open(o->cache_dir, err);
	if (!c)
		goto out;
	if (source_open(spec, &so, c, &img, err) < 0)
		goto out;
	if (registry_push(&img, c, argv[optind + 1], &ro, digest, err) < 0)
		goto out;
	printf("%s@%s\n", argv[optind + 1], digest);
	ret = 0;
out:
	image_release(&img);
	cache_free(c);
	free(spec);
	regcli_release(&rc);
	return ret;
}
