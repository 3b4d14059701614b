#include <string.h>

#include "common/digest.h"
#include "unit.h"

START_TEST(test_digest_known)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		{ "", "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char d[LM_DIGEST_LEN];
		digest_buf(cases[i].in, strlen(cases[i].in), d);
		ck_assert_str_eq(d, cases[i].out);
	}
}
END_TEST

START_TEST(test_digest_streaming_equals_oneshot)
{
	char a[LM_DIGEST_LEN], b[LM_DIGEST_LEN];
	struct digest_ctx c;
	const char *s = "hello, lambda layers";
	digest_buf(s, strlen(s), a);
	digest_init(&c);
	for (const char *p = s; *p; p++)
		digest_update(&c, p, 1);
	digest_final(&c, b);
	ck_assert_str_eq(a, b);
}
END_TEST

START_TEST(test_digest_valid)
{
	ck_assert(digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!digest_valid("sha256:E3B0C44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85"));
	ck_assert(!digest_valid("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555"));
	ck_assert(!digest_valid("sha512:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
	ck_assert(!digest_valid("sha256:../../etc/passwd"));
	ck_assert(!digest_valid(NULL));
}
END_TEST

SUITE(digest)
{
	Suite *s = suite_create("digest");
	TCASE(s, test_digest_known);
	TCASE(s, test_digest_streaming_equals_oneshot);
	TCASE(s, test_digest_valid);
	return s;
}
