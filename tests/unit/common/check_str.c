/* Small string helpers: UTF-8 validity, quoting for messages. */
#include <stdlib.h>
#include <string.h>

#include "common/str.h"
#include "unit.h"

START_TEST(test_utf8_valid)
{
	static const struct {
		const char *s;
		int ok;
	} t[] = {
		{ "plain", 1 },
		{ "caf\xc3\xa9", 1 },
		{ "\xe2\x82\xac euro", 1 },
		{ "\xf0\x9f\x98\x80", 1 },
		{ "latin1-\xe9", 0 },
		{ "\xc0\xaf", 0 },             /* overlong '/' */
		{ "\xed\xa0\x80", 0 },         /* a surrogate */
		{ "\xf4\x90\x80\x80", 0 },     /* above U+10FFFF */
		{ "\xc3", 0 },                 /* cut short */
		{ "\x80", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(lm_utf8_valid(t[i].s) == t[i].ok, "case %zu", i);
	ck_assert_int_eq(lm_str_nonascii("abc"), 0);
	ck_assert_int_eq(lm_str_nonascii("caf\xc3\xa9"), 1);
}
END_TEST

START_TEST(test_quote)
{
	char *q = lm_str_quote("caf\xc3\xa9-\xe9\n\x01.txt", 100);
	ck_assert_str_eq(q, "caf\xc3\xa9-\\xe9\\x0a\\x01.txt");
	free(q);
	char *big = malloc(900001);
	memset(big, 'a', 900000);
	big[900000] = '\0';
	q = lm_str_quote(big, 200);
	ck_assert_uint_eq(strlen(q), 203);
	ck_assert(strcmp(q + 200, "...") == 0);
	free(q);
	free(big);
}
END_TEST

/* what an image printed, on the user's terminal: escapes neutralised, lines kept */
START_TEST(test_printable)
{
	char *p = lm_str_printable("Traceback\n\tline \x1b[2J\x1b]0;pwned\x07"
				   "caf\xc3\xa9 \xff");
	ck_assert_str_eq(p, "Traceback\n\tline \\x1b[2J\\x1b]0;pwned\\x07caf\xc3\xa9 \\xff");
	free(p);
}
END_TEST

START_TEST(test_nearest)
{
	static const char *const cmds[] = { "build", "cache", "inspect", NULL, "push", "pull", "zip" };
	size_t n = sizeof(cmds) / sizeof(cmds[0]);
	ck_assert_uint_eq(lm_edit_distance("biuld", "build"), 2);
	ck_assert_uint_eq(lm_edit_distance("", "abc"), 3);
	ck_assert_str_eq(lm_str_nearest("biuld", cmds, n), "build");
	ck_assert_str_eq(lm_str_nearest("inspet", cmds, n), "inspect");
	ck_assert_str_eq(lm_str_nearest("zpi", cmds, n), "zip");
	ck_assert_ptr_null(lm_str_nearest("build", cmds, n)); /* itself: nothing to suggest */
	ck_assert_ptr_null(lm_str_nearest("frobnicate", cmds, n));
	ck_assert_ptr_null(lm_str_nearest("x", cmds, n)); /* one letter is no evidence */
	ck_assert_ptr_null(lm_str_nearest("zip", cmds, 0));
}
END_TEST

SUITE(str)
{
	Suite *s = suite_create("str");
	TCASE(s, test_utf8_valid);
	TCASE(s, test_quote);
	TCASE(s, test_printable);
	TCASE(s, test_nearest);
	return s;
}
