/* precompile's pure parts: the result lines of precompile.py (untrusted: the image's
 * interpreter writes them), the action-cache key of a .pyc, and what counts as
 * third-party code. */
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "run/precompile.h"
#include "unit.h"

START_TEST(test_parse_line_table)
{
	static const struct {
		const char *in;
		size_t n;
		int want; /* 0 parsed, -1 refused */
		int ok;
		size_t idx;
		const char *pyc, *line, *msg;
	} t[] = {
		{ "ok\t0\t/var/task/__pycache__/app.cpython-312.pyc", 1, 0, 1, 0,
		  "/var/task/__pycache__/app.cpython-312.pyc", NULL, NULL },
		{ "ok\t41\t/a.pyc", 42, 0, 1, 41, "/a.pyc", NULL, NULL },
		{ "err\t2\t7\tSyntaxError: invalid syntax", 3, 0, 0, 2, NULL, "7", "SyntaxError: invalid syntax" },
		{ "err\t0\t1\tmessage\twith a tab", 1, 0, 0, 0, NULL, "1", "message\twith a tab" },
		{ "err\t0\t1", 1, 0, 0, 0, NULL, "1", "" },
		{ "ok\t1\t/a.pyc", 1, -1, 0, 0, NULL, NULL, NULL },          /* index out of range */
		{ "ok\t-1\t/a.pyc", 5, -1, 0, 0, NULL, NULL, NULL },         /* not a number */
		{ "ok\t1x\t/a.pyc", 5, -1, 0, 0, NULL, NULL, NULL },         /* junk after it */
		{ "ok\t\t/a.pyc", 5, -1, 0, 0, NULL, NULL, NULL },           /* empty index */
		{ "ok\t0\trelative.pyc", 5, -1, 0, 0, NULL, NULL, NULL },    /* a .pyc must be an absolute image path */
		{ "ok\t0", 5, -1, 0, 0, NULL, NULL, NULL },                  /* too few fields */
		{ "done\t0\t/a.pyc", 5, -1, 0, 0, NULL, NULL, NULL },        /* unknown kind */
		{ "", 5, -1, 0, 0, NULL, NULL, NULL },
		{ "Traceback (most recent call last):", 5, -1, 0, 0, NULL, NULL, NULL },
		{ "ok\t99999999999999999999999\t/a.pyc", 5, -1, 0, 0, NULL, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *line = strdup(t[i].in);
		struct precompile_line pl;
		int r = precompile_parse_line(line, t[i].n, &pl);
		ck_assert_msg(r == t[i].want, "parse('%s', %zu) = %d, want %d", t[i].in, t[i].n, r, t[i].want);
		if (r == 0) {
			ck_assert_int_eq(pl.ok, t[i].ok);
			ck_assert_uint_eq(pl.idx, t[i].idx);
			if (t[i].ok) {
				ck_assert_str_eq(pl.pyc, t[i].pyc);
			} else {
				ck_assert_str_eq(pl.line, t[i].line);
				ck_assert_str_eq(pl.msg, t[i].msg);
			}
		}
		free(line);
	}
}
END_TEST

START_TEST(test_third_party_table)
{
	static const struct {
		const char *path;
		int want;
	} t[] = {
		{ "var/task/app.py", 0 },
		{ "var/task/site-packages/x.py", 1 },
		{ "opt/python/lib/python3.12/site-packages/yaml/__init__.py", 1 },
		{ "usr/lib/python3/dist-packages/a.py", 1 },
		{ "var/task/my_site-packages.py", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(precompile_is_third_party(t[i].path) == t[i].want, "third_party('%s')", t[i].path);
}
END_TEST

/* The key changes with everything the .pyc depends on and with nothing else. */
START_TEST(test_key_inputs)
{
	struct oci_descriptor layers[2];
	struct lm_image base;
	struct precompile_spec s = { 1, 1, PYC_UNCHECKED_HASH, 0, 0, 0, 0 }, s2;
	const char *d1 = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
	const char *d2 = "sha256:2222222222222222222222222222222222222222222222222222222222222222";
	char k0[LM_DIGEST_LEN], k[LM_DIGEST_LEN];

	memset(layers, 0, sizeof(layers));
	image_init(&base);
	strcpy(layers[0].digest, d1);
	strcpy(layers[1].digest, d2);
	base.manifest.layers = layers;
	base.manifest.nlayers = 1;

	precompile_key(&s, &base, 100, "var/task/app.py", d1, k0);
	ck_assert_int_eq(strncmp(k0, "sha256:", 7), 0);
	ck_assert_uint_eq(strlen(k0), 71);
	/* same inputs, same key; the epoch does not count for hash-based .pyc */
	precompile_key(&s, &base, 100, "var/task/app.py", d1, k);
	ck_assert_str_eq(k, k0);
	precompile_key(&s, &base, 200, "var/task/app.py", d1, k);
	ck_assert_str_eq(k, k0);
	/* each input that changes the .pyc changes the key */
	precompile_key(&s, &base, 100, "var/task/app2.py", d1, k);
	ck_assert_str_ne(k, k0);
	precompile_key(&s, &base, 100, "var/task/app.py", d2, k);
	ck_assert_str_ne(k, k0);
	base.manifest.nlayers = 2; /* another interpreter (base) */
	precompile_key(&s, &base, 100, "var/task/app.py", d1, k);
	ck_assert_str_ne(k, k0);
	base.manifest.nlayers = 1;
	s2 = s;
	s2.optimize = 2;
	precompile_key(&s2, &base, 100, "var/task/app.py", d1, k);
	ck_assert_str_ne(k, k0);
	s2 = s;
	s2.sourceless = 1;
	precompile_key(&s2, &base, 100, "var/task/app.py", d1, k);
	ck_assert_str_ne(k, k0);
	s2 = s;
	s2.invalidation = PYC_CHECKED_HASH;
	precompile_key(&s2, &base, 100, "var/task/app.py", d1, k);
	ck_assert_str_ne(k, k0);
	/* timestamp .pyc record the epoch: then it counts */
	s2 = s;
	s2.invalidation = PYC_TIMESTAMP;
	char kt[LM_DIGEST_LEN];
	precompile_key(&s2, &base, 100, "var/task/app.py", d1, kt);
	precompile_key(&s2, &base, 200, "var/task/app.py", d1, k);
	ck_assert_str_ne(k, kt);
	/* jobs and no_cache are not part of the output */
	s2 = s;
	s2.jobs = 7;
	precompile_key(&s2, &base, 100, "var/task/app.py", d1, k);
	ck_assert_str_eq(k, k0);
}
END_TEST

START_TEST(test_result_warnings)
{
	struct precompile_result r;
	memset(&r, 0, sizeof(r));
	for (int i = 0; i < 40; i++)
		precompile_result_add(&r, strdup("skipped 'x.py' line 1: SyntaxError"));
	ck_assert_uint_eq(r.nwarnings, 40);
	ck_assert_str_eq(r.warnings[39], "skipped 'x.py' line 1: SyntaxError");
	precompile_result_release(&r);
	ck_assert_uint_eq(r.nwarnings, 0);
	ck_assert_ptr_null(r.warnings);
	precompile_result_release(&r);
	precompile_result_release(NULL);
}
END_TEST

SUITE(precompile)
{
	Suite *s = suite_create("precompile");
	TCASE(s, test_parse_line_table);
	TCASE(s, test_third_party_table);
	TCASE(s, test_key_inputs);
	TCASE(s, test_result_warnings);
	return s;
}
