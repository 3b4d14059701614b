#include "compress.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <isa-l/crc.h>
#include <isa-l/igzip_lib.h>

#include "util.h"

#define BLOCK (1u << 20)
#define DICT (32u << 10)

enum slot_state { SLOT_FREE, SLOT_PENDING, SLOT_RUNNING, SLOT_DONE };

struct slot {
	enum slot_state state;
	unsigned char *in;
	size_t inlen;
	unsigned char *dict; /* previous block's tail */
	size_t dictlen;
	int last;
	unsigned char *out;
	size_t outcap, outlen;
	int failed;
};

struct gz_writer {
	int level;
	int threads;
	gz_sink_fn sink;
	void *ctx;
	struct digest_ctx udg;
	uint32_t crc;
	uint64_t usize;
	int header_done;
	int failed;

	unsigned char *cur; /* block being filled */
	size_t curlen;
	unsigned char *tail; /* last DICT bytes of the previous block */
	size_t taillen;

	size_t nslots;
	struct slot *slots;
	size_t seq_submit; /* next sequence number to submit */
	size_t seq_emit;   /* next to hand to the sink */
	size_t seq_take;   /* next for a worker */
	pthread_t *tids;
	pthread_mutex_t mu;
	pthread_cond_t work; /* workers wait for pending slots */
	pthread_cond_t done; /* the caller waits for finished slots */
	int stop;
	unsigned char *sync_lvlbuf; /* level buffer for threads == 0 */
};

static uint32_t level_buf_size(int level)
{
	switch (level) {
	case 1:
		return ISAL_DEF_LVL1_DEFAULT;
	case 2:
		return ISAL_DEF_LVL2_DEFAULT;
	default:
		return ISAL_DEF_LVL3_DEFAULT;
	}
}

static size_t out_bound(size_t n)
{
	/* stored blocks in the worst case: 5 bytes per 64 KiB, plus flush markers and headers */
	return n + n / 8 + 4096;
}

static void deflate_slot(struct slot *s, int level, unsigned char *lvlbuf)
{
	struct isal_zstream z;
	isal_deflate_init(&z);
	z.level = (uint32_t)level;
	z.level_buf = lvlbuf;
	z.level_buf_size = level_buf_size(level);
	z.gzip_flag = IGZIP_DEFLATE;
	z.end_of_stream = s->last ? 1 : 0;
	z.flush = s->last ? NO_FLUSH : SYNC_FLUSH;
	if (s->dictlen && isal_deflate_set_dict(&z, s->dict, (uint32_t)s->dictlen) != COMP_OK) {
		s->failed = 1;
		return;
	}
	if (s->outcap < out_bound(s->inlen)) {
		s->outcap = out_bound(s->inlen);
		s->out = lm_xrealloc(s->out, s->outcap);
	}
	z.next_in = s->in;
	z.avail_in = (uint32_t)s->inlen;
	z.next_out = s->out;
	z.avail_out = (uint32_t)s->outcap;
	if (isal_deflate(&z) != COMP_OK || z.avail_in != 0 ||
	    (s->last && z.internal_state.state != ZSTATE_END)) {
		s->failed = 1;
		return;
	}
	s->outlen = s->outcap - z.avail_out;
}

static void *worker(void *arg)
{
	struct gz_writer *w = arg;
	unsigned char *lvlbuf = lm_xmalloc(level_buf_size(w->level));
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct slot *s;
		while (!w->stop && (w->seq_take == w->seq_submit))
			pthread_cond_wait(&w->work, &w->mu);
		if (w->stop && w->seq_take == w->seq_submit)
			break;
		s = &w->slots[w->seq_take % w->nslots];
		w->seq_take++;
		s->state = SLOT_RUNNING;
		pthread_mutex_unlock(&w->mu);
		deflate_slot(s, w->level, lvlbuf);
		pthread_mutex_lock(&w->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	free(lvlbuf);
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
	w->threads = threads < 0 ? 0 : threads;
	w->sink = sink;
	w->ctx = ctx;
	digest_init(&w->udg);
	w->cur = lm_xmalloc(BLOCK);
	w->tail = lm_xmalloc(DICT);
	w->nslots = w->threads ? (size_t)w->threads * 2 + 2 : 1;
	w->slots = lm_xcalloc(w->nslots, sizeof(*w->slots));
	for (size_t i = 0; i < w->nslots; i++) {
		w->slots[i].in = lm_xmalloc(BLOCK);
		w->slots[i].dict = lm_xmalloc(DICT);
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	if (w->threads) {
		w->tids = lm_xcalloc((size_t)w->threads, sizeof(*w->tids));
		for (int i = 0; i < w->threads; i++)
			if (pthread_create(&w->tids[i], NULL, worker, w) != 0)
				abort();
	} else {
		w->sync_lvlbuf = lm_xmalloc(level_buf_size(level));
	}
	return w;
}

static int emit(struct gz_writer *w, const void *data, size_t len, struct lm_err *err)
{
	if (w->failed)
		return -1;
	if (w->sink(w->ctx, data, len, err) < 0) {
		w->failed = 1;
		return -1;
	}
	return 0;
}

/* Hands finished slots to the sink in order; with wait, blocks until the oldest is done. */
static int drain(struct gz_writer *w, int wait_one, int wait_all, struct lm_err *err)
{
	for (;;) {
		struct slot *s;
		pthread_mutex_lock(&w->mu);
		if (w->seq_emit == w->seq_submit) {
			pthread_mutex_unlock(&w->mu);
			return 0;
		}
		s = &w->slots[w->seq_emit % w->nslots];
		while (s->state != SLOT_DONE && (wait_one || wait_all))
			pthread_cond_wait(&w->done, &w->mu);
		if (s->state != SLOT_DONE) {
			pthread_mutex_unlock(&w->mu);
			return 0;
		}
		pthread_mutex_unlock(&w->mu);
		if (s->failed) {
			w->failed = 1;
			return lm_err_set(err, LM_E_INTERNAL, "gzip: deflate failed");
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

static int submit(struct gz_writer *w, int last, struct lm_err *err)
{
	struct slot *s;
	if (!w->header_done) {
		static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
		if (emit(w, hdr, sizeof(hdr), err) < 0)
			return -1;
		w->header_done = 1;
	}
	if (!w->threads) {
		s = &w->slots[0];
		memcpy(s->in, w->cur, w->curlen);
		s->inlen = w->curlen;
		memcpy(s->dict, w->tail, w->taillen);
		s->dictlen = w->taillen;
		s->last = last;
		s->failed = 0;
		deflate_slot(s, w->level, w->sync_lvlbuf);
		if (s->failed)
			return lm_err_set(err, LM_E_INTERNAL, "gzip: deflate failed");
		if (emit(w, s->out, s->outlen, err) < 0)
			return -1;
	} else {
		/* make room: the slot for this sequence number must be free */
		for (;;) {
			int busy;
			pthread_mutex_lock(&w->mu);
			busy = w->seq_submit - w->seq_emit >= w->nslots;
			pthread_mutex_unlock(&w->mu);
			if (!busy)
				break;
			if (drain(w, 1, 0, err) < 0)
				return -1;
		}
		pthread_mutex_lock(&w->mu);
		s = &w->slots[w->seq_submit % w->nslots];
		pthread_mutex_unlock(&w->mu);
		/* the slot is free: no worker touches it until it is published below */
		memcpy(s->in, w->cur, w->curlen);
		s->inlen = w->curlen;
		memcpy(s->dict, w->tail, w->taillen);
		s->dictlen = w->taillen;
		s->last = last;
		s->failed = 0;
		pthread_mutex_lock(&w->mu);
		s->state = SLOT_PENDING;
		w->seq_submit++;
		pthread_cond_signal(&w->work);
		pthread_mutex_unlock(&w->mu);
		if (drain(w, 0, 0, err) < 0)
			return -1;
	}
	/* the next block's dictionary is this block's tail (plus the older tail if short) */
	if (w->curlen >= DICT) {
		memcpy(w->tail, w->cur + w->curlen - DICT, DICT);
		w->taillen = DICT;
	} else {
		size_t keep = DICT - w->curlen < w->taillen ? DICT - w->curlen : w->taillen;
		memmove(w->tail, w->tail + w->taillen - keep, keep);
		memcpy(w->tail + keep, w->cur, w->curlen);
		w->taillen = keep + w->curlen;
	}
	w->curlen = 0;
	return 0;
}

int gz_write(struct gz_writer *w, const void *data, size_t len, struct lm_err *err)
{
	const unsigned char *p = data;
	if (w->failed)
		return lm_err_set(err, LM_E_INTERNAL, "gzip: write after failure");
	digest_update(&w->udg, data, len);
	w->crc = crc32_gzip_refl(w->crc, (const unsigned char *)data, len);
	w->usize += len;
	while (len) {
		size_t n = BLOCK - w->curlen;
		if (n > len)
			n = len;
		memcpy(w->cur + w->curlen, p, n);
		w->curlen += n;
		p += n;
		len -= n;
		if (w->curlen == BLOCK && submit(w, 0, err) < 0)
			return -1;
	}
	return 0;
}

int gz_finish(struct gz_writer *w, char diff_id[LM_DIGEST_LEN], uint64_t *usize, struct lm_err *err)
{
	unsigned char trl[8];
	char d[LM_DIGEST_LEN];
	if (w->failed)
		return lm_err_set(err, LM_E_INTERNAL, "gzip: finish after failure");
	if (submit(w, 1, err) < 0)
		return -1;
	if (w->threads && drain(w, 0, 1, err) < 0)
		return -1;
	for (int i = 0; i < 4; i++) {
		trl[i] = (unsigned char)(w->crc >> (8 * i));
		trl[4 + i] = (unsigned char)((uint32_t)w->usize >> (8 * i));
	}
	if (emit(w, trl, sizeof(trl), err) < 0)
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
	if (w->threads) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		/* drop queued work: nothing will be emitted after a free */
		w->seq_take = w->seq_submit;
		pthread_cond_broadcast(&w->work);
		pthread_mutex_unlock(&w->mu);
		for (int i = 0; i < w->threads; i++)
			pthread_join(w->tids[i], NULL);
		free(w->tids);
	}
	digest_abort(&w->udg);
	for (size_t i = 0; i < w->nslots; i++) {
		free(w->slots[i].in);
		free(w->slots[i].dict);
		free(w->slots[i].out);
	}
	free(w->slots);
	free(w->cur);
	free(w->tail);
	free(w->sync_lvlbuf);
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	free(w);
}
