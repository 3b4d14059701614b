/* cmd_prune.c - lamina prune --dry-run MANIFEST: what the manifest's prune rules remove. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "cli/options.h"
#include "build/baseindex.h"
#include "build/manifest.h"
#include "build/stages.h"
#include "image/cachegc.h"
#include "prune/prune.h"
#include "image/tree.h"
#include "common/alloc.h"
#include "common/fs.h"

static void usage(FILE *f)
{
	const char *const *n = prune_preset_names();
	fprintf(f, "usage: lamina prune --dry-run MANIFEST [--json] [--layer NAME] [--materialize DIR]\n\n"
		   "Scans each layer's 'from' directory exactly as 'lamina build' does (excludes, then\n"
		   "the manifest's top-level and per-layer \"prune\" rules) and reports what would be\n"
		   "removed: per rule, per package (Python distributions from .dist-info/.egg-info,\n"
		   "Node packages by node_modules folder) and in total, files and bytes before and after.\n"
		   "ELF debug stripping is measured in memory. Nothing in the source tree is changed.\n"
		   "When a preset compares with the base image (dedupe-base, in the safe and aggressive\n"
		   "presets), the manifest's base is opened as the build opens it; a base that cannot be\n"
		   "opened is a warning, and dedupe-base then removes nothing.\n\n"
		   "Options:\n"
		   "  --dry-run          required: report only (the build applies the rules itself)\n"
		   "  --json             print the report as JSON (for CI) instead of tables\n"
		   "  --layer NAME       only this layer (repeatable)\n"
		   "  --materialize DIR  also write the pruned, stripped layer contents under DIR at\n"
		   "                     their image paths (DIR/var/task/...), e.g. to test them\n"
		   "  -h, --help         this help\n\n"
		   "Presets:");
	for (; *n; n++)
		fprintf(f, " %s", *n);
	fprintf(f, "\nSee docs/prune.md for what each preset removes and why it is safe.\n\n");
	char *ex = lm_exit_status_text();
	fputs(ex, f);
	free(ex);
}

static int wanted(char **names, size_t n, const char *name)
{
	if (!n)
		return 1;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return 1;
	return 0;
}

/* What the base ships, for dedupe-base, as the build reads it; a base that cannot be
 * opened only costs that rule (warned: the dry run is a report, not a build). */
static void load_base(const struct lm_manifest *m, const struct lm_opts *o, struct prune_base *pb)
{
	struct lm_err e2 = LM_ERR_INIT;
	struct reg_opts ro = { 0 };
	struct lm_image base;
	struct cache *c = NULL;
	struct build_notes notes = { 0 };
	int want = 0;
	prune_base_init(pb);
	for (size_t i = 0; i < m->nlayers; i++)
		want |= prune_wants_base(&m->prune, &m->layers[i].prune);
	if (!want || !m->base)
		return;
	image_init(&base);
	regcli_global(&ro, o);
	ro.quiet = 1;
	if ((c = cache_open(o->cache_dir, &e2)))
		cache_lock_shared(c);
	if (!c || stage_base(m->base, m->platform, &ro, c, 0, &base, &notes, &e2) < 0 ||
	    stage_base_index(m, &base, c, 1, pb, &e2) < 0)
		fprintf(stderr, "lamina: prune: warning: dedupe-base: %s; comparing with no base\n", e2.msg);
	lm_err_release(&e2);
	build_notes_release(&notes);
	image_release(&base);
	cache_free(c);
}

int cmd_prune(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct cli_getopt gopt;
	static const struct option longopts[] = {
		{ "dry-run", no_argument, NULL, 'n' },	  { "json", no_argument, NULL, 'J' },
		{ "layer", required_argument, NULL, 'l' }, { "materialize", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },	  { NULL, 0, NULL, 0 },
	};
	struct lm_manifest m;
	struct prune_report *rep = NULL;
	struct prune_base pb;
	char **only = NULL, *workdir = NULL;
	size_t nonly = 0, caponly = 0, matched = 0;
	const char *mat = NULL;
	int dry = 0, json = 0, c, ret = -1, loaded = 0;
	memset(&m, 0, sizeof(m));
	prune_base_init(&pb);
	cli_getopt_init(&gopt, "h", longopts);
	while ((c = cli_getopt_next(&gopt, argc, argv, o, err)) != -1) {
		if (c == CLI_GETOPT_ERROR)
			goto out;
		switch (c) {
		case 'n':
			dry = 1;
			break;
		case 'J':
			json = 1;
			break;
		case 'l':
			lm_grow((void **)&only, &caponly, nonly + 1, sizeof(char *));
			only[nonly++] = optarg;
			break;
		case 'm':
			mat = optarg;
			break;
		case 'h':
			usage(stdout);
			free(only);
			return 0;
		default:
			usage(stderr);
			free(only);
			return lm_err_set(err, LM_E_USAGE, "bad option (see 'lamina prune --help')");
		}
	}
	if (optind + 1 != argc) {
		usage(stderr);
		free(only);
		return lm_err_set(err, LM_E_USAGE, "expected one MANIFEST");
	}
	if (!dry) {
		free(only);
		return lm_err_set(err, LM_E_USAGE, "only --dry-run is supported: 'lamina build' applies the prune rules");
	}
	if (manifest_load(argv[optind], &m, err) < 0)
		goto out;
	loaded = 1;
	for (size_t i = 0; i < nonly; i++)
		if (manifest_find_layer(&m, only[i], "--layer", err) < 0)
			goto out;
	load_base(&m, o, &pb);
	if (mat) {
		workdir = lm_mkdtemp(NULL, "lamina-prune", err);
		if (!workdir)
			goto out;
	}
	rep = prune_report_new();
	for (size_t i = 0; i < m.nlayers; i++) {
		const struct mf_layer *l = &m.layers[i];
		struct tree_scan_opts so = { (const char *const *)l->exclude, l->nexclude, 0 };
		struct lm_tree t;
		int r;
		if (!wanted(only, nonly, l->name))
			continue;
		matched++;
		tree_init(&t);
		r = tree_scan(&t, l->from, l->to, &so, err);
		if (r == 0) {
			tree_finish(&t);
			r = prune_apply(&m.prune, &l->prune, &t, l->to, m.platform, &pb, l->name, workdir, rep, err);
		}
		if (r == 0 && mat)
			r = tree_materialize(&t, mat, &(struct tree_select){ .copy = 1 }, err);
		tree_release(&t);
		if (r < 0) {
			lm_err_wrap(err, "layer '%s'", l->name);
			goto out;
		}
	}
	if (nonly && matched == 0) {
		lm_err_set(err, LM_E_USAGE, "no layer named '%s' in '%s'", only[0], argv[optind]);
		goto out;
	}
	if (json) {
		char *s = prune_report_json(rep);
		fputs(s, stdout);
		free(s);
	} else {
		prune_report_print(rep, stdout);
	}
	ret = 0;
out:
	lm_rm_rf_quiet(workdir);
	free(workdir);
	prune_report_free(rep);
	prune_base_release(&pb);
	if (loaded)
		manifest_release(&m);
	free(only);
	return ret;
}
