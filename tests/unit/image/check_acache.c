/* The action cache: keys that tell inputs apart, records that survive only whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "image/acache.h"
#include "unit.h"

static char *tmp;
static struct cache *cache;

static void setup(void)
{
	struct lm_err err = LM_ERR_INIT;
	tmp = lm_mkdtemp(NULL, "check-acache", &err);
	ck_assert_ptr_nonnull(tmp);
	cache = cache_open(tmp, &err);
	ck_assert_ptr_nonnull(cache);
}

static void teardown(void)
{
	cache_free(cache);
	lm_rm_rf_quiet(tmp);
	free(tmp);
}

/* A key of kind + two strings. */
static void key2(const char *kind, const char *a, const char *b, char out[LM_DIGEST_LEN])
{
	struct ac_key k;
	ac_key_init(&k, kind);
	ac_key_str(&k, a);
	ac_key_str(&k, b);
	ac_key_final(&k, out);
}

START_TEST(test_keys_tell_inputs_apart)
{
	char a[LM_DIGEST_LEN], b[LM_DIGEST_LEN];
	key2("layer", "ab", "c", a);
	key2("layer", "ab", "c", b);
	ck_assert_str_eq(a, b);
	ck_assert_int_eq(digest_valid(a), 1);
	key2("layer", "a", "bc", b); /* same bytes, other split */
	ck_assert_str_ne(a, b);
	key2("pyc", "ab", "c", b); /* other kind */
	ck_assert_str_ne(a, b);
	key2("layer", "ab", NULL, a);
	key2("layer", "ab", "", b); /* NULL is not "" */
	ck_assert_str_ne(a, b);
	{
		struct ac_key k1, k2;
		char x[LM_DIGEST_LEN], y[LM_DIGEST_LEN];
		ac_key_init(&k1, "n");
		ac_key_u64(&k1, 1);
		ac_key_final(&k1, x);
		ac_key_init(&k2, "n");
		ac_key_u64(&k2, 256);
		ac_key_final(&k2, y);
		ck_assert_str_ne(x, y);
	}
}
END_TEST

START_TEST(test_put_get)
{
	struct lm_err err = LM_ERR_INIT;
	char key[LM_DIGEST_LEN], *data = NULL;
	size_t len = 0;
	int corrupt = 0;
	key2("t", "x", "y", key);
	ck_assert_int_eq(ac_get(cache, key, &data, &len, &corrupt), 0);
	ck_assert_int_eq(corrupt, 0);
	ck_assert_int_eq(ac_put(cache, key, "{\"a\":1}", 7, &err), 0);
	ck_assert_int_eq(ac_get(cache, key, &data, &len, &corrupt), 1);
	ck_assert_int_eq(len, 7);
	ck_assert_str_eq(data, "{\"a\":1}");
	free(data);
	/* replaced */
	ck_assert_int_eq(ac_put(cache, key, "", 0, &err), 0);
	ck_assert_int_eq(ac_get(cache, key, &data, &len, &corrupt), 1);
	ck_assert_int_eq(len, 0);
	free(data);
	ac_del(cache, key);
	ck_assert_int_eq(ac_get(cache, key, &data, &len, &corrupt), 0);
	/* a record is private to the user */
	ck_assert_int_eq(ac_put(cache, key, "z", 1, &err), 0);
	{
		struct stat st;
		char *p = ac_path(cache, key);
		ck_assert_int_eq(stat(p, &st), 0);
		ck_assert_int_eq(st.st_mode & 077, 0);
		free(p);
	}
}
END_TEST

/* A record changed, cut short or replaced by something else is a miss, reported, and gone. */
START_TEST(test_corrupt_records)
{
	struct lm_err err = LM_ERR_INIT;
	char key[LM_DIGEST_LEN], *data = NULL, *p;
	size_t len;
	int corrupt;
	FILE *f;
	key2("t", "corrupt", NULL, key);
	p = ac_path(cache, key);
	for (int mode = 0; mode < 4; mode++) {
		ck_assert_int_eq(ac_put(cache, key, "{\"blob\":\"sha256:00\"}", 20, &err), 0);
		if (mode == 0) { /* one byte changed */
			f = fopen(p, "r+");
			fseek(f, -3, SEEK_END);
			fputc('1', f);
			fclose(f);
		} else if (mode == 1) { /* truncated */
			ck_assert_int_eq(truncate(p, 40), 0);
		} else if (mode == 2) { /* no header */
			f = fopen(p, "w");
			fputs("{\"blob\":\"sha256:00\"}", f);
			fclose(f);
		} else { /* a symlink to a valid record elsewhere */
			char *other = lm_asprintf("%s.other", p);
			ck_assert_int_eq(rename(p, other), 0);
			ck_assert_int_eq(symlink(other, p), 0);
			free(other);
		}
		corrupt = 0;
		ck_assert_msg(ac_get(cache, key, &data, &len, &corrupt) == 0, "mode %d", mode);
		ck_assert_msg(corrupt == 1, "mode %d", mode);
		ck_assert_msg(access(p, F_OK) != 0, "mode %d: the bad record is still there", mode);
	}
	free(p);
}
END_TEST

SUITE(acache)
{
	Suite *s = suite_create("acache");
	TCase *tc = tcase_create("acache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_keys_tell_inputs_apart);
	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_corrupt_records);
	suite_add_tcase(s, tc);
	return s;
}
