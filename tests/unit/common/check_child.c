/* Unit tests for common/child.c: a child that starts its program reports nothing; one
 * whose setup fails says why, in one line, and exits 126. */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/child.h"
#include "unit.h"

static void run_true(void *ctx, int efd)
{
	char *argv[] = { (char *)ctx, NULL };
	execv(argv[0], argv);
	lm_child_fail(efd, "run '%s'", argv[0]);
}

static void fail_setup(void *ctx, int efd)
{
	(void)ctx;
	errno = ENOENT;
	lm_child_fail(efd, "chdir '%s'", "/nowhere");
}

START_TEST(test_runs)
{
	struct lm_child ch;
	struct lm_err err = LM_ERR_INIT;
	char msg[128];
	int wst = -1;
	ck_assert_int_eq(lm_child_spawn(&ch, run_true, "/bin/true", &err), 0);
	ck_assert_int_eq(lm_child_wait(&ch, msg, sizeof(msg), &wst, &err), 0);
	ck_assert_str_eq(msg, "");
	ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
	ck_assert_int_eq(ch.efd, -1);
}
END_TEST

START_TEST(test_exec_fails)
{
	struct lm_child ch;
	struct lm_err err = LM_ERR_INIT;
	char msg[128];
	int wst = -1;
	ck_assert_int_eq(lm_child_spawn(&ch, run_true, "/nonexistent/esbuild", &err), 0);
	ck_assert_int_gt(lm_child_wait(&ch, msg, sizeof(msg), &wst, &err), 0);
	ck_assert_str_eq(msg, "run '/nonexistent/esbuild': No such file or directory");
	ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 126);
}
END_TEST

START_TEST(test_setup_fails_truncated)
{
	struct lm_child ch;
	struct lm_err err = LM_ERR_INIT;
	char msg[8];
	int wst = -1;
	ck_assert_int_eq(lm_child_spawn(&ch, fail_setup, NULL, &err), 0);
	/* a report longer than the buffer is cut, and the child is still waited for */
	ck_assert_int_eq(lm_child_wait(&ch, msg, sizeof(msg), &wst, &err), 7);
	ck_assert_str_eq(msg, "chdir '");
	ck_assert(WIFEXITED(wst) && WEXITSTATUS(wst) == 126);
}
END_TEST

SUITE(child)
{
	Suite *s = suite_create("child");
	TCASE(s, test_runs);
	TCASE(s, test_exec_fails);
	TCASE(s, test_setup_fails_truncated);
	return s;
}
