#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/tree.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

START_TEST(test_norm_path_table)
{
	static const struct {
		const char *in, *want; /* want NULL: rejected */
	} t[] = {
		{ "a/b", "a/b" },
		{ "/var/task", "var/task" },
		{ "./a//b/", "a/b" },
		{ "///x///", "x" },
		{ "a/./b", "a/b" },
		{ "./.", NULL },
		{ "/", NULL },
		{ "", NULL },
		{ ".", NULL },
		{ "..", NULL },
		{ "a/..", NULL },
		{ "a/../b", NULL },
		{ "/../etc", NULL },
		{ "..a/b..", "..a/b.." },
		{ "a/...", "a/..." },
		{ ".hidden/.x", ".hidden/.x" },
		{ "with space/ü", "with space/ü" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = tree_norm_path(t[i].in);
		if (!t[i].want)
			ck_assert_msg(got == NULL, "norm('%s') = '%s', want NULL", t[i].in, got);
		else
			ck_assert_msg(got && strcmp(got, t[i].want) == 0, "norm('%s') = '%s', want '%s'", t[i].in,
				      got ? got : "(null)", t[i].want);
		free(got);
	}
}
END_TEST

START_TEST(test_norm_mode_table)
{
	static const struct {
		enum lm_ftype type;
		unsigned in, want;
	} t[] = {
		{ LM_F_REG, 0100644, 0644 }, { LM_F_REG, 0100600, 0644 }, { LM_F_REG, 0100400, 0644 },
		{ LM_F_REG, 0100666, 0644 }, { LM_F_REG, 0100755, 0755 }, { LM_F_REG, 0100700, 0755 },
		{ LM_F_REG, 0100744, 0755 }, { LM_F_REG, 0100001, 0755 }, { LM_F_REG, 0104755, 0755 },
		{ LM_F_REG, 0100000, 0644 }, { LM_F_DIR, 040700, 0755 },  { LM_F_DIR, 040777, 0755 },
		{ LM_F_DIR, 041777, 0755 },  { LM_F_SYMLINK, 0120777, 0777 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(tree_norm_mode(t[i].type, t[i].in) == t[i].want, "mode(%d, %o) = %o, want %o", t[i].type,
			      t[i].in, tree_norm_mode(t[i].type, t[i].in), t[i].want);
}
END_TEST

START_TEST(test_finish_sorts_dedups_adds_parents)
{
	static const char *const want[] = { "B", "a", "a/b", "a0", "b", "x", "x/y", "x/y/z" };
	struct lm_tree t;
	struct lm_entry *e;
	tree_init(&t);
	tree_add(&t, LM_F_REG, "b", "/h/b", NULL, 0644, 1);
	tree_add(&t, LM_F_REG, "a0", "/h/a0", NULL, 0644, 2);
	tree_add(&t, LM_F_REG, "a/b", "/h/old", NULL, 0644, 3);
	tree_add(&t, LM_F_REG, "x/y/z", "/h/z", NULL, 0755, 4);
	tree_add(&t, LM_F_DIR, "x", NULL, NULL, 0700, 0); /* an existing parent is not replaced */
	tree_add(&t, LM_F_SYMLINK, "B", NULL, "b", 0777, 0);
	tree_add(&t, LM_F_REG, "a/b", "/h/new", NULL, 0755, 5); /* later wins */
	/* before finish, find returns the latest entry */
	ck_assert_str_eq(tree_find(&t, "a/b")->src, "/h/new");
	tree_finish(&t);
	ck_assert_uint_eq(t.n, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < t.n; i++)
		ck_assert_msg(strcmp(t.v[i].path, want[i]) == 0, "entry %zu is '%s', want '%s'", i, t.v[i].path, want[i]);
	e = tree_find(&t, "a/b");
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->src, "/h/new");
	ck_assert_uint_eq(e->size, 5);
	ck_assert_uint_eq(e->mode, 0755);
	e = tree_find(&t, "a");
	ck_assert_int_eq(e->type, LM_F_DIR);
	ck_assert_uint_eq(e->mode, 0755);
	ck_assert_ptr_null(e->src);
	e = tree_find(&t, "x/y");
	ck_assert_int_eq(e->type, LM_F_DIR);
	ck_assert_uint_eq(tree_find(&t, "x")->mode, 0700);
	ck_assert_str_eq(tree_find(&t, "B")->link, "b");
	ck_assert_ptr_null(tree_find(&t, "x/y/zz"));
	ck_assert_ptr_null(tree_find(&t, "0"));
	ck_assert_int_eq(t.sorted, 1);

	/* removed entries are kept (and skipped by totals); finishing again changes nothing */
	tree_find(&t, "x/y/z")->removed = 1;
	{
		uint64_t files = 0, bytes = 0;
		tree_totals(&t, &files, &bytes);
		ck_assert_uint_eq(files, 4); /* B, a/b, a0, b */
		ck_assert_uint_eq(bytes, 0 + 5 + 2 + 1);
	}
	tree_finish(&t);
	ck_assert_uint_eq(t.n, sizeof(want) / sizeof(want[0]));
	ck_assert_int_eq(tree_find(&t, "x/y/z")->removed, 1);
	tree_release(&t);
	ck_assert_uint_eq(t.n, 0);
	ck_assert_ptr_null(t.v);
}
END_TEST

static void put(const char *dir, const char *rel, const char *data, mode_t mode)
{
	char *p = lm_path_join(dir, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_msg(fd >= 0, "create %s", p);
	ck_assert_int_eq(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	ck_assert_int_eq(chmod(p, mode), 0);
	free(p);
}

static void mkd(const char *dir, const char *rel, mode_t mode)
{
	char *p = lm_path_join(dir, rel);
	ck_assert_int_eq(mkdir(p, mode), 0);
	free(p);
}

static char *tmpdir(void)
{
	char *d = lm_asprintf("%s/lm-tree-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(d));
	return d;
}

static void rmtree(char *d)
{
	struct lm_err err = LM_ERR_INIT;
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(d);
}

START_TEST(test_scan_dir)
{
	static const struct {
		const char *path;
		enum lm_ftype type;
		unsigned mode;
		uint64_t size;
	} want[] = {
		{ "var", LM_F_DIR, 0755, 0 },
		{ "var/task", LM_F_DIR, 0755, 0 },
		{ "var/task/app.py", LM_F_REG, 0644, 9 },
		{ "var/task/bin", LM_F_DIR, 0755, 0 },
		{ "var/task/bin/tool", LM_F_REG, 0755, 3 },
		{ "var/task/empty", LM_F_DIR, 0755, 0 },
		{ "var/task/lib", LM_F_DIR, 0755, 0 },
		{ "var/task/lib/build", LM_F_REG, 0644, 1 }, /* a file: the dir-only rule does not apply */
		{ "var/task/lib/hard1", LM_F_REG, 0644, 6 },
		{ "var/task/lib/hard2", LM_F_REG, 0644, 6 },
		{ "var/task/link", LM_F_SYMLINK, 0777, 0 },
		{ "var/task/run.sh", LM_F_REG, 0755, 4 },
	};
	static const char *const ex[] = { "build/", "*.pyc" };
	struct tree_scan_opts o = { ex, 2, 0 };
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	char *d = tmpdir(), *h1, *h2, *p;
	put(d, "app.py", "print(1)\n", 0644);
	put(d, "run.sh", "#!\n\n", 0700);
	mkd(d, "bin", 0700);
	put(d, "bin/tool", "abc", 0744);
	mkd(d, "empty", 0777);
	mkd(d, "lib", 0750);
	put(d, "lib/hard1", "shared", 0600);
	h1 = lm_path_join(d, "lib/hard1");
	h2 = lm_path_join(d, "lib/hard2");
	ck_assert_int_eq(link(h1, h2), 0);
	put(d, "lib/build", "x", 0644);
	put(d, "lib/mod.pyc", "pyc", 0644);
	mkd(d, "build", 0755);
	put(d, "build/out.o", "o", 0644);
	p = lm_path_join(d, "link");
	ck_assert_int_eq(symlink("app.py", p), 0);
	free(p);

	tree_init(&t);
	ck_assert_msg(tree_scan(&t, d, "/var/task/", &o, &err) == 0, "%s", err.msg);
	tree_finish(&t);
	ck_assert_msg(t.n == sizeof(want) / sizeof(want[0]), "%zu entries", t.n);
	for (size_t i = 0; i < t.n; i++) {
		const struct lm_entry *e = &t.v[i];
		ck_assert_msg(strcmp(e->path, want[i].path) == 0, "entry %zu is '%s', want '%s'", i, e->path,
			      want[i].path);
		ck_assert_msg(e->type == want[i].type, "'%s' type %d", e->path, e->type);
		ck_assert_msg(e->mode == want[i].mode, "'%s' mode %o, want %o", e->path, e->mode, want[i].mode);
		ck_assert_msg(e->size == want[i].size, "'%s' size %llu", e->path, (unsigned long long)e->size);
		ck_assert_int_eq(e->removed, 0);
		ck_assert_int_eq(e->generated, 0);
		if (e->type == LM_F_REG)
			ck_assert_ptr_nonnull(e->src);
		else
			ck_assert_ptr_null(e->src);
	}
	/* a hardlinked pair: two independent regular files, each with its own source */
	ck_assert_str_eq(tree_find(&t, "var/task/lib/hard1")->src, h1);
	ck_assert_str_eq(tree_find(&t, "var/task/lib/hard2")->src, h2);
	ck_assert_str_eq(tree_find(&t, "var/task/link")->link, "app.py");
	tree_release(&t);

	/* following symlinks: the link becomes the file it points at */
	o.follow_symlinks = 1;
	tree_init(&t);
	ck_assert_msg(tree_scan(&t, d, "/opt", &o, &err) == 0, "%s", err.msg);
	tree_finish(&t);
	{
		struct lm_entry *e = tree_find(&t, "opt/link");
		ck_assert_ptr_nonnull(e);
		ck_assert_int_eq(e->type, LM_F_REG);
		ck_assert_uint_eq(e->size, 9);
		ck_assert_ptr_null(e->link);
	}
	tree_release(&t);
	free(h1);
	free(h2);
	rmtree(d);
}
END_TEST

START_TEST(test_scan_errors)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	char *d = tmpdir(), *p, *missing;

	/* a fifo is an error naming it */
	mkd(d, "sub", 0755);
	p = lm_path_join(d, "sub/pipe");
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, d, "/var/task", NULL, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_msg(strstr(err.msg, p) && strstr(err.msg, "not a regular file"), "%s", err.msg);
	lm_err_release(&err);
	tree_release(&t);
	/* excluding it is fine */
	{
		static const char *const ex[] = { "pipe" };
		struct tree_scan_opts o = { ex, 1, 0 };
		tree_init(&t);
		ck_assert_msg(tree_scan(&t, d, "/var/task", &o, &err) == 0, "%s", err.msg);
		ck_assert_ptr_null(tree_find(&t, "var/task/sub/pipe"));
		ck_assert_ptr_nonnull(tree_find(&t, "var/task/sub"));
		tree_release(&t);
	}
	unlink(p);
	free(p);

	/* an unreadable file (root can read anything: then the scan succeeds) */
	put(d, "secret", "s", 0000);
	p = lm_path_join(d, "secret");
	tree_init(&t);
	if (geteuid() != 0) {
		ck_assert_int_eq(tree_scan(&t, d, "/var/task", NULL, &err), -1);
		ck_assert_int_eq(err.code, LM_E_IO);
		ck_assert_msg(strstr(err.msg, p) && strstr(err.msg, "Permission denied"), "%s", err.msg);
		lm_err_release(&err);
	} else {
		ck_assert_msg(tree_scan(&t, d, "/var/task", NULL, &err) == 0, "%s", err.msg);
		ck_assert_uint_eq(tree_find(&t, "var/task/secret")->mode, 0644);
	}
	tree_release(&t);
	free(p);

	/* a missing source directory */
	missing = lm_path_join(d, "nope");
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, missing, "/var/task", NULL, &err), -1);
	ck_assert_int_eq(err.code, LM_E_IO);
	ck_assert_msg(strstr(err.msg, missing) && strstr(err.msg, "No such file"), "%s", err.msg);
	lm_err_release(&err);
	ck_assert_uint_eq(t.n, 0);
	tree_release(&t);
	free(missing);

	/* a source that is a file, and a destination that is not below '/' */
	p = lm_path_join(d, "secret");
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, p, "/var/task", NULL, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_ptr_nonnull(strstr(err.msg, "is not a directory"));
	lm_err_release(&err);
	ck_assert_int_eq(tree_scan(&t, d, "/", NULL, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "destination '/'"));
	lm_err_release(&err);
	ck_assert_int_eq(tree_scan(&t, d, "/var/../x", NULL, &err), -1);
	lm_err_release(&err);
	tree_release(&t);
	free(p);
	rmtree(d);
}
END_TEST

START_TEST(test_scan_two_sources_same_dest)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	char *a = tmpdir(), *b = tmpdir();
	put(a, "x.py", "from a", 0644);
	put(a, "only_a", "1", 0644);
	put(b, "x.py", "from bb", 0755);
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, a, "/var/task", NULL, &err), 0);
	ck_assert_int_eq(tree_scan(&t, b, "/var/task", NULL, &err), 0);
	tree_finish(&t);
	/* var, var/task, var/task/only_a, var/task/x.py: the later source wins */
	ck_assert_uint_eq(t.n, 4);
	ck_assert_uint_eq(tree_find(&t, "var/task/x.py")->size, 7);
	ck_assert_uint_eq(tree_find(&t, "var/task/x.py")->mode, 0755);
	ck_assert_ptr_nonnull(tree_find(&t, "var/task/only_a"));
	tree_release(&t);
	rmtree(a);
	rmtree(b);
}
END_TEST

/* A source replaced between the scan and the read: refused, never followed or waited on. */
START_TEST(test_open_src_as_scanned)
{
	struct lm_err err = LM_ERR_INIT;
	char tmpl[] = "/tmp/check-tree-swap.XXXXXX", *dir = mkdtemp(tmpl), path[512], other[512];
	struct lm_tree t;
	ck_assert_ptr_nonnull(dir);
	snprintf(path, sizeof(path), "%s/src/f.txt", dir);
	snprintf(other, sizeof(other), "%s/secret", dir);
	ck_assert_int_eq(mkdir(strcat(strcpy(other, dir), "/src"), 0755), 0);
	snprintf(other, sizeof(other), "%s/secret", dir);
	FILE *f = fopen(path, "w");
	fputs("one", f);
	fclose(f);
	f = fopen(other, "w");
	fputs("two", f);
	fclose(f);
	char *src = lm_path_dirname(path);
	for (int mode = 0; mode < 4; mode++) {
		tree_init(&t);
		ck_assert_int_eq(tree_scan(&t, src, "/var/task", NULL, &err), 0);
		tree_finish(&t);
		const struct lm_entry *e = tree_find(&t, "var/task/f.txt");
		ck_assert_ptr_nonnull(e);
		if (mode == 0) { /* unchanged: fine */
			int fd = tree_open_src(e, &err);
			ck_assert_int_ge(fd, 0);
			close(fd);
		} else {
			if (mode == 3) { /* another file (inode) with the same content, renamed over it */
				char tmp2[600];
				snprintf(tmp2, sizeof(tmp2), "%s.new", path);
				f = fopen(tmp2, "w");
				fputs("one", f);
				fclose(f);
				ck_assert_int_eq(rename(tmp2, path), 0);
			} else {
				unlink(path);
				if (mode == 1)
					ck_assert_int_eq(symlink(other, path), 0);
				else
					ck_assert_int_eq(mkfifo(path, 0644), 0);
			}
			ck_assert_int_eq(tree_open_src(e, &err), -1);
			ck_assert_int_eq(err.code, LM_E_INPUT);
			ck_assert_msg(strstr(err.msg, "f.txt") && strstr(err.msg, "refused"), "%s", err.msg);
			lm_err_release(&err);
			unlink(path);
			f = fopen(path, "w");
			fputs("one", f);
			fclose(f);
		}
		tree_release(&t);
	}
	free(src);
	lm_rm_rf_quiet(dir);
}
END_TEST

SUITE(tree)
{
	Suite *s = suite_create("tree");
	TCASE(s, test_norm_path_table);
	TCASE(s, test_norm_mode_table);
	TCASE(s, test_finish_sorts_dedups_adds_parents);
	TCASE(s, test_scan_dir);
	TCASE(s, test_open_src_as_scanned);
	TCASE(s, test_scan_errors);
	TCASE(s, test_scan_two_sources_same_dest);
	return s;
}
