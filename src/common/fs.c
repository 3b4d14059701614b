#include "common/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/cleanup.h"

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

/* One directory being emptied: its subdirectories still to go, and who it is (to check
 * that ".." leads back to it). */
struct rm_frame {
	char **sub;
	size_t n, next;
	dev_t dev;
	ino_t ino;
};

static int unlink_at(int dfd, const char *name, int flags)
{
	if (unlinkat(dfd, name, flags) == 0 || errno == ENOENT)
		return 0;
	/* a directory without write permission (an image's 0555 /usr, for one) */
	if ((errno == EACCES || errno == EPERM) && fchmod(dfd, 0700) == 0 && unlinkat(dfd, name, flags) == 0)
		return 0;
	return -1;
}

/* Removes every non-directory in dfd and lists its subdirectories into f. */
static int rm_list(int dfd, struct rm_frame *f)
{
	struct stat st;
	int d2 = dup(dfd);
	DIR *d;
	struct dirent *de;
	size_t cap = 0;
	memset(f, 0, sizeof(*f));
	if (d2 < 0 || fstat(dfd, &st) < 0 || !(d = fdopendir(d2))) {
		if (d2 >= 0)
			close(d2);
		return -1;
	}
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	while ((errno = 0, de = readdir(d))) {
		int isdir = de->d_type == DT_DIR;
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		if (de->d_type == DT_UNKNOWN)
			isdir = fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
		if (!isdir) {
			if (unlink_at(dfd, de->d_name, 0) < 0)
				goto fail;
			continue;
		}
		if (f->n == cap) {
			cap = cap ? cap * 2 : 8;
			f->sub = lm_xrealloc(f->sub, cap * sizeof(*f->sub));
		}
		f->sub[f->n++] = lm_xstrdup(de->d_name);
	}
	if (errno)
		goto fail;
	closedir(d);
	return 0;
fail:;
	int e = errno;
	closedir(d);
	errno = e;
	return -1;
}

static void rm_frame_free(struct rm_frame *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->sub[i]);
	free(f->sub);
}

/* rm -rf without a path length limit or a descriptor per level: it walks down by
 * openat(O_NOFOLLOW) and back up by "..", checking that ".." is the directory it came
 * from. Returns 0, or -1 with errno. */
static int rm_tree(const char *path)
{
	struct stat st;
	struct rm_frame *fr = NULL;
	size_t nfr = 0, capfr = 0;
	int fd = -1, ret = -1, e = 0;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (int descend = 1;;) {
		if (descend) {
			if (nfr == capfr) {
				capfr = capfr ? capfr * 2 : 16;
				fr = lm_xrealloc(fr, capfr * sizeof(*fr));
			}
			if (rm_list(fd, &fr[nfr]) < 0)
				goto out;
			nfr++;
			descend = 0;
		}
		struct rm_frame *f = &fr[nfr - 1];
		if (f->next < f->n) {
			int c = openat(fd, f->sub[f->next], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (c < 0 && (errno == EACCES || errno == EPERM) && fchmodat(fd, f->sub[f->next], 0700, 0) == 0)
				c = openat(fd, f->sub[f->next], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (c < 0) {
				if (errno == ENOENT || ((errno == ENOTDIR || errno == ELOOP) &&
							unlink_at(fd, f->sub[f->next], 0) == 0)) {
					f->next++;
					continue;
				}
				goto out;
			}
			close(fd);
			fd = c;
			descend = 1;
			continue;
		}
		/* f is empty now: go up and remove it */
		rm_frame_free(f);
		nfr--;
		if (nfr == 0)
			break;
		{
			struct rm_frame *p = &fr[nfr - 1];
			int up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (up < 0)
				goto out;
			if (fstat(up, &st) < 0 || st.st_dev != p->dev || st.st_ino != p->ino) {
				close(up);
				errno = ESTALE; /* moved while we were inside: stop */
				goto out;
			}
			close(fd);
			fd = up;
			if (unlink_at(fd, p->sub[p->next], AT_REMOVEDIR) < 0)
				goto out;
			p->next++;
		}
	}
	close(fd);
	fd = -1;
	if (rmdir(path) < 0 && errno != ENOENT) {
		/* the parent may not be writable: that is the caller's directory, leave it */
		goto out;
	}
	ret = 0;
out:
	e = errno;
	if (fd >= 0)
		close(fd);
	for (size_t i = 0; i < nfr; i++)
		rm_frame_free(&fr[i]);
	free(fr);
	errno = e;
	return ret;
}

int lm_rm_rf_unregistered(const char *path)
{
	return rm_tree(path);
}

int lm_rm_rf(const char *path, struct lm_err *err)
{
	lm_cleanup_forget(path);
	if (rm_tree(path) < 0)
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
	int fd;
	lm_cleanup_lock();
	fd = mkostemp(t, O_CLOEXEC);
	if (fd >= 0)
		lm_cleanup_add_locked(t, 0);
	lm_cleanup_unlock();
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
	/* messages name the file the user asked for; the temporary name is gone after */
	if (sync && fsync(fd) < 0) {
		lm_err_sys(err, "write '%s'", path);
		close(fd);
		goto fail;
	}
	if (close(fd) < 0) {
		lm_err_sys(err, "write '%s'", path);
		goto fail;
	}
	if (rename(tmp, path) < 0) {
		lm_err_sys(err, "rename '%s' to '%s'", tmp, path);
		goto fail;
	}
	lm_cleanup_forget(tmp);
	return 0;
fail:
	lm_tmpfile_discard(tmp);
	return -1;
}

void lm_tmpfile_discard(const char *tmp)
{
	if (!tmp)
		return;
	unlink(tmp);
	lm_cleanup_forget(tmp);
}

int lm_write_file_atomic(const char *path, const void *data, size_t len, struct lm_err *err)
{
	char *tmp = NULL;
	int r, fd = lm_tmpfile_beside(path, &tmp, err);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0 || lm_write_all(fd, data, len) < 0) {
		lm_err_sys(err, "write '%s'", path);
		close(fd);
		lm_tmpfile_discard(tmp);
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
	lm_cleanup_lock();
	if (mkdtemp(t))
		lm_cleanup_add_locked(t, 1);
	else
		*t = '\0';
	lm_cleanup_unlock();
	if (!*t) {
		lm_err_sys(err, "create temporary directory in '%s'", b);
		free(t);
		return NULL;
	}
	return t;
}
