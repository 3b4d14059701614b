/* cmd_pull.c - lamina pull REF: fetch an image from a registry into the cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/cache.h"
#include "cli/cmds.h"
#include "image/image.h"
#include "cli/options.h"
#include "registry/registry.h"

static const char usage[] =
	"usage: lamina pull [options] REF\n"
	"\n"
	"Pulls the image REF (e.g. public.ecr.aws/lambda/python:3.12, HOST:PORT/REPO:TAG or\n"
	"REPO@sha256:...) into the blob cache, checking every blob's sha256 and size. From a\n"
	"multi-platform index it picks --platform. Blobs already in the cache are not\n"
	"downloaded again. Anonymous bearer tokens (public.ecr.aws), Basic auth and Docker's\n"
	"credential helpers work as with docker pull.\n"
	"\n"
	"Prints the normalised reference with the manifest digest, then the config and each\n"
	"layer (digest, size, media type) on standard output.\n"
	"\n"
	"Options:\n"
	"  -h, --help              this help\n"
	"%s"
	"\n"
	"Global options (lamina --help) go anywhere: --cache DIR, -j N (parallel\n"
	"downloads, default 4), -q (no progress), -v (one line per HTTP request).\n";

int cmd_pull(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct regcli rc;
	struct reg_opts ro = { 0 };
	struct cache *c = NULL;
	struct lm_image img;
	int r, ret = -1;

	regcli_init(&rc);
	image_init(&img);
	r = regcli_parse(argc, argv, "pull", 1, "one image reference", &rc, o, err);
	regcli_global(&ro, o); /* after the parse: global options may follow the command */
	if (r > 0)
		cli_help(usage, regcli_help);
	if (r != 0) {
		ret = r > 0 ? 0 : -1;
		goto out;
	}
	regcli_fill(&rc, &ro);
	c = cache_open(o->cache_dir, err);
	if (!c)
		goto out;
	if (registry_pull(argv[optind], &ro, c, &img, err) < 0)
		goto out;
	printf("%s@%s\n", img.name ? img.name : argv[optind], img.manifest_digest);
	printf("config %s %lld %s\n", img.manifest.config.digest, (long long)img.manifest.config.size,
	       img.manifest.config.media_type ? img.manifest.config.media_type : "-");
	for (size_t i = 0; i < img.manifest.nlayers; i++) {
		const struct oci_descriptor *d = &img.manifest.layers[i];
		printf("layer %s %lld %s\n", d->digest, (long long)d->size, d->media_type ? d->media_type : "-");
	}
	ret = 0;
out:
	image_release(&img);
	cache_free(c);
	regcli_release(&rc);
	return ret;
}
