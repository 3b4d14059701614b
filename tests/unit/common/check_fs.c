/* fs: rm -rf at any depth, through read-only directories, never following a symlink;
 * temporary files that are committed or discarded. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "testimg.h"
#include "unit.h"

static char *scratch(void)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = lm_mkdtemp(NULL, "check-fs", &err);
	ck_assert_msg(d != NULL, "%s", err.msg ? err.msg : "");
	return d;
}

static void touch_at(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	ck_assert_int_ge(fd, 0);
	close(fd);
}

/* a chain of directories whose full path is far beyond PATH_MAX */
START_TEST(test_rm_rf_deeper_than_path_max)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = scratch(), *top = lm_path_join(d, "deep");
	char name[201];
	int fd, levels = 3 * PATH_MAX / 200;
	memset(name, 'a', 200);
	name[200] = '\0';
	ck_assert_int_eq(mkdir(top, 0755), 0);
	fd = open(top, O_RDONLY | O_DIRECTORY);
	for (int i = 0; i < levels; i++) {
		int c;
		touch_at(fd, "file");
		ck_assert_int_eq(mkdirat(fd, name, 0755), 0);
		c = openat(fd, name, O_RDONLY | O_DIRECTORY);
		ck_assert_int_ge(c, 0);
		close(fd);
		fd = c;
	}
	touch_at(fd, "bottom");
	close(fd);
	ck_assert_int_eq(lm_rm_rf(top, &err), 0);
	ck_assert_int_eq(access(top, F_OK), -1);
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(top);
	free(d);
}
END_TEST

/* read-only directories (an image's 0555 /usr) are emptied; a symlink to a directory
 * outside is removed, not followed */
START_TEST(test_rm_rf_readonly_and_symlinks)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = scratch(), *outside = lm_path_join(d, "outside"), *tree = lm_path_join(d, "tree");
	char *ro = lm_path_join(tree, "ro"), *sub = lm_path_join(ro, "sub"), *link = lm_path_join(tree, "link");
	char *keep = lm_path_join(outside, "keep");
	ck_assert_int_eq(mkdir(outside, 0755), 0);
	testimg_write(outside, "keep", "x");
	ck_assert_int_eq(mkdir(tree, 0755), 0);
	ck_assert_int_eq(mkdir(ro, 0755), 0);
	ck_assert_int_eq(mkdir(sub, 0755), 0);
	testimg_write(sub, "f", "y");
	testimg_write(ro, "g", "z");
	ck_assert_int_eq(chmod(sub, 0555), 0);
	ck_assert_int_eq(chmod(ro, 0555), 0);
	ck_assert_int_eq(symlink(outside, link), 0);
	ck_assert_int_eq(lm_rm_rf(tree, &err), 0);
	ck_assert_int_eq(access(tree, F_OK), -1);
	ck_assert_int_eq(access(keep, F_OK), 0);
	/* a path that is a symlink itself: the link goes, not its target */
	ck_assert_int_eq(symlink(outside, tree), 0);
	ck_assert_int_eq(lm_rm_rf(tree, &err), 0);
	ck_assert_int_eq(access(keep, F_OK), 0);
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	/* missing is fine */
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(keep);
	free(link);
	free(sub);
	free(ro);
	free(tree);
	free(outside);
	free(d);
}
END_TEST

START_TEST(test_tmpfile_commit_and_discard)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = scratch(), *out = lm_path_join(d, "out"), *tmp = NULL, *tmp2 = NULL;
	int fd = lm_tmpfile_beside(out, &tmp, &err);
	ck_assert_int_ge(fd, 0);
	ck_assert(strncmp(tmp, out, strlen(out)) == 0 && strstr(tmp, ".tmp."));
	ck_assert_int_eq(lm_write_all(fd, "abc", 3), 0);
	ck_assert_int_eq(access(out, F_OK), -1);
	ck_assert_int_eq(lm_tmpfile_commit(fd, tmp, out, 1, &err), 0);
	ck_assert_int_eq(access(tmp, F_OK), -1);
	ck_assert_int_eq(access(out, F_OK), 0);
	fd = lm_tmpfile_beside(out, &tmp2, &err);
	ck_assert_int_ge(fd, 0);
	close(fd);
	lm_tmpfile_discard(tmp2);
	ck_assert_int_eq(access(tmp2, F_OK), -1);
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(tmp2);
	free(tmp);
	free(out);
	free(d);
}
END_TEST

SUITE(fs)
{
	Suite *s = suite_create("fs");
	TCASE(s, test_rm_rf_deeper_than_path_max);
	TCASE(s, test_rm_rf_readonly_and_symlinks);
	TCASE(s, test_tmpfile_commit_and_discard);
	return s;
}
