#include <stdio.h>
#include <string.h>

#include "common/strset.h"
#include "unit.h"

START_TEST(test_empty)
{
	struct lm_strset s = LM_STRSET_INIT;
	ck_assert_int_eq(lm_strset_has(&s, ""), 0);
	ck_assert_int_eq(lm_strset_has(&s, "a"), 0);
	lm_strset_release(&s);
	lm_strset_release(&s); /* twice: empty again */
	lm_strset_release(NULL);
}
END_TEST

START_TEST(test_add_has)
{
	static const char *const in[] = { "boto3", "botocore", "botocore.docs", "", "a.b.c", "numpy" };
	static const char *const out[] = { "boto", "botocore.doc", "botocore.docs.x", "A.B.C", "numpy ", " " };
	struct lm_strset s = LM_STRSET_INIT;
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		lm_strset_add(&s, in[i]);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		ck_assert_msg(lm_strset_has(&s, in[i]), "'%s' missing", in[i]);
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++)
		ck_assert_msg(!lm_strset_has(&s, out[i]), "'%s' present", out[i]);
	ck_assert_uint_eq(s.n, 6);
	/* adding again changes nothing */
	lm_strset_add(&s, "numpy");
	lm_strset_add(&s, "");
	ck_assert_uint_eq(s.n, 6);
	lm_strset_release(&s);
	ck_assert_uint_eq(s.n, 0);
	ck_assert_int_eq(lm_strset_has(&s, "numpy"), 0);
}
END_TEST

/* Many keys: the table grows (rehashing every key) and stays at most half full. */
START_TEST(test_grow)
{
	struct lm_strset s = LM_STRSET_INIT;
	char k[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "pkg%d.mod", i);
		lm_strset_add(&s, k);
		if (i % 2)
			lm_strset_add(&s, k); /* duplicates are not counted */
	}
	ck_assert_uint_eq(s.n, 5000);
	ck_assert(s.cap >= 2 * s.n);
	ck_assert_uint_eq(s.cap & (s.cap - 1), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof(k), "pkg%d.mod", i);
		ck_assert_msg(lm_strset_has(&s, k), "%s missing", k);
		snprintf(k, sizeof(k), "pkg%d.mod.x", i);
		ck_assert_msg(!lm_strset_has(&s, k), "%s present", k);
	}
	lm_strset_release(&s);
}
END_TEST

SUITE(strset)
{
	Suite *s = suite_create("strset");
	TCASE(s, test_empty);
	TCASE(s, test_add_has);
	TCASE(s, test_grow);
	return s;
}
