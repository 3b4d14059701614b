/* unit.h - shared helpers for the Check suites. */
#ifndef LM_UNIT_H
#define LM_UNIT_H

#include <check.h>

#define TCASE(s, fn)                                   \
	do {                                               \
		TCase *tc_ = tcase_create(#fn);                \
		tcase_add_test(tc_, fn);                       \
		suite_add_tcase((s), tc_);                     \
	} while (0)

/* Defines the suite constructor that tests/unit/main.c calls. */
#define SUITE(n)               \
	Suite *suite_##n(void); \
	Suite *suite_##n(void)

#endif
