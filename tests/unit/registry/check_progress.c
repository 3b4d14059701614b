/* Progress lines fit the terminal: short digests, cut to the width. */
#include <string.h>

#include "registry/progress.h"
#include "unit.h"

#define DG "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_format_widths)
{
	char buf[512];
	for (int w = 1; w <= 200; w++) {
		size_t n = progress_format(buf, sizeof(buf), w, "pull", DG, 5u << 20, 20 << 20, 3.5 * (1 << 20));
		ck_assert_uint_eq(n, strlen(buf));
		ck_assert_msg(n <= (size_t)(w < 20 ? 19 : w - 1), "width %d: %zu: %s", w, n, buf);
		ck_assert_msg(strncmp(buf, "pull: sha256:", n < 13 ? n : 13) == 0, "%s", buf);
	}
	progress_format(buf, sizeof(buf), 80, "pull", DG, 5u << 20, 20 << 20, 3.5 * (1 << 20));
	ck_assert_str_eq(buf, "pull: sha256:0123456789ab    5.0 MiB / 20.0 MiB    25%    3.5 MiB/s");
	/* narrower: the padding goes, then the sizes; the rate stays in view */
	progress_format(buf, sizeof(buf), 62, "pull", DG, 5u << 20, 20 << 20, 3.5 * (1 << 20));
	ck_assert_str_eq(buf, "pull: sha256:0123456789ab 5.0 MiB / 20.0 MiB  25% 3.5 MiB/s");
	progress_format(buf, sizeof(buf), 50, "pull", DG, 5u << 20, 20 << 20, 3.5 * (1 << 20));
	ck_assert_str_eq(buf, "pull: sha256:0123456789ab 5.0 MiB  25% 3.5 MiB/s");
	progress_format(buf, sizeof(buf), 44, "pull", DG, 5u << 20, 20 << 20, 3.5 * (1 << 20));
	ck_assert_str_eq(buf, "pull: sha256:0123456789ab  25% 3.5 MiB/s");
	progress_format(buf, sizeof(buf), 30, "pull", DG, 5u << 20, 20 << 20, 0);
	ck_assert_str_eq(buf, "pull: sha256:0123456789ab ...");
	progress_format(buf, sizeof(buf), 80, "push", DG, 100, -1, 0);
	ck_assert_str_eq(buf, "push: sha256:0123456789ab      100 B / ?                 0 B/s");
	progress_format(buf, 16, 80, "push", DG, 100, 200, 0); /* the buffer bounds it too */
	ck_assert_uint_eq(strlen(buf), 15);
}
END_TEST

SUITE(progress)
{
	Suite *s = suite_create("progress");
	TCASE(s, test_format_widths);
	return s;
}
