/* compress.c - the gzip writer of compress.h.
 *
 * The caller's thread owns a ring of slots (2 * threads + 2, or 1 without threads): it
 * fills the next slot with a block, submits the slot to the worker pool (common/pool.h)
 * and hands finished members to the sink strictly in ring order, waiting for the oldest
 * when the ring is full. The ordering and the memory bound are this ring's; the threads,
 * their compressors and the waiting are the pool's, which zip and the registry use too. */
#include "image/compress.h"

#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "common/alloc.h"
#include "common/pool.h"

#define HDR_LEN 10
#define TRL_LEN 8

/* One block: the caller fills in[], a worker turns it into a gzip member in out[]. */
struct slot {
	struct lm_pool_task task;
	unsigned char *in;
	size_t inlen;
	unsigned char *out;
	size_t outlen;
	size_t outcap;
	int failed;
};

struct gz_writer {
	int level;
	int threads; /* 0 = the caller compresses */
	gz_sink_fn sink;
	void *ctx;
	struct digest_ctx udg;
	uint64_t usize;
	uint64_t members;
	int failed;

	size_t outcap;
	size_t nslots;
	struct slot *slots;
	struct slot *fill; /* slot being filled by the caller, or NULL */
	size_t seq_submit; /* next sequence number to submit */
	size_t seq_emit;   /* next to hand to the sink */
	struct lm_pool *pool; /* made with the first block */
};

/* A fixed header: no MTIME, no name, no XFL hint, OS "unknown", so that the bytes depend
 * only on the data. */
static const unsigned char gz_header[HDR_LEN] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void compress_slot(struct slot *s, struct libdeflate_compressor *c)
{
	size_t n;
	memcpy(s->out, gz_header, HDR_LEN);
	n = libdeflate_deflate_compress(c, s->in, s->inlen, s->out + HDR_LEN, s->outcap - HDR_LEN - TRL_LEN);
	if (n == 0) { /* cannot happen with the bound's room */
		s->failed = 1;
		return;
	}
	put_le32(s->out + HDR_LEN + n, libdeflate_crc32(0, s->in, s->inlen));
	put_le32(s->out + HDR_LEN + n + 4, (uint32_t)s->inlen);
	s->outlen = HDR_LEN + n + TRL_LEN;
	s->failed = 0;
}

/* A worker's context: its own compressor (arg is the writer's level). */
static void *compressor_new(void *arg)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(*(const int *)arg);
	if (!c)
		abort(); /* out of memory: like lm_xmalloc */
	return c;
}

static void compressor_free(void *c)
{
	libdeflate_free_compressor(c);
}

static void slot_task(void *arg, void *compressor)
{
	compress_slot(arg, compressor);
}

struct gz_writer *gz_writer_new(int level, int threads, gz_sink_fn sink, void *ctx)
{
	struct gz_writer *w = lm_xcalloc(1, sizeof(*w));
	if (level < GZ_LEVEL_MIN)
		level = GZ_LEVEL_MIN;
	if (level > GZ_LEVEL_MAX)
		level = GZ_LEVEL_MAX;
	w->level = level;
	w->threads = threads < 0 ? 0 : threads > GZ_THREADS_MAX ? GZ_THREADS_MAX : threads;
	w->sink = sink;
	w->ctx = ctx;
	digest_init(&w->udg);
	w->outcap = libdeflate_deflate_compress_bound(NULL, GZ_BLOCK) + HDR_LEN + TRL_LEN;
	/* two blocks per thread keep the workers busy while the caller fills the next ones and
	 * the sink takes the oldest */
	w->nslots = w->threads ? (size_t)w->threads * 2 + 2 : 1;
	w->slots = lm_xcalloc(w->nslots, sizeof(*w->slots));
	return w;
}

static int emit(struct gz_writer *w, const void *data, size_t len, struct lm_err *err)
{
	if (w->sink(w->ctx, data, len, err) < 0) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

/* Hands finished members to the sink in order. wait_one: block until at least the
 * oldest is done; wait_all: until every submitted one is. */
static int drain(struct gz_writer *w, int wait_one, int wait_all, struct lm_err *err)
{
	while (w->seq_emit != w->seq_submit) {
		struct slot *s = &w->slots[w->seq_emit % w->nslots];
		if (wait_one || wait_all)
			lm_pool_wait(w->pool, &s->task);
		else if (!lm_pool_done(w->pool, &s->task))
			return 0;
		if (s->failed) {
			w->failed = 1;
			return lm_err_set(err, LM_E_INTERNAL, "gzip: block %zu: libdeflate failed", w->seq_emit);
		}
		if (emit(w, s->out, s->outlen, err) < 0)
			return -1;
		w->seq_emit++;
		wait_one = 0;
	}
	return 0;
}

/* The slot for the next sequence number, once the sink has taken what it held. */
static struct slot *acquire(struct gz_writer *w, struct lm_err *err)
{
	struct slot *s;
	while (w->seq_submit - w->seq_emit >= w->nslots)
		if (drain(w, 1, 0, err) < 0)
			return NULL;
	/* free: no worker looks at it until it is submitted */
	s = &w->slots[w->seq_submit % w->nslots];
	if (!s->in) {
		s->in = lm_xmalloc(GZ_BLOCK);
		s->out = lm_xmalloc(w->outcap);
		s->outcap = w->outcap;
	}
	s->inlen = 0;
	return s;
}

/* Compresses the filled slot. Threads start with the first full block: a layer that fits
 * in one block (most app layers) is compressed in the caller's thread (a pool without
 * workers) and costs no thread. */
static int submit(struct gz_writer *w, int last, struct lm_err *err)
{
	struct slot *s = w->fill;
	w->fill = NULL;
	w->members++;
	if (!w->pool)
		w->pool = lm_pool_new(last ? 0 : w->threads, compressor_new, compressor_free, &w->level);
	lm_pool_submit(w->pool, &s->task, slot_task, s);
	w->seq_submit++;
	return drain(w, 0, 0, err);
}

int gz_write(struct gz_writer *w, const void *data, size_t len, struct lm_err *err)
{
	const unsigned char *p = data;
	if (w->failed)
		return lm_err_set(err, LM_E_INTERNAL, "gzip: write after failure");
	digest_update(&w->udg, data, len);
	w->usize += len;
	while (len) {
		size_t n;
		if (!w->fill && !(w->fill = acquire(w, err)))
			return -1;
		n = GZ_BLOCK - w->fill->inlen;
		if (n > len)
			n = len;
		memcpy(w->fill->in + w->fill->inlen, p, n);
		w->fill->inlen += n;
		p += n;
		len -= n;
		if (w->fill->inlen == GZ_BLOCK && submit(w, 0, err) < 0)
			return -1;
	}
	return 0;
}

int gz_finish(struct gz_writer *w, char diff_id[LM_DIGEST_LEN], uint64_t *usize, struct lm_err *err)
{
	char d[LM_DIGEST_LEN];
	if (w->failed)
		return lm_err_set(err, LM_E_INTERNAL, "gzip: finish after failure");
	/* a partial block, or an empty input (which still needs one member to be gzip) */
	if (!w->fill && !w->members && !(w->fill = acquire(w, err)))
		return -1;
	if (w->fill && submit(w, 1, err) < 0)
		return -1;
	if (drain(w, 0, 1, err) < 0)
		return -1;
	digest_final(&w->udg, d);
	if (diff_id)
		memcpy(diff_id, d, LM_DIGEST_LEN);
	if (usize)
		*usize = w->usize;
	w->failed = 1; /* finished: no more writes */
	return 0;
}

void gz_writer_free(struct gz_writer *w)
{
	if (!w)
		return;
	lm_pool_free(w->pool); /* queued work is dropped: nothing is emitted after a free */
	digest_abort(&w->udg);
	for (size_t i = 0; i < w->nslots; i++) {
		free(w->slots[i].in);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w);
}
