/* cmd_cache.c - lamina cache du|prune */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cmds.h"
#include "cli/options.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "image/cache.h"
#include "image/cachegc.h"
#include "run/rootfs.h"

static const char usage[] =
	"usage: lamina cache du [--json]\n"
	"       lamina cache prune [--max SIZE | --all]\n"
	"\n"
	"The cache (--cache DIR, default $XDG_CACHE_HOME/lamina) holds the blobs of base\n"
	"images and of the layers lamina built, the results of earlier builds' stages (keyed\n"
	"by everything they depended on: an unchanged input is never pruned, compiled,\n"
	"tarred or compressed twice), the content digests of source files, and the root\n"
	"filesystems used to run an image's own programs. See docs/cache.md.\n"
	"\n"
	"  du          what each kind holds, in bytes on disk\n"
	"      --json  the same as JSON on standard output\n"
	"  prune       removes least recently used entries until the cache is within its\n"
	"              bound (--cache-max, $LAMINA_CACHE_MAX, default 10G); builds do this\n"
	"              by themselves when they add to the cache\n"
	"      --max SIZE  down to SIZE instead (500M, 2G ...)\n"
	"      --all   removes every blob, record and root filesystem no running lamina holds\n"
	"  -h, --help  this help\n"
	"\n"
	"prune waits for running builds (they hold the cache shared) before it removes\n"
	"anything.\n";

int cmd_cache(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	struct cli_getopt gopt;
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "max", required_argument, NULL, 'm' },
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cache *c = NULL;
	const char *verb;
	uint64_t max = o->cache_max ? o->cache_max : CACHE_MAX_DEFAULT;
	int ch, json = 0, all = 0, max_given = 0, ret = -1;

	cli_getopt_init(&gopt, "h", longopts);
	while ((ch = cli_getopt_next(&gopt, argc, argv, o, err)) != -1) {
		if (ch == CLI_GETOPT_ERROR)
			goto out;
		switch (ch) {
		case 'J':
			json = 1;
			break;
		case 'm':
			if (cache_size_parse(optarg, &max) < 0)
				return lm_err_set(err, LM_E_USAGE, "--max '%s' must be a size such as 500M or 10G", optarg);
			max_given = 1;
			break;
		case 'a':
			all = 1;
			break;
		case 'h':
			cli_help(usage);
			return 0;
		default:
			return lm_err_set(err, LM_E_USAGE, "see 'lamina cache --help'");
		}
	}
	if (optind != argc - 1)
		return lm_err_set(err, LM_E_USAGE, "expected du or prune; see 'lamina cache --help'");
	verb = argv[optind];
	if (strcmp(verb, "du") != 0 && strcmp(verb, "prune") != 0) {
		static const char *const verbs[] = { "du", "prune" };
		const char *near = lm_str_nearest(verb, verbs, 2);
		if (near)
			return lm_err_set(err, LM_E_USAGE, "'%s' is not du or prune (did you mean '%s'?)", verb, near);
		return lm_err_set(err, LM_E_USAGE, "'%s' is not du or prune; see 'lamina cache --help'", verb);
	}
	if (strcmp(verb, "du") == 0 && (all || max_given))
		return lm_err_set(err, LM_E_USAGE, "--max and --all go with prune");
	if (strcmp(verb, "prune") == 0 && json)
		return lm_err_set(err, LM_E_USAGE, "--json goes with du");
	if (all && max_given)
		return lm_err_set(err, LM_E_USAGE, "--all and --max cannot go together");
	if (!(c = cache_open(o->cache_dir, err)))
		return -1;
	if (strcmp(verb, "du") == 0) {
		struct cache_usage u;
		char a[32], b[32], d[32], e[32], f[32];
		if (cache_du(c, &u, err) < 0)
			goto out;
		if (json) {
			printf("{\"blobs\":{\"count\":%llu,\"bytes\":%llu},\"records\":{\"count\":%llu,\"bytes\":%llu},"
			       "\"rootfs\":{\"count\":%llu,\"bytes\":%llu},\"tmp\":{\"bytes\":%llu},\"total\":%llu,\"max\":%llu}\n",
			       (unsigned long long)u.nblobs, (unsigned long long)u.blobs, (unsigned long long)u.nrecords,
			       (unsigned long long)u.records, (unsigned long long)u.nrootfs, (unsigned long long)u.rootfs,
			       (unsigned long long)u.tmp, (unsigned long long)(u.blobs + u.records + u.rootfs + u.tmp),
			       (unsigned long long)max);
		} else {
			printf("%s\n", cache_dir(c));
			printf("  blobs     %8llu  %s\n", (unsigned long long)u.nblobs, lm_human_bytes(u.blobs, a, sizeof(a)));
			printf("  records   %8llu  %s\n", (unsigned long long)u.nrecords,
			       lm_human_bytes(u.records, b, sizeof(b)));
			printf("  rootfs    %8llu  %s\n", (unsigned long long)u.nrootfs, lm_human_bytes(u.rootfs, d, sizeof(d)));
			printf("  tmp                 %s\n", lm_human_bytes(u.tmp, e, sizeof(e)));
			printf("  bound               %s (blobs and records; root filesystems keep the %d most "
			       "recently used)\n",
			       lm_human_bytes(max, f, sizeof(f)), ROOTFS_KEEP);
		}
	} else {
		uint64_t freed = 0;
		char h[32];
		if (cache_gc(c, all ? 0 : max, 1, &freed, NULL, err) < 0)
			goto out;
		if (all) {
			char *r = lm_path_join(cache_dir(c), "rootfs");
			size_t n = rootfs_gc(r, 0, NULL, 0);
			free(r);
			if (!o->quiet && n)
				fprintf(stderr, "removed %zu root filesystem%s\n", n, n == 1 ? "" : "s");
		}
		if (!o->quiet)
			fprintf(stderr, "removed %s of blobs and records\n", lm_human_bytes(freed, h, sizeof(h)));
	}
	ret = 0;
out:
	cache_free(c);
	return ret;
}
