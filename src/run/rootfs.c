/* rootfs.c - apply image layers into a cached directory, safely. */
#include "run/rootfs.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/digest.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/str.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"

char *rootfs_clean_path(const char *name)
{
	size_t n = strlen(name);
	char *out = lm_xmalloc(n + 1);
	size_t o = 0;
	const char *p = name;

	while (*p) {
		const char *s = strchr(p, '/');
		size_t len = s ? (size_t)(s - p) : strlen(p);
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* empty or "." component */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return NULL;
		} else {
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, len);
			o += len;
		}
		p += len;
		if (*p == '/')
			p++;
	}
	out[o] = '\0';
	return out;
}

enum rootfs_wh rootfs_whiteout(const char *path, char **target)
{
	const char *base = strrchr(path, '/');
	size_t dirlen = base ? (size_t)(base - path) : 0;
	base = base ? base + 1 : path;

	if (!lm_str_startswith(base, WH_PREFIX))
		return ROOTFS_WH_NONE;
	if (strcmp(base, WH_OPAQUE) == 0) {
		*target = lm_xstrndup(path, dirlen);
		return ROOTFS_WH_OPAQUE;
	}
	if (lm_str_startswith(base, WH_PREFIX WH_PREFIX))
		return ROOTFS_WH_META;
	base += strlen(WH_PREFIX);
	if (!*base || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return ROOTFS_WH_INVALID;
	*target = dirlen ? lm_asprintf("%.*s/%s", (int)dirlen, path, base) : lm_xstrdup(base);
	return ROOTFS_WH_FILE;
}

/* --- safe path walking ---------------------------------------------------------------- */

/* Opens the directory holding path's last component, walking from rootfd without
 * following any symlink; creates missing directories (0755) when create is set.
 * Returns the fd, 0 and *fd = -1 when a parent is missing (and !create), -1 on error.
 * *base points into path. */
static int open_parent(int rootfd, const char *path, int create, int *fd, const char **base,
		       struct lm_err *err)
{
	const char *p = path;
	int cur = dup(rootfd);

	if (cur < 0)
		return lm_err_sys(err, "dup");
	for (;;) {
		const char *s = strchr(p, '/');
		if (!s)
			break;
		char *comp = lm_xstrndup(p, (size_t)(s - p));
		int next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next < 0 && errno == ENOENT && create) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST) {
				lm_err_sys(err, "mkdir '%.*s'", (int)(s - path), path);
				goto fail;
			}
			next = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		if (next < 0) {
			if (errno == ENOENT && !create) {
				free(comp);
				close(cur);
				*fd = -1;
				*base = s + 1;
				return 0;
			}
			if (errno == ELOOP || errno == ENOTDIR)
				lm_err_set(err, LM_E_INPUT, "'%s': '%.*s' is a symlink or not a directory", path,
					   (int)(s - path), path);
			else
				lm_err_sys(err, "open '%.*s'", (int)(s - path), path);
		fail:
			free(comp);
			close(cur);
			return -1;
		}
		free(comp);
		close(cur);
		cur = next;
		p = s + 1;
	}
	*fd = cur;
	*base = p;
	return 0;
}

/* Removes name in dirfd, recursively when it is a directory. ENOENT is not an error. */
static int remove_at(int dirfd, const char *name, struct lm_err *err)
{
	struct stat st;
	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : lm_err_sys(err, "stat '%s'", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
			return lm_err_sys(err, "unlink '%s'", name);
		return 0;
	}
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return lm_err_sys(err, "open '%s'", name);
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return lm_err_sys(err, "opendir '%s'", name);
	}
	struct dirent *de;
	int ret = 0;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (remove_at(fd, de->d_name, err) < 0) {
			ret = -1;
			break;
		}
	}
	closedir(d);
	if (ret == 0 && unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return lm_err_sys(err, "rmdir '%s'", name);
	return ret;
}

/* --- the paths a layer has written (for opaque whiteouts) ------------------------------- */

struct pathset {
	char **v;
	size_t n, cap;
	int sorted;
};

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds p and its parent directories: a directory holding something this layer wrote
 * survives an opaque whiteout of its parent. */
static void pathset_add(struct pathset *s, const char *p)
{
	const char *q = p;
	for (;;) {
		q = strchr(q, '/');
		lm_grow((void **)&s->v, &s->cap, s->n + 1, sizeof(*s->v));
		s->v[s->n++] = q ? lm_xstrndup(p, (size_t)(q - p)) : lm_xstrdup(p);
		if (!q)
			break;
		q++;
	}
	s->sorted = 0;
}

static int pathset_has(struct pathset *s, const char *p)
{
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
		s->sorted = 1;
	}
	return s->n && bsearch(&p, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

static void pathset_release(struct pathset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* Empties directory fd (image path dir) of everything this layer did not write. */
static int opaque_clear(int fd, const char *dir, struct pathset *written, struct lm_err *err)
{
	int dfd = dup(fd);
	if (dfd < 0)
		return lm_err_sys(err, "dup");
	DIR *d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return lm_err_sys(err, "opendir '%s'", dir);
	}
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = *dir ? lm_asprintf("%s/%s", dir, de->d_name) : lm_xstrdup(de->d_name);
		if (!pathset_has(written, p)) {
			ret = remove_at(fd, de->d_name, err);
		} else {
			int sub = openat(fd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0) {
				ret = opaque_clear(sub, p, written, err);
				close(sub);
			}
		}
		free(p);
	}
	closedir(d);
	return ret;
}

/* --- one layer ---------------------------------------------------------------------------- */

static int write_data(struct archive *a, int fd, const char *path, struct lm_err *err)
{
	for (;;) {
		const void *buf;
		size_t len;
		la_int64_t off;
		int r = archive_read_data_block(a, &buf, &len, &off);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return lm_err_set(err, LM_E_INPUT, "read '%s': %s", path, archive_error_string(a));
		if (len && pwrite(fd, buf, len, (off_t)off) != (ssize_t)len)
			return lm_err_sys(err, "write '%s'", path);
	}
}

unsigned rootfs_safe_mode(unsigned perm)
{
	return perm & ~(unsigned)(S_ISUID | S_ISGID | S_IWGRP | S_IWOTH);
}

static int apply_entry(int rootfd, struct archive *a, struct archive_entry *e, const char *path,
		       struct pathset *written, struct lm_err *err)
{
	mode_t type = archive_entry_filetype(e);
	/* the execution copy only: no setuid binary, nothing others may write */
	mode_t perm = rootfs_safe_mode(archive_entry_perm(e) & 07777);
	uid_t uid = (uid_t)archive_entry_uid(e);
	gid_t gid = (gid_t)archive_entry_gid(e);
	int is_root = geteuid() == 0;
	const char *base;
	int dfd = -1, fd = -1, ret = -1;
	struct stat st;

	if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK && !archive_entry_hardlink(e))
		return 0; /* device nodes, fifos, sockets: never created */
	if (open_parent(rootfd, path, 1, &dfd, &base, err) < 0)
		return -1;

	int exists = fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
	if (exists && !(type == AE_IFDIR && S_ISDIR(st.st_mode)) && remove_at(dfd, base, err) < 0)
		goto out;

	if (archive_entry_hardlink(e)) {
		char *tp = rootfs_clean_path(archive_entry_hardlink(e));
		const char *tbase;
		int tfd = -1;
		if (!tp || !*tp) {
			lm_err_set(err, LM_E_INPUT, "'%s': bad hard link target '%s'", path, archive_entry_hardlink(e));
			free(tp);
			goto out;
		}
		if (open_parent(rootfd, tp, 0, &tfd, &tbase, err) < 0) {
			free(tp);
			goto out;
		}
		if (tfd < 0 || linkat(tfd, tbase, dfd, base, 0) < 0) {
			lm_err_set(err, LM_E_INPUT, "'%s': hard link to '%s': %s", path, tp,
				   tfd < 0 ? "no such file" : strerror(errno));
			if (tfd >= 0)
				close(tfd);
			free(tp);
			goto out;
		}
		close(tfd);
		free(tp);
	} else if (type == AE_IFDIR) {
		if (mkdirat(dfd, base, 0700) < 0 && errno != EEXIST) {
			lm_err_sys(err, "mkdir '%s'", path);
			goto out;
		}
		fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			lm_err_sys(err, "open '%s'", path);
			goto out;
		}
		if (is_root && fchown(fd, uid, gid) < 0) {
			lm_err_sys(err, "chown '%s'", path);
			goto out;
		}
		/* keep directories traversable for the owner while building */
		if (fchmod(fd, perm | 0700) < 0) {
			lm_err_sys(err, "chmod '%s'", path);
			goto out;
		}
	} else if (type == AE_IFLNK) {
		const char *target = archive_entry_symlink(e);
		if (symlinkat(target ? target : "", dfd, base) < 0) {
			lm_err_sys(err, "symlink '%s'", path);
			goto out;
		}
		if (is_root && fchownat(dfd, base, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
			lm_err_sys(err, "chown '%s'", path);
			goto out;
		}
	} else {
		fd = openat(dfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			lm_err_sys(err, "create '%s'", path);
			goto out;
		}
		if (write_data(a, fd, path, err) < 0)
			goto out;
		if (is_root && fchown(fd, uid, gid) < 0) {
			lm_err_sys(err, "chown '%s'", path);
			goto out;
		}
		if (fchmod(fd, perm) < 0) {
			lm_err_sys(err, "chmod '%s'", path);
			goto out;
		}
		struct timespec ts[2] = { { archive_entry_mtime(e), 0 }, { archive_entry_mtime(e), 0 } };
		(void)futimens(fd, ts);
	}
	pathset_add(written, path);
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return ret;
}

static int apply_whiteout(int rootfd, enum rootfs_wh kind, const char *target, struct pathset *written,
			  struct lm_err *err)
{
	const char *base;
	int dfd = -1, ret;

	if (kind == ROOTFS_WH_FILE) {
		if (open_parent(rootfd, target, 0, &dfd, &base, err) < 0)
			return -1;
		if (dfd < 0)
			return 0;
		ret = remove_at(dfd, base, err);
		close(dfd);
		return ret;
	}
	/* opaque: target is the directory */
	int fd;
	if (!*target) {
		fd = dup(rootfd);
	} else {
		if (open_parent(rootfd, target, 0, &dfd, &base, err) < 0)
			return -1;
		if (dfd < 0)
			return 0;
		fd = openat(dfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dfd);
	}
	if (fd < 0)
		return 0; /* nothing below to hide */
	ret = opaque_clear(fd, target, written, err);
	close(fd);
	return ret;
}

static int interrupted(void);

/* rootfs_apply; with watch set, stops at the first entry after a held signal arrived. */
static int apply_tar(int rootfd, struct archive *a, int watch, struct lm_err *err)
{
	struct archive_entry *e;
	struct pathset written = { 0 };
	int ret = -1, r;

	while ((r = archive_read_next_header(a, &e)) != ARCHIVE_EOF) {
		if (watch && interrupted()) {
			lm_err_set(err, LM_E_GENERIC, "interrupted");
			goto out;
		}
		if (r < ARCHIVE_WARN) {
			lm_err_set(err, LM_E_INPUT, "read tar: %s", archive_error_string(a));
			goto out;
		}
		const char *name = archive_entry_pathname(e);
		char *path = name ? rootfs_clean_path(name) : NULL;
		if (!path) {
			lm_err_set(err, LM_E_INPUT, "unsafe path '%s' in layer", name ? name : "(none)");
			goto out;
		}
		if (!*path) { /* the root directory itself */
			free(path);
			continue;
		}
		char *target = NULL;
		enum rootfs_wh kind = rootfs_whiteout(path, &target);
		if (kind == ROOTFS_WH_INVALID) {
			lm_err_set(err, LM_E_INPUT, "bad whiteout '%s' in layer", name);
			free(path);
			goto out;
		}
		if (kind == ROOTFS_WH_FILE || kind == ROOTFS_WH_OPAQUE)
			r = apply_whiteout(rootfd, kind, target, &written, err);
		else if (kind == ROOTFS_WH_NONE)
			r = apply_entry(rootfd, a, e, path, &written, err);
		else
			r = 0;
		free(target);
		free(path);
		if (r < 0)
			goto out;
	}
	ret = 0;
out:
	pathset_release(&written);
	return ret;
}

int rootfs_apply(int rootfd, struct archive *a, struct lm_err *err)
{
	return apply_tar(rootfd, a, 0, err);
}

/* --- signals held while a new root filesystem is assembled ------------------------------ */

static void held_signals(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
	sigaddset(s, SIGQUIT);
}

/* 1 when one of the held signals is pending (blocked, so not yet acted on). Ignored
 * signals never become pending. */
static int interrupted(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	sigset_t p;
	if (sigpending(&p) < 0)
		return 0;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigismember(&p, sigs[i]) == 1)
			return 1;
	return 0;
}

/* --- clean-up --------------------------------------------------------------------------- */

static int is_key(const char *name)
{
	size_t i;
	for (i = 0; name[i]; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return 0;
	return i == 64;
}

/* For ".tmp-PID.*", ".run-PID.*" and ".gc-PID.*": the PID (0 when the name has none, as
 * earlier versions wrote); -1 for other names. */
static long temp_pid(const char *name)
{
	static const char *const pre[] = { ".tmp-", ".run-", ".gc-" };
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++) {
		if (!lm_str_startswith(name, pre[i]))
			continue;
		char *end;
		long pid = strtol(name + strlen(pre[i]), &end, 10);
		return end != name + strlen(pre[i]) && *end == '.' && pid > 0 ? pid : 0;
	}
	return -1;
}

static int process_gone(long pid)
{
	return pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Takes an exclusive lock on dir/name without waiting: the directory's fd, or -1 when it
 * is held by someone (or cannot be opened). */
static int lock_exclusive(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

struct used {
	char *name;
	struct timespec mtime;
};

static int cmp_recent(const void *a, const void *b)
{
	const struct used *x = a, *y = b;
	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec > y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec > y->mtime.tv_nsec ? -1 : 1;
	return strcmp(x->name, y->name);
}

size_t rootfs_gc(const char *dir, size_t keep, char *const *spare, size_t nspare)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct used *v = NULL;
	size_t n = 0, cap = 0, removed = 0;
	int dfd;

	if (!d)
		return 0;
	dfd = dirfd(d);
	while ((de = readdir(d))) {
		struct stat st;
		long pid = temp_pid(de->d_name);
		if (pid >= 0) {
			/* a temporary directory: its owner holds a lock on it while it works on it
			 * (.tmp, .gc) or is alive (.run) */
			int fd;
			if (pid == 0 && (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
					 st.st_mtime > time(NULL) - 86400))
				continue; /* no owner recorded: only when a day old */
			if (pid > 0 && !process_gone(pid))
				continue;
			if ((fd = lock_exclusive(dfd, de->d_name)) < 0)
				continue;
			char *p = lm_path_join(dir, de->d_name);
			lm_rm_rf_quiet(p);
			free(p);
			close(fd);
			removed++;
			continue;
		}
		if (!is_key(de->d_name) || fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISDIR(st.st_mode))
			continue;
		lm_grow((void **)&v, &cap, n + 1, sizeof(*v));
		v[n].name = lm_xstrdup(de->d_name);
		v[n].mtime = st.st_mtim;
		n++;
	}
	if (n > keep)
		qsort(v, n, sizeof(*v), cmp_recent);
	for (size_t i = keep; i < n; i++) {
		int spared = 0, fd;
		for (size_t k = 0; k < nspare && !spared; k++)
			spared = strcmp(spare[k], v[i].name) == 0;
		if (spared || (fd = lock_exclusive(dfd, v[i].name)) < 0)
			continue;
		/* out of the way first: a rootfs_open that finds the name finds a whole one */
		char *gc = lm_asprintf(".gc-%ld.%s", (long)getpid(), v[i].name);
		if (renameat(dfd, v[i].name, dfd, gc) == 0) {
			char *p = lm_path_join(dir, gc);
			lm_rm_rf_quiet(p);
			free(p);
			removed++;
		}
		free(gc);
		close(fd);
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	closedir(d);
	return removed;
}

/* --- the cache ----------------------------------------------------------------------------- */

static char *chain_key(const struct oci_descriptor *layers, size_t n)
{
	struct digest_ctx d;
	char out[LM_DIGEST_LEN];
	digest_init(&d);
	for (size_t i = 0; i < n; i++) {
		digest_update(&d, layers[i].digest, strlen(layers[i].digest));
		digest_update(&d, "\n", 1);
	}
	digest_final(&d, out);
	return lm_xstrdup(digest_hex(out));
}

/* Hard-link clone of the tree at sfd into dfd (directories are copied). */
static int clone_tree(int sfd, int dfd, struct lm_err *err)
{
	int d2 = dup(sfd);
	if (d2 < 0)
		return lm_err_sys(err, "dup");
	DIR *d = fdopendir(d2);
	if (!d) {
		close(d2);
		return lm_err_sys(err, "opendir");
	}
	struct dirent *de;
	int ret = 0;
	while (ret == 0 && (de = readdir(d))) {
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (interrupted()) {
			ret = lm_err_set(err, LM_E_GENERIC, "interrupted");
		} else if (fstatat(sfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = lm_err_sys(err, "stat '%s'", de->d_name);
		} else if (S_ISDIR(st.st_mode)) {
			int s2 = -1, t2 = -1;
			if (mkdirat(dfd, de->d_name, 0700) < 0 ||
			    (s2 = openat(sfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0 ||
			    (t2 = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
				ret = lm_err_sys(err, "clone directory '%s'", de->d_name);
			} else {
				ret = clone_tree(s2, t2, err);
				if (ret == 0 && geteuid() == 0)
					(void)fchown(t2, st.st_uid, st.st_gid);
				if (ret == 0)
					(void)fchmod(t2, rootfs_safe_mode(st.st_mode & 07777));
			}
			if (s2 >= 0)
				close(s2);
			if (t2 >= 0)
				close(t2);
		} else if (linkat(sfd, de->d_name, dfd, de->d_name, 0) < 0) {
			ret = lm_err_sys(err, "link '%s'", de->d_name);
		}
	}
	closedir(d);
	return ret;
}

static int open_layer(struct archive **out, const char *path, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_IO, "open layer '%s': %s", path, archive_error_string(a));
		archive_read_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

/* Opens path and takes a shared lock on it: the fd, or -1 when there is no such
 * directory (any more: one removed while we waited for the lock does not count). */
static int open_held(const char *path)
{
	struct stat a, b;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_SH) < 0) {
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	}
	if (fstat(fd, &a) < 0 || stat(path, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The tree being assembled in *tmp (open as *fd, locked) becomes top/key as it is, and
 * work goes on in a new temporary copy of it (hard links: the layers still to come
 * replace files, never write into them). */
static int keep_prefix(const char *top, const char *key, const char *prefix, char **tmp, int *fd, struct lm_err *err)
{
	char *t2 = lm_mkdtemp(top, prefix, err), *dst = NULL;
	int fd2 = -1, ret = -1;
	if (!t2)
		return -1;
	fd2 = open(t2, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd2 < 0 || flock(fd2, LOCK_EX) < 0) {
		lm_err_sys(err, "open '%s'", t2);
		goto out;
	}
	if (clone_tree(*fd, fd2, err) < 0)
		goto out;
	if (fchmod(*fd, 0700) < 0) {
		lm_err_sys(err, "chmod '%s'", *tmp);
		goto out;
	}
	dst = lm_path_join(top, key);
	if (rename(*tmp, dst) == 0)
		lm_cleanup_forget(*tmp);
	else if (errno == EEXIST || errno == ENOTEMPTY)
		lm_rm_rf_quiet(*tmp); /* another process kept it first */
	else {
		lm_err_sys(err, "rename '%s'", *tmp);
		goto out;
	}
	free(*tmp);
	close(*fd);
	*tmp = t2;
	*fd = fd2;
	t2 = NULL;
	fd2 = -1;
	ret = 0;
out:
	if (fd2 >= 0)
		close(fd2);
	lm_rm_rf_quiet(t2);
	free(t2);
	free(dst);
	return ret;
}

/* Assembles the root filesystem of layers[0..n) into top/keys[n] (keys[k]: the key of the
 * first k layers), with the held signals blocked. */
static int build(struct cache *c, const char *top, char *const *keys, const struct oci_descriptor *layers,
		 size_t n, struct lm_err *err)
{
	sigset_t hold, old;
	char *tmp = NULL, *final = lm_path_join(top, keys[n]);
	char prefix[48];
	size_t start = 0;
	int fd = -1, ret = -1;

	held_signals(&hold);
	pthread_sigmask(SIG_BLOCK, &hold, &old);
	snprintf(prefix, sizeof(prefix), ".tmp-%ld", (long)getpid());
	tmp = lm_mkdtemp(top, prefix, err);
	if (!tmp)
		goto out;
	fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		lm_err_sys(err, "open '%s'", tmp);
		goto out;
	}
	/* start from the longest cached prefix */
	for (size_t k = n; k-- > 1;) {
		char *pdir = lm_path_join(top, keys[k]);
		int pfd = open_held(pdir);
		free(pdir);
		if (pfd < 0)
			continue;
		(void)futimens(pfd, NULL);
		int r = clone_tree(pfd, fd, err);
		close(pfd);
		if (r < 0)
			goto out;
		start = k;
		break;
	}
	for (size_t i = start; i < n; i++) {
		/* Before the last layer of several, the prefix is kept too (keys[n-1]): the next
		 * image that differs only in its last layer (an app change) starts from it, with
		 * hard links, instead of extracting the unchanged layers again. */
		if (i == n - 1 && n - start >= 2 && keep_prefix(top, keys[n - 1], prefix, &tmp, &fd, err) < 0)
			goto out;
		char *blob = cache_blob_path(c, layers[i].digest);
		struct archive *a = NULL;
		int r = open_layer(&a, blob, err);
		if (r == 0) {
			r = apply_tar(fd, a, 1, err);
			archive_read_free(a);
		}
		free(blob);
		if (r < 0) {
			lm_err_wrap(err, "layer %zu (%s)", i + 1, layers[i].digest);
			goto out;
		}
	}
	if (fchmod(fd, 0700) < 0) {
		lm_err_sys(err, "chmod '%s'", tmp);
		goto out;
	}
	if (rename(tmp, final) < 0) {
		if (errno != EEXIST && errno != ENOTEMPTY) {
			lm_err_sys(err, "rename '%s'", tmp);
			goto out;
		}
		/* another process finished first: use its copy (tmp goes below) */
	} else {
		lm_cleanup_forget(tmp);
		free(tmp);
		tmp = NULL;
	}
	ret = 0;
out:
	lm_rm_rf_quiet(tmp);
	if (fd >= 0)
		close(fd);
	free(tmp);
	free(final);
	/* a held signal now takes effect, with nothing half-built left behind */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ret;
}

int rootfs_open(struct rootfs *r, struct cache *c, const struct oci_descriptor *layers, size_t n,
		struct lm_err *err)
{
	char *top = lm_path_join(cache_dir(c), "rootfs");
	char **keys = lm_xcalloc(n + 1, sizeof(*keys));
	char *final = NULL;
	int ret = -1;

	for (size_t k = 0; k <= n; k++)
		keys[k] = chain_key(layers, k);
	final = lm_path_join(top, keys[n]);
	if (lm_mkdir_p(top, err) < 0)
		goto out;
	chmod(top, 0700);
	{
		/* room for the one this call may add: ROOTFS_KEEP with it (and any in use) */
		struct stat st;
		rootfs_gc(top, stat(final, &st) == 0 ? ROOTFS_KEEP : ROOTFS_KEEP - 1, keys + 1, n);
	}
	/* a concurrent clean-up may remove it between the build and the lock: try again */
	for (int attempt = 0; attempt < 3; attempt++) {
		int fd = open_held(final);
		if (fd >= 0) {
			(void)futimens(fd, NULL); /* the last use, for the clean-up */
			r->path = final;
			r->fd = fd;
			final = NULL;
			ret = 0;
			goto out;
		}
		if (build(c, top, keys, layers, n, err) < 0)
			goto out;
	}
	lm_err_set(err, LM_E_IO, "root filesystem '%s' was removed while in use three times", final);
out:
	for (size_t k = 0; k <= n; k++)
		free(keys[k]);
	free(keys);
	free(final);
	free(top);
	return ret;
}

void rootfs_close(struct rootfs *r)
{
	if (!r)
		return;
	if (r->path && r->fd >= 0)
		close(r->fd);
	free(r->path);
	r->path = NULL;
	r->fd = -1;
}

char *rootfs_get(struct cache *c, const struct oci_descriptor *layers, size_t n, struct lm_err *err)
{
	struct rootfs r;
	char *p;
	if (rootfs_open(&r, c, layers, n, err) < 0)
		return NULL;
	p = r.path;
	r.path = NULL;
	close(r.fd);
	return p;
}

char *rootfs_tmpdir(struct cache *c, struct lm_err *err)
{
	char *top = lm_path_join(cache_dir(c), "rootfs");
	char prefix[48], *t = NULL;
	snprintf(prefix, sizeof(prefix), ".run-%ld", (long)getpid());
	if (lm_mkdir_p(top, err) == 0)
		t = lm_mkdtemp(top, prefix, err);
	free(top);
	return t;
}

int rootfs_is_executable(const char *root, const char *path)
{
	char *cur = rootfs_clean_path(path);
	int hops = 0, ok = 0;

	while (cur && hops++ < 40) {
		/* find the first component that is a symlink */
		char *host = NULL, *link = NULL;
		size_t i = 0, len = strlen(cur);
		int resolved = 0;
		for (;;) {
			while (i < len && cur[i] != '/')
				i++;
			char *pre = lm_xstrndup(cur, i);
			struct stat st;
			host = lm_path_join(root, pre);
			if (lstat(host, &st) < 0) {
				free(pre);
				goto done;
			}
			if (S_ISLNK(st.st_mode)) {
				char buf[PATH_MAX];
				ssize_t r = readlink(host, buf, sizeof(buf) - 1);
				if (r < 0) {
					free(pre);
					goto done;
				}
				buf[r] = '\0';
				char *dir = lm_path_dirname(pre);
				char *joined = buf[0] == '/' ? lm_asprintf("%s%s", buf, cur + i)
							     : lm_asprintf("%s/%s%s", strcmp(dir, ".") ? dir : "", buf, cur + i);
				free(dir);
				free(pre);
				/* resolve ".." lexically against the image root */
				link = joined;
				resolved = 1;
				break;
			}
			free(pre);
			if (i >= len) {
				ok = S_ISREG(st.st_mode) && (st.st_mode & 0111);
				goto done;
			}
			free(host);
			host = NULL;
			i++;
		}
		free(host);
		free(cur);
		cur = NULL;
		if (resolved) {
			/* collapse "a/../b" */
			char *parts[256];
			size_t np = 0;
			char *save = NULL;
			for (char *t = strtok_r(link, "/", &save); t && np < 256; t = strtok_r(NULL, "/", &save)) {
				if (strcmp(t, ".") == 0 || !*t)
					continue;
				if (strcmp(t, "..") == 0) {
					if (np)
						np--;
					continue;
				}
				parts[np++] = t;
			}
			size_t total = 1;
			for (size_t k = 0; k < np; k++)
				total += strlen(parts[k]) + 1;
			cur = lm_xmalloc(total);
			cur[0] = '\0';
			for (size_t k = 0; k < np; k++) {
				if (k)
					strcat(cur, "/");
				strcat(cur, parts[k]);
			}
			free(link);
		}
		continue;
	done:
		free(host);
		break;
	}
	free(cur);
	return ok;
}
