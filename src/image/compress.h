/* compress.h - streaming gzip for layers: parallel libdeflate blocks, one gzip member each.
 *
 * Input is cut into 1 MiB blocks that worker threads compress independently with
 * libdeflate; each block becomes a complete gzip member (header, deflate stream, CRC-32
 * and size), and the members are written in input order. A concatenation of gzip
 * members is one gzip file (RFC 1952 section 2.2): gzip, zlib's gzread, Go's
 * compress/gzip (Docker, containerd, skopeo, umoci), libarchive and pigz all read the
 * whole of it. Every header carries MTIME 0, no file name, XFL 0 and OS 255, and block
 * boundaries depend only on the input's length, so the bytes depend only on the input
 * and the level, never on the number of threads or on how the input was written.
 * The uncompressed digest (the layer's diff_id) is computed in the same pass; the sink
 * sees the compressed bytes in order (and computes the blob digest). Memory is bounded
 * by (2 * threads + 2) blocks of input and output plus one compressor per thread
 * (0.2-0.7 MiB, 8.6 MiB at levels 10-12), whatever the input size. */
#ifndef LM_COMPRESS_H
#define LM_COMPRESS_H

#include <stddef.h>
#include <stdint.h>

#include "common/digest.h"
#include "common/err.h"

/* Receives compressed bytes in order; returns 0 or -1 with err set. */
typedef int (*gz_sink_fn)(void *ctx, const void *data, size_t len, struct lm_err *err);

struct gz_writer;

/* libdeflate's levels. 4 is the default: measured on a 228 MB tree of Python packages it
 * gives about 1.05x the bytes of `gzip -6` at about 4x its speed on one core (see
 * docs/architecture.md, "Layers and compression"). */
#define GZ_LEVEL_MIN 1
#define GZ_LEVEL_MAX 12
#define GZ_LEVEL_DEFAULT 4
/* Uncompressed bytes per gzip member. */
#define GZ_BLOCK (1u << 20)
/* At most this many workers: the caller's thread (reading files, tar, SHA-256) feeds
 * about 500 MB/s, which 4 workers at level 4 already keep up with, and each worker costs
 * about 3.5 MiB; 8 keeps a writer under 40 MiB on any machine. */
#define GZ_THREADS_MAX 8

/* level: GZ_LEVEL_MIN..GZ_LEVEL_MAX (clamped). threads: 0 = compress in the caller's
 * thread, else that many workers (at most GZ_THREADS_MAX). sink and ctx are borrowed.
 * Aborts if memory or threads cannot be had. */
struct gz_writer *gz_writer_new(int level, int threads, gz_sink_fn sink, void *ctx);
/* Consumes len bytes; may hand finished members to the sink. -1 with err set on failure
 * (the sink's error, or a compression failure); the writer is then unusable. */
int gz_write(struct gz_writer *w, const void *data, size_t len, struct lm_err *err);
/* Compresses what is left and hands the rest to the sink; an empty input gives one
 * empty member. diff_id (may be NULL) receives the digest of the uncompressed stream
 * and usize (may be NULL) its length. */
int gz_finish(struct gz_writer *w, char diff_id[LM_DIGEST_LEN], uint64_t *usize, struct lm_err *err);
/* Frees the writer (stopping its threads; queued work is dropped). NULL-safe. */
void gz_writer_free(struct gz_writer *w);

#endif
