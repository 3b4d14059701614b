/* buildcmd.h - what build, zip and verify MANIFEST share around build_run: the notes
 * printed on standard error (nothing under -q), and the image summary. */
#ifndef LM_CLI_BUILDCMD_H
#define LM_CLI_BUILDCMD_H

#include "build/build.h"
#include "cli/options.h"

/* The options build and zip share (verify MANIFEST takes --base and the registry ones):
 * the base, the verify step, the cache, and the registry options. */
enum {
	BUILDCLI_OPT_BASE = 0x1100,
	BUILDCLI_OPT_NO_VERIFY,
	BUILDCLI_OPT_NO_CACHE,
	BUILDCLI_OPT_CACHE_FROM,
	BUILDCLI_OPT_CACHE_TO,
	BUILDCLI_OPT_NO_CHECK,
};

#define BUILDCLI_LONGOPTS                                                          \
	{ "base", required_argument, NULL, BUILDCLI_OPT_BASE },                    \
	{ "no-verify", no_argument, NULL, BUILDCLI_OPT_NO_VERIFY },                \
	{ "no-check", no_argument, NULL, BUILDCLI_OPT_NO_CHECK },                  \
	{ "no-cache", no_argument, NULL, BUILDCLI_OPT_NO_CACHE },                  \
	{ "cache-from", required_argument, NULL, BUILDCLI_OPT_CACHE_FROM },        \
	{ "cache-to", required_argument, NULL, BUILDCLI_OPT_CACHE_TO }, REGCLI_LONGOPTS

struct buildcli {
	struct regcli rc;
	struct reg_opts reg;
	struct lm_manifest m;
	int have_m;
	char **cache_from;
	size_t ncache_from;
	const char *base, *cache_to;
	int no_verify, no_cache, no_check;
};

void buildcli_init(struct buildcli *b);
/* Handles opt when it is one of BUILDCLI_LONGOPTS: 1 handled, 0 not, -1 bad value. */
int buildcli_handle(int opt, const char *arg, struct buildcli *b, struct lm_err *err);
/* cli_getopt_next with BUILDCLI_LONGOPTS applied to b: the command's own next option,
 * -1 at the end, CLI_GETOPT_ERROR when an option or its value is bad (err set). */
int buildcli_next(struct cli_getopt *g, struct buildcli *b, int argc, char **argv, struct lm_opts *o,
		  struct lm_err *err);
/* After the parse: checks the options, loads the manifest at path (once) and fills r's
 * shared fields (manifest, base, platform, registry, verify and cache options). */
int buildcli_finish(struct buildcli *b, const char *path, const struct lm_opts *o, struct build_request *r,
		    struct lm_err *err);
void buildcli_release(struct buildcli *b);
/* Help lines for BUILDCLI_LONGOPTS but the registry ones (regcli_help). */
extern const char buildcli_help[];

/* Runs build_run with the notes going to standard error unless o->quiet. */
int cli_build(const struct build_request *r, const struct lm_opts *o, struct build_result *res, struct lm_err *err);

/* The image summary: base layers, each app layer, the image digest (standard error). */
void cli_build_summary(const struct build_result *res, const struct lm_opts *o);

#endif
