#include "image/compress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libdeflate.h>

#include "common/alloc.h"

#define HDR_LEN 10
#define TRL_LEN 8

enum slot_state { SLOT_FREE, SLOT_PENDING, SLOT_RUNNING, SLOT_DONE };

/* One block: the caller fills in[], a worker turns it into a gzip member in out[]. */
struct slot {
	enum slot_state state;
	unsigned char *in;
	size_t inlen;
	unsigned char *out;
	size_t outlen;
	int failed;
};

struct gz_writer {
	int level;
	int threads; /* 0 = the caller compresses */
	int started; /* worker threads running */
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
	size_t seq_take;   /* next for a worker */
	pthread_t *tids;
	pthread_mutex_t mu;
	pthread_cond_t work; /* workers wait for pending slots */
	pthread_cond_t done; /* the caller waits for finished slots */
	int stop;
	struct libdeflate_compressor *own; /* the caller's compressor, made when first needed */
};

/* A fixed header: no MTIME, no name, no XFL hint, OS "unknown", so that the bytes depend
 * only on the data. */
static const unsigned char gz_header[HDR_LEN] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void compress_slot(struct slot *s, struct libdeflate_compressor *c, size_t outcap)
{
	size_t n;
	memcpy(s->out, gz_header, HDR_LEN);
	n = libdeflate_deflate_compress(c, s->in, s->inlen, s->out + HDR_LEN, outcap - HDR_LEN - TRL_LEN);
	if (n == 0) { /* cannot happen with the bound's room */
		s->failed = 1;
		return;
	}
	put_le32(s->out + HDR_LEN + n, libdeflate_crc32(0, s->in, s->inlen));
	put_le32(s->out + HDR_LEN + n + 4, (uint32_t)s->inlen);
	s->outlen = HDR_LEN + n + TRL_LEN;
	s->failed = 0;
}

static struct libdeflate_compressor *new_compressor(int level)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);
	if (!c)
		abort(); /* out of memory: like lm_xmalloc */
	return c;
}

static void *worker(void *arg)
{
	struct gz_writer *w = arg;
	struct libdeflate_compressor *c = new_compressor(w->level);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct slot *s;
		while (!w->stop && w->seq_take == w->seq_submit)
			pthread_cond_wait(&w->work, &w->mu);
		if (w->stop)
			break;
		s = &w->slots[w->seq_take % w->nslots];
		w->seq_take++;
		s->state = SLOT_RUNNING;
		pthread_mutex_unlock(&w->mu);
		compress_slot(s, c, w->outcap);
		pthread_mutex_lock(&w->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	libdeflate_free_compressor(c);
	return NULL;
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
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	return w;
}

/* Threads start with the first full block: a layer that fits in one block (most app
 * layers) is compressed by the caller and costs no thread. */
static void start_threads(struct gz_writer *w)
{
	w->tids = lm_xcalloc((size_t)w->threads, sizeof(*w->tids));
	for (int i = 0; i < w->threads; i++)
		if (pthread_create(&w->tids[i], NULL, worker, w) != 0)
			abort();
	w->started = 1;
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
	for (;;) {
		struct slot *s;
		int ready;
		pthread_mutex_lock(&w->mu);
		if (w->seq_emit == w->seq_submit) {
			pthread_mutex_unlock(&w->mu);
			return 0;
		}
		s = &w->slots[w->seq_emit % w->nslots];
		while (s->state != SLOT_DONE && (wait_one || wait_all))
			pthread_cond_wait(&w->done, &w->mu);
		ready = s->state == SLOT_DONE;
		pthread_mutex_unlock(&w->mu);
		if (!ready)
			return 0;
		if (s->failed) {
			w->failed = 1;
			return lm_err_set(err, LM_E_INTERNAL, "gzip: block %zu: libdeflate failed", w->seq_emit);
		}
		if (emit(w, s->out, s->outlen, err) < 0)
			return -1;
		pthread_mutex_lock(&w->mu);
		s->state = SLOT_FREE;
		w->seq_emit++;
		pthread_mutex_unlock(&w->mu);
		wait_one = 0;
	}
}

/* The slot for the next sequence number, once the sink has taken what it held. */
static struct slot *acquire(struct gz_writer *w, struct lm_err *err)
{
	struct slot *s;
	for (;;) {
		int busy;
		pthread_mutex_lock(&w->mu);
		busy = w->seq_submit - w->seq_emit >= w->nslots;
		pthread_mutex_unlock(&w->mu);
		if (!busy)
			break;
		if (drain(w, 1, 0, err) < 0)
			return NULL;
	}
	/* free: no worker looks at it until it is published */
	s = &w->slots[w->seq_submit % w->nslots];
	if (!s->in) {
		s->in = lm_xmalloc(GZ_BLOCK);
		s->out = lm_xmalloc(w->outcap);
	}
	s->inlen = 0;
	return s;
}

/* Compresses the filled slot: in the caller's thread for a lone last block or without
 * threads, else by the workers. */
static int submit(struct gz_writer *w, int last, struct lm_err *err)
{
	struct slot *s = w->fill;
	w->fill = NULL;
	w->members++;
	if (!w->started && (!w->threads || (last && w->seq_submit == w->seq_emit))) {
		if (!w->own)
			w->own = new_compressor(w->level);
		compress_slot(s, w->own, w->outcap);
		if (s->failed) {
			w->failed = 1;
			return lm_err_set(err, LM_E_INTERNAL, "gzip: block %zu: libdeflate failed", w->seq_submit);
		}
		if (emit(w, s->out, s->outlen, err) < 0)
			return -1;
		/* nothing is in flight here: the slot is free again at once */
		w->seq_submit++;
		w->seq_emit++;
		return 0;
	}
	if (!w->started)
		start_threads(w);
	pthread_mutex_lock(&w->mu);
	s->state = SLOT_PENDING;
	w->seq_submit++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
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
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1; /* queued work is dropped: nothing is emitted after a free */
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->mu);
		for (int i = 0; i < w->threads; i++)
			pthread_join(w->tids[i], NULL);
	}
	free(w->tids);
	digest_abort(&w->udg);
	for (size_t i = 0; i < w->nslots; i++) {
		free(w->slots[i].in);
		free(w->slots[i].out);
	}
	free(w->slots);
	if (w->own)
		libdeflate_free_compressor(w->own);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	free(w);
}
