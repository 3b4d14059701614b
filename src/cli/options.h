/* regcli.h - command-line options for registries, shared by build, pull and push.
 *
 * In a command:
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
#ifndef LM_REGCLI_H
#define LM_REGCLI_H

#include <getopt.h>
#include <stddef.h>

#include "common/err.h"
#include "common/opts.h"
#include "registry/registry.h"

enum {
	REGCLI_OPT_CA_CERT = 0x1000,
	REGCLI_OPT_INSECURE,
	REGCLI_OPT_USERNAME,
	REGCLI_OPT_PASSWORD_STDIN,
	REGCLI_OPT_PLATFORM,
};

#define REGCLI_LONGOPTS                                                              \
	{ "ca-cert", required_argument, NULL, REGCLI_OPT_CA_CERT },                  \
	{ "insecure-registry", required_argument, NULL, REGCLI_OPT_INSECURE },       \
	{ "username", required_argument, NULL, REGCLI_OPT_USERNAME },                \
	{ "password-stdin", no_argument, NULL, REGCLI_OPT_PASSWORD_STDIN },          \
	{ "platform", required_argument, NULL, REGCLI_OPT_PLATFORM }

struct regcli {
	const char *ca_cert;
	const char **insecure; /* array owned, strings borrowed from argv */
	size_t ninsecure;
	const char *username;
	char *password; /* read from standard input; scrubbed by regcli_release */
	const char *platform;
};

void regcli_init(struct regcli *rc);
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

/* For commands whose only options are the registry ones and --help (pull, push): parses
 * argv, checks that nargs operands follow (nargs_what names them in the error) and runs
 * regcli_check. Returns 0 (operands start at optind), 1 (--help: the caller prints its
 * usage) or -1 (LM_E_USAGE). */
int regcli_parse(int argc, char **argv, const char *cmd, int nargs, const char *nargs_what,
		 struct regcli *rc, struct lm_err *err);

/* Help lines for the options above, for a command's --help. */
extern const char regcli_help[];

#endif
