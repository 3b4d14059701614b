#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/buf.h"
#include "image/compress.h"
#include "unit.h"

static const unsigned char gz_hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };

static int buf_sink(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	(void)err;
	return buf_append(ctx, data, len);
}

/* Compressible but not trivial: words with a pseudo-random order, about n bytes. */
static unsigned char *make_input(size_t n)
{
	static const char *words[] = { "lambda ", "layer ", "import ", "boto3 ", "numpy\n", "def ", "return ", "0xdeadbeef " };
	unsigned char *p = malloc(n);
	uint32_t x = 12345;
	size_t i = 0;
	while (i < n) {
		x = x * 1103515245u + 12345u;
		const char *w = words[(x >> 16) % 8];
		for (; *w && i < n; w++)
			p[i++] = (unsigned char)*w;
		if ((x >> 8) % 7 == 0 && i < n)
			p[i++] = (unsigned char)(x >> 3);
	}
	return p;
}

static void gz(const unsigned char *in, size_t n, int level, int threads, size_t piece, struct lm_buf *out,
	       char diff[LM_DIGEST_LEN])
{
	struct lm_err err = LM_ERR_INIT;
	struct gz_writer *w = gz_writer_new(level, threads, buf_sink, out);
	uint64_t us = 0;
	for (size_t off = 0; off < n; off += piece) {
		size_t k = n - off < piece ? n - off : piece;
		ck_assert_int_eq(gz_write(w, in + off, k, &err), 0);
	}
	ck_assert_int_eq(gz_finish(w, diff, &us, &err), 0);
	ck_assert_uint_eq(us, n);
	gz_writer_free(w);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Reads every member as a multi-member gzip reader does (zlib, reset after each member)
 * and checks each member on its own: the fixed header, GZ_BLOCK bytes in every member
 * but the last, and a trailer whose CRC-32 and ISIZE match that member's bytes.
 * Returns the decompressed bytes; *members gets the count. */
static unsigned char *gunzip_members(const struct lm_buf *b, size_t expect, size_t *members)
{
	unsigned char *out = malloc(expect + 16);
	size_t off = 0, done = 0;
	z_stream z;
	*members = 0;
	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(inflateInit2(&z, 16 + 15), Z_OK);
	while (off < b->len) {
		size_t before = done;
		ck_assert_msg(b->len - off >= 18, "member %zu: %zu bytes left", *members, b->len - off);
		ck_assert_msg(memcmp(b->data + off, gz_hdr, sizeof(gz_hdr)) == 0, "member %zu: header", *members);
		ck_assert_int_eq(inflateReset(&z), Z_OK);
		z.next_in = (unsigned char *)b->data + off;
		z.avail_in = (uInt)(b->len - off);
		z.next_out = out + done;
		z.avail_out = (uInt)(expect + 16 - done);
		ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
		done = expect + 16 - z.avail_out;
		off = b->len - z.avail_in;
		/* zlib has checked the trailer; check it names this member's bytes only */
		ck_assert_uint_eq(le32((const unsigned char *)b->data + off - 8),
				  crc32(0, out + before, (uInt)(done - before)));
		ck_assert_uint_eq(le32((const unsigned char *)b->data + off - 4), done - before);
		if (off < b->len)
			ck_assert_uint_eq(done - before, GZ_BLOCK);
		(*members)++;
	}
	inflateEnd(&z);
	ck_assert_uint_eq(done, expect);
	return out;
}

START_TEST(test_gzip_roundtrip_and_thread_independent)
{
	static const size_t sizes[] = { 0, 1, 4095, GZ_BLOCK - 1, GZ_BLOCK, 2 * GZ_BLOCK, 3 * GZ_BLOCK + 777 };
	static const int levels[] = { 1, GZ_LEVEL_DEFAULT, 6 };
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		unsigned char *in = make_input(n ? n : 1);
		for (size_t l = 0; l < sizeof(levels) / sizeof(levels[0]); l++) {
			struct lm_buf a, b, c;
			char da[LM_DIGEST_LEN], db[LM_DIGEST_LEN], dc[LM_DIGEST_LEN], want[LM_DIGEST_LEN];
			size_t members;
			buf_init(&a, 0);
			buf_init(&b, 0);
			buf_init(&c, 0);
			gz(in, n, levels[l], 0, 65536, &a, da);
			gz(in, n, levels[l], 3, 1000, &b, db);
			gz(in, n, levels[l], 1, GZ_BLOCK + 3, &c, dc);
			ck_assert_uint_eq(a.len, b.len);
			ck_assert_msg(memcmp(a.data, b.data, a.len) == 0, "bytes differ with thread count (n=%zu)", n);
			ck_assert_uint_eq(a.len, c.len);
			ck_assert_msg(memcmp(a.data, c.data, a.len) == 0, "bytes differ with write size (n=%zu)", n);
			digest_buf(in, n, want);
			ck_assert_str_eq(da, want);
			ck_assert_str_eq(db, want);
			ck_assert_str_eq(dc, want);
			unsigned char *back = gunzip_members(&a, n, &members);
			ck_assert(memcmp(back, in, n) == 0);
			/* one member per started block; an empty input is one empty member */
			ck_assert_uint_eq(members, n ? (n + GZ_BLOCK - 1) / GZ_BLOCK : 1);
			free(back);
			buf_release(&a);
			buf_release(&b);
			buf_release(&c);
		}
		free(in);
	}
}
END_TEST

/* The level is honoured: a higher level gives a smaller (and different) stream. */
START_TEST(test_gzip_level_changes_output)
{
	size_t n = 2 * GZ_BLOCK;
	unsigned char *in = make_input(n);
	struct lm_buf a, b;
	char d[LM_DIGEST_LEN];
	buf_init(&a, 0);
	buf_init(&b, 0);
	gz(in, n, 1, 2, 4096, &a, d);
	gz(in, n, 6, 2, 4096, &b, d);
	ck_assert_msg(b.len < a.len, "level 6 %zu bytes, level 1 %zu bytes", b.len, a.len);
	free(in);
	buf_release(&a);
	buf_release(&b);
}
END_TEST

START_TEST(test_gzip_header_golden)
{
	struct lm_buf a;
	char d[LM_DIGEST_LEN];
	buf_init(&a, 0);
	gz((const unsigned char *)"abc", 3, GZ_LEVEL_DEFAULT, 0, 3, &a, d);
	ck_assert(a.len > 18);
	ck_assert(memcmp(a.data, gz_hdr, 10) == 0); /* MTIME 0, no FNAME flag, XFL 0, OS 255 */
	/* trailer: CRC32("abc") = 0x352441c2, ISIZE 3, little-endian */
	ck_assert(memcmp(a.data + a.len - 8, "\xc2\x41\x24\x35\x03\x00\x00\x00", 8) == 0);
	ck_assert_str_eq(d, "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	buf_release(&a);
}
END_TEST

/* Streaming: the writer holds at most (2 * threads + 2) blocks, so the sink has every
 * member but the last few while input still arrives, and the same holds without threads. */
struct count_sink {
	size_t calls, bytes;
};

static int count_sink_fn(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	struct count_sink *c = ctx;
	(void)data, (void)err;
	c->calls++;
	c->bytes += len;
	return 0;
}

START_TEST(test_gzip_memory_bounded)
{
	static const int threads[] = { 0, 1, 2, 4, 50 }; /* 50: capped at GZ_THREADS_MAX */
	unsigned char *in = make_input(GZ_BLOCK);
	for (size_t t = 0; t < sizeof(threads) / sizeof(threads[0]); t++) {
		struct lm_err err = LM_ERR_INIT;
		struct count_sink cs = { 0, 0 };
		struct gz_writer *w = gz_writer_new(1, threads[t], count_sink_fn, &cs);
		size_t nt = threads[t] < GZ_THREADS_MAX ? (size_t)threads[t] : GZ_THREADS_MAX;
		size_t held = nt ? 2 * nt + 2 : 0;
		for (size_t i = 1; i <= 40; i++) {
			ck_assert_int_eq(gz_write(w, in, GZ_BLOCK, &err), 0);
			/* i blocks written: all but `held` of them already reached the sink */
			ck_assert_msg(cs.calls + held >= i, "threads %d: %zu blocks written, %zu emitted", threads[t],
				      i, cs.calls);
		}
		ck_assert_int_eq(gz_finish(w, NULL, NULL, &err), 0);
		ck_assert_uint_eq(cs.calls, 40);
		gz_writer_free(w);
	}
	free(in);
}
END_TEST

static int failing_sink(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	(void)ctx, (void)data, (void)len;
	return lm_err_set(err, LM_E_IO, "write 'x': No space left on device");
}

START_TEST(test_gzip_sink_error_propagates)
{
	static const int threads[] = { 0, 2 };
	unsigned char *in = make_input(3 * GZ_BLOCK);
	for (size_t t = 0; t < 2; t++) {
		struct lm_err err = LM_ERR_INIT;
		struct gz_writer *w = gz_writer_new(1, threads[t], failing_sink, NULL);
		int r = gz_write(w, in, 3 * GZ_BLOCK, &err);
		if (r == 0)
			r = gz_finish(w, NULL, NULL, &err);
		ck_assert_int_eq(r, -1);
		ck_assert_ptr_nonnull(strstr(err.msg, "No space left"));
		/* the writer stays failed */
		lm_err_release(&err);
		ck_assert_int_eq(gz_write(w, in, 10, &err), -1);
		gz_writer_free(w);
		lm_err_release(&err);
	}
	free(in);
}
END_TEST

/* Freeing a writer with work queued (an error elsewhere) stops its threads cleanly. */
START_TEST(test_gzip_free_unfinished)
{
	struct lm_buf a;
	struct lm_err err = LM_ERR_INIT;
	unsigned char *in = make_input(5 * GZ_BLOCK + 100);
	struct gz_writer *w;
	buf_init(&a, 0);
	w = gz_writer_new(6, 2, buf_sink, &a);
	ck_assert_int_eq(gz_write(w, in, 5 * GZ_BLOCK + 100, &err), 0);
	gz_writer_free(w);
	gz_writer_free(NULL);
	buf_release(&a);
	free(in);
}
END_TEST

SUITE(compress)
{
	Suite *s = suite_create("compress");
	TCASE(s, test_gzip_roundtrip_and_thread_independent);
	TCASE(s, test_gzip_level_changes_output);
	TCASE(s, test_gzip_header_golden);
	TCASE(s, test_gzip_memory_bounded);
	TCASE(s, test_gzip_sink_error_propagates);
	TCASE(s, test_gzip_free_unfinished);
	return s;
}
