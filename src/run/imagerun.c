/* imagerun.c - running an image's programs inside it (see imagerun.h). */
#include "run/imagerun.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "run/rootfs.h"
#include "run/sandbox.h"

struct imagerun {
	struct oci_config *cfg;
	struct oci_config_view view;
	struct rootfs rfs;
	char **env;
	char *tmp;       /* private temporary directory */
	unsigned nruns;  /* io directories made */
	char **overlays; /* made by imagerun_overlay, inside tmp */
	size_t noverlays;
};

int imagerun_open(struct imagerun **out, const struct lm_image *img, struct cache *c, const struct imagerun_opts *o,
		  struct lm_err *err)
{
	struct imagerun *r = lm_xcalloc(1, sizeof(*r));
	r->rfs.fd = -1;
	if (oci_config_parse(img->config_raw, img->config_len, &r->cfg, err) < 0) {
		lm_err_wrap(err, "image config");
		goto fail;
	}
	oci_config_view_get(r->cfg, &r->view);
	if (rootfs_open(&r->rfs, c, img->manifest.layers, img->manifest.nlayers, err) < 0) {
		lm_err_wrap(err, "root filesystem of the image");
		goto fail;
	}
	r->env = sandbox_env(r->view.env, r->view.nenv, o ? o->env : NULL, o ? o->nenv : 0);
	r->tmp = o && o->workdir ? lm_mkdtemp(o->workdir, "run", err) : rootfs_tmpdir(c, err);
	if (!r->tmp)
		goto fail;
	*out = r;
	return 0;
fail:
	imagerun_close(r);
	return -1;
}

void imagerun_close(struct imagerun *r)
{
	if (!r)
		return;
	lm_rm_rf_quiet(r->tmp);
	free(r->tmp);
	for (size_t i = 0; i < r->noverlays; i++)
		free(r->overlays[i]);
	free(r->overlays);
	sandbox_env_free(r->env);
	oci_config_view_release(&r->view);
	oci_config_free(r->cfg);
	rootfs_close(&r->rfs);
	free(r);
}

const struct oci_config_view *imagerun_config(const struct imagerun *r)
{
	return &r->view;
}

const char *imagerun_root(const struct imagerun *r)
{
	return r->rfs.path;
}

char *const *imagerun_env(const struct imagerun *r)
{
	return r->env;
}

const char *imagerun_getenv(const struct imagerun *r, const char *key)
{
	return sandbox_env_get(r->env, key);
}

char *imagerun_find(const struct imagerun *r, const char *name, const char *overlay)
{
	const char *path = sandbox_env_get(r->env, "PATH");
	char *first = lm_asprintf("/var/lang/bin/%s", name), *dirs, *save = NULL, *found = NULL;
	if ((overlay && rootfs_is_executable(overlay, first)) || rootfs_is_executable(r->rfs.path, first))
		return first;
	free(first);
	dirs = lm_xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		char *cand;
		if (d[0] != '/')
			continue;
		cand = lm_path_join(d, name);
		if ((overlay && rootfs_is_executable(overlay, cand)) || rootfs_is_executable(r->rfs.path, cand))
			found = cand;
		else
			free(cand);
	}
	free(dirs);
	return found;
}

const char *imagerun_overlay(struct imagerun *r, struct lm_err *err)
{
	char *p = lm_asprintf("%s/overlay%zu", r->tmp, r->noverlays);
	if (lm_mkdir_p(p, err) < 0) {
		free(p);
		return NULL;
	}
	r->overlays = lm_xrealloc(r->overlays, (r->noverlays + 1) * sizeof(*r->overlays));
	r->overlays[r->noverlays++] = p;
	return p;
}

/* --- reading what a run left, without following anything ----------------------------- */

/* Opens rel below dirfd, every component with O_NOFOLLOW: directories on the way, and the
 * last with flags (| O_NOFOLLOW | O_NONBLOCK: a FIFO does not block the open). Returns the
 * fd, or -1 with errno (ELOOP for a symlink, EINVAL for a bad path). */
static int open_beneath(int dirfd, const char *rel, int flags)
{
	char *copy, *save = NULL, *comp, *next;
	/* a new open file description, not dup(): a dup shares the directory offset, so
	 * a second listing of the io directory would start where the first one ended */
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (!*rel)
		return fd;
	copy = lm_xstrdup(rel);
	if (copy[0] == '/') {
		free(copy);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	for (comp = strtok_r(copy, "/", &save); comp; comp = next) {
		int nfd;
		next = strtok_r(NULL, "/", &save);
		if (strcmp(comp, "..") == 0 || strcmp(comp, ".") == 0) {
			close(fd);
			free(copy);
			errno = EINVAL;
			return -1;
		}
		nfd = next ? openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
			   : openat(fd, comp, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		close(fd);
		if (nfd < 0) {
			int e = errno;
			free(copy);
			errno = e == ENOTDIR && next ? ELOOP : e; /* a symlink on the way, with O_DIRECTORY */
			return -1;
		}
		fd = nfd;
	}
	free(copy);
	return fd;
}

/* The error for something at rel that is not what a result should be. */
static int not_result(const struct imagerun_out *out, const char *rel, int e, struct lm_err *err)
{
	if (e == ENOENT) {
		errno = ENOENT;
		return lm_err_sys(err, "'%s' in the run's output", rel);
	}
	if (e == ELOOP || e == EINVAL || e == ENOTDIR)
		return lm_err_set(err, LM_E_VERIFY,
				  "'%s' in the output of the image's program is a symlink or reached through one: refused "
				  "(%s)",
				  rel, out->io);
	errno = e;
	return lm_err_sys(err, "open '%s/%s'", out->io, rel);
}

/* Opens a result file: a regular file, at most cap bytes. */
static int open_result(const struct imagerun_out *out, const char *rel, uint64_t cap, struct stat *st,
		       struct lm_err *err)
{
	int fd = open_beneath(out->iofd, rel, O_RDONLY);
	if (fd < 0)
		return not_result(out, rel, errno, err);
	if (fstat(fd, st) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return lm_err_sys(err, "stat '%s/%s'", out->io, rel);
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return lm_err_set(err, LM_E_VERIFY,
				  "'%s' in the output of the image's program is not a regular file: refused (%s)", rel,
				  out->io);
	}
	if ((uint64_t)st->st_size > cap) {
		close(fd);
		return lm_err_set(err, LM_E_VERIFY,
				  "'%s' in the output of the image's program is larger than %llu bytes: refused", rel,
				  (unsigned long long)cap);
	}
	/* back to blocking reads: it is a regular file */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

int imagerun_read(const struct imagerun_out *out, const char *rel, size_t cap, char **data, size_t *len,
		  struct lm_err *err)
{
	struct stat st;
	size_t n = 0, want;
	char *buf;
	int fd = open_result(out, rel, cap, &st, err);
	if (fd < 0)
		return -1;
	want = (size_t)st.st_size;
	buf = lm_xmalloc(want + 1);
	while (n < want) {
		ssize_t r = read(fd, buf + n, want - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lm_err_sys(err, "read '%s/%s'", out->io, rel);
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break; /* shrank: what is there is what we read */
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*data = buf;
	if (len)
		*len = n;
	return 0;
}

int imagerun_copy_out(const struct imagerun_out *out, const char *rel, const char *dst, uint64_t cap,
		      uint64_t *size, struct lm_err *err)
{
	struct stat st;
	char buf[1 << 16];
	uint64_t n = 0;
	int in = open_result(out, rel, cap, &st, err), o = -1, ret = -1;
	if (in < 0)
		return -1;
	if ((o = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0) {
		lm_err_sys(err, "create '%s'", dst);
		goto out;
	}
	for (;;) {
		ssize_t r = read(in, buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lm_err_sys(err, "read '%s/%s'", out->io, rel);
			goto out;
		}
		if (r == 0)
			break;
		if ((n += (uint64_t)r) > cap) {
			lm_err_set(err, LM_E_VERIFY, "'%s' grew past %llu bytes while it was read: refused", rel,
				   (unsigned long long)cap);
			goto out;
		}
		if (lm_write_all(o, buf, (size_t)r) < 0) {
			lm_err_sys(err, "write '%s'", dst);
			goto out;
		}
	}
	if (close(o) < 0) {
		o = -1;
		lm_err_sys(err, "write '%s'", dst);
		goto out;
	}
	o = -1;
	if (size)
		*size = n;
	ret = 0;
out:
	close(in);
	if (o >= 0)
		close(o);
	if (ret < 0)
		unlink(dst);
	return ret;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void imagerun_names_free(char **names)
{
	if (!names)
		return;
	for (char **p = names; *p; p++)
		free(*p);
	free(names);
}

int imagerun_list(const struct imagerun_out *out, const char *rel, size_t max, char ***names, size_t *n,
		  struct lm_err *err)
{
	int fd = open_beneath(out->iofd, rel, O_RDONLY | O_DIRECTORY);
	char **v = NULL;
	size_t k = 0;
	DIR *d;
	struct dirent *de;
	if (fd < 0)
		return not_result(out, rel, errno, err);
	if (!(d = fdopendir(fd))) {
		close(fd);
		return lm_err_sys(err, "read directory '%s/%s'", out->io, rel);
	}
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (k >= max) {
			closedir(d);
			v = lm_xrealloc(v, (k + 1) * sizeof(*v));
			v[k] = NULL;
			imagerun_names_free(v);
			return lm_err_set(err, LM_E_VERIFY, "'%s' in the output of the image's program holds more than %zu "
							    "entries: refused",
					  rel, max);
		}
		v = lm_xrealloc(v, (k + 2) * sizeof(*v));
		v[k++] = lm_xstrdup(de->d_name);
	}
	closedir(d);
	v = lm_xrealloc(v, (k + 1) * sizeof(*v));
	v[k] = NULL;
	qsort(v, k, sizeof(*v), cmp_name);
	*names = v;
	if (n)
		*n = k;
	return 0;
}

int imagerun_type(const struct imagerun_out *out, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	char *dir = slash ? lm_xstrndup(rel, (size_t)(slash - rel)) : lm_xstrdup("");
	int dfd = open_beneath(out->iofd, dir, O_RDONLY | O_DIRECTORY), t = 0;
	struct stat st;
	free(dir);
	if (dfd < 0)
		return 0;
	if (fstatat(dfd, slash ? slash + 1 : rel, &st, AT_SYMLINK_NOFOLLOW) == 0)
		t = S_ISREG(st.st_mode) ? 'f' : S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : '?';
	close(dfd);
	return t;
}

char *imagerun_log_tail(const struct imagerun_out *out, size_t max)
{
	struct lm_err e = LM_ERR_INIT;
	char *text = NULL, *r;
	size_t len = 0;
	if (imagerun_read(out, "log", (size_t)64 << 20, &text, &len, &e) < 0) {
		lm_err_release(&e);
		return lm_xstrdup("");
	}
	r = lm_xstrdup(len > max ? text + len - max : text);
	free(text);
	return r;
}

/* --- runs ----------------------------------------------------------------------------- */

void imagerun_out_release(struct imagerun_out *out)
{
	if (!out)
		return;
	if (out->iofd >= 0)
		close(out->iofd);
	out->iofd = -1;
	if (out->io) {
		char *run = lm_path_dirname(out->io);
		lm_rm_rf_quiet(run);
		free(run);
	}
	free(out->io);
	out->io = NULL;
}

int imagerun_exec(struct imagerun *r, const struct imagerun_call *call, struct imagerun_out *out,
		  struct lm_err *err)
{
	char *run = lm_asprintf("%s/run%u", r->tmp, r->nruns++);
	char *io = lm_path_join(run, "io"), *scratch = lm_path_join(run, "scratch"), *logp = NULL;
	char **env = NULL;
	size_t nenv = 0;
	int logfd = -1, status = 0, ret = -1;
	const char *wd = call->workdir ? call->workdir
			 : r->view.workdir && *r->view.workdir ? r->view.workdir
								 : "/";

	memset(out, 0, sizeof(*out));
	out->iofd = -1;
	if (lm_mkdir_p(io, err) < 0 || lm_mkdir_p(scratch, err) < 0)
		goto out;
	for (size_t i = 0; i < call->nfiles; i++) {
		char *p = lm_path_join(io, call->files[i].name);
		int w = lm_write_file_atomic(p, call->files[i].data, call->files[i].len, err);
		free(p);
		if (w < 0)
			goto out;
	}
	logp = lm_path_join(io, "log");
	logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (logfd < 0) {
		lm_err_sys(err, "create '%s'", logp);
		goto out;
	}
	while (r->env[nenv])
		nenv++;
	env = sandbox_env(r->env, nenv, call->env, call->nenv);
	{
		struct sandbox_spec sp = { .rootfs = r->rfs.path, .overlay = call->overlay, .io = io, .scratch = scratch,
					   .argv = call->argv, .env = env, .workdir = wd, .stdout_fd = logfd,
					   .stderr_fd = logfd };
		if (sandbox_run(&sp, &status, err) < 0)
			goto out;
	}
	out->iofd = open(io, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out->iofd < 0) {
		lm_err_sys(err, "open '%s'", io);
		goto out;
	}
	out->status = status;
	out->io = io;
	io = NULL;
	ret = 0;
out:
	if (logfd >= 0)
		close(logfd);
	if (ret < 0)
		lm_rm_rf_quiet(run);
	sandbox_env_free(env);
	free(logp);
	free(scratch);
	free(io);
	free(run);
	return ret;
}
