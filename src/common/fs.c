#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"

char *lm_path_join(const char *a, const char *b)
{
	size_t la = strlen(a);
	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (!*b)
		return lm_xstrndup(a, la);
	if (la == 1 && a[0] == '/')
		return lm_asprintf("/%s", b);
	if (la == 0)
		return lm_xstrdup(b);
	return lm_asprintf("%.*s/%s", (int)la, a, b);
}

char *lm_path_dirname(const char *path)
{
	const char *s = strrchr(path, '/');
	if (!s)
		return lm_xstrdup(".");
	if (s == path)
		return lm_xstrdup("/");
	return lm_xstrndup(path, (size_t)(s - path));
}

int lm_mkdir_p(const char *dir, struct lm_err *err)
{
	char *p = lm_xstrdup(dir);
	size_t n = strlen(p);
	for (size_t i = 1; i <= n; i++) {
		if (p[i] != '/' && p[i] != '\0')
			continue;
		char c = p[i];
		p[i] = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			lm_err_sys(err, "mkdir '%s'", p);
			free(p);
			return -1;
		}
		p[i] = c;
	}
	free(p);
	return 0;
}

static int rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP || flag == FTW_D)
		return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
	return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int lm_rm_rf(const char *path, struct lm_err *err)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : lm_err_sys(err, "stat '%s'", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0)
			return lm_err_sys(err, "remove '%s'", path);
		return 0;
	}
	if (nftw(path, rm_cb, 32, FTW_DEPTH | FTW_PHYS) < 0)
		return lm_err_sys(err, "remove '%s'", path);
	return 0;
}

void lm_rm_rf_quiet(const char *path)
{
	struct lm_err e = LM_ERR_INIT;
	if (path)
		lm_rm_rf(path, &e);
	lm_err_release(&e);
}

int lm_open_regular(const char *path, int extra, struct lm_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | extra);
	if (fd < 0) {
		if (errno == ELOOP && (extra & O_NOFOLLOW))
			return lm_err_set(err, LM_E_INPUT, "'%s' is a symlink: refused", path);
		return lm_err_sys(err, "open '%s'", path);
	}
	if (fstat(fd, &st) < 0) {
		lm_err_sys(err, "stat '%s'", path);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return lm_err_set(err, LM_E_INPUT, "'%s' is not a regular file", path);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

static int read_fd(int fd, const char *path, size_t cap, char **out, size_t *len, struct lm_err *err);

int lm_read_regular(const char *path, size_t cap, char **out, size_t *len, struct lm_err *err)
{
	int fd = lm_open_regular(path, 0, err);
	if (fd < 0)
		return -1;
	return read_fd(fd, path, cap, out, len, err);
}

int lm_read_file(const char *path, size_t cap, char **out, size_t *len, struct lm_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return lm_err_sys(err, "open '%s'", path);
	return read_fd(fd, path, cap, out, len, err);
}

/* Reads fd (closed here) to its end, at most cap bytes. */
static int read_fd(int fd, const char *path, size_t cap, char **out, size_t *len, struct lm_err *err)
{
	struct stat st;
	char *buf = NULL;
	size_t n = 0, sz;
	if (fstat(fd, &st) < 0) {
		lm_err_sys(err, "stat '%s'", path);
		close(fd);
		return -1;
	}
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return lm_err_set(err, LM_E_IO, "read '%s': is a directory", path);
	}
	sz = st.st_size > 0 ? (size_t)st.st_size : 4096;
	if (sz > cap)
		sz = cap;
	buf = lm_xmalloc(sz + 1);
	for (;;) {
		ssize_t r;
		if (n == sz) {
			if (sz >= cap) {
				char c;
				r = read(fd, &c, 1);
				if (r > 0) {
					free(buf);
					close(fd);
					return lm_err_set(err, LM_E_INPUT, "read '%s': larger than %zu bytes", path, cap);
				}
				break;
			}
			sz = sz * 2 > cap ? cap : sz * 2;
			buf = lm_xrealloc(buf, sz + 1);
		}
		r = read(fd, buf + n, sz - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			lm_err_sys(err, "read '%s'", path);
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

int lm_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int lm_tmpfile_beside(const char *path, char **tmpname, struct lm_err *err)
{
	char *t = lm_asprintf("%s.tmp.XXXXXX", path);
	int fd = mkostemp(t, O_CLOEXEC);
	if (fd < 0) {
		lm_err_sys(err, "create temporary file for '%s'", path);
		free(t);
		return -1;
	}
	*tmpname = t;
	return fd;
}

int lm_tmpfile_commit(int fd, const char *tmp, const char *path, int sync, struct lm_err *err)
{
	if (sync && fsync(fd) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		lm_err_sys(err, "rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	return 0;
fail:
	unlink(tmp);
	return -1;
}

int lm_write_file_atomic(const char *path, const void *data, size_t len, struct lm_err *err)
{
	char *tmp = NULL;
	int r, fd = lm_tmpfile_beside(path, &tmp, err);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0 || lm_write_all(fd, data, len) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		close(fd);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	r = lm_tmpfile_commit(fd, tmp, path, 1, err);
	free(tmp);
	return r;
}

char *lm_mkdtemp(const char *base, const char *prefix, struct lm_err *err)
{
	const char *b = base ? base : getenv("TMPDIR");
	char *t;
	if (!b || !*b)
		b = "/tmp";
	t = lm_asprintf("%s/%s.XXXXXX", b, prefix);
	if (!mkdtemp(t)) {
		lm_err_sys(err, "create temporary directory in '%s'", b);
		free(t);
		return NULL;
	}
	return t;
}
