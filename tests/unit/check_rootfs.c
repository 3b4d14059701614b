#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfs.h"
#include "unit.h"
#include "util.h"

START_TEST(test_clean_path_table)
{
	static const struct {
		const char *in, *want; /* want NULL: rejected */
	} t[] = {
		{ "a/b", "a/b" },
		{ "./a/b", "a/b" },
		{ "/a//b/", "a/b" },
		{ "a/./b", "a/b" },
		{ "./", "" },
		{ "/", "" },
		{ ".", "" },
		{ "../x", NULL },
		{ "a/../../x", NULL },
		{ "a/..", NULL },
		{ "/etc/passwd", "etc/passwd" },
		{ "..a/b..", "..a/b.." },
		{ "a/...", "a/..." },
		{ "Transparent Busy.ani", "Transparent Busy.ani" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = rootfs_clean_path(t[i].in);
		if (!t[i].want)
			ck_assert_msg(got == NULL, "clean('%s') = '%s', want NULL", t[i].in, got);
		else
			ck_assert_msg(got && strcmp(got, t[i].want) == 0, "clean('%s') = '%s', want '%s'", t[i].in,
				      got ? got : "(null)", t[i].want);
		free(got);
	}
}
END_TEST

START_TEST(test_whiteout_table)
{
	static const struct {
		const char *in;
		enum rootfs_wh kind;
		const char *target;
	} t[] = {
		{ "etc/passwd", ROOTFS_WH_NONE, NULL },
		{ "etc/.wh.fixture-removed", ROOTFS_WH_FILE, "etc/fixture-removed" },
		{ ".wh.top", ROOTFS_WH_FILE, "top" },
		{ "var/lang/.wh..wh..opq", ROOTFS_WH_OPAQUE, "var/lang" },
		{ ".wh..wh..opq", ROOTFS_WH_OPAQUE, "" },
		{ "a/.wh..wh.plnk", ROOTFS_WH_META, NULL },
		{ "a/.wh.", ROOTFS_WH_INVALID, NULL },
		{ "a/.wh..", ROOTFS_WH_INVALID, NULL },
		{ "a/.whx", ROOTFS_WH_NONE, NULL },
		{ "a/.wh.b/c", ROOTFS_WH_NONE, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *target = NULL;
		enum rootfs_wh k = rootfs_whiteout(t[i].in, &target);
		ck_assert_msg(k == t[i].kind, "whiteout('%s') = %d, want %d", t[i].in, k, t[i].kind);
		if (t[i].target)
			ck_assert_msg(target && strcmp(target, t[i].target) == 0, "whiteout('%s') target '%s'", t[i].in,
				      target ? target : "(null)");
		else
			ck_assert(target == NULL);
		free(target);
	}
}
END_TEST

/* A tar in memory: entries of (type, name, content-or-link-target). */
struct ent {
	char type; /* f file, d dir, l symlink, h hardlink, c char device */
	const char *name, *data;
};

static size_t make_tar(const struct ent *v, size_t n, char *buf, size_t cap)
{
	struct archive *w = archive_write_new();
	size_t used = 0;
	archive_write_set_format_pax_restricted(w);
	archive_write_set_bytes_in_last_block(w, 1);
	ck_assert_int_eq(archive_write_open_memory(w, buf, cap, &used), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, v[i].name);
		archive_entry_set_mtime(e, 315532800, 0);
		switch (v[i].type) {
		case 'f':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(v[i].data));
			break;
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, v[i].data);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, v[i].data);
			break;
		case 'c':
			archive_entry_set_filetype(e, AE_IFCHR);
			archive_entry_set_perm(e, 0666);
			archive_entry_set_rdev(e, 0x0103);
			break;
		}
		ck_assert_int_eq(archive_write_header(w, e), ARCHIVE_OK);
		if (v[i].type == 'f')
			archive_write_data(w, v[i].data, strlen(v[i].data));
		archive_entry_free(e);
	}
	archive_write_close(w);
	archive_write_free(w);
	return used;
}

static int apply(int rootfd, const struct ent *v, size_t n, struct lm_err *err)
{
	static char buf[1 << 16];
	size_t len = make_tar(v, n, buf, sizeof(buf));
	struct archive *a = archive_read_new();
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
	int r = rootfs_apply(rootfd, a, err);
	archive_read_free(a);
	return r;
}

static int exists(const char *root, const char *p)
{
	struct stat st;
	char *full = lm_path_join(root, p);
	int r = lstat(full, &st) == 0;
	free(full);
	return r;
}

START_TEST(test_apply_layers)
{
	struct lm_err err = LM_ERR_INIT;
	char *root = lm_mkdtemp(NULL, "lamina-rootfs-", &err);
	ck_assert(root);
	int fd = open(root, O_RDONLY | O_DIRECTORY);
	const struct ent l1[] = {
		{ 'd', "etc/", NULL }, { 'f', "etc/a", "a" }, { 'f', "etc/b", "b" }, { 'd', "opq/", NULL },
		{ 'f', "opq/old", "x" }, { 'd', "opq/sub/", NULL }, { 'f', "opq/sub/old", "x" },
		{ 'l', "link", "/etc" }, { 'h', "etc/a2", "etc/a" }, { 'c', "dev-null", NULL },
	};
	const struct ent l2[] = {
		{ 'f', "etc/.wh.a", "" }, { 'd', "opq/", NULL }, { 'f', "opq/new", "n" }, { 'f', "opq/sub/new", "n" },
		{ 'f', "opq/.wh..wh..opq", "" }, { 'f', "./etc//c", "c" },
	};
	ck_assert_int_eq(apply(fd, l1, sizeof(l1) / sizeof(l1[0]), &err), 0);
	ck_assert(exists(root, "etc/a2"));
	ck_assert(!exists(root, "dev-null"));
	ck_assert_int_eq(apply(fd, l2, sizeof(l2) / sizeof(l2[0]), &err), 0);
	ck_assert(!exists(root, "etc/a"));
	ck_assert(exists(root, "etc/a2"));
	ck_assert(exists(root, "etc/b"));
	ck_assert(exists(root, "etc/c"));
	ck_assert(!exists(root, "opq/old"));
	ck_assert(!exists(root, "opq/sub/old"));
	ck_assert(exists(root, "opq/new"));
	ck_assert(exists(root, "opq/sub/new"));

	/* escapes: through a symlink, with "..", by a hard link */
	const struct ent bad1[] = { { 'f', "link/evil", "x" } };
	ck_assert_int_eq(apply(fd, bad1, 1, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	lm_err_release(&err);
	ck_assert(!exists("/etc", "evil"));
	const struct ent bad2[] = { { 'f', "../evil", "x" } };
	ck_assert_int_eq(apply(fd, bad2, 1, &err), -1);
	lm_err_release(&err);
	const struct ent bad3[] = { { 'h', "pw", "link/passwd" } };
	ck_assert_int_eq(apply(fd, bad3, 1, &err), -1);
	lm_err_release(&err);
	ck_assert(!exists(root, "pw"));
	/* a symlink replaced by a file is replaced, not followed */
	const struct ent l3[] = { { 'f', "link", "now a file" } };
	ck_assert_int_eq(apply(fd, l3, 1, &err), 0);
	struct stat st;
	char *p = lm_path_join(root, "link");
	ck_assert_int_eq(lstat(p, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	free(p);

	ck_assert_int_eq(rootfs_is_executable(root, "/etc/b"), 0);
	close(fd);
	ck_assert_int_eq(lm_rm_rf(root, &err), 0);
	free(root);
}
END_TEST

START_TEST(test_is_executable_symlinks)
{
	struct lm_err err = LM_ERR_INIT;
	char *root = lm_mkdtemp(NULL, "lamina-rootfs-", &err);
	char *p;
	ck_assert(root);
	p = lm_path_join(root, "var/lang/bin");
	ck_assert_int_eq(lm_mkdir_p(p, &err), 0);
	free(p);
	p = lm_path_join(root, "usr/bin");
	ck_assert_int_eq(lm_mkdir_p(p, &err), 0);
	free(p);
	p = lm_path_join(root, "var/lang/bin/python3.11");
	ck_assert_int_eq(lm_write_file_atomic(p, "x", 1, &err), 0);
	chmod(p, 0755);
	free(p);
	p = lm_path_join(root, "var/lang/bin/python3");
	ck_assert_int_eq(symlink("python3.11", p), 0);
	free(p);
	p = lm_path_join(root, "usr/bin/python3");
	ck_assert_int_eq(symlink("/var/lang/bin/python3", p), 0); /* absolute: inside the image */
	free(p);
	p = lm_path_join(root, "usr/bin/up");
	ck_assert_int_eq(symlink("../../../../../var/lang/bin/python3", p), 0);
	free(p);
	p = lm_path_join(root, "usr/bin/loop");
	ck_assert_int_eq(symlink("loop", p), 0);
	free(p);
	ck_assert_int_eq(rootfs_is_executable(root, "/var/lang/bin/python3"), 1);
	ck_assert_int_eq(rootfs_is_executable(root, "/usr/bin/python3"), 1);
	ck_assert_int_eq(rootfs_is_executable(root, "/usr/bin/up"), 1);
	ck_assert_int_eq(rootfs_is_executable(root, "/usr/bin/loop"), 0);
	ck_assert_int_eq(rootfs_is_executable(root, "/usr/bin/none"), 0);
	ck_assert_int_eq(rootfs_is_executable(root, "/usr/bin"), 0);
	ck_assert_int_eq(lm_rm_rf(root, &err), 0);
	free(root);
}
END_TEST

SUITE(rootfs)
{
	Suite *s = suite_create("rootfs");
	TCASE(s, test_clean_path_table);
	TCASE(s, test_whiteout_table);
	TCASE(s, test_apply_layers);
	TCASE(s, test_is_executable_symlinks);
	return s;
}
