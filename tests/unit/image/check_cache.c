#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/cache.h"
#include "common/digest.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

/* sha256("hello") */
#define HELLO "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"

static char *tmpdir(void)
{
	char *d = lm_asprintf("%s/lm-cache-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void rmtree(char *d)
{
	struct lm_err err = LM_ERR_INIT;
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(d);
}

static size_t count_entries(const char *dir, const char *sub)
{
	char *p = lm_path_join(dir, sub);
	DIR *dh = opendir(p);
	struct dirent *de;
	size_t n = 0;
	ck_assert_msg(dh != NULL, "open '%s'", p);
	while ((de = readdir(dh)))
		n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
	closedir(dh);
	free(p);
	return n;
}

static struct cache_writer *writer_with(struct cache *c, const char *a, const char *b)
{
	struct lm_err err = LM_ERR_INIT;
	struct cache_writer *w = cache_writer_new(c, &err);
	ck_assert_msg(w != NULL, "%s", err.msg);
	ck_assert_int_eq(cache_writer_write(w, a, strlen(a), &err), 0);
	ck_assert_int_eq(cache_writer_write(w, b, strlen(b), &err), 0);
	ck_assert_uint_eq(cache_writer_size(w), strlen(a) + strlen(b));
	return w;
}

START_TEST(test_open_layout_and_paths)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = tmpdir(), *root = lm_path_join(d, "deep/er/cache"), *p;
	struct cache *c = cache_open(root, &err);
	struct stat st;
	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_str_eq(cache_dir(c), root);
	p = lm_path_join(root, "blobs/sha256");
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert(S_ISDIR(st.st_mode));
	free(p);
	p = lm_path_join(root, "tmp");
	ck_assert_int_eq(stat(p, &st), 0);
	free(p);
	p = cache_blob_path(c, HELLO);
	{
		char *want = lm_asprintf("%s/blobs/sha256/%s", root, HELLO + 7);
		ck_assert_str_eq(p, want);
		free(want);
	}
	free(p);
	/* an invalid digest never names a path outside the store */
	p = cache_blob_path(c, "sha256:../../etc/passwd");
	ck_assert(lm_str_endswith(p, "/blobs/sha256/invalid"));
	free(p);
	ck_assert_int_eq(cache_has(c, "sha256:../../etc/passwd", -1), 0);
	cache_free(c);
	cache_free(NULL);

	/* a store where a file is in the way */
	p = lm_path_join(d, "file");
	ck_assert_int_eq(lm_write_file_atomic(p, "x", 1, &err), 0);
	ck_assert_ptr_null(cache_open(p, &err));
	ck_assert_ptr_nonnull(strstr(err.msg, p));
	lm_err_release(&err);
	free(p);
	free(root);
	rmtree(d);
}
END_TEST

START_TEST(test_open_default_location)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = tmpdir(), *want;
	char *old_x = getenv("XDG_CACHE_HOME") ? lm_xstrdup(getenv("XDG_CACHE_HOME")) : NULL;
	char *old_h = getenv("HOME") ? lm_xstrdup(getenv("HOME")) : NULL;
	struct cache *c;

	setenv("XDG_CACHE_HOME", d, 1);
	c = cache_open(NULL, &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	want = lm_path_join(d, "lamina");
	ck_assert_str_eq(cache_dir(c), want);
	free(want);
	cache_free(c);

	setenv("XDG_CACHE_HOME", "", 1);
	setenv("HOME", d, 1);
	c = cache_open("", &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	want = lm_asprintf("%s/.cache/lamina", d);
	ck_assert_str_eq(cache_dir(c), want);
	free(want);
	cache_free(c);

	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	ck_assert_ptr_null(cache_open(NULL, &err));
	ck_assert_int_eq(err.code, LM_E_USAGE);
	lm_err_release(&err);

	if (old_x)
		setenv("XDG_CACHE_HOME", old_x, 1);
	if (old_h)
		setenv("HOME", old_h, 1);
	free(old_x);
	free(old_h);
	rmtree(d);
}
END_TEST

START_TEST(test_commit_verifies)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = tmpdir(), out[LM_DIGEST_LEN], wrong[LM_DIGEST_LEN];
	struct cache *c = cache_open(d, &err);
	struct cache_writer *w;
	ck_assert_ptr_nonnull(c);
	digest_buf("hellx", 5, wrong);

	/* a wrong digest: LM_E_VERIFY, nothing in blobs/ or tmp/, out untouched */
	strcpy(out, "untouched");
	w = writer_with(c, "hel", "lo");
	ck_assert_int_eq(count_entries(d, "tmp"), 1);
	ck_assert_int_eq(cache_writer_commit(w, wrong, 5, out, &err), -1);
	ck_assert_int_eq(err.code, LM_E_VERIFY);
	ck_assert_msg(strstr(err.msg, "digest mismatch") && strstr(err.msg, wrong) && strstr(err.msg, HELLO), "%s",
		      err.msg);
	ck_assert_str_eq(out, "untouched");
	lm_err_release(&err);
	ck_assert_uint_eq(count_entries(d, "blobs/sha256"), 0);
	ck_assert_uint_eq(count_entries(d, "tmp"), 0);
	ck_assert_int_eq(cache_has(c, HELLO, -1), 0);
	ck_assert_int_eq(cache_has(c, wrong, -1), 0);

	/* a wrong size, with the right digest */
	w = writer_with(c, "hel", "lo");
	ck_assert_int_eq(cache_writer_commit(w, HELLO, 6, out, &err), -1);
	ck_assert_int_eq(err.code, LM_E_VERIFY);
	ck_assert_ptr_nonnull(strstr(err.msg, "size mismatch"));
	lm_err_release(&err);
	ck_assert_uint_eq(count_entries(d, "blobs/sha256"), 0);
	ck_assert_uint_eq(count_entries(d, "tmp"), 0);

	/* the right digest and size */
	w = writer_with(c, "hel", "lo");
	ck_assert_msg(cache_writer_commit(w, HELLO, 5, out, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(out, HELLO);
	ck_assert_uint_eq(count_entries(d, "blobs/sha256"), 1);
	ck_assert_uint_eq(count_entries(d, "tmp"), 0);
	ck_assert_int_eq(cache_has(c, HELLO, -1), 1);
	ck_assert_int_eq(cache_has(c, HELLO, 5), 1);
	ck_assert_int_eq(cache_has(c, HELLO, 4), 0);
	ck_assert_int_eq(cache_has(c, HELLO, 6), 0);
	ck_assert_int_eq(cache_has(c, wrong, -1), 0);
	ck_assert_int_eq(cache_has(c, "sha256:2cf24d", -1), 0);
	{
		struct stat st;
		char *p = cache_blob_path(c, HELLO);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_uint_eq(st.st_mode & 07777, 0644);
		ck_assert_int_eq(st.st_size, 5);
		free(p);
	}

	/* no expectations: the digest is computed and reported */
	w = writer_with(c, "", "");
	ck_assert_int_eq(cache_writer_commit(w, NULL, -1, out, &err), 0);
	ck_assert_str_eq(out, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	ck_assert_int_eq(cache_has(c, out, 0), 1);

	/* abort leaves nothing */
	w = writer_with(c, "never", "stored");
	cache_writer_abort(w);
	cache_writer_abort(NULL);
	ck_assert_uint_eq(count_entries(d, "tmp"), 0);
	ck_assert_uint_eq(count_entries(d, "blobs/sha256"), 2);
	cache_free(c);
	rmtree(d);
}
END_TEST

START_TEST(test_two_writers_same_blob)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = tmpdir(), o1[LM_DIGEST_LEN], o2[LM_DIGEST_LEN], *data = NULL;
	struct cache *c = cache_open(d, &err), *c2 = cache_open(d, &err);
	struct cache_writer *w1, *w2;
	size_t len = 0;
	ck_assert_ptr_nonnull(c);
	ck_assert_ptr_nonnull(c2);
	w1 = writer_with(c, "he", "llo");
	w2 = writer_with(c2, "hell", "o");
	ck_assert_uint_eq(count_entries(d, "tmp"), 2);
	ck_assert_msg(cache_writer_commit(w1, HELLO, 5, o1, &err) == 0, "%s", err.msg);
	ck_assert_msg(cache_writer_commit(w2, HELLO, 5, o2, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(o1, HELLO);
	ck_assert_str_eq(o2, HELLO);
	ck_assert_uint_eq(count_entries(d, "blobs/sha256"), 1);
	ck_assert_uint_eq(count_entries(d, "tmp"), 0);
	ck_assert_int_eq(cache_read_blob(c, HELLO, 100, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert(memcmp(data, "hello", 5) == 0);
	free(data);
	/* and a put of the same bytes afterwards */
	ck_assert_int_eq(cache_put_buf(c, "hello", 5, o1, &err), 0);
	ck_assert_str_eq(o1, HELLO);
	ck_assert_uint_eq(count_entries(d, "blobs/sha256"), 1);
	cache_free(c);
	cache_free(c2);
	rmtree(d);
}
END_TEST

START_TEST(test_read_blob_verifies)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = tmpdir(), dg[LM_DIGEST_LEN], *data = NULL, *p;
	struct cache *c = cache_open(d, &err);
	size_t len = 0;
	int fd;
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(cache_put_buf(c, "{\"a\":1}", 7, dg, &err), 0);
	ck_assert_int_eq(cache_read_blob(c, dg, 7, &data, &len, &err), 0);
	ck_assert_uint_eq(len, 7);
	ck_assert_str_eq(data, "{\"a\":1}"); /* NUL-terminated */
	free(data);
	data = NULL;

	/* over the cap */
	ck_assert_int_eq(cache_read_blob(c, dg, 6, &data, &len, &err), -1);
	ck_assert_ptr_null(data);
	lm_err_release(&err);

	/* corrupted on disk (same size) */
	p = cache_blob_path(c, dg);
	fd = open(p, O_WRONLY);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "2", 1, 5), 1);
	close(fd);
	ck_assert_int_eq(cache_has(c, dg, 7), 1); /* cache_has only looks at the size */
	ck_assert_int_eq(cache_read_blob(c, dg, 100, &data, &len, &err), -1);
	ck_assert_int_eq(err.code, LM_E_VERIFY);
	ck_assert_msg(strstr(err.msg, dg) && strstr(err.msg, "corrupt"), "%s", err.msg);
	ck_assert_ptr_null(data);
	lm_err_release(&err);
	free(p);

	/* missing */
	ck_assert_int_eq(cache_read_blob(c, HELLO, 100, &data, &len, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, HELLO + 7));
	lm_err_release(&err);
	cache_free(c);
	rmtree(d);
}
END_TEST

START_TEST(test_tmp_owner_table)
{
	static const struct {
		const char *name;
		long pid;
	} cases[] = {
		{ "build-123.AbC123", 123 },
		{ "blob-7.x", 7 },
		{ "zip-stage-4567.q1w2e3", 4567 }, /* the last '-' before the '.' */
		{ "build.AbC123", -1 },            /* older versions: no PID */
		{ "blob.XXXXXX", -1 },
		{ "build-.AbC123", -1 },
		{ "build-12x.AbC123", -1 },
		{ "build-0.AbC123", -1 },
		{ "build-123", -1 },
		{ "", -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(cache_tmp_owner(cases[i].name) == cases[i].pid, "'%s': %ld", cases[i].name,
			      cache_tmp_owner(cases[i].name));
}
END_TEST

/* What a killed lamina left in <cache>/tmp goes at the next open; a running one's stays. */
START_TEST(test_open_sweeps_dead_tmp)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = tmpdir(), *mine, *dead, *old, *recent;
	struct cache *c = cache_open(d, &err);
	pid_t child;
	int st;
	ck_assert_msg(c != NULL, "%s", err.msg);
	mine = cache_tmpdir(c, "build", &err);
	ck_assert_msg(mine != NULL, "%s", err.msg);
	ck_assert_ptr_nonnull(strstr(mine, "/tmp/build-"));
	ck_assert_int_eq(cache_tmp_owner(strrchr(mine, '/') + 1), (long)getpid());
	/* a PID that ran and is gone: a child that has exited and been reaped */
	child = fork();
	ck_assert_int_ge(child, 0);
	if (child == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(child, &st, 0), child);
	dead = lm_asprintf("%s/tmp/build-%ld.aaaaaa", d, (long)child);
	ck_assert_int_eq(mkdir(dead, 0700), 0);
	{
		char *f = lm_path_join(dead, "partial.tar.gz");
		ck_assert_int_eq(lm_write_file_atomic(f, "x", 1, &err), 0);
		free(f);
	}
	old = lm_asprintf("%s/tmp/blob.bbbbbb", d); /* no PID, two days old */
	recent = lm_asprintf("%s/tmp/blob.cccccc", d); /* no PID, new */
	ck_assert_int_eq(lm_write_file_atomic(old, "x", 1, &err), 0);
	ck_assert_int_eq(lm_write_file_atomic(recent, "x", 1, &err), 0);
	{
		struct timespec ts[2] = { { time(NULL) - 2 * 86400, 0 }, { time(NULL) - 2 * 86400, 0 } };
		ck_assert_int_eq(utimensat(AT_FDCWD, old, ts, AT_SYMLINK_NOFOLLOW), 0);
	}
	cache_free(c);
	c = cache_open(d, &err);
	ck_assert_msg(c != NULL, "%s", err.msg);
	ck_assert_int_eq(access(mine, F_OK), 0);
	ck_assert_int_ne(access(dead, F_OK), 0);
	ck_assert_int_ne(access(old, F_OK), 0);
	ck_assert_int_eq(access(recent, F_OK), 0);
	ck_assert_uint_eq(count_entries(d, "tmp"), 2);
	cache_free(c);
	free(mine);
	free(dead);
	free(old);
	free(recent);
	rmtree(d);
}
END_TEST

SUITE(cache)
{
	Suite *s = suite_create("cache");
	TCASE(s, test_open_layout_and_paths);
	TCASE(s, test_open_default_location);
	TCASE(s, test_commit_verifies);
	TCASE(s, test_two_writers_same_blob);
	TCASE(s, test_read_blob_verifies);
	TCASE(s, test_tmp_owner_table);
	TCASE(s, test_open_sweeps_dead_tmp);
	return s;
}
