/* compress.h - streaming gzip for layers: parallel deflate blocks, one gzip member.
 *
 * Input is cut into blocks that worker threads deflate independently (each primed with
 * the previous 32 KiB as dictionary, so the ratio barely suffers) and that are joined
 * in order into a single deflate stream, as pigz does. The header carries MTIME 0, no
 * file name and OS 255, so the bytes depend only on the input and the level. The
 * uncompressed digest (the layer's diff_id) is computed in the same pass; the sink sees
 * the compressed bytes in order (and computes the blob digest). Memory is bounded by
 * (2 * threads + 2) blocks whatever the input size. */
#ifndef LM_COMPRESS_H
#define LM_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "digest.h"
#include "err.h"

/* Receives compressed bytes in order; returns 0 or -1 with err set. */
typedef int (*gz_sink_fn)(void *ctx, const void *data, size_t len, struct lm_err *err);

struct gz_writer;

#define GZ_LEVEL_MIN 1
#define GZ_LEVEL_MAX 3
#define GZ_LEVEL_DEFAULT 2

/* level: ISA-L igzip level 1..3. threads: 0 = deflate in the caller's thread. */
struct gz_writer *gz_writer_new(int level, int threads, gz_sink_fn sink, void *ctx);
int gz_write(struct gz_writer *w, const void *data, size_t len, struct lm_err *err);
/* Flushes everything, writes the trailer; diff_id (may be NULL) receives the digest of
 * the uncompressed stream and usize its length. */
int gz_finish(struct gz_writer *w, char diff_id[LM_DIGEST_LEN], uint64_t *usize, struct lm_err *err);
/* Frees the writer (stopping its threads). NULL-safe. */
void gz_writer_free(struct gz_writer *w);

#endif
