#include "cli/buildcmd.h"

#include <stdio.h>

#include "common/str.h"

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
