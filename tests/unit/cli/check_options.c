/* The command line's shared parts: integers, enums, global options anywhere, registry
 * option combinations. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/options.h"
#include "unit.h"

START_TEST(test_int_table)
{
	static const struct {
		const char *arg;
		long min, max, want;
		int ok;
	} t[] = {
		{ "0", 0, 256, 0, 1 },	   { "256", 0, 256, 256, 1 }, { "257", 0, 256, 0, 0 },
		{ "abc", 0, 256, 0, 0 },   { "", 0, 256, 0, 0 },      { "-1", 0, 256, 0, 0 },
		{ "+3", 0, 256, 0, 0 },	   { "3x", 0, 256, 0, 0 },    { " 3", 0, 256, 0, 0 },
		{ "99999999999999999999", 0, 256, 0, 0 },	      { "4", 1, 12, 4, 1 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_err err = LM_ERR_INIT;
		long v = -7;
		int r = cli_int("--jobs", t[i].arg, t[i].min, t[i].max, &v, &err);
		ck_assert_msg((r == 0) == t[i].ok, "'%s': %d", t[i].arg, r);
		if (t[i].ok) {
			ck_assert_int_eq(v, t[i].want);
		} else {
			ck_assert_int_eq(v, -7); /* untouched */
			ck_assert_int_eq(err.code, LM_E_USAGE);
			ck_assert_msg(strstr(err.msg, "--jobs") && strstr(err.msg, "must be an integer"), "%s", err.msg);
		}
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_enum)
{
	static const char *const kinds[] = { "function", "layer", NULL };
	struct lm_err err = LM_ERR_INIT;
	int k = -1;
	ck_assert_int_eq(cli_enum("--kind", "layer", kinds, &k, &err), 0);
	ck_assert_int_eq(k, 1);
	ck_assert_int_eq(cli_enum("--kind", "Layer", kinds, &k, &err), -1);
	ck_assert_str_eq(err.msg, "--kind 'Layer' must be function or layer (did you mean 'layer'?)");
	lm_err_release(&err);
	ck_assert_int_eq(cli_enum("--kind", "library", kinds, &k, &err), -1);
	ck_assert_str_eq(err.msg, "--kind 'library' must be function or layer");
	lm_err_release(&err);
	static const char *const three[] = { "a", "b", "c", NULL };
	ck_assert_int_eq(cli_enum("--x", "", three, &k, &err), -1);
	ck_assert_str_eq(err.msg, "--x '' must be a, b or c");
	lm_err_release(&err);
}
END_TEST

/* A command's argv with global options after the command, mixed with its own. */
START_TEST(test_globals_anywhere)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *argv[] = { "build", "m.json", "-q", "-o", "x.tar", "--jobs", "3", "-v", "--cache", "/c",
			 "--cache-max", "2G", NULL };
	int argc = 12, c, seen_o = 0;
	struct lm_opts o = { 0 };
	struct lm_err err = LM_ERR_INIT;
	struct cli_getopt g;
	optind = 0;
	cli_getopt_init(&g, "o:h", longopts);
	while ((c = cli_getopt_next(&g, argc, argv, &o, &err)) != -1) {
		ck_assert_int_ne(c, CLI_GETOPT_ERROR);
		ck_assert_int_eq(c, 'o');
		ck_assert_str_eq(optarg, "x.tar");
		seen_o = 1;
	}
	ck_assert_int_eq(seen_o, 1);
	ck_assert_int_eq(o.quiet, 1);
	ck_assert_int_eq(o.verbose, 1);
	ck_assert_int_eq(o.jobs, 3);
	ck_assert_str_eq(o.cache_dir, "/c");
	ck_assert(o.cache_max == 2ULL << 30);
	ck_assert_int_eq(argc - optind, 1);
	ck_assert_str_eq(argv[optind], "m.json");

	/* a bad global value is an error naming it */
	char *bad[] = { "build", "m.json", "-j", "abc", NULL };
	optind = 0;
	cli_getopt_init(&g, "o:h", longopts);
	ck_assert_int_eq(cli_getopt_next(&g, 4, bad, &o, &err), CLI_GETOPT_ERROR);
	ck_assert_msg(strstr(err.msg, "--jobs 'abc'"), "%s", err.msg);
	lm_err_release(&err);
}
END_TEST

/* The same under POSIXLY_CORRECT (GNU getopt would stop at the first operand), with
 * operands after "--" kept in order. */
START_TEST(test_globals_anywhere_posix)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	char *argv[] = { "push", "a.tar", "-q", "-o", "x", "b", "--", "-c", NULL };
	struct lm_opts o = { 0 };
	struct lm_err err = LM_ERR_INIT;
	struct cli_getopt g;
	int c, n = 0;
	setenv("POSIXLY_CORRECT", "1", 1);
	optind = 0;
	cli_getopt_init(&g, "o:", longopts);
	while ((c = cli_getopt_next(&g, 8, argv, &o, &err)) != -1) {
		ck_assert_int_eq(c, 'o');
		n++;
	}
	unsetenv("POSIXLY_CORRECT");
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(o.quiet, 1);
	ck_assert_int_eq(8 - optind, 3);
	ck_assert_str_eq(argv[optind], "a.tar");
	ck_assert_str_eq(argv[optind + 1], "b");
	ck_assert_str_eq(argv[optind + 2], "-c");
}
END_TEST

/* Refused options: one line each, a "did you mean" for a misspelt long one. */
START_TEST(test_option_errors)
{
	static const struct option longopts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "no-verify", no_argument, NULL, 0x100 },
		{ "no-cache", no_argument, NULL, 0x101 },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const struct {
		const char *arg, *msg;
	} t[] = {
		{ "--outptu", "unknown option '--outptu' (did you mean '--output'?)" },
		{ "--verbsoe", "unknown option '--verbsoe' (did you mean '--verbose'?)" },
		{ "--frobnicate", "unknown option '--frobnicate'" },
		{ "--no", "option '--no' is ambiguous: --no-verify, --no-cache" },
		{ "--help=x", "option '--help' takes no value" },
		{ "--output", "option '--output' needs a value" },
		{ "-Z", "unknown option '-Z'" },
		{ "-o", "option '-o' needs a value" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *argv[] = { "build", (char *)t[i].arg, NULL };
		struct lm_opts o = { 0 };
		struct lm_err err = LM_ERR_INIT;
		struct cli_getopt g;
		optind = 0;
		cli_getopt_init(&g, "o:h", longopts);
		ck_assert_int_eq(cli_getopt_next(&g, 2, argv, &o, &err), CLI_GETOPT_ERROR);
		ck_assert_int_eq(err.code, LM_E_USAGE);
		ck_assert_msg(strcmp(err.msg, t[i].msg) == 0, "%s: '%s'", t[i].arg, err.msg);
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_registry_options)
{
	struct regcli rc;
	struct lm_err err = LM_ERR_INIT;
	struct reg_opts ro = { 0 };
	regcli_init(&rc);
	ck_assert_int_eq(regcli_handle(REGCLI_OPT_INSECURE, "localhost:5000", &rc, &err), 1);
	ck_assert_int_eq(regcli_handle(REGCLI_OPT_INSECURE, "a/b", &rc, &err), -1);
	lm_err_release(&err);
	ck_assert_int_eq(regcli_handle(REGCLI_OPT_PLATFORM, "linux/arm64", &rc, &err), 1);
	ck_assert_int_eq(regcli_handle(REGCLI_OPT_PLATFORM, "windows", &rc, &err), -1);
	lm_err_release(&err);
	ck_assert_int_eq(regcli_handle(REGCLI_OPT_USERNAME, "AWS", &rc, &err), 1);
	ck_assert_int_eq(regcli_check(&rc, &err), -1); /* --username needs --password-stdin */
	ck_assert_msg(strstr(err.msg, "--password-stdin"), "%s", err.msg);
	lm_err_release(&err);
	ck_assert_int_eq(regcli_handle('x', "", &rc, &err), 0); /* not a registry option */
	regcli_fill(&rc, &ro);
	ck_assert_str_eq(ro.platform, "linux/arm64");
	ck_assert_int_eq(ro.ninsecure, 1);
	ck_assert_str_eq(ro.insecure[0], "localhost:5000");
	regcli_release(&rc);
}
END_TEST

START_TEST(test_exit_status_text)
{
	char *t = lm_exit_status_text();
	ck_assert(strncmp(t, "Exit status: 0 success, 1 other error, 2 usage (bad command line),", 66) == 0);
	ck_assert_ptr_nonnull(strstr(t, "70 internal error.\n"));
	for (char *l = t, *nl; (nl = strchr(l, '\n')); l = nl + 1)
		ck_assert_msg(nl - l < 80, "line of %d columns", (int)(nl - l));
	free(t);
}
END_TEST

SUITE(options)
{
	Suite *s = suite_create("options");
	TCASE(s, test_int_table);
	TCASE(s, test_enum);
	TCASE(s, test_globals_anywhere);
	TCASE(s, test_globals_anywhere_posix);
	TCASE(s, test_option_errors);
	TCASE(s, test_registry_options);
	TCASE(s, test_exit_status_text);
	return s;
}
