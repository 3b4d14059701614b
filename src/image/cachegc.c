/* cachegc.c - the size bound of the cache (see cachegc.h). */
#include "image/cachegc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"

int cache_size_parse(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	switch (*end) {
	case '\0':
		break;
	case 'k': case 'K': mul = 1ULL << 10; end++; break;
	case 'm': case 'M': mul = 1ULL << 20; end++; break;
	case 'g': case 'G': mul = 1ULL << 30; end++; break;
	case 't': case 'T': mul = 1ULL << 40; end++; break;
	default:
		return -1;
	}
	if (mul > 1 && (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0))
		end += strlen(end);
	if (*end || (v && mul > UINT64_MAX / v))
		return -1;
	*out = (uint64_t)v * mul;
	return 0;
}

/* Bytes a file takes on disk. */
static uint64_t disk(const struct stat *st)
{
	return (uint64_t)st->st_blocks * 512;
}

/* Sums a tree's bytes on disk (no symlinks followed). */
static uint64_t tree_bytes(const char *path, uint64_t *n)
{
	struct stat st;
	uint64_t sum = 0;
	DIR *d;
	struct dirent *de;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISDIR(st.st_mode))
		return disk(&st);
	sum = disk(&st);
	if (!(d = opendir(path)))
		return sum;
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = lm_path_join(path, de->d_name);
		sum += tree_bytes(p, NULL);
		free(p);
		if (n)
			(*n)++;
	}
	closedir(d);
	return sum;
}

/* One thing the cleaner may remove. */
struct item {
	char *path;
	uint64_t bytes;
	int64_t used;    /* mtime, or for a blob the latest use of a record naming it */
	char hex[65];    /* blobs: their digest's hex; records: "" */
};

struct items {
	struct item *v;
	size_t n, cap;
};

static void items_add(struct items *it, char *path, const struct stat *st, const char *hex)
{
	lm_grow((void **)&it->v, &it->cap, it->n + 1, sizeof(*it->v));
	struct item *x = &it->v[it->n++];
	x->path = path;
	x->bytes = disk(st);
	x->used = (int64_t)st->st_mtim.tv_sec;
	memset(x->hex, 0, sizeof(x->hex));
	if (hex)
		memcpy(x->hex, hex, strnlen(hex, sizeof(x->hex) - 1));
}

/* Adds the regular files of dir (one level) to it. */
static void list_dir(const char *dir, struct items *it, int blobs)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		char *p;
		if (de->d_name[0] == '.')
			continue;
		p = lm_path_join(dir, de->d_name);
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) && (!blobs || strlen(de->d_name) == 64))
			items_add(it, p, &st, blobs ? de->d_name : NULL);
		else
			free(p);
	}
	closedir(d);
}

static void list_records(const char *top, struct items *it)
{
	char *ac = lm_path_join(top, "ac"), *st = lm_path_join(top, "stat");
	DIR *d = opendir(ac);
	struct dirent *de;
	if (d) {
		while ((de = readdir(d))) {
			if (de->d_name[0] == '.')
				continue;
			char *sub = lm_path_join(ac, de->d_name);
			list_dir(sub, it, 0);
			free(sub);
		}
		closedir(d);
	}
	list_dir(st, it, 0);
	free(ac);
	free(st);
}

static int cmp_hex(const void *a, const void *b)
{
	return strcmp(((const struct item *)a)->hex, ((const struct item *)b)->hex);
}

static int cmp_used(const void *a, const void *b)
{
	const struct item *x = *(struct item *const *)a, *y = *(struct item *const *)b;
	return x->used < y->used ? -1 : x->used > y->used;
}

/* A blob a record names counts as used when the record was: every "sha256:<hex>" in the
 * record's text is a reference (any record format names blobs that way). */
static void propagate(const struct items *recs, struct items *blobs)
{
	qsort(blobs->v, blobs->n, sizeof(*blobs->v), cmp_hex);
	for (size_t i = 0; i < recs->n; i++) {
		struct lm_err e = LM_ERR_INIT;
		char *text = NULL;
		size_t len = 0;
		if (lm_read_file(recs->v[i].path, (size_t)64 << 20, &text, &len, &e) < 0) {
			lm_err_release(&e);
			continue;
		}
		for (char *p = strstr(text, "sha256:"); p; p = strstr(p + 7, "sha256:")) {
			struct item key, *hit;
			if (strlen(p + 7) < 64)
				break;
			memcpy(key.hex, p + 7, 64);
			key.hex[64] = '\0';
			hit = bsearch(&key, blobs->v, blobs->n, sizeof(*blobs->v), cmp_hex);
			if (hit && hit->used < recs->v[i].used)
				hit->used = recs->v[i].used;
		}
		free(text);
	}
}

void cache_lock_shared(struct cache *c)
{
	char *p = lm_path_join(cache_dir(c), "lock");
	int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	free(p);
	if (fd < 0)
		return;
	if (flock(fd, LOCK_SH) < 0) {
		close(fd);
		return;
	}
	cache_set_lock(c, fd);
}

static void write_usage(struct cache *c, uint64_t bytes)
{
	struct lm_err e = LM_ERR_INIT;
	char *p = lm_path_join(cache_dir(c), "usage"), buf[32];
	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)bytes);
	lm_write_file_atomic(p, buf, strlen(buf), &e);
	lm_err_release(&e);
	free(p);
}

int cache_du(struct cache *c, struct cache_usage *u, struct lm_err *err)
{
	struct items recs = { 0 }, blobs = { 0 };
	char *b = lm_path_join(cache_dir(c), "blobs/sha256"), *r = lm_path_join(cache_dir(c), "rootfs");
	char *t = lm_path_join(cache_dir(c), "tmp");
	(void)err;
	memset(u, 0, sizeof(*u));
	list_dir(b, &blobs, 1);
	list_records(cache_dir(c), &recs);
	for (size_t i = 0; i < blobs.n; i++) {
		u->blobs += blobs.v[i].bytes;
		free(blobs.v[i].path);
	}
	u->nblobs = blobs.n;
	for (size_t i = 0; i < recs.n; i++) {
		u->records += recs.v[i].bytes;
		free(recs.v[i].path);
	}
	u->nrecords = recs.n;
	{
		DIR *d = opendir(r);
		struct dirent *de;
		while (d && (de = readdir(d))) {
			if (strlen(de->d_name) != 64)
				continue;
			char *p = lm_path_join(r, de->d_name);
			u->rootfs += tree_bytes(p, NULL);
			u->nrootfs++;
			free(p);
		}
		if (d)
			closedir(d);
	}
	u->tmp = tree_bytes(t, NULL);
	free(blobs.v);
	free(recs.v);
	free(b);
	free(r);
	free(t);
	return 0;
}

int cache_gc(struct cache *c, uint64_t max, int wait, uint64_t *freed, int *busy, struct lm_err *err)
{
	struct items recs = { 0 }, blobs = { 0 };
	struct item **all = NULL;
	char *lockp = lm_path_join(cache_dir(c), "lock"), *b = lm_path_join(cache_dir(c), "blobs/sha256");
	uint64_t total = 0, gone = 0, target;
	int fd = cache_lock_fd(c), own = 0, ret = -1;

	*freed = 0;
	if (busy)
		*busy = 0;
	if (fd < 0) {
		fd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (fd < 0) {
			lm_err_sys(err, "open '%s'", lockp);
			goto out;
		}
		own = 1;
	}
	/* exclusive: no build runs meanwhile (our own shared lock is converted) */
	if (flock(fd, LOCK_EX | (wait ? 0 : LOCK_NB)) < 0) {
		if (errno == EWOULDBLOCK) {
			if (busy)
				*busy = 1;
			ret = 0;
		} else {
			lm_err_sys(err, "lock '%s'", lockp);
		}
		goto out;
	}
	list_dir(b, &blobs, 1);
	list_records(cache_dir(c), &recs);
	propagate(&recs, &blobs);
	all = lm_xcalloc(recs.n + blobs.n + 1, sizeof(*all));
	for (size_t i = 0; i < recs.n; i++) {
		all[i] = &recs.v[i];
		total += recs.v[i].bytes;
	}
	for (size_t i = 0; i < blobs.n; i++) {
		all[recs.n + i] = &blobs.v[i];
		total += blobs.v[i].bytes;
	}
	/* down to 90 %, so that the next builds do not clean again at once */
	target = max - max / 10;
	if (total > max || max == 0) {
		qsort(all, recs.n + blobs.n, sizeof(*all), cmp_used);
		for (size_t i = 0; i < recs.n + blobs.n && total - gone > target; i++)
			if (unlink(all[i]->path) == 0)
				gone += all[i]->bytes;
	}
	write_usage(c, total > gone ? total - gone : 0);
	*freed = gone;
	ret = 0;
	/* back to shared for the rest of the build */
	flock(fd, own ? LOCK_UN : LOCK_SH);
out:
	if (own && fd >= 0)
		close(fd);
	for (size_t i = 0; i < recs.n; i++)
		free(recs.v[i].path);
	for (size_t i = 0; i < blobs.n; i++)
		free(blobs.v[i].path);
	free(recs.v);
	free(blobs.v);
	free(all);
	free(lockp);
	free(b);
	return ret;
}

uint64_t cache_gc_after_build(struct cache *c, uint64_t added, uint64_t max)
{
	struct lm_err e = LM_ERR_INIT;
	char *p = lm_path_join(cache_dir(c), "usage"), *text = NULL;
	uint64_t est = 0, freed = 0;
	size_t len;
	int known = lm_read_file(p, 64, &text, &len, &e) == 0;
	lm_err_release(&e);
	if (known)
		est = strtoull(text, NULL, 10) + added;
	free(text);
	free(p);
	if (known && est <= max) {
		if (added)
			write_usage(c, est);
		return 0;
	}
	/* over the bound, or never measured: walk the cache once */
	if (cache_gc(c, max, 0, &freed, NULL, &e) < 0)
		lm_err_release(&e);
	return freed;
}
