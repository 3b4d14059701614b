#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "image/cache.h"
#include "run/rootfs.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

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

/* --- the cache: bound, holds, temporary directories, interrupts ------------------------------ */

static char *key_name(char c)
{
	char *k = lm_xmalloc(65);
	memset(k, c, 64);
	k[64] = '\0';
	return k;
}

/* Makes dir/name (a directory) with mtime at. */
static void mkdir_at(const char *dir, const char *name, time_t at)
{
	char *p = lm_path_join(dir, name);
	struct timespec ts[2] = { { at, 0 }, { at, 0 } };
	ck_assert_int_eq(mkdir(p, 0755), 0);
	ck_assert_int_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(p);
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	return pid;
}

START_TEST(test_gc)
{
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "check-rootfs-gc", &err);
	char *k[6], name[128], *p;
	time_t now = time(NULL);
	long dead = (long)dead_pid();
	int held, held_tmp;

	ck_assert_ptr_nonnull(dir);
	for (int i = 0; i < 6; i++) {
		k[i] = key_name((char)('a' + i)); /* k[0] the oldest */
		mkdir_at(dir, k[i], now - 600 + i * 60);
	}
	mkdir_at(dir, "notes", now - 90000); /* not lamina's: left alone */
	snprintf(name, sizeof(name), ".tmp-%ld.aaaaaa", dead);
	mkdir_at(dir, name, now); /* its process is gone */
	snprintf(name, sizeof(name), ".run-%ld.bbbbbb", dead);
	mkdir_at(dir, name, now);
	snprintf(name, sizeof(name), ".gc-%ld.%s", dead, k[0]);
	mkdir_at(dir, name, now);
	snprintf(name, sizeof(name), ".tmp-%ld.cccccc", (long)getpid());
	mkdir_at(dir, name, now); /* ours: alive */
	snprintf(name, sizeof(name), ".tmp-%ld.dddddd", dead);
	mkdir_at(dir, name, now); /* dead pid, but held (a process in another pid namespace) */
	p = lm_path_join(dir, name);
	held_tmp = open(p, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(flock(held_tmp, LOCK_EX), 0);
	free(p);
	mkdir_at(dir, ".tmp-.eeeeee", now - 3 * 86400); /* no pid recorded, old */
	mkdir_at(dir, ".tmp-.ffffff", now);             /* no pid recorded, new */
	/* k[1] is in use */
	p = lm_path_join(dir, k[1]);
	held = open(p, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(flock(held, LOCK_SH), 0);
	free(p);

	/* keep 2 (k[5], k[4]); spare k[0]; k[1] held: k[2] and k[3] go */
	ck_assert_uint_eq(rootfs_gc(dir, 2, &k[0], 1), 2 + 4);
	ck_assert(exists(dir, k[0]));
	ck_assert(exists(dir, k[1]));
	ck_assert(!exists(dir, k[2]));
	ck_assert(!exists(dir, k[3]));
	ck_assert(exists(dir, k[4]));
	ck_assert(exists(dir, k[5]));
	ck_assert(exists(dir, "notes"));
	snprintf(name, sizeof(name), ".tmp-%ld.aaaaaa", dead);
	ck_assert(!exists(dir, name));
	snprintf(name, sizeof(name), ".run-%ld.bbbbbb", dead);
	ck_assert(!exists(dir, name));
	snprintf(name, sizeof(name), ".gc-%ld.%s", dead, k[0]);
	ck_assert(!exists(dir, name));
	snprintf(name, sizeof(name), ".tmp-%ld.cccccc", (long)getpid());
	ck_assert(exists(dir, name));
	snprintf(name, sizeof(name), ".tmp-%ld.dddddd", dead);
	ck_assert(exists(dir, name));
	ck_assert(!exists(dir, ".tmp-.eeeeee"));
	ck_assert(exists(dir, ".tmp-.ffffff"));
	/* nothing of ours left under another name */
	snprintf(name, sizeof(name), ".gc-%ld.%s", (long)getpid(), k[2]);
	ck_assert(!exists(dir, name));

	/* released: the next clean-up takes it */
	close(held);
	ck_assert_uint_eq(rootfs_gc(dir, 2, NULL, 0), 2);
	ck_assert(!exists(dir, k[0]) && !exists(dir, k[1]) && exists(dir, k[4]) && exists(dir, k[5]));
	close(held_tmp);
	for (int i = 0; i < 6; i++)
		free(k[i]);
	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	free(dir);
}
END_TEST

/* A one-layer image whose layer holds the file "n" with content tag. */
static void put_layer(struct cache *c, const char *tag, struct oci_descriptor *d)
{
	static char buf[1 << 14];
	struct ent v[] = { { 'd', "etc", NULL }, { 'f', "etc/n", tag } };
	struct lm_err err = LM_ERR_INIT;
	size_t len = make_tar(v, 2, buf, sizeof(buf));
	memset(d, 0, sizeof(*d));
	ck_assert_int_eq(cache_put_buf(c, buf, len, d->digest, &err), 0);
	d->size = (int64_t)len;
}

static size_t count_keys(const char *dir, int *temps)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;
	*temps = 0;
	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		if (strlen(de->d_name) == 64)
			n++;
		else if (de->d_name[0] == '.' && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			(*temps)++;
	}
	closedir(d);
	return n;
}

START_TEST(test_open_bounded_and_held)
{
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "check-rootfs-cache", &err);
	struct cache *c = cache_open(dir, &err);
	char *top = lm_path_join(dir, "rootfs");
	struct oci_descriptor d[ROOTFS_KEEP + 3];
	struct rootfs first, r;
	char *last = NULL;
	int temps;

	ck_assert_ptr_nonnull(c);
	for (int i = 0; i < ROOTFS_KEEP + 3; i++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "image %d", i);
		put_layer(c, tag, &d[i]);
	}
	/* the first one stays in use throughout */
	ck_assert_msg(rootfs_open(&first, c, &d[0], 1, &err) == 0, "%s", err.msg);
	for (int i = 1; i < ROOTFS_KEEP + 3; i++) {
		ck_assert_msg(rootfs_open(&r, c, &d[i], 1, &err) == 0, "%s", err.msg);
		char *n = lm_path_join(r.path, "etc/n"), *text = NULL;
		size_t len;
		char want[32];
		snprintf(want, sizeof(want), "image %d", i);
		ck_assert_int_eq(lm_read_file(n, 64, &text, &len, &err), 0);
		ck_assert_str_eq(text, want);
		free(text);
		free(n);
		if (i == ROOTFS_KEEP + 2)
			last = lm_xstrdup(r.path);
		rootfs_close(&r);
		struct timespec pause = { 0, 20 * 1000 * 1000 }; /* distinct mtimes */
		nanosleep(&pause, NULL);
	}
	/* bounded: the ROOTFS_KEEP most recent, plus the one in use */
	ck_assert_uint_eq(count_keys(top, &temps), ROOTFS_KEEP + 1);
	ck_assert_int_eq(temps, 0);
	ck_assert(exists(first.path, "etc/n"));
	/* held: no exclusive lock while open, then the clean-up may take it */
	{
		int fd = open(first.path, O_RDONLY | O_DIRECTORY);
		ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), -1);
		rootfs_close(&first);
		ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
		close(fd);
	}
	/* reopening the most recent one reuses it (same directory) */
	ck_assert_int_eq(rootfs_open(&r, c, &d[ROOTFS_KEEP + 2], 1, &err), 0);
	ck_assert_str_eq(r.path, last);
	free(last);
	ck_assert_uint_eq(count_keys(top, &temps), ROOTFS_KEEP);
	rootfs_close(&r);
	ck_assert_int_eq(first.fd, -1);
	ck_assert_ptr_null(first.path);
	cache_free(c);
	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	free(top);
	free(dir);
}
END_TEST

static volatile sig_atomic_t got_hup;
static void on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

/* A signal that arrives while a rootfs is assembled: the temporary directory goes, then
 * the signal takes effect. */
START_TEST(test_open_interrupted)
{
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "check-rootfs-int", &err);
	struct cache *c = cache_open(dir, &err);
	char *top = lm_path_join(dir, "rootfs");
	struct oci_descriptor d;
	struct rootfs r = { NULL, -1 };
	struct sigaction sa;
	sigset_t hup, old;
	int temps;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_hup;
	ck_assert_int_eq(sigaction(SIGHUP, &sa, NULL), 0);
	put_layer(c, "x", &d);
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_BLOCK, &hup, &old);
	raise(SIGHUP); /* pending */
	ck_assert_int_eq(rootfs_open(&r, c, &d, 1, &err), -1);
	ck_assert_msg(lm_str_endswith(err.msg, "): interrupted"), "%s", err.msg);
	lm_err_release(&err);
	ck_assert_uint_eq(count_keys(top, &temps), 0);
	ck_assert_int_eq(temps, 0);
	ck_assert_int_eq(got_hup, 0);
	sigprocmask(SIG_SETMASK, &old, NULL); /* now it is delivered */
	ck_assert_int_eq(got_hup, 1);
	/* and the next call builds it */
	ck_assert_msg(rootfs_open(&r, c, &d, 1, &err) == 0, "%s", err.msg);
	ck_assert(exists(r.path, "etc/n"));
	rootfs_close(&r);
	cache_free(c);
	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	free(top);
	free(dir);
}
END_TEST

/* A layer that cannot be applied: the error names it and nothing is left behind. */
START_TEST(test_open_bad_layer_leaves_nothing)
{
	static char buf[1 << 14];
	struct ent v[] = { { 'd', "etc", NULL }, { 'f', "etc/ok", "1" }, { 'f', "../evil", "x" } };
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "check-rootfs-bad", &err);
	struct cache *c = cache_open(dir, &err);
	char *top = lm_path_join(dir, "rootfs");
	struct oci_descriptor d;
	struct rootfs r = { NULL, -1 };
	int temps;
	size_t len = make_tar(v, 3, buf, sizeof(buf));

	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(cache_put_buf(c, buf, len, d.digest, &err), 0);
	ck_assert_int_eq(rootfs_open(&r, c, &d, 1, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_msg(strstr(err.msg, "layer 1 (") && strstr(err.msg, "unsafe path '../evil'"), "%s", err.msg);
	ck_assert_uint_eq(count_keys(top, &temps), 0);
	ck_assert_int_eq(temps, 0);
	ck_assert_ptr_null(r.path);
	lm_err_release(&err);
	cache_free(c);
	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	free(top);
	free(dir);
}
END_TEST

SUITE(rootfs)
{
	Suite *s = suite_create("rootfs");
	TCASE(s, test_clean_path_table);
	TCASE(s, test_whiteout_table);
	TCASE(s, test_apply_layers);
	TCASE(s, test_is_executable_symlinks);
	TCASE(s, test_gc);
	TCASE(s, test_open_bounded_and_held);
	TCASE(s, test_open_interrupted);
	TCASE(s, test_open_bad_layer_leaves_nothing);
	return s;
}
