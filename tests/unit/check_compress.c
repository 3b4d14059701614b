#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "buf.h"
#include "compress.h"
#include "unit.h"

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

static unsigned char *gunzip(const struct lm_buf *b, size_t expect)
{
	unsigned char *out = malloc(expect + 16);
	z_stream z;
	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(inflateInit2(&z, 16 + 15), Z_OK);
	z.next_in = (unsigned char *)b->data;
	z.avail_in = (uInt)b->len;
	z.next_out = out;
	z.avail_out = (uInt)(expect + 16);
	ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
	ck_assert_uint_eq(z.total_out, expect);
	ck_assert_uint_eq(z.avail_in, 0); /* a single member: nothing after the trailer */
	inflateEnd(&z);
	return out;
}

START_TEST(test_gzip_roundtrip_and_thread_independent)
{
	static const size_t sizes[] = { 0, 1, 4095, (1u << 20) - 1, 1u << 20, (3u << 20) + 777 };
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t n = sizes[s];
		unsigned char *in = make_input(n ? n : 1);
		for (int level = 1; level <= 3; level++) {
			struct lm_buf a, b;
			char da[LM_DIGEST_LEN], db[LM_DIGEST_LEN], want[LM_DIGEST_LEN];
			buf_init(&a, 0);
			buf_init(&b, 0);
			gz(in, n, level, 0, 65536, &a, da);
			gz(in, n, level, 3, 1000, &b, db);
			ck_assert_uint_eq(a.len, b.len);
			ck_assert_msg(memcmp(a.data, b.data, a.len) == 0, "bytes differ with thread count (n=%zu)", n);
			digest_buf(in, n, want);
			ck_assert_str_eq(da, want);
			ck_assert_str_eq(db, want);
			unsigned char *back = gunzip(&a, n);
			ck_assert(memcmp(back, in, n) == 0);
			free(back);
			buf_release(&a);
			buf_release(&b);
		}
		free(in);
	}
}
END_TEST

START_TEST(test_gzip_header_golden)
{
	static const unsigned char hdr[10] = { 0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff };
	struct lm_buf a;
	char d[LM_DIGEST_LEN];
	buf_init(&a, 0);
	gz((const unsigned char *)"abc", 3, 2, 0, 3, &a, d);
	ck_assert(a.len > 18);
	ck_assert(memcmp(a.data, hdr, 10) == 0); /* MTIME 0, no FNAME flag */
	/* trailer: CRC32("abc") = 0x352441c2, ISIZE 3, little-endian */
	ck_assert(memcmp(a.data + a.len - 8, "\xc2\x41\x24\x35\x03\x00\x00\x00", 8) == 0);
	buf_release(&a);
}
END_TEST

static int failing_sink(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	(void)ctx, (void)data, (void)len;
	return lm_err_set(err, LM_E_IO, "write 'x': No space left on device");
}

START_TEST(test_gzip_sink_error_propagates)
{
	struct lm_err err = LM_ERR_INIT;
	unsigned char *in = make_input(3u << 20);
	struct gz_writer *w = gz_writer_new(1, 2, failing_sink, NULL);
	int r = gz_write(w, in, 3u << 20, &err);
	if (r == 0)
		r = gz_finish(w, NULL, NULL, &err);
	ck_assert_int_eq(r, -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "No space left"));
	gz_writer_free(w);
	lm_err_release(&err);
	free(in);
}
END_TEST

SUITE(compress)
{
	Suite *s = suite_create("compress");
	TCASE(s, test_gzip_roundtrip_and_thread_independent);
	TCASE(s, test_gzip_header_golden);
	TCASE(s, test_gzip_sink_error_propagates);
	return s;
}
