#include "zip/zip.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zlib.h>

#include "common/buf.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/pool.h"

#define SIG_LOCAL 0x04034b50u
#define SIG_CENTRAL 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOCATOR64 0x07064b50u

#define LOCAL_LEN 30
#define CENTRAL_LEN 46
#define EOCD_LEN 22
#define EOCD64_LEN 56
#define LOCATOR64_LEN 20

#define U32_MAX_FIELD 0xffffffffu
#define U16_MAX_FIELD 0xffffu

/* Unix (3) in the high byte, "3.0" like Info-ZIP's zip in the low byte */
#define MADE_BY 0x031e
#define NEED_STORE 10
#define NEED_DEFLATE 20 /* also directories */
#define NEED_ZIP64 45

#define FLAG_UTF8 0x0800

#define METHOD_STORE 0
#define METHOD_DEFLATE 8

#define DOS_MIN_EPOCH 315532800LL   /* 1980-01-01T00:00:00Z */
#define DOS_MAX_EPOCH 4354819198LL  /* 2107-12-31T23:59:58Z */

#define OUT_CAP (1u << 20)
#define IO_CHUNK (256u << 10)
/* Parallel deflate: files up to JOB_MAX bytes are read and deflated whole by the worker
 * pool (common/pool.h), submitted in plan order at most JOBS_BUDGET bytes ahead of the
 * writer; larger files are streamed by the writer itself. */
#define JOB_MAX (8u << 20)
#define JOBS_BUDGET (64u << 20)

const char *zip_kind_name(enum zip_kind k)
{
	return k == ZIP_LAYER ? "layer" : "function";
}

int zip_kind_parse(const char *s, enum zip_kind *k)
{
	if (s && strcmp(s, "function") == 0)
		*k = ZIP_FUNCTION;
	else if (s && strcmp(s, "layer") == 0)
		*k = ZIP_LAYER;
	else
		return -1;
	return 0;
}

const char *zip_kind_dir(enum zip_kind k)
{
	return k == ZIP_LAYER ? "/opt" : "/var/task";
}

enum zip_map zip_map_path(enum zip_kind k, const char *path, const char **name)
{
	const char *root = zip_kind_dir(k) + 1;
	size_t rl = strlen(root), pl = strlen(path);
	if (pl == rl && memcmp(path, root, rl) == 0)
		return ZIP_MAP_SKIP;
	if (pl > rl && memcmp(path, root, rl) == 0 && path[rl] == '/' && path[rl + 1]) {
		*name = path + rl + 1;
		return ZIP_MAP_IN;
	}
	if (pl < rl && memcmp(path, root, pl) == 0 && root[pl] == '/')
		return ZIP_MAP_SKIP;
	return ZIP_MAP_OUTSIDE;
}

void zip_dos_time(int64_t t, uint16_t *date, uint16_t *time)
{
	struct tm tm;
	time_t tt;
	if (t < DOS_MIN_EPOCH)
		t = DOS_MIN_EPOCH;
	if (t > DOS_MAX_EPOCH)
		t = DOS_MAX_EPOCH;
	tt = (time_t)t;
	gmtime_r(&tt, &tm);
	*date = (uint16_t)(((tm.tm_year + 1900 - 1980) << 9) | ((tm.tm_mon + 1) << 5) | tm.tm_mday);
	*time = (uint16_t)((tm.tm_hour << 11) | (tm.tm_min << 5) | (tm.tm_sec / 2));
}

uint32_t zip_external_attr(enum lm_ftype type, unsigned mode)
{
	switch (type) {
	case LM_F_DIR:
		return ((uint32_t)(S_IFDIR | (mode & 07777)) << 16) | 0x10;
	case LM_F_SYMLINK:
		return (uint32_t)(S_IFLNK | (mode & 07777)) << 16;
	default:
		return (uint32_t)(S_IFREG | (mode & 07777)) << 16;
	}
}

void zip_plan_init(struct zip_plan *p)
{
	memset(p, 0, sizeof(*p));
}

void zip_plan_release(struct zip_plan *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].name);
	free(p->v);
	zip_plan_init(p);
}

static int cmp_item(const void *a, const void *b)
{
	const struct zip_item *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	if (x->layer != y->layer)
		return x->layer < y->layer ? -1 : 1;
	return x->e < y->e ? -1 : x->e > y->e;
}

static const char *type_word(enum lm_ftype t)
{
	return t == LM_F_DIR ? "a directory" : t == LM_F_SYMLINK ? "a symlink" : "a file";
}

int zip_plan_build(struct zip_plan *p, const struct lm_tree *trees, const char *const *names, size_t ntrees,
		   enum zip_kind k, struct lm_err *err)
{
	struct zip_plan r;
	size_t cap = 0, o = 0;
	zip_plan_init(&r);
	for (size_t t = 0; t < ntrees; t++) {
		for (size_t i = 0; i < trees[t].n; i++) {
			const struct lm_entry *e = &trees[t].v[i];
			const char *name = NULL;
			enum zip_map m;
			if (e->removed)
				continue;
			m = zip_map_path(k, e->path, &name);
			if (m == ZIP_MAP_SKIP && e->type == LM_F_DIR)
				continue;
			if (m != ZIP_MAP_IN) {
				/* name a file rather than the directory above it, when there is one */
				for (size_t j = i + 1; j < trees[t].n && e->type == LM_F_DIR; j++) {
					const struct lm_entry *f = &trees[t].v[j];
					if (!f->removed && f->type != LM_F_DIR && zip_map_path(k, f->path, &name) == ZIP_MAP_OUTSIDE)
						e = f;
				}
				lm_err_set(err, LM_E_INPUT, "layer '%s': '/%s' is outside %s, where Lambda unpacks a %s zip",
					   names[t], e->path, zip_kind_dir(k), zip_kind_name(k));
				goto fail;
			}
			if (strlen(name) >= U16_MAX_FIELD) {
				lm_err_set(err, LM_E_INPUT, "layer '%s': '/%s': name too long for a zip", names[t], e->path);
				goto fail;
			}
			lm_grow((void **)&r.v, &cap, r.n + 1, sizeof(*r.v));
			r.v[r.n].name = lm_xstrdup(name);
			r.v[r.n].e = e;
			r.v[r.n].layer = t;
			r.n++;
		}
	}
	if (r.n)
		qsort(r.v, r.n, sizeof(*r.v), cmp_item);
	/* merge each run of equal names as the image's overlay would */
	for (size_t i = 0; i < r.n;) {
		size_t j = i + 1, keep = i;
		while (j < r.n && strcmp(r.v[j].name, r.v[i].name) == 0)
			j++;
		for (size_t q = i + 1; q < j; q++) {
			const struct zip_item *a = &r.v[i], *b = &r.v[q];
			if ((a->e->type == LM_F_DIR) != (b->e->type == LM_F_DIR)) {
				lm_err_set(err, LM_E_INPUT, "'%s/%s' is %s in layer '%s' and %s in layer '%s'", zip_kind_dir(k),
					   a->name, type_word(a->e->type), names[a->layer], type_word(b->e->type),
					   names[b->layer]);
				goto fail;
			}
			if (b->e->type != LM_F_DIR)
				keep = q; /* the later layer wins */
		}
		for (size_t q = i; q < j; q++)
			if (q != keep)
				free(r.v[q].name);
		r.v[o++] = r.v[keep];
		i = j;
	}
	r.n = o;
	for (size_t i = 0; i < r.n; i++) {
		const struct lm_entry *e = r.v[i].e;
		if (e->type == LM_F_REG) {
			r.files++;
			r.usize += e->size;
		} else if (e->type == LM_F_SYMLINK) {
			r.files++;
			r.usize += strlen(e->link);
		}
	}
	*p = r;
	return 0;
fail:
	zip_plan_release(&r);
	return -1;
}

void zip_result_release(struct zip_result *r)
{
	if (!r)
		return;
	free(r->layer_csize);
	free(r->layer_usize);
	r->layer_csize = r->layer_usize = NULL;
}

/* ---- the writer ---- */

struct zw {
	int fd;
	const char *name; /* for messages */
	unsigned char *buf; /* output not yet written; buf[0] is at file offset flushed */
	size_t blen;
	uint64_t flushed;
	struct lm_buf cd; /* the central directory, built as entries are written */
	uint64_t entries;
	int zip64;
	z_stream z; /* files above JOB_MAX, streamed */
	int z_ready;
	unsigned char *in, *zout;
	uint16_t date, time;
	struct lm_err *err;
};

static uint64_t zw_off(const struct zw *w)
{
	return w->flushed + w->blen;
}

static int pwrite_all(int fd, const void *data, size_t len, uint64_t off)
{
	const char *p = data;
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

static int zw_flush(struct zw *w)
{
	if (w->blen && pwrite_all(w->fd, w->buf, w->blen, w->flushed) < 0)
		return lm_err_sys(w->err, "write '%s'", w->name);
	w->flushed += w->blen;
	w->blen = 0;
	return 0;
}

static int zw_put(struct zw *w, const void *data, size_t len)
{
	if (w->blen + len > OUT_CAP && zw_flush(w) < 0)
		return -1;
	if (len > OUT_CAP) {
		if (pwrite_all(w->fd, data, len, w->flushed) < 0)
			return lm_err_sys(w->err, "write '%s'", w->name);
		w->flushed += len;
		return 0;
	}
	memcpy(w->buf + w->blen, data, len);
	w->blen += len;
	return 0;
}

/* Overwrites bytes already written (the local header's CRC and sizes). */
static int zw_patch(struct zw *w, uint64_t off, const void *data, size_t len)
{
	if (off >= w->flushed) {
		memcpy(w->buf + (off - w->flushed), data, len);
		return 0;
	}
	if (zw_flush(w) < 0)
		return -1;
	if (pwrite_all(w->fd, data, len, off) < 0)
		return lm_err_sys(w->err, "write '%s'", w->name);
	return 0;
}

/* Drops everything from off on (an entry's deflated data, to store it instead). */
static int zw_truncate(struct zw *w, uint64_t off)
{
	if (off >= w->flushed) {
		w->blen = (size_t)(off - w->flushed);
		return 0;
	}
	w->blen = 0;
	w->flushed = off;
	if (ftruncate(w->fd, (off_t)off) < 0)
		return lm_err_sys(w->err, "truncate '%s'", w->name);
	return 0;
}

static void le16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

static void le32(unsigned char *p, uint32_t v)
{
	le16(p, (uint16_t)v);
	le16(p + 2, (uint16_t)(v >> 16));
}

static void le64(unsigned char *p, uint64_t v)
{
	le32(p, (uint32_t)v);
	le32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t name_flags(const char *name)
{
	for (const unsigned char *s = (const unsigned char *)name; *s; s++)
		if (*s >= 0x80)
			return FLAG_UTF8;
	return 0;
}

struct centry {
	const char *name; /* with the '/' of a directory */
	uint16_t need, flags, method;
	uint32_t crc, attr;
	uint64_t csize, usize, offset;
};

static void add_central(struct zw *w, const struct centry *c)
{
	unsigned char h[CENTRAL_LEN], x[4 + 24];
	size_t nl = strlen(c->name), xl = 0;
	int big_u = c->usize >= U32_MAX_FIELD, big_c = c->csize >= U32_MAX_FIELD, big_o = c->offset >= U32_MAX_FIELD;
	if (big_u || big_c || big_o) {
		/* Zip64 extended information: only the fields whose 32-bit slot overflowed, in order */
		xl = 4;
		if (big_u) {
			le64(x + xl, c->usize);
			xl += 8;
		}
		if (big_c) {
			le64(x + xl, c->csize);
			xl += 8;
		}
		if (big_o) {
			le64(x + xl, c->offset);
			xl += 8;
		}
		le16(x, 0x0001);
		le16(x + 2, (uint16_t)(xl - 4));
		w->zip64 = 1;
	}
	le32(h, SIG_CENTRAL);
	le16(h + 4, MADE_BY);
	le16(h + 6, xl ? NEED_ZIP64 : c->need);
	le16(h + 8, c->flags);
	le16(h + 10, c->method);
	le16(h + 12, w->time);
	le16(h + 14, w->date);
	le32(h + 16, c->crc);
	le32(h + 20, big_c ? U32_MAX_FIELD : (uint32_t)c->csize);
	le32(h + 24, big_u ? U32_MAX_FIELD : (uint32_t)c->usize);
	le16(h + 28, (uint16_t)nl);
	le16(h + 30, (uint16_t)xl);
	le16(h + 32, 0); /* comment */
	le16(h + 34, 0); /* disk */
	le16(h + 36, 0); /* internal attributes */
	le32(h + 38, c->attr);
	le32(h + 42, big_o ? U32_MAX_FIELD : (uint32_t)c->offset);
	buf_append(&w->cd, h, sizeof(h));
	buf_append(&w->cd, c->name, nl);
	if (xl)
		buf_append(&w->cd, x, xl);
	w->entries++;
}

/* Writes a local header; with zip64 set it carries a Zip64 extra field for the sizes. */
static int put_local(struct zw *w, const struct centry *c, int zip64)
{
	unsigned char h[LOCAL_LEN], x[20];
	size_t nl = strlen(c->name);
	le32(h, SIG_LOCAL);
	le16(h + 4, zip64 ? NEED_ZIP64 : c->need);
	le16(h + 6, c->flags);
	le16(h + 8, c->method);
	le16(h + 10, w->time);
	le16(h + 12, w->date);
	le32(h + 14, c->crc);
	le32(h + 18, zip64 ? U32_MAX_FIELD : (uint32_t)c->csize);
	le32(h + 22, zip64 ? U32_MAX_FIELD : (uint32_t)c->usize);
	le16(h + 26, (uint16_t)nl);
	le16(h + 28, zip64 ? sizeof(x) : 0);
	if (zw_put(w, h, sizeof(h)) < 0 || zw_put(w, c->name, nl) < 0)
		return -1;
	if (zip64) {
		le16(x, 0x0001);
		le16(x + 2, 16);
		le64(x + 4, c->usize);
		le64(x + 12, c->csize);
		if (zw_put(w, x, sizeof(x)) < 0)
			return -1;
	}
	return 0;
}

/* Completes a local header once CRC, method and sizes are known. */
static int patch_local(struct zw *w, const struct centry *c, int zip64)
{
	unsigned char m[6], v[12], x[16];
	/* version needed, flags, method: stored and deflated entries need different versions */
	le16(m, zip64 ? NEED_ZIP64 : c->need);
	le16(m + 2, c->flags);
	le16(m + 4, c->method);
	le32(v, c->crc);
	le32(v + 4, zip64 ? U32_MAX_FIELD : (uint32_t)c->csize);
	le32(v + 8, zip64 ? U32_MAX_FIELD : (uint32_t)c->usize);
	if (zw_patch(w, c->offset + 4, m, sizeof(m)) < 0 || zw_patch(w, c->offset + 14, v, sizeof(v)) < 0)
		return -1;
	if (!zip64)
		return 0;
	le64(x, c->usize);
	le64(x + 8, c->csize);
	return zw_patch(w, c->offset + LOCAL_LEN + strlen(c->name) + 4, x, sizeof(x));
}

/* Copies the file at e->src (of e->size bytes, as scanned) into the zip, deflating
 * when asked. Sets c->crc and c->csize. */
static int copy_data(struct zw *w, const struct lm_entry *e, int deflating, struct centry *c)
{
	uint64_t left = e->size;
	uLong crc = crc32(0L, Z_NULL, 0);
	uint64_t start = zw_off(w);
	int fd = tree_open_src(e, w->err), ret = -1;
	char b;
	if (fd < 0)
		return -1;
	if (deflating && deflateReset(&w->z) != Z_OK) {
		lm_err_set(w->err, LM_E_INTERNAL, "deflate: reset failed");
		goto out;
	}
	while (left) {
		size_t want = left < IO_CHUNK ? (size_t)left : IO_CHUNK;
		ssize_t n = read(fd, w->in, want);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			lm_err_sys(w->err, "read '%s'", e->src);
			goto out;
		}
		if (n == 0) {
			lm_err_set(w->err, LM_E_IO, "'%s' shrank while the zip was written", e->src);
			goto out;
		}
		crc = crc32(crc, w->in, (uInt)n);
		left -= (uint64_t)n;
		if (!deflating) {
			if (zw_put(w, w->in, (size_t)n) < 0)
				goto out;
			continue;
		}
		{
			int flush = left ? Z_NO_FLUSH : Z_FINISH, zr;
			w->z.next_in = w->in;
			w->z.avail_in = (uInt)n;
			do {
				w->z.next_out = w->zout;
				w->z.avail_out = IO_CHUNK;
				zr = deflate(&w->z, flush);
				if (zr == Z_STREAM_ERROR) {
					lm_err_set(w->err, LM_E_INTERNAL, "deflate '%s' failed", e->path);
					goto out;
				}
				if (zw_put(w, w->zout, IO_CHUNK - w->z.avail_out) < 0)
					goto out;
			} while (w->z.avail_out == 0 || (flush == Z_FINISH && zr != Z_STREAM_END));
		}
	}
	if (read(fd, &b, 1) > 0) {
		lm_err_set(w->err, LM_E_IO, "'%s' grew while the zip was written", e->src);
		goto out;
	}
	c->crc = (uint32_t)crc;
	c->csize = zw_off(w) - start;
	ret = 0;
out:
	close(fd);
	return ret;
}

static int write_entry(struct zw *w, const struct zip_item *it, int level, uint64_t *csize)
{
	const struct lm_entry *e = it->e;
	struct centry c;
	char *dname = NULL;
	int ret = -1, zip64 = 0;
	memset(&c, 0, sizeof(c));
	c.offset = zw_off(w);
	c.flags = name_flags(it->name);
	c.attr = zip_external_attr(e->type, e->mode);
	c.name = it->name;
	*csize = 0;
	switch (e->type) {
	case LM_F_DIR:
		c.name = dname = lm_asprintf("%s/", it->name);
		c.need = NEED_DEFLATE;
		if (put_local(w, &c, 0) < 0)
			goto out;
		break;
	case LM_F_SYMLINK:
		c.need = NEED_STORE;
		c.usize = c.csize = strlen(e->link);
		c.crc = (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)e->link, (uInt)c.usize);
		if (put_local(w, &c, 0) < 0 || zw_put(w, e->link, (size_t)c.usize) < 0)
			goto out;
		break;
	default: {
		uint64_t data;
		zip64 = e->size >= U32_MAX_FIELD;
		c.usize = e->size;
		c.need = NEED_STORE;
		c.method = METHOD_STORE;
		if (put_local(w, &c, zip64) < 0)
			goto out;
		data = zw_off(w);
		if (level > 0 && e->size > 0) {
			c.need = NEED_DEFLATE;
			c.method = METHOD_DEFLATE;
			if (copy_data(w, e, 1, &c) < 0)
				goto out;
			if (c.csize >= c.usize) {
				/* deflate did not help (already compressed data): store it */
				uint32_t crc = c.crc;
				c.need = NEED_STORE;
				c.method = METHOD_STORE;
				if (zw_truncate(w, data) < 0 || copy_data(w, e, 0, &c) < 0)
					goto out;
				if (c.crc != crc) {
					lm_err_set(w->err, LM_E_IO, "'%s' changed while the zip was written", e->src);
					goto out;
				}
			}
		} else if (copy_data(w, e, 0, &c) < 0) {
			goto out;
		}
		if (patch_local(w, &c, zip64) < 0)
			goto out;
	}
	}
	if (zip64 && c.need < NEED_ZIP64)
		c.need = NEED_ZIP64;
	add_central(w, &c);
	*csize = zw_off(w) - c.offset;
	ret = 0;
out:
	free(dname);
	return ret;
}

/* ---- parallel deflate of small files ---- */

struct slot {
	struct lm_pool_task task;
	const struct lm_entry *e;
	unsigned char *data; /* the entry's bytes after its local header */
	size_t len;
	uint32_t crc;
	uint16_t method;
	struct lm_err err; /* set when the job failed */
};

/* The small-file jobs of one zip. Only the writer's thread touches this; the pool runs
 * the jobs and says when one is done. */
struct jobs {
	struct lm_pool *pool;
	const struct zip_plan *p;
	int level;
	size_t next;        /* the next plan item to consider submitting */
	uint64_t inflight;  /* bytes of jobs submitted and not yet written */
	struct slot *slots; /* one per plan item */
};

static int is_job(const struct zip_item *it, int level)
{
	return level > 0 && it->e->type == LM_F_REG && it->e->size > 0 && it->e->size <= JOB_MAX;
}

/* Reads the whole file and deflates it in one call with libdeflate (several times
 * faster than zlib at the same ratio; every file up to JOB_MAX goes this way whatever the
 * thread count, so the bytes do not depend on -j); stores it when deflate does not make
 * it smaller. */
static void run_job(struct libdeflate_compressor *ldc, const struct lm_entry *e, struct slot *s)
{
	size_t n = (size_t)e->size, got = 0, bound, clen;
	unsigned char *raw = lm_xmalloc(n), *out = NULL;
	char b;
	int fd = tree_open_src(e, &s->err);
	if (fd < 0)
		goto fail;
	while (got < n) {
		ssize_t r = read(fd, raw + got, n - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			lm_err_sys(&s->err, "read '%s'", e->src);
			goto fail;
		}
		if (r == 0) {
			lm_err_set(&s->err, LM_E_IO, "'%s' shrank while the zip was written", e->src);
			goto fail;
		}
		got += (size_t)r;
	}
	if (read(fd, &b, 1) > 0) {
		lm_err_set(&s->err, LM_E_IO, "'%s' grew while the zip was written", e->src);
		goto fail;
	}
	close(fd);
	fd = -1;
	s->crc = (uint32_t)libdeflate_crc32(0, raw, n);
	bound = libdeflate_deflate_compress_bound(ldc, n);
	out = lm_xmalloc(bound);
	clen = libdeflate_deflate_compress(ldc, raw, n, out, bound);
	if (clen == 0 || clen >= n) {
		free(out);
		s->data = raw;
		s->len = n;
		s->method = METHOD_STORE;
	} else {
		free(raw);
		s->data = out;
		s->len = clen;
		s->method = METHOD_DEFLATE;
	}
	return;
fail:
	if (fd >= 0)
		close(fd);
	free(raw);
	free(out);
}

/* A worker's context: its own compressor (arg is the zip's level). */
static void *compressor_new(void *arg)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(*(const int *)arg);
	if (!c)
		abort(); /* only out of memory can fail here */
	return c;
}

static void compressor_free(void *c)
{
	libdeflate_free_compressor(c);
}

static void job_task(void *arg, void *compressor)
{
	struct slot *s = arg;
	run_job(compressor, s->e, s);
}

/* threads 0: no worker; the writer runs each job when it reaches it */
static void jobs_start(struct jobs *j, const struct zip_plan *p, int level, int threads)
{
	memset(j, 0, sizeof(*j));
	j->p = p;
	j->level = level;
	j->slots = lm_xcalloc(p->n + 1, sizeof(*j->slots));
	j->pool = lm_pool_new(threads, compressor_new, compressor_free, &j->level);
}

/* Submits jobs in plan order: every one up to item i, which the writer needs now, and with
 * workers, later ones while their bytes fit in JOBS_BUDGET. Jobs start in plan order, so
 * the one the writer waits for is always running or next. */
static void jobs_feed(struct jobs *j, size_t i)
{
	for (; j->next < j->p->n; j->next++) {
		const struct zip_item *it = &j->p->v[j->next];
		if (!is_job(it, j->level))
			continue;
		if (j->next > i &&
		    (!lm_pool_workers(j->pool) || (j->inflight && j->inflight + it->e->size > JOBS_BUDGET)))
			break;
		j->inflight += it->e->size;
		j->slots[j->next].e = it->e;
		lm_pool_submit(j->pool, &j->slots[j->next].task, job_task, &j->slots[j->next]);
	}
}

static void jobs_stop(struct jobs *j)
{
	if (!j->slots)
		return;
	lm_pool_free(j->pool);
	for (size_t i = 0; i < j->p->n; i++) {
		free(j->slots[i].data);
		lm_err_release(&j->slots[i].err);
	}
	free(j->slots);
	j->slots = NULL;
}

/* Waits for item i's job and writes the entry. */
static int write_job(struct zw *w, struct jobs *j, size_t i, uint64_t *csize)
{
	const struct zip_item *it = &j->p->v[i];
	struct slot *s = &j->slots[i];
	struct centry c;
	int ret = -1;
	lm_pool_wait(j->pool, &s->task);
	if (s->err.code) {
		lm_err_set(w->err, s->err.code, "%s", s->err.msg);
		goto out;
	}
	memset(&c, 0, sizeof(c));
	c.offset = zw_off(w);
	c.flags = name_flags(it->name);
	c.attr = zip_external_attr(LM_F_REG, it->e->mode);
	c.name = it->name;
	c.usize = it->e->size;
	c.csize = s->len;
	c.crc = s->crc;
	c.method = s->method;
	c.need = s->method == METHOD_DEFLATE ? NEED_DEFLATE : NEED_STORE;
	if (put_local(w, &c, 0) < 0 || zw_put(w, s->data, s->len) < 0)
		goto out;
	add_central(w, &c);
	*csize = zw_off(w) - c.offset;
	ret = 0;
out:
	free(s->data);
	s->data = NULL;
	j->inflight -= it->e->size;
	return ret;
}

static int put_end(struct zw *w)
{
	uint64_t cd_off = zw_off(w), cd_len = w->cd.len;
	unsigned char e[EOCD_LEN];
	int z64 = w->entries >= U16_MAX_FIELD || cd_off >= U32_MAX_FIELD || cd_len >= U32_MAX_FIELD;
	if (zw_put(w, w->cd.data, w->cd.len) < 0)
		return -1;
	if (z64) {
		unsigned char r[EOCD64_LEN], l[LOCATOR64_LEN];
		uint64_t r_off = zw_off(w);
		le32(r, SIG_EOCD64);
		le64(r + 4, EOCD64_LEN - 12);
		le16(r + 12, MADE_BY);
		le16(r + 14, NEED_ZIP64);
		le32(r + 16, 0);
		le32(r + 20, 0);
		le64(r + 24, w->entries);
		le64(r + 32, w->entries);
		le64(r + 40, cd_len);
		le64(r + 48, cd_off);
		le32(l, SIG_LOCATOR64);
		le32(l + 4, 0);
		le64(l + 8, r_off);
		le32(l + 16, 1);
		if (zw_put(w, r, sizeof(r)) < 0 || zw_put(w, l, sizeof(l)) < 0)
			return -1;
		w->zip64 = 1;
	}
	le32(e, SIG_EOCD);
	le16(e + 4, 0);
	le16(e + 6, 0);
	le16(e + 8, w->entries >= U16_MAX_FIELD ? U16_MAX_FIELD : (uint16_t)w->entries);
	le16(e + 10, w->entries >= U16_MAX_FIELD ? U16_MAX_FIELD : (uint16_t)w->entries);
	le32(e + 12, cd_len >= U32_MAX_FIELD ? U32_MAX_FIELD : (uint32_t)cd_len);
	le32(e + 16, cd_off >= U32_MAX_FIELD ? U32_MAX_FIELD : (uint32_t)cd_off);
	le16(e + 20, 0);
	if (zw_put(w, e, sizeof(e)) < 0)
		return -1;
	return zw_flush(w);
}

static int write_fd(const struct zip_plan *p, size_t ntrees, const struct zip_opts *o, int fd, const char *name,
		    struct zip_result *res, struct lm_err *err)
{
	struct zw w;
	struct zip_result r;
	struct jobs jobs;
	int level = o->level < 0 ? ZIP_LEVEL_DEFAULT : o->level > 9 ? 9 : o->level;
	int ret = -1;
	memset(&w, 0, sizeof(w));
	memset(&r, 0, sizeof(r));
	memset(&jobs, 0, sizeof(jobs));
	w.fd = fd;
	w.name = name;
	w.err = err;
	w.buf = lm_xmalloc(OUT_CAP);
	w.in = lm_xmalloc(IO_CHUNK);
	w.zout = lm_xmalloc(IO_CHUNK);
	buf_init(&w.cd, 0);
	zip_dos_time(o->mtime, &w.date, &w.time);
	r.layer_csize = lm_xcalloc(ntrees + 1, sizeof(*r.layer_csize));
	r.layer_usize = lm_xcalloc(ntrees + 1, sizeof(*r.layer_usize));
	if (level > 0) {
		/* raw deflate (no zlib header), default window and memory */
		if (deflateInit2(&w.z, level, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
			lm_err_set(err, LM_E_INTERNAL, "deflate: init failed");
			goto out;
		}
		w.z_ready = 1;
	}
	if (level > 0) /* without workers, the writer runs the small-file jobs itself */
		jobs_start(&jobs, p, level, o->threads > 1 ? o->threads : 0);
	for (size_t i = 0; i < p->n; i++) {
		const struct zip_item *it = &p->v[i];
		uint64_t cs = 0;
		if (jobs.slots)
			jobs_feed(&jobs, i);
		if (jobs.slots && is_job(it, level) ? write_job(&w, &jobs, i, &cs) < 0
						    : write_entry(&w, it, level, &cs) < 0)
			goto out;
		if (it->layer < ntrees) {
			r.layer_csize[it->layer] += cs;
			r.layer_usize[it->layer] += it->e->type == LM_F_REG       ? it->e->size
						    : it->e->type == LM_F_SYMLINK ? strlen(it->e->link)
										  : 0;
		}
	}
	if (put_end(&w) < 0)
		goto out;
	r.size = zw_off(&w);
	r.entries = w.entries;
	r.usize = p->usize;
	r.zip64 = w.zip64;
	*res = r;
	memset(&r, 0, sizeof(r));
	ret = 0;
out:
	jobs_stop(&jobs);
	if (w.z_ready)
		deflateEnd(&w.z);
	zip_result_release(&r);
	buf_release(&w.cd);
	free(w.buf);
	free(w.in);
	free(w.zout);
	return ret;
}

int zip_write_fd(const struct zip_plan *p, size_t ntrees, const struct zip_opts *o, int fd, struct zip_result *res,
		 struct lm_err *err)
{
	return write_fd(p, ntrees, o, fd, "zip", res, err);
}

int zip_write(const struct zip_plan *p, size_t ntrees, const struct zip_opts *o, const char *out,
	      struct zip_result *res, struct lm_err *err)
{
	char *tmp = NULL;
	int fd = lm_tmpfile_beside(out, &tmp, err);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0) {
		lm_err_sys(err, "chmod '%s'", tmp);
		goto fail;
	}
	if (write_fd(p, ntrees, o, fd, out, res, err) < 0)
		goto fail;
	if (o->before_commit && o->before_commit(o->ctx, tmp, err) < 0) {
		zip_result_release(res);
		goto fail;
	}
	if (lm_tmpfile_commit(fd, tmp, out, 1, err) < 0) {
		zip_result_release(res);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	lm_tmpfile_discard(tmp);
	free(tmp);
	return -1;
}
