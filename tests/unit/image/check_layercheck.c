/* Layer blobs are checked against their media type and diff_id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "image/layer.h"
#include "image/layercheck.h"
#include "testimg.h"
#include "unit.h"

static char *tmp;
static struct cache *cache;

static void setup(void)
{
	struct lm_err err = LM_ERR_INIT;
	tmp = lm_mkdtemp(NULL, "check-layercheck", &err);
	char *cd = lm_path_join(tmp, "cache");
	cache = cache_open(cd, &err);
	ck_assert_ptr_nonnull(cache);
	free(cd);
}

static void teardown(void)
{
	cache_free(cache);
	lm_rm_rf_quiet(tmp);
	free(tmp);
}

/* A layer written by layer_write from a small tree: its descriptor and diff_id. */
static void good_layer(struct layer_result *res)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_tree t;
	struct layer_opts lo = { 315532800, 4, 0 };
	char *src = lm_path_join(tmp, "src");
	testimg_write(src, "a.txt", "hello\n");
	testimg_write(src, "d/b.txt", "world\n");
	tree_init(&t);
	ck_assert_int_eq(tree_scan(&t, src, "/var/task", NULL, &err), 0);
	tree_finish(&t);
	ck_assert_int_eq(layer_write(&t, &lo, cache, res, &err), 0);
	tree_release(&t);
	free(src);
}

START_TEST(test_good_gzip_layer)
{
	struct lm_err err = LM_ERR_INIT;
	struct layer_result res;
	struct layer_check lc;
	good_layer(&res);
	ck_assert_msg(layer_check(cache, &res.desc, &lc, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(lc.diff_id, res.diff_id);
	ck_assert_int_eq(lc.usize, res.usize);
	ck_assert_int_eq(lc.entries, 5); /* var, var/task, a.txt, d, d/b.txt */
	ck_assert_int_eq(layer_check_cached(cache, &res.desc, res.diff_id, &err), 0);
	/* a wrong diff_id is refused, also with the marker there */
	ck_assert_int_eq(layer_check_cached(cache, &res.desc, "sha256:" "0000000000000000000000000000000000000000000000000000000000000000", &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_msg(strstr(err.msg, "diff_id"), "%s", err.msg);
	lm_err_release(&err);
	layer_result_release(&res);
}
END_TEST

/* What the media type says must be what the bytes are. */
START_TEST(test_bad_layers)
{
	struct lm_err err = LM_ERR_INIT;
	struct layer_result res;
	struct layer_check lc;
	struct oci_descriptor d;
	char *gz = NULL, *plain = NULL;
	size_t gzlen = 0;
	good_layer(&res);
	/* the plain tar, from the gzip blob */
	ck_assert_int_eq(cache_read_blob(cache, res.desc.digest, 1 << 20, &gz, &gzlen, &err), 0);
	plain = lm_xmalloc(res.usize);
	{
		z_stream z;
		memset(&z, 0, sizeof(z));
		ck_assert_int_eq(inflateInit2(&z, 16 + 15), Z_OK);
		z.next_in = (unsigned char *)gz;
		z.avail_in = (unsigned)gzlen;
		z.next_out = (unsigned char *)plain;
		z.avail_out = (unsigned)res.usize;
		ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
		inflateEnd(&z);
	}
	memset(&d, 0, sizeof(d));
	/* a plain tar under the tar type: fine, same diff_id */
	ck_assert_int_eq(cache_put_buf(cache, plain, res.usize, d.digest, &err), 0);
	d.size = (int64_t)res.usize;
	d.media_type = (char *)OCI_MT_LAYER_TAR;
	ck_assert_msg(layer_check(cache, &d, &lc, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(lc.diff_id, res.diff_id);
	/* ... under a gzip type: refused */
	d.media_type = (char *)OCI_MT_LAYER_GZIP;
	ck_assert_int_eq(layer_check(cache, &d, &lc, &err), -1);
	ck_assert_msg(strstr(err.msg, "not gzip data"), "%s", err.msg);
	lm_err_release(&err);
	/* random bytes under either type */
	{
		char junk[3000];
		for (size_t i = 0; i < sizeof(junk); i++)
			junk[i] = (char)(i * 7919 % 251);
		ck_assert_int_eq(cache_put_buf(cache, junk, sizeof(junk), d.digest, &err), 0);
		d.size = sizeof(junk);
		ck_assert_int_eq(layer_check(cache, &d, &lc, &err), -1);
		lm_err_release(&err);
		d.media_type = (char *)OCI_MT_LAYER_TAR;
		ck_assert_int_eq(layer_check(cache, &d, &lc, &err), -1);
		ck_assert_int_eq(err.code, LM_E_INPUT);
		lm_err_release(&err);
	}
	/* a truncated gzip layer */
	ck_assert_int_eq(cache_put_buf(cache, gz, gzlen / 2, d.digest, &err), 0);
	d.size = (int64_t)(gzlen / 2);
	d.media_type = (char *)OCI_MT_LAYER_GZIP;
	ck_assert_int_eq(layer_check(cache, &d, &lc, &err), -1);
	lm_err_release(&err);
	/* not a layer type at all */
	d.media_type = (char *)"application/json";
	ck_assert_int_eq(layer_check(cache, &d, &lc, &err), -1);
	ck_assert_msg(strstr(err.msg, "not a layer's"), "%s", err.msg);
	lm_err_release(&err);
	free(gz);
	free(plain);
	layer_result_release(&res);
}
END_TEST

struct seen {
	char text[512];
};

static void note_entry(void *ctx, const struct layer_entry *e)
{
	struct seen *s = ctx;
	size_t n = strlen(s->text);
	snprintf(s->text + n, sizeof(s->text) - n, "%s %d %o\n", e->path, (int)e->type, e->mode);
}

/* layer_check_walk gives every entry in tar order: lamina's own layers list each directory
 * before what it holds (what `lamina check`'s parent-dir rule asks) */
START_TEST(test_walk_entries)
{
	struct lm_err err = LM_ERR_INIT;
	struct layer_result res;
	struct layer_check lc;
	struct seen s = { "" };
	good_layer(&res);
	ck_assert_msg(layer_check_walk(cache, &res.desc, &lc, note_entry, &s, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(lc.diff_id, res.diff_id);
	ck_assert_str_eq(s.text, "var/ 1 755\nvar/task/ 1 755\nvar/task/a.txt 0 644\nvar/task/d/ 1 755\n"
				 "var/task/d/b.txt 0 644\n");
	layer_result_release(&res);
}
END_TEST

SUITE(layercheck)
{
	Suite *s = suite_create("layercheck");
	TCase *tc = tcase_create("layercheck");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_good_gzip_layer);
	tcase_add_test(tc, test_bad_layers);
	tcase_add_test(tc, test_walk_entries);
	suite_add_tcase(s, tc);
	return s;
}
