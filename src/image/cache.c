#include "image/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"

struct cache {
	cache_fallback_fn fallback;
	void *fallback_ctx;
	char **keys; /* action-cache keys used by this process */
	size_t nkeys, capkeys;
	uint64_t added; /* bytes of blobs this process added (atomic: writers run in threads) */
	int lockfd; /* cachegc.h: shared while a build runs; -1 when none */
	char **verified; /* digests checked by this process */
	size_t nverified, capverified;
	char *dir;
	char *blobs; /* <dir>/blobs/sha256 */
	char *tmp;   /* <dir>/tmp */
};

struct cache_writer {
	struct cache *c;
	char *tmpname;
	int fd;
	uint64_t size;
	struct digest_ctx dg;
};

long cache_tmp_owner(const char *name)
{
	const char *dash = strrchr(name, '-'), *dot;
	char *end;
	long pid;
	if (!dash || !(dot = strchr(dash, '.')))
		return -1;
	pid = strtol(dash + 1, &end, 10);
	return end == dot && end != dash + 1 && pid > 0 ? pid : -1;
}

/* Removes what lamina processes that no longer run left in <dir>/tmp (a build killed by
 * SIGKILL or a power cut): entries named "WHAT-PID.XXXXXX" whose PID is gone, and entries
 * without a PID (older versions) untouched for a day. Best effort. */
static void sweep_tmp(const struct cache *c)
{
	DIR *d = opendir(c->tmp);
	struct dirent *de;
	time_t now = time(NULL);
	if (!d)
		return;
	while ((de = readdir(d))) {
		long pid;
		struct stat st;
		char *p;
		if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
			continue;
		pid = cache_tmp_owner(de->d_name);
		p = lm_path_join(c->tmp, de->d_name);
		if (pid > 0 ? pid != (long)getpid() && kill((pid_t)pid, 0) < 0 && errno == ESRCH
			    : lstat(p, &st) == 0 && st.st_mtime < now - 86400)
			lm_rm_rf_quiet(p);
		free(p);
	}
	closedir(d);
}

char *cache_tmpdir(const struct cache *c, const char *what, struct lm_err *err)
{
	char *prefix = lm_asprintf("%s-%ld", what, (long)getpid());
	char *t = lm_mkdtemp(c->tmp, prefix, err);
	free(prefix);
	return t;
}

struct cache *cache_open(const char *dir, struct lm_err *err)
{
	struct cache *c;
	char *d;
	if (dir && *dir) {
		d = lm_xstrdup(dir);
	} else {
		const char *x = getenv("XDG_CACHE_HOME");
		const char *h = getenv("HOME");
		if (x && *x)
			d = lm_path_join(x, "lamina");
		else if (h && *h)
			d = lm_asprintf("%s/.cache/lamina", h);
		else {
			lm_err_set(err, LM_E_USAGE, "no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache");
			return NULL;
		}
	}
	c = lm_xcalloc(1, sizeof(*c));
	c->lockfd = -1;
	c->dir = d;
	c->blobs = lm_path_join(d, "blobs/sha256");
	c->tmp = lm_path_join(d, "tmp");
	if (lm_mkdir_p(c->blobs, err) < 0 || lm_mkdir_p(c->tmp, err) < 0) {
		lm_err_wrap(err, "cache '%s'", d);
		cache_free(c);
		return NULL;
	}
	/* private to the user: nothing in it is anyone else's to read or run */
	{
		char *b = lm_path_join(d, "blobs");
		if (chmod(d, 0700) < 0 || chmod(b, 0700) < 0 || chmod(c->blobs, 0700) < 0 || chmod(c->tmp, 0700) < 0) {
			lm_err_sys(err, "cache '%s': make it private (0700)", d);
			free(b);
			cache_free(c);
			return NULL;
		}
		free(b);
	}
	sweep_tmp(c);
	return c;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	if (c->lockfd >= 0)
		close(c->lockfd);
	for (size_t i = 0; i < c->nkeys; i++)
		free(c->keys[i]);
	free(c->keys);
	for (size_t i = 0; i < c->nverified; i++)
		free(c->verified[i]);
	free(c->verified);
	free(c->dir);
	free(c->blobs);
	free(c->tmp);
	free(c);
}

void cache_set_fallback(struct cache *c, cache_fallback_fn fn, void *ctx)
{
	c->fallback = fn;
	c->fallback_ctx = ctx;
}

int cache_fallback(struct cache *c, const char *key)
{
	return c->fallback ? c->fallback(c->fallback_ctx, key) : 0;
}

void cache_note_key(struct cache *c, const char *key)
{
	lm_grow((void **)&c->keys, &c->capkeys, c->nkeys + 1, sizeof(*c->keys));
	c->keys[c->nkeys++] = lm_xstrdup(key);
}

char *const *cache_keys(const struct cache *c, size_t *n)
{
	*n = c->nkeys;
	return c->keys;
}

uint64_t cache_added(const struct cache *c)
{
	return __atomic_load_n(&c->added, __ATOMIC_RELAXED);
}

int cache_lock_fd(const struct cache *c)
{
	return c->lockfd;
}

void cache_set_lock(struct cache *c, int fd)
{
	if (c->lockfd >= 0)
		close(c->lockfd);
	for (size_t i = 0; i < c->nkeys; i++)
		free(c->keys[i]);
	free(c->keys);
	c->lockfd = fd;
}

const char *cache_dir(const struct cache *c)
{
	return c->dir;
}

char *cache_blob_path(const struct cache *c, const char *digest)
{
	return lm_path_join(c->blobs, digest_valid(digest) ? digest_hex(digest) : "invalid");
}

int cache_has(const struct cache *c, const char *digest, int64_t size)
{
	struct stat st;
	char *p;
	int ok;
	if (!digest_valid(digest))
		return 0;
	p = cache_blob_path(c, digest);
	ok = stat(p, &st) == 0 && S_ISREG(st.st_mode) && (size < 0 || st.st_size == size);
	free(p);
	return ok;
}

void cache_touch(const struct cache *c, const char *digest)
{
	char *p;
	if (!digest_valid(digest))
		return;
	p = cache_blob_path(c, digest);
	utimensat(AT_FDCWD, p, NULL, 0);
	free(p);
}

void cache_mark_verified(struct cache *c, const char *digest)
{
	if (!digest_valid(digest) || cache_is_verified(c, digest))
		return;
	lm_grow((void **)&c->verified, &c->capverified, c->nverified + 1, sizeof(*c->verified));
	c->verified[c->nverified++] = lm_xstrdup(digest);
}

int cache_is_verified(const struct cache *c, const char *digest)
{
	for (size_t i = 0; i < c->nverified; i++)
		if (strcmp(c->verified[i], digest) == 0)
			return 1;
	return 0;
}

int cache_blob_check(struct cache *c, const char *digest, int64_t size)
{
	struct lm_err e = LM_ERR_INIT;
	char got[LM_DIGEST_LEN];
	uint64_t n = 0;
	char *p;
	int r;
	if (!digest_valid(digest))
		return 0;
	p = cache_blob_path(c, digest);
	if (access(p, F_OK) < 0) {
		free(p);
		return 0;
	}
	r = digest_file(p, got, &n, &e) == 0 && strcmp(got, digest) == 0 && (size < 0 || n == (uint64_t)size);
	lm_err_release(&e);
	if (r) {
		utimensat(AT_FDCWD, p, NULL, 0);
		cache_mark_verified(c, digest);
	} else {
		unlink(p);
	}
	free(p);
	return r ? 1 : -1;
}

struct cache_writer *cache_writer_new(struct cache *c, struct lm_err *err)
{
	struct cache_writer *w = lm_xcalloc(1, sizeof(*w));
	w->c = c;
	w->tmpname = lm_asprintf("%s/blob-%ld.XXXXXX", c->tmp, (long)getpid());
	w->fd = mkostemp(w->tmpname, O_CLOEXEC);
	if (w->fd < 0) {
		lm_err_sys(err, "create temporary blob in '%s'", c->tmp);
		free(w->tmpname);
		free(w);
		return NULL;
	}
	digest_init(&w->dg);
	return w;
}

int cache_writer_write(struct cache_writer *w, const void *data, size_t len, struct lm_err *err)
{
	if (lm_write_all(w->fd, data, len) < 0)
		return lm_err_sys(err, "write '%s'", w->tmpname);
	digest_update(&w->dg, data, len);
	w->size += len;
	return 0;
}

int cache_writer_sink(void *w, const void *data, size_t len, struct lm_err *err)
{
	return cache_writer_write(w, data, len, err);
}

uint64_t cache_writer_size(const struct cache_writer *w)
{
	return w->size;
}

void cache_writer_abort(struct cache_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	unlink(w->tmpname);
	digest_abort(&w->dg);
	free(w->tmpname);
	free(w);
}

int cache_writer_commit(struct cache_writer *w, const char *expect, int64_t expect_size,
			char out[LM_DIGEST_LEN], struct lm_err *err)
{
	char got[LM_DIGEST_LEN];
	char *final = NULL;
	int fd = w->fd;
	w->fd = -1;
	digest_final(&w->dg, got);
	if (fchmod(fd, 0644) < 0 || close(fd) < 0) {
		lm_err_sys(err, "write '%s'", w->tmpname);
		goto fail;
	}
	if (expect_size >= 0 && w->size != (uint64_t)expect_size) {
		lm_err_set(err, LM_E_VERIFY, "size mismatch for %s: expected %lld bytes, got %llu",
			   expect ? expect : got, (long long)expect_size, (unsigned long long)w->size);
		goto fail;
	}
	if (expect && strcmp(expect, got) != 0) {
		lm_err_set(err, LM_E_VERIFY, "digest mismatch: expected %s, got %s", expect, got);
		goto fail;
	}
	final = cache_blob_path(w->c, got);
	/* Same digest, same bytes: keep the blob already there. Renaming over it would free
	 * its blocks and, on ext4, flush the new file first (40 ms for a 60 MB layer). */
	if (cache_has(w->c, got, (int64_t)w->size)) {
		unlink(w->tmpname);
	} else if (rename(w->tmpname, final) < 0) {
		lm_err_sys(err, "rename '%s' to '%s'", w->tmpname, final);
		goto fail;
	} else {
		__atomic_fetch_add(&w->c->added, w->size, __ATOMIC_RELAXED);
	}
	if (out)
		memcpy(out, got, LM_DIGEST_LEN);
	free(final);
	free(w->tmpname);
	free(w);
	return 0;
fail:
	free(final);
	unlink(w->tmpname);
	free(w->tmpname);
	free(w);
	return -1;
}

int cache_put_buf(struct cache *c, const void *data, size_t len, char out[LM_DIGEST_LEN], struct lm_err *err)
{
	struct cache_writer *w = cache_writer_new(c, err);
	if (!w)
		return -1;
	if (cache_writer_write(w, data, len, err) < 0) {
		cache_writer_abort(w);
		return -1;
	}
	return cache_writer_commit(w, NULL, (int64_t)len, out, err);
}

int cache_put_file(struct cache *c, const char *path, char out[LM_DIGEST_LEN], struct lm_err *err)
{
	char dg[LM_DIGEST_LEN], *final = NULL, *data = NULL;
	uint64_t size = 0;
	size_t len = 0;
	int ret = -1;
	if (digest_file(path, dg, &size, err) < 0)
		return -1;
	if (cache_has(c, dg, (int64_t)size)) {
		ret = 0;
		goto out;
	}
	final = cache_blob_path(c, dg);
	if (link(path, final) == 0) {
		__atomic_fetch_add(&c->added, size, __ATOMIC_RELAXED);
		ret = 0;
		goto out;
	}
	if (errno == EEXIST) {
		ret = 0;
		goto out;
	}
	/* another file system: copy, hashed again on the way in */
	if (lm_read_file(path, (size_t)1 << 31, &data, &len, err) < 0)
		goto out;
	ret = cache_put_buf(c, data, len, dg, err);
out:
	if (ret == 0)
		memcpy(out, dg, LM_DIGEST_LEN);
	free(final);
	free(data);
	return ret;
}

int cache_read_blob(const struct cache *c, const char *digest, size_t cap, char **out, size_t *len,
		    struct lm_err *err)
{
	char got[LM_DIGEST_LEN];
	char *p = cache_blob_path(c, digest), *data = NULL;
	size_t n = 0;
	if (lm_read_file(p, cap, &data, &n, err) < 0) {
		free(p);
		return -1;
	}
	free(p);
	digest_buf(data, n, got);
	if (strcmp(got, digest) != 0) {
		free(data);
		return lm_err_set(err, LM_E_VERIFY, "cached blob %s is corrupt (content hashes to %s)", digest, got);
	}
	*out = data;
	if (len)
		*len = n;
	return 0;
}
