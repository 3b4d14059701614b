/* Runs every Check suite (the list is generated from tests/unit/check_*.c). */
#include <check.h>
#include <stdlib.h>

#include "unit.h"

#define X(n) Suite *suite_##n(void);
#include "suites.h"
#undef X

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;
#define X(n) srunner_add_suite(sr, suite_##n());
#include "suites.h"
#undef X
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
