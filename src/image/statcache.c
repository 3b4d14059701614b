/* statcache.c - stat records and content digests of source files (see statcache.h).
 *
 * The file: "lamina-stat 1 <save time ns>\n", then one line per file
 * "<size> <mtime ns> <ctime ns> <inode> <mode> <hex> <path>\n" (paths with a newline are
 * never recorded), then "end <sha256 hex of everything before>\n". */
#include "image/statcache.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/fs.h"

#define SC_TAG "lamina-stat 1"
#define SC_MAX ((size_t)256 << 20)

struct rec {
	char *path;
	uint64_t size, ino;
	int64_t mtime, ctime;
	unsigned mode;
	char hex[65];
	int seen; /* looked up by this run: only those are saved (the others are gone) */
};

struct statcache {
	char *file;
	int64_t saved;   /* when the loaded file was written (ns) */
	struct rec *v;   /* open addressing on path */
	size_t n, cap;   /* cap: a power of two */
	int dirty;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct rec *slot(struct statcache *sc, const char *path)
{
	size_t i = (size_t)hash_str(path) & (sc->cap - 1);
	while (sc->v[i].path && strcmp(sc->v[i].path, path) != 0)
		i = (i + 1) & (sc->cap - 1);
	return &sc->v[i];
}

static void grow(struct statcache *sc)
{
	struct rec *old = sc->v;
	size_t oc = sc->cap;
	sc->cap = oc ? oc * 2 : 1024;
	sc->v = lm_xcalloc(sc->cap, sizeof(*sc->v));
	for (size_t i = 0; i < oc; i++)
		if (old[i].path)
			*slot(sc, old[i].path) = old[i];
	free(old);
}

static struct rec *put(struct statcache *sc, const char *path)
{
	struct rec *r;
	if ((sc->n + 1) * 4 > sc->cap * 3)
		grow(sc);
	r = slot(sc, path);
	if (!r->path) {
		r->path = lm_xstrdup(path);
		sc->n++;
	}
	return r;
}

static int64_t ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Parses the file's text into sc; 0, or -1 when it is not a whole stat cache. */
static int parse(struct statcache *sc, char *text, size_t len)
{
	char want[LM_DIGEST_LEN], *end, *p, *nl;
	size_t body;
	/* the last line: "end <hex>\n" */
	if (len < 69 || text[len - 1] != '\n')
		return -1;
	end = text + len - 69; /* "end " + 64 hex + "\n" */
	if (strncmp(end, "end ", 4) != 0)
		return -1;
	body = (size_t)(end - text);
	digest_buf(text, body, want);
	if (strncmp(end + 4, digest_hex(want), 64) != 0)
		return -1;
	*end = '\0';
	if (strncmp(text, SC_TAG " ", strlen(SC_TAG " ")) != 0)
		return -1;
	sc->saved = strtoll(text + strlen(SC_TAG " "), &p, 10);
	if (*p != '\n')
		return -1;
	for (p++; *p; p = nl + 1) {
		struct rec r;
		int off = 0;
		unsigned long long size, ino;
		long long mt, ct;
		nl = strchr(p, '\n');
		if (!nl)
			return -1;
		*nl = '\0';
		if (sscanf(p, "%llu %lld %lld %llu %o %64s %n", &size, &mt, &ct, &ino, &r.mode, r.hex, &off) != 6 ||
		    off <= 0 || !p[off])
			return -1;
		struct rec *x = put(sc, p + off);
		x->size = size;
		x->mtime = mt;
		x->ctime = ct;
		x->ino = ino;
		x->mode = r.mode;
		memcpy(x->hex, r.hex, sizeof(x->hex));
	}
	return 0;
}

static void clear(struct statcache *sc)
{
	for (size_t i = 0; i < sc->cap; i++)
		free(sc->v[i].path);
	free(sc->v);
	sc->v = NULL;
	sc->n = sc->cap = 0;
	grow(sc);
}

struct statcache *statcache_load(struct cache *c, const char *srcdir, struct statcache_stats *stats)
{
	struct statcache *sc = lm_xcalloc(1, sizeof(*sc));
	struct lm_err e = LM_ERR_INIT;
	char key[LM_DIGEST_LEN], *text = NULL;
	size_t len = 0;
	digest_buf(srcdir, strlen(srcdir), key);
	sc->file = lm_asprintf("%s/stat/%s", cache_dir(c), digest_hex(key));
	grow(sc);
	if (lm_read_file(sc->file, SC_MAX, &text, &len, &e) == 0) {
		if (parse(sc, text, len) < 0) {
			clear(sc);
			sc->dirty = 1;
			if (stats)
				stats->corrupt = 1;
		}
	}
	lm_err_release(&e);
	free(text);
	return sc;
}

void statcache_free(struct statcache *sc)
{
	if (!sc)
		return;
	for (size_t i = 0; i < sc->cap; i++)
		free(sc->v[i].path);
	free(sc->v);
	free(sc->file);
	free(sc);
}

int statcache_save(struct statcache *sc, struct lm_err *err)
{
	struct lm_buf b;
	struct timespec now;
	char line[256], dg[LM_DIGEST_LEN], *dir = NULL, *tmp = NULL;
	int ret = -1, fd = -1;

	for (size_t i = 0; i < sc->cap && !sc->dirty; i++)
		sc->dirty = sc->v[i].path && sc->v[i].hex[0] && !sc->v[i].seen; /* a file gone */
	if (!sc->dirty)
		return 0;
	clock_gettime(CLOCK_REALTIME, &now);
	buf_init(&b, 0);
	snprintf(line, sizeof(line), "%s %lld\n", SC_TAG, (long long)ns(&now));
	buf_appends(&b, line);
	for (size_t i = 0; i < sc->cap; i++) {
		const struct rec *r = &sc->v[i];
		if (!r->path || !r->seen || !r->hex[0])
			continue;
		snprintf(line, sizeof(line), "%llu %lld %lld %llu %o %s ", (unsigned long long)r->size,
			 (long long)r->mtime, (long long)r->ctime, (unsigned long long)r->ino, r->mode, r->hex);
		buf_appends(&b, line);
		buf_appends(&b, r->path);
		buf_appends(&b, "\n");
	}
	digest_buf(b.data, b.len, dg);
	snprintf(line, sizeof(line), "end %s\n", digest_hex(dg));
	buf_appends(&b, line);
	dir = lm_path_dirname(sc->file);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		lm_err_sys(err, "create '%s'", dir);
		goto out;
	}
	/* no fsync: a file cut short by a crash fails its digest and is rebuilt */
	if ((fd = lm_tmpfile_beside(sc->file, &tmp, err)) < 0)
		goto out;
	if (lm_write_all(fd, b.data, b.len) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		close(fd);
		lm_tmpfile_discard(tmp);
		goto out;
	}
	if (lm_tmpfile_commit(fd, tmp, sc->file, 0, err) < 0)
		goto out;
	sc->dirty = 0;
	ret = 0;
out:
	buf_release(&b);
	free(dir);
	free(tmp);
	return ret;
}

int statcache_hash_tree(struct statcache *sc, struct lm_tree *t, struct statcache_stats *stats,
			struct lm_err *err)
{
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		struct stat st;
		struct rec *r = NULL;
		uint64_t size = 0;
		if (e->type != LM_F_REG || !e->src || e->digest[0])
			continue;
		if (stats)
			stats->files++;
		/* what the scan saw (one stat per file), else a stat now */
		int have = 0;
		if (e->ino) {
			memset(&st, 0, sizeof(st));
			st.st_size = (off_t)e->size;
			st.st_ino = (ino_t)e->ino;
			st.st_mode = (mode_t)e->st_mode;
			st.st_mtim.tv_sec = e->mtime_ns / 1000000000;
			st.st_mtim.tv_nsec = e->mtime_ns % 1000000000;
			st.st_ctim.tv_sec = e->ctime_ns / 1000000000;
			st.st_ctim.tv_nsec = e->ctime_ns % 1000000000;
			have = 1;
		} else if (sc && lstat(e->src, &st) == 0) {
			have = 1;
		}
		if (sc && have && !strchr(e->src, '\n') && S_ISREG(st.st_mode)) {
			r = put(sc, e->src);
			if (!r->seen)
				sc->dirty |= r->hex[0] == 0; /* new */
			r->seen = 1;
			if (r->hex[0] && r->size == (uint64_t)st.st_size && r->mtime == ns(&st.st_mtim) &&
			    r->ctime == ns(&st.st_ctim) && r->ino == (uint64_t)st.st_ino && r->mode == st.st_mode &&
			    r->mtime < sc->saved && r->ctime < sc->saved) {
				snprintf(e->digest, sizeof(e->digest), "sha256:%s", r->hex);
				continue;
			}
		}
		if (digest_file(e->src, e->digest, &size, err) < 0)
			return -1;
		if (size != e->size)
			return lm_err_set(err, LM_E_INPUT, "'%s' changed while lamina was reading it (%llu bytes, then %llu)",
					  e->src, (unsigned long long)e->size, (unsigned long long)size);
		if (stats) {
			stats->hashed++;
			stats->bytes += size;
		}
		if (r) {
			/* recorded with the stat taken before reading: a change during the read
			 * leaves a record that no longer matches */
			r->size = (uint64_t)st.st_size;
			r->mtime = ns(&st.st_mtim);
			r->ctime = ns(&st.st_ctim);
			r->ino = (uint64_t)st.st_ino;
			r->mode = st.st_mode;
			memcpy(r->hex, digest_hex(e->digest), 65);
			sc->dirty = 1;
		}
	}
	return 0;
}
