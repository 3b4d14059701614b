/* options.h - the command line's shared parts: global options (accepted before the
 * command and anywhere after it), checked integer and enum parsing, and the registry
 * options every command that reaches a registry takes (build, zip, verify, pull, push).
 *
 * In a command:
 *     struct cli_getopt g; cli_getopt_init(&g, "o:h", longopts);
 *     while ((c = cli_getopt_next(&g, argc, argv, o, err)) != -1) {
 *             if (c == CLI_GETOPT_ERROR) goto out;   ... the command's options ...
 *     }
 * The registry options:
 *     static const struct option longopts[] = { REGCLI_LONGOPTS, { "help", ... }, { NULL, 0, NULL, 0 } };
 *     struct regcli rc; regcli_init(&rc);
 *     while ((c = getopt_long(...)) != -1) {
 *             int r = regcli_handle(c, optarg, &rc, err);
 *             if (r < 0) goto out; if (r > 0) continue;
 *             switch (c) { ...the command's own options... }
 *     }
 *     struct reg_opts ro = { .quiet = o->quiet, .is_tty = o->is_tty, .verbose = o->verbose, .jobs = ... };
 *     regcli_fill(&rc, &ro);  ... registry_pull/registry_push ...
 *     out: regcli_release(&rc);
 * and print regcli_help in the command's --help. */
#ifndef LM_CLI_OPTIONS_H
#define LM_CLI_OPTIONS_H

#include <getopt.h>
#include <stddef.h>

#include "common/attr.h"
#include "common/err.h"
#include "common/opts.h"
#include "registry/registry.h"

enum {
	REGCLI_OPT_CA_CERT = 0x1000,
	REGCLI_OPT_INSECURE,
	REGCLI_OPT_USERNAME,
	REGCLI_OPT_PASSWORD_STDIN,
	REGCLI_OPT_PLATFORM,
	REGCLI_OPT_TIMEOUT,
	REGCLI_OPT_LOW_SPEED_LIMIT,
	REGCLI_OPT_LOW_SPEED_TIME,
};

#define REGCLI_LONGOPTS                                                              \
	{ "ca-cert", required_argument, NULL, REGCLI_OPT_CA_CERT },                  \
	{ "insecure-registry", required_argument, NULL, REGCLI_OPT_INSECURE },       \
	{ "username", required_argument, NULL, REGCLI_OPT_USERNAME },                \
	{ "password-stdin", no_argument, NULL, REGCLI_OPT_PASSWORD_STDIN },          \
	{ "platform", required_argument, NULL, REGCLI_OPT_PLATFORM },                \
	{ "timeout", required_argument, NULL, REGCLI_OPT_TIMEOUT },                  \
	{ "low-speed-limit", required_argument, NULL, REGCLI_OPT_LOW_SPEED_LIMIT },  \
	{ "low-speed-time", required_argument, NULL, REGCLI_OPT_LOW_SPEED_TIME }

struct regcli {
	const char *ca_cert;
	const char **insecure; /* array owned, strings borrowed from argv */
	size_t ninsecure;
	const char *username;
	char *password; /* read from standard input; scrubbed by regcli_release */
	const char *platform;
	long timeout_s, low_speed_limit, low_speed_time; /* 0: the defaults */
};

void regcli_init(struct regcli *rc);
struct cli_getopt;
/* cli_getopt_next with the registry options applied to rc: the command's own next option,
 * -1 at the end, CLI_GETOPT_ERROR when an option or its value is bad (err set). */
int regcli_next(struct cli_getopt *g, struct regcli *rc, int argc, char **argv, struct lm_opts *o,
		struct lm_err *err);
/* Handles opt when it is a registry option: 1 handled, 0 not a registry option, -1 bad
 * value (LM_E_USAGE). --password-stdin reads standard input to its end here (the first
 * line is the password; a trailing newline is dropped). */
int regcli_handle(int opt, const char *arg, struct regcli *rc, struct lm_err *err);
/* Checks combinations after parsing (--username needs --password-stdin and back). */
int regcli_check(const struct regcli *rc, struct lm_err *err);
/* Copies the options into ro (pointers borrowed from rc: keep rc alive while ro is used).
 * Leaves quiet/is_tty/verbose/jobs alone. */
void regcli_fill(const struct regcli *rc, struct reg_opts *ro);
void regcli_release(struct regcli *rc);
/* Sets ro's quiet/is_tty/verbose/jobs from the global options. */
void regcli_global(struct reg_opts *ro, const struct lm_opts *o);

/* --- global options and the parsing every command shares ------------------------------ */

/* -j/--jobs, -q/--quiet, -v/--verbose, --cache DIR, --cache-max SIZE. */
#define CLI_GLOBAL_SHORTOPTS "j:qv"
enum { CLI_OPT_CACHE = 0x2000, CLI_OPT_CACHE_MAX };
#define CLI_GLOBAL_LONGOPTS                                                       \
	{ "cache", required_argument, NULL, CLI_OPT_CACHE },                      \
	{ "cache-max", required_argument, NULL, CLI_OPT_CACHE_MAX },              \
	{ "jobs", required_argument, NULL, 'j' },                                 \
	{ "quiet", no_argument, NULL, 'q' },                                      \
	{ "verbose", no_argument, NULL, 'v' }

/* Applies a global option to o: 1 handled, 0 not a global option, -1 a bad value (LM_E_USAGE). */
int cli_global_handle(int opt, const char *arg, struct lm_opts *o, struct lm_err *err);

/* An integer option's value: decimal, no sign or junk, within [min, max]; else
 * LM_E_USAGE naming the option ("--jobs 'abc' must be an integer from 0 to 256"). */
int cli_int(const char *name, const char *arg, long min, long max, long *out, struct lm_err *err);
/* An enum option's value: its index in the NULL-terminated names; else LM_E_USAGE
 * listing them ("--kind 'x' must be function or layer"). */
int cli_enum(const char *name, const char *arg, const char *const *names, int *out, struct lm_err *err);

/* getopt_long over a command's options with the global ones added (no allocation).
 * Options and operands mix in any order, also under POSIXLY_CORRECT: the parser takes
 * operands in order (getopt's "-" mode) and, at the end, puts them at argv[optind..]. */
#define CLI_GETOPT_MAX 64
#define CLI_GETOPT_OPERANDS 256
struct cli_getopt {
	struct option longopts[CLI_GETOPT_MAX + 1];
	char shortopts[CLI_GETOPT_MAX * 2 + 4];
	char *operands[CLI_GETOPT_OPERANDS];
	size_t noperands;
};

#define CLI_GETOPT_ERROR (-2)

/* Aborts (a programming error) when the command has more than CLI_GETOPT_MAX options. */
void cli_getopt_init(struct cli_getopt *g, const char *shortopts, const struct option *longopts);
/* The next option of the command (as getopt_long: the option's code and optarg), -1 at
 * the end (the operands are then argv[optind..argc-1], in their order); a global option
 * is applied to o and skipped. CLI_GETOPT_ERROR (err set, LM_E_USAGE) for a bad global
 * value, an unknown option ("did you mean" the nearest long one), a missing or unwanted
 * value, or more than CLI_GETOPT_OPERANDS operands. Nothing is printed. */
int cli_getopt_next(struct cli_getopt *g, int argc, char **argv, struct lm_opts *o, struct lm_err *err);

/* For commands whose only options are the registry ones and --help (pull, push): parses
 * argv, checks that nargs operands follow (nargs_what names them in the error) and runs
 * regcli_check. Returns 0 (operands start at optind), 1 (--help: the caller prints its
 * usage) or -1 (LM_E_USAGE). */
int regcli_parse(int argc, char **argv, const char *cmd, int nargs, const char *nargs_what, struct regcli *rc,
		 struct lm_opts *o, struct lm_err *err);

/* The message for the option getopt_long refused at argv[optind - 1] (getopt returned
 * '?' or ':' with optopt), with a "did you mean" among longopts. Pure (reads argv). */
int cli_option_error(int c, int opt, const char *arg, const struct option *longopts, struct lm_err *err);

/* A command's --help on standard output: usage is a printf format filled with the
 * arguments (the shared help texts, e.g. regcli_help), followed by the exit statuses. */
void cli_help(const char *usage, ...) LM_PRINTF(1, 2);

/* The default of a command's option switch: -h/--help prints the command's help (as
 * cli_help) and returns 0; any other option code reaching it (one the switch forgot) is
 * LM_E_USAGE pointing at 'lamina cmd --help' (-1). */
int cli_help_option(int c, const char *cmd, struct lm_err *err, const char *usage, ...) LM_PRINTF(4, 5);

/* After a command's options: exactly n operands remain (what names them in the error:
 * "one MANIFEST argument"), else LM_E_USAGE pointing at 'lamina cmd --help'. */
int cli_operands(int argc, int n, const char *what, const char *cmd, struct lm_err *err);

/* The source a command names with arg: an existing regular file is an OCI archive
 * ("oci-archive:PATH"); anything else is already a source (oci:DIR, docker-archive:PATH,
 * oci-archive:PATH[:REF]) or a registry reference. Caller frees. */
char *cli_source_spec(const char *arg);

/* Help lines for the options above, for a command's --help. */
extern const char regcli_help[];

#endif
