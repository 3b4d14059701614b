/* imagerun: opening an image for runs (environment, program lookup, overlays, clean-up)
 * and the readers of what a run left, which follow no link out of the io directory. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/source.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "image/cache.h"
#include "run/imagerun.h"
#include "testimg.h"
#include "unit.h"

static char *tmp;

static void setup(void)
{
	struct lm_err err = LM_ERR_INIT;
	tmp = lm_mkdtemp(NULL, "check-imagerun", &err);
	ck_assert_msg(tmp != NULL, "%s", err.msg);
}

static void teardown(void)
{
	lm_rm_rf_quiet(tmp);
	free(tmp);
}

static int exists(const char *dir, const char *rel)
{
	struct stat st;
	char *p = lm_path_join(dir, rel);
	int r = lstat(p, &st) == 0;
	free(p);
	return r;
}

/* An io directory as a run leaves it: tmp/run/io, with what a hostile program might
 * put there beside the results. */
static void make_io(struct imagerun_out *out)
{
	struct lm_err err = LM_ERR_INIT;
	char *run = lm_path_join(tmp, "run"), *io = lm_path_join(run, "io"), *p;
	ck_assert_int_eq(mkdir(run, 0700), 0);
	ck_assert_int_eq(mkdir(io, 0700), 0);
	testimg_write(io, "ok", "hi");
	testimg_write(io, "big", "0123456789abcdefghij");
	testimg_write(io, "d/x", "inner");
	testimg_write(io, "log", "line one\nline two\n");
	testimg_write(tmp, "secret", "host file");
	p = lm_path_join(io, "ln");
	ck_assert_int_eq(symlink("../../secret", p), 0);
	free(p);
	p = lm_path_join(io, "sl");
	ck_assert_int_eq(symlink("d", p), 0);
	free(p);
	p = lm_path_join(io, "fifo");
	ck_assert_int_eq(mkfifo(p, 0600), 0);
	free(p);
	out->status = 0;
	out->io = io;
	out->iofd = open(io, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	ck_assert_int_ge(out->iofd, 0);
	free(run);
	(void)err;
}

START_TEST(test_read_regular_only)
{
	struct imagerun_out out;
	struct lm_err err = LM_ERR_INIT;
	char *data = NULL;
	size_t len = 0;
	make_io(&out);

	ck_assert_int_eq(imagerun_read(&out, "ok", 64, &data, &len, &err), 0);
	ck_assert_str_eq(data, "hi");
	ck_assert_uint_eq(len, 2);
	free(data);
	ck_assert_int_eq(imagerun_read(&out, "d/x", 64, &data, &len, &err), 0);
	ck_assert_str_eq(data, "inner");
	free(data);

	static const char *const refused[] = { "ln", "fifo", "sl/x", "d", "../secret", "/etc/passwd" };
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		data = NULL;
		ck_assert_msg(imagerun_read(&out, refused[i], 64, &data, &len, &err) < 0, "read '%s' accepted",
			      refused[i]);
		ck_assert_ptr_null(data);
		ck_assert_msg(err.code == LM_E_VERIFY || err.code == LM_E_USAGE, "'%s': code %d (%s)", refused[i],
			      err.code, err.msg);
		lm_err_release(&err);
	}
	/* larger than the cap */
	ck_assert_int_lt(imagerun_read(&out, "big", 10, &data, &len, &err), 0);
	ck_assert_int_eq(err.code, LM_E_VERIFY);
	ck_assert_ptr_nonnull(strstr(err.msg, "big"));
	lm_err_release(&err);
	/* missing: an I/O error with ENOENT, so callers can tell "not written" apart */
	errno = 0;
	ck_assert_int_lt(imagerun_read(&out, "missing", 10, &data, &len, &err), 0);
	ck_assert_int_eq(err.code, LM_E_IO);
	lm_err_release(&err);

	imagerun_out_release(&out);
	ck_assert_int_eq(out.iofd, -1);
	ck_assert(!exists(tmp, "run"));
	ck_assert(exists(tmp, "secret"));
}
END_TEST

START_TEST(test_list_type_tail)
{
	struct imagerun_out out;
	struct lm_err err = LM_ERR_INIT;
	char **names = NULL;
	size_t n = 0;
	make_io(&out);

	ck_assert_int_eq(imagerun_list(&out, "", 100, &names, &n, &err), 0);
	static const char *const want[] = { "big", "d", "fifo", "ln", "log", "ok", "sl" };
	ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < n; i++)
		ck_assert_str_eq(names[i], want[i]);
	ck_assert_ptr_null(names[n]);
	imagerun_names_free(names);
	/* a listing is capped, and a symlinked directory is not listed through */
	ck_assert_int_lt(imagerun_list(&out, "", 3, &names, &n, &err), 0);
	lm_err_release(&err);
	ck_assert_int_lt(imagerun_list(&out, "sl", 100, &names, &n, &err), 0);
	lm_err_release(&err);

	ck_assert_int_eq(imagerun_type(&out, "ok"), 'f');
	ck_assert_int_eq(imagerun_type(&out, "d"), 'd');
	ck_assert_int_eq(imagerun_type(&out, "ln"), 'l');
	ck_assert_int_eq(imagerun_type(&out, "fifo"), '?');
	ck_assert_int_eq(imagerun_type(&out, "d/x"), 'f');
	ck_assert_int_eq(imagerun_type(&out, "sl/x"), 0);
	ck_assert_int_eq(imagerun_type(&out, "nothing"), 0);

	char *tail = imagerun_log_tail(&out, 9);
	ck_assert_str_eq(tail, "line two\n");
	free(tail);
	imagerun_out_release(&out);
}
END_TEST

START_TEST(test_copy_out)
{
	struct imagerun_out out;
	struct lm_err err = LM_ERR_INIT;
	struct stat st;
	uint64_t size = 0;
	char *dst = lm_path_join(tmp, "copied"), *text = NULL;
	size_t len;
	make_io(&out);

	ck_assert_msg(imagerun_copy_out(&out, "d/x", dst, 64, &size, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(size, 5);
	ck_assert_int_eq(stat(dst, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(lm_read_file(dst, 64, &text, &len, &err), 0);
	ck_assert_str_eq(text, "inner");
	free(text);
	unlink(dst);
	/* a planted link is not copied (the host file it names stays where it is) */
	ck_assert_int_lt(imagerun_copy_out(&out, "ln", dst, 64, &size, &err), 0);
	ck_assert_int_eq(err.code, LM_E_VERIFY);
	lm_err_release(&err);
	ck_assert(!exists(tmp, "copied"));
	ck_assert_int_lt(imagerun_copy_out(&out, "big", dst, 4, &size, &err), 0);
	lm_err_release(&err);
	ck_assert(!exists(tmp, "copied"));
	imagerun_out_release(&out);
	free(dst);
}
END_TEST

/* Opening a real (tiny) image: the environment is the image's ENV with the options'
 * entries over it, programs are found as the image would find them, overlays live in
 * the run's temporary directory and close removes it all. */
START_TEST(test_open_env_find_close)
{
	static const struct testimg_file files[] = {
		{ TI_DIR, "var", NULL, 0755 },
		{ TI_DIR, "var/task", NULL, 0755 },
		{ TI_DIR, "var/lang", NULL, 0755 },
		{ TI_DIR, "var/lang/bin", NULL, 0755 },
		{ TI_FILE, "var/lang/bin/python3", "#!/bin/false\n", 0755 },
		{ TI_DIR, "usr", NULL, 0755 },
		{ TI_DIR, "usr/bin", NULL, 0755 },
		{ TI_FILE, "usr/bin/node", "#!/bin/false\n", 0755 },
		{ TI_FILE, "var/task/app.py", "x = 1\n", 0644 },
	};
	struct testimg ti = { files, sizeof(files) / sizeof(files[0]), NULL, 0, NULL };
	struct lm_err err = LM_ERR_INIT;
	char *layout = lm_path_join(tmp, "layout"), *spec = lm_asprintf("oci:%s", layout);
	char *cdir = lm_path_join(tmp, "cache"), *work = lm_path_join(tmp, "work");
	struct source_opts so = { .platform = "linux/amd64" };
	struct lm_image img;
	struct cache *c;
	struct imagerun *r = NULL;
	char *const env[] = { "PATH=/usr/bin:/bin", "FOO=from-options", NULL };
	struct imagerun_opts o = { work, env, 2 };

	testimg_layout(&ti, layout);
	ck_assert_int_eq(mkdir(work, 0700), 0);
	c = cache_open(cdir, &err);
	ck_assert_ptr_nonnull(c);
	image_init(&img);
	ck_assert_msg(source_open(spec, &so, c, &img, &err) == 0, "%s", err.msg);
	ck_assert_msg(imagerun_open(&r, &img, c, &o, &err) == 0, "%s", err.msg);

	ck_assert_str_eq(imagerun_getenv(r, "FOO"), "from-options");
	ck_assert_str_eq(imagerun_getenv(r, "LAMBDA_TASK_ROOT"), "/var/task");
	ck_assert_ptr_null(imagerun_getenv(r, "NOT_SET"));
	ck_assert_str_eq(imagerun_config(r)->workdir, "/var/task");
	ck_assert(exists(imagerun_root(r), "var/task/app.py"));

	char *p = imagerun_find(r, "python3", NULL);
	ck_assert_str_eq(p, "/var/lang/bin/python3");
	free(p);
	p = imagerun_find(r, "node", NULL);
	ck_assert_str_eq(p, "/usr/bin/node");
	free(p);
	ck_assert_ptr_null(imagerun_find(r, "ruby", NULL));

	/* a program only an overlay holds is found there */
	const char *ov = imagerun_overlay(r, &err);
	ck_assert_msg(ov != NULL, "%s", err.msg);
	ck_assert_int_eq(strncmp(ov, work, strlen(work)), 0);
	testimg_write(ov, "usr/bin/ruby", "#!/bin/false\n");
	char *rb = lm_path_join(ov, "usr/bin/ruby");
	ck_assert_int_eq(chmod(rb, 0755), 0);
	free(rb);
	p = imagerun_find(r, "ruby", ov);
	ck_assert_str_eq(p, "/usr/bin/ruby");
	free(p);

	imagerun_close(r);
	/* nothing of the run is left in its work directory */
	DIR *d = opendir(work);
	struct dirent *de;
	int left = 0;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			left++;
	closedir(d);
	ck_assert_int_eq(left, 0);
	imagerun_close(NULL);

	image_release(&img);
	cache_free(c);
	free(layout);
	free(spec);
	free(cdir);
	free(work);
}
END_TEST

SUITE(imagerun)
{
	Suite *s = suite_create("imagerun");
	TCase *tc = tcase_create("imagerun");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_read_regular_only);
	tcase_add_test(tc, test_list_type_tail);
	tcase_add_test(tc, test_copy_out);
	tcase_add_test(tc, test_open_env_find_close);
	tcase_set_timeout(tc, 60);
	suite_add_tcase(s, tc);
	return s;
}
