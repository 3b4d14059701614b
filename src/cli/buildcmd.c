#include "cli/buildcmd.h"

#include "build/manifest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

const char buildcli_help[] =
	"      --base SOURCE       base image (overrides \"base\"): a registry reference,\n"
	"                          oci-archive:PATH[:REF], oci:DIR[:TAG] or docker-archive:PATH\n"
	"      --no-verify         skip the manifest's \"verify\" step\n"
	"      --no-check          skip Lambda's rules on the image or zip (lamina check), which\n"
	"                          otherwise stop the build before anything is written or\n"
	"                          pushed (exit status 8)\n"
	"      --no-cache          use and record no cached result: redo every stage (the\n"
	"                          output is byte-identical to a cached build's)\n"
	"      --cache-from REF    also look for earlier results in the registry cache REF\n"
	"                          (repeatable; fetched when a stage needs them; a missing\n"
	"                          or unreachable REF is a warning; see docs/cache.md)\n"
	"      --cache-to REF      push the results this build used to REF, for other\n"
	"                          machines' --cache-from (a plain OCI image manifest)\n";

void buildcli_init(struct buildcli *b)
{
	memset(b, 0, sizeof(*b));
	regcli_init(&b->rc);
}

int buildcli_handle(int opt, const char *arg, struct buildcli *b, struct lm_err *err)
{
	int r = regcli_handle(opt, arg, &b->rc, err);
	if (r != 0)
		return r;
	switch (opt) {
	case BUILDCLI_OPT_BASE:
		if (!*arg)
			return lm_err_set(err, LM_E_USAGE, "--base: empty source");
		b->base = arg;
		return 1;
	case BUILDCLI_OPT_NO_VERIFY:
		b->no_verify = 1;
		return 1;
	case BUILDCLI_OPT_NO_CHECK:
		b->no_check = 1;
		return 1;
	case BUILDCLI_OPT_NO_CACHE:
		b->no_cache = 1;
		return 1;
	case BUILDCLI_OPT_CACHE_FROM:
		b->cache_from = lm_xrealloc(b->cache_from, (b->ncache_from + 1) * sizeof(*b->cache_from));
		b->cache_from[b->ncache_from++] = (char *)arg;
		return 1;
	case BUILDCLI_OPT_CACHE_TO:
		b->cache_to = arg;
		return 1;
	default:
		return 0;
	}
}

int buildcli_next(struct cli_getopt *g, struct buildcli *b, int argc, char **argv, struct lm_opts *o,
		  struct lm_err *err)
{
	int c;
	while ((c = cli_getopt_next(g, argc, argv, o, err)) != -1) {
		int h = c == CLI_GETOPT_ERROR ? -1 : buildcli_handle(c, optarg, b, err);
		if (h < 0)
			return CLI_GETOPT_ERROR;
		if (h == 0)
			return c;
	}
	return -1;
}

int buildcli_finish(struct buildcli *b, const char *path, const struct lm_opts *o, struct build_request *r,
		    struct lm_err *err)
{
	if (regcli_check(&b->rc, err) < 0)
		return -1;
	if (b->no_cache && (b->ncache_from || b->cache_to))
		return lm_err_set(err, LM_E_USAGE, "--no-cache cannot go with --cache-from or --cache-to");
	if (manifest_load(path, &b->m, err) < 0)
		return -1;
	b->have_m = 1;
	regcli_global(&b->reg, o);
	regcli_fill(&b->rc, &b->reg);
	r->m = &b->m;
	r->reg = &b->reg;
	r->base = b->base;
	r->platform = b->reg.platform; /* --platform overrides the manifest's */
	r->no_verify = b->no_verify;
	r->no_check = b->no_check;
	r->no_cache = b->no_cache;
	r->cache_from = b->cache_from;
	r->ncache_from = b->ncache_from;
	r->cache_to = b->cache_to;
	return 0;
}

void buildcli_release(struct buildcli *b)
{
	if (b->have_m)
		manifest_release(&b->m);
	free(b->cache_from);
	regcli_release(&b->rc);
	memset(b, 0, sizeof(*b));
}

static void print_note(void *ctx, const char *text)
{
	(void)ctx;
	fprintf(stderr, "%s\n", text);
}

int cli_build(const struct build_request *r, const struct lm_opts *o, struct build_result *res, struct lm_err *err)
{
	int ret = build_run(r, o, o->quiet ? NULL : print_note, NULL, res, err);
	const struct build_stats *s = &res->stats;
	if (s->corrupt && !o->quiet)
		fprintf(stderr, "warning: %u cache entr%s found corrupt: removed, and the work done again\n", s->corrupt,
			s->corrupt == 1 ? "y was" : "ies were");
	if (o->verbose)
		fprintf(stderr,
			"stats: files %llu, hashed %llu (%llu bytes); compiled %llu, pyc cached %llu; layers written %llu, reused %llu; "
			"compressed %llu bytes; verify %s; corrupt cache entries %u; imported %llu, exported %llu\n",
			(unsigned long long)s->files, (unsigned long long)s->files_hashed,
			(unsigned long long)s->bytes_hashed, (unsigned long long)s->compiled, (unsigned long long)s->pyc_cached,
			(unsigned long long)s->layers_written,
			(unsigned long long)s->layers_reused, (unsigned long long)s->bytes_compressed,
			s->verify_cached ? "cached" : "run or off", s->corrupt, (unsigned long long)s->imported,
			(unsigned long long)s->exported);
	if (o->verbose) {
		fprintf(stderr, "time:");
		for (int i = 0; i < STAGE_DONE; i++)
			fprintf(stderr, " %s %.0f ms%s", build_stage_names[i], s->ms[i], i + 1 < STAGE_DONE ? "," : "\n");
	}
	return ret;
}

void cli_build_summary(const struct build_result *res, const struct lm_opts *o)
{
	char a[32], b[32];
	if (o->quiet)
		return;
	fprintf(stderr, "  base    %zu layers, %s compressed (passed through unchanged)\n", res->base_layers,
		lm_human_bytes((uint64_t)res->base_size, a, sizeof(a)));
	for (size_t i = 0; i < res->nlayers; i++)
		fprintf(stderr, "  %-7s %llu entries, %s -> %s  %.19s\n", res->layers[i].name,
			(unsigned long long)res->layers[i].files, lm_human_bytes(res->layers[i].usize, a, sizeof(a)),
			lm_human_bytes((uint64_t)res->layers[i].size, b, sizeof(b)), res->layers[i].digest);
	fprintf(stderr, "  image   %s\n", res->img.manifest_digest);
}
