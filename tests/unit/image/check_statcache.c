/* The stat cache: unchanged files are not read again, every change is seen. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "image/statcache.h"
#include "testimg.h"
#include "unit.h"

static char *tmp, *src;
static struct cache *cache;

static void setup(void)
{
	struct lm_err err = LM_ERR_INIT;
	tmp = lm_mkdtemp(NULL, "check-statcache", &err);
	ck_assert_ptr_nonnull(tmp);
	char *cd = lm_path_join(tmp, "cache");
	cache = cache_open(cd, &err);
	ck_assert_ptr_nonnull(cache);
	free(cd);
	src = lm_path_join(tmp, "src");
	testimg_write(src, "a.py", "print('a')\n");
	testimg_write(src, "pkg/b.py", "B = 2\n");
	testimg_write(src, "pkg/c.txt", "ccc\n");
}

static void teardown(void)
{
	cache_free(cache);
	lm_rm_rf_quiet(tmp);
	free(tmp);
	free(src);
}

/* Sets a file's mtime an hour back, so its record is older than any save. */
static void age(const char *rel)
{
	char *p = lm_path_join(src, rel);
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= 3600;
	t[1] = t[0];
	ck_assert_int_eq(utimensat(AT_FDCWD, p, t, AT_SYMLINK_NOFOLLOW), 0);
	free(p);
}

static void age_all(void)
{
	age("a.py");
	age("pkg/b.py");
	age("pkg/c.txt");
}

/* Scans src, hashes with the stat cache, saves it; returns the stats. */
static struct statcache_stats run(struct lm_tree *t)
{
	struct lm_err err = LM_ERR_INIT;
	struct statcache_stats st = { 0 };
	struct statcache *sc = statcache_load(cache, src, &st);
	tree_init(t);
	ck_assert_int_eq(tree_scan(t, src, "/var/task", NULL, &err), 0);
	tree_finish(t);
	ck_assert_msg(statcache_hash_tree(sc, t, &st, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(statcache_save(sc, &err), 0);
	statcache_free(sc);
	return st;
}

static const char *digest_of(const struct lm_tree *t, const char *path)
{
	const struct lm_entry *e = tree_find(t, path);
	ck_assert_ptr_nonnull(e);
	return e->digest;
}

START_TEST(test_unchanged_files_are_not_read)
{
	struct lm_tree t1, t2;
	age_all();
	struct statcache_stats s1 = run(&t1);
	ck_assert_int_eq(s1.files, 3);
	ck_assert_int_eq(s1.hashed, 3);
	{
		char want[LM_DIGEST_LEN];
		digest_buf("B = 2\n", 6, want);
		ck_assert_str_eq(digest_of(&t1, "var/task/pkg/b.py"), want);
	}
	struct statcache_stats s2 = run(&t2);
	ck_assert_int_eq(s2.files, 3);
	ck_assert_int_eq(s2.hashed, 0);
	ck_assert_str_eq(digest_of(&t1, "var/task/a.py"), digest_of(&t2, "var/task/a.py"));
	tree_release(&t1);
	tree_release(&t2);
}
END_TEST

/* Same size, same mtime, other content: the ctime (and inode on a rewrite) tells. */
START_TEST(test_content_change_with_size_and_mtime_kept)
{
	struct lm_tree t1, t2;
	struct stat before, after;
	char *p = lm_path_join(src, "pkg/b.py");
	age_all();
	run(&t1);
	ck_assert_int_eq(stat(p, &before), 0);
	usleep(20000);
	FILE *f = fopen(p, "r+");
	fputs("B = 3\n", f);
	fclose(f);
	{
		struct timespec t[2] = { before.st_atim, before.st_mtim };
		ck_assert_int_eq(utimensat(AT_FDCWD, p, t, 0), 0);
	}
	ck_assert_int_eq(stat(p, &after), 0);
	ck_assert_int_eq(after.st_size, before.st_size);
	ck_assert_int_eq(after.st_mtim.tv_nsec, before.st_mtim.tv_nsec);
	struct statcache_stats s2 = run(&t2);
	ck_assert_int_eq(s2.hashed, 1);
	ck_assert_str_ne(digest_of(&t1, "var/task/pkg/b.py"), digest_of(&t2, "var/task/pkg/b.py"));
	ck_assert_str_eq(digest_of(&t1, "var/task/a.py"), digest_of(&t2, "var/task/a.py"));
	tree_release(&t1);
	tree_release(&t2);
	free(p);
}
END_TEST

/* A file written in the same tick as the save could change unseen: never trusted. */
START_TEST(test_racily_clean_files_are_hashed)
{
	struct lm_tree t1, t2;
	run(&t1); /* files written just now: newer than nothing, but as new as the save */
	testimg_write(src, "a.py", "print('A')\n");
	struct statcache_stats s2 = run(&t2);
	ck_assert_uint_ge(s2.hashed, 1);
	ck_assert_str_ne(digest_of(&t1, "var/task/a.py"), digest_of(&t2, "var/task/a.py"));
	tree_release(&t1);
	tree_release(&t2);
}
END_TEST

START_TEST(test_corrupt_file_is_ignored)
{
	struct lm_tree t1, t2, t3;
	struct statcache_stats s;
	char key[LM_DIGEST_LEN];
	age_all();
	run(&t1);
	digest_buf(src, strlen(src), key);
	char *p = lm_asprintf("%s/cache/stat/%s", tmp, digest_hex(key));
	FILE *f = fopen(p, "r+");
	ck_assert_ptr_nonnull(f);
	fseek(f, 40, SEEK_SET); /* in the first record */
	int ch = fgetc(f);
	fseek(f, 40, SEEK_SET);
	fputc(ch == '1' ? '2' : '1', f);
	fclose(f);
	s = run(&t2);
	ck_assert_int_eq(s.corrupt, 1);
	ck_assert_int_eq(s.hashed, 3);
	ck_assert_str_eq(digest_of(&t1, "var/task/pkg/c.txt"), digest_of(&t2, "var/task/pkg/c.txt"));
	s = run(&t3); /* rewritten whole */
	ck_assert_int_eq(s.corrupt, 0);
	ck_assert_int_eq(s.hashed, 0);
	free(p);
	tree_release(&t1);
	tree_release(&t2);
	tree_release(&t3);
}
END_TEST

/* A file swapped for a symlink after the scan is not followed. */
START_TEST(test_swapped_for_symlink)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	char *p = lm_path_join(src, "pkg/c.txt"), *secret = lm_path_join(tmp, "secret");
	testimg_write(tmp, "secret", "do not read\n");
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, src, "/var/task", NULL, &err), 0);
	tree_finish(&t);
	ck_assert_int_eq(unlink(p), 0);
	ck_assert_int_eq(symlink(secret, p), 0);
	ck_assert_int_eq(statcache_hash_tree(NULL, &t, NULL, &err), -1);
	ck_assert_msg(strstr(err.msg, "pkg/c.txt"), "%s", err.msg);
	lm_err_release(&err);
	tree_release(&t);
	free(p);
	free(secret);
}
END_TEST

SUITE(statcache)
{
	Suite *s = suite_create("statcache");
	TCase *tc = tcase_create("statcache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unchanged_files_are_not_read);
	tcase_add_test(tc, test_content_change_with_size_and_mtime_kept);
	tcase_add_test(tc, test_racily_clean_files_are_hashed);
	tcase_add_test(tc, test_corrupt_file_is_ignored);
	tcase_add_test(tc, test_swapped_for_symlink);
	suite_add_tcase(s, tc);
	return s;
}
