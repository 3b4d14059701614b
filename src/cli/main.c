/* main.c - argv -> struct lm_opts -> command table; prints the error once. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmds.h"
#include "cli/options.h"
#include "common/cleanup.h"
#include "image/cachegc.h"
#include "common/err.h"
#include "common/opts.h"
#include "common/str.h"
#include "common/version.h"

static const struct cmd {
	const char *name;
	lm_cmd_fn fn;
	const char *summary;
} cmds[] = {
	{ "build", cmd_build, "build an image archive (and optionally push it) from a manifest" },
	{ "cache", cmd_cache, "show what the cache holds (du) and clean it (prune)" },
	{ "check", cmd_check, "will Lambda take it? check an image or a zip against Lambda's rules" },
	{ "init", cmd_init, "write a starter lamina.json from a project directory" },
	{ "inspect", cmd_inspect, "show an image archive's manifest, config and layers" },
	{ "pull", cmd_pull, "pull an image from a registry into the cache" },
	{ "push", cmd_push, "push an image archive to a registry" },
	{ "report", cmd_report, "where an image's bytes go, what prune did, limits, slowest imports" },
	{ "prune", cmd_prune, "show what a manifest's prune rules remove (--dry-run)" },
	{ "verify", cmd_verify, "import modules and resolve the handler inside the image" },
	{ "zip", cmd_zip, "build a Lambda .zip (function or layer) and compare image vs zip sizes" },
};

static const struct cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: lamina [GLOBAL OPTIONS] COMMAND [ARGS]\n\n"
		   "Builds small, fast-starting AWS Lambda container images without Docker.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-9s %s\n", cmds[i].name, cmds[i].summary);
	fprintf(f, "\nGlobal options (before the command or anywhere after it):\n"
		   "  --cache DIR    blob cache (default $XDG_CACHE_HOME/lamina or ~/.cache/lamina)\n"
		   "  --cache-max SIZE  bound of the cache (500M, 10G ...; default 10G, or\n"
		   "                 $LAMINA_CACHE_MAX): least recently used entries go first\n"
		   "  -j, --jobs N   worker threads (default: number of CPUs)\n"
		   "  -q, --quiet    no progress output\n"
		   "  -v, --verbose  more output\n"
		   "  -h, --help     this help; 'lamina help COMMAND' or 'lamina COMMAND --help'\n"
		   "                 for a command's options\n"
		   "  --version      print the version\n\n"
		   "Environment: SOURCE_DATE_EPOCH sets file times in layers and zips (default\n"
		   "315532800, 1980-01-01T00:00:00Z). LAMINA_CACHE_MAX bounds the cache.\n\n");
	char *ex = lm_exit_status_text();
	fputs(ex, f);
	free(ex);
}

static int parse_epoch(struct lm_opts *o, struct lm_err *err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	char *end;
	long long v;
	o->epoch = LM_DEFAULT_EPOCH;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 8589934591LL)
		return lm_err_set(err, LM_E_USAGE, "SOURCE_DATE_EPOCH '%s' is not a number of seconds since 1970", s);
	o->epoch = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_GLOBAL_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static char help_opt[] = "--help";
	char *help_argv[3] = { NULL, help_opt, NULL };
	struct lm_opts o = { 0 };
	struct lm_err err = LM_ERR_INIT;
	const struct cmd *cmd = NULL;
	int c, ret;

	/* first, before any thread: an interrupted lamina leaves no temporary files */
	if (lm_cleanup_start() < 0) {
		fprintf(stderr, "lamina: cannot set up signal handling\n");
		return LM_E_GENERIC;
	}
	o.is_tty = isatty(2);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" CLI_GLOBAL_SHORTOPTS "h", longopts, NULL)) != -1) {
		int g = c == '?' || c == ':' ? cli_option_error(c, optopt, argv[optind - 1], longopts, &err)
					   : cli_global_handle(c, optarg, &o, &err);
		if (g < 0) {
			fprintf(stderr, "lamina: %s\n", err.msg);
			lm_err_release(&err);
			return LM_E_USAGE;
		}
		if (g > 0)
			continue;
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("lamina %s\n", LM_VERSION);
			return 0;
		default:
			usage(stderr);
			return LM_E_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return LM_E_USAGE;
	}
	if (strcmp(argv[optind], "help") == 0) {
		/* lamina help [COMMAND]: the command's --help */
		if (optind + 1 >= argc) {
			usage(stdout);
			return 0;
		}
		if (optind + 2 < argc) {
			fprintf(stderr, "lamina: help: expected at most one COMMAND\n");
			return LM_E_USAGE;
		}
		help_argv[0] = argv[optind + 1];
		argv = help_argv;
		argc = 2;
		optind = 0;
	}
	cmd = find_cmd(argv[optind]);
	if (!cmd) {
		const char *names[sizeof(cmds) / sizeof(cmds[0])], *near;
		char *q = lm_str_quote(argv[optind], 64);
		for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			names[i] = cmds[i].name;
		near = lm_str_nearest(argv[optind], names, sizeof(cmds) / sizeof(cmds[0]));
		if (near)
			fprintf(stderr, "lamina: '%s' is not a command (did you mean '%s'?); see 'lamina --help'\n", q,
				near);
		else
			fprintf(stderr, "lamina: '%s' is not a command; see 'lamina --help'\n", q);
		free(q);
		return LM_E_USAGE;
	}
	if (!o.cache_max && getenv("LAMINA_CACHE_MAX") && *getenv("LAMINA_CACHE_MAX") &&
	    (cache_size_parse(getenv("LAMINA_CACHE_MAX"), &o.cache_max) < 0 || o.cache_max == 0)) {
		fprintf(stderr, "lamina: LAMINA_CACHE_MAX '%s' must be a size such as 500M or 10G\n",
			getenv("LAMINA_CACHE_MAX"));
		return LM_E_USAGE;
	}
	if (parse_epoch(&o, &err) < 0) {
		fprintf(stderr, "lamina: %s\n", err.msg);
		lm_err_release(&err);
		return LM_E_USAGE;
	}
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the command (0 also re-initialises GNU getopt) */
	ret = cmd->fn(argc, argv, &o, &err);
	if (ret < 0) {
		const char *msg = err.msg ? err.msg : "failed";
		size_t n = strlen(cmd->name);
		if (strncmp(msg, cmd->name, n) == 0 && msg[n] == ':' && msg[n + 1] == ' ')
			msg += n + 2; /* "verify: ..." from lamina verify: the command says it already */
		/* messages carry what images and registries said: no control sequences */
		char *clean = lm_str_printable(msg);
		fprintf(stderr, "lamina: %s: %s\n", cmd->name, clean);
		free(clean);
		ret = err.code ? err.code : LM_E_GENERIC;
		lm_err_release(&err);
	} else {
		ret = 0;
	}
	/* like git: a full disk on stdout must not look like success */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "lamina: %s: write to standard output: %s\n", cmd->name, strerror(errno));
		if (!ret)
			ret = LM_E_IO;
	}
	return ret;
}
