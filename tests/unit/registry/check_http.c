#include <stdlib.h>
#include <string.h>

#include "registry/http.h"
#include "unit.h"

START_TEST(test_retry_after)
{
	/* 2015-10-21T07:28:00Z = 1445412480 */
	static const struct {
		const char *in;
		long want;
	} cases[] = {
		{ "0", 0 },
		{ "5", 5 },
		{ " 120 ", 120 },
		{ "Wed, 21 Oct 2015 07:28:00 GMT", 30 },
		{ "Wed, 21 Oct 2015 07:27:00 GMT", 0 },
		{ "-1", -1 },
		{ "soon", -1 },
		{ "5s", -1 },
		{ NULL, -1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_int_eq(http_retry_after(cases[i].in, 1445412450), cases[i].want);
}
END_TEST

START_TEST(test_backoff)
{
	ck_assert_int_eq(http_backoff_ms(1, -1), 250);
	ck_assert_int_eq(http_backoff_ms(2, -1), 500);
	ck_assert_int_eq(http_backoff_ms(4, -1), 2000);
	ck_assert_int_eq(http_backoff_ms(30, -1), 8000);
	ck_assert_int_eq(http_backoff_ms(1, 3), 3000);
	ck_assert_int_eq(http_backoff_ms(1, 0), 0);
	ck_assert_int_eq(http_backoff_ms(1, 3600), 60000);
	ck_assert(http_status_retryable(429) && http_status_retryable(503) && !http_status_retryable(404) &&
		  !http_status_retryable(401));
}
END_TEST

START_TEST(test_content_range)
{
	int64_t s, e, t;
	ck_assert_int_eq(http_content_range_parse("bytes 100-199/200", &s, &e, &t), 0);
	ck_assert(s == 100 && e == 199 && t == 200);
	ck_assert_int_eq(http_content_range_parse("bytes 0-0/*", &s, &e, &t), 0);
	ck_assert(s == 0 && e == 0 && t == -1);
	ck_assert_int_eq(http_content_range_parse("bytes 5-4/10", &s, &e, &t), -1);
	ck_assert_int_eq(http_content_range_parse("bytes 5-10/10", &s, &e, &t), -1);
	ck_assert_int_eq(http_content_range_parse("items 0-1/2", &s, &e, &t), -1);
	ck_assert_int_eq(http_content_range_parse("bytes 0-1/2x", &s, &e, &t), -1);
	ck_assert_int_eq(http_content_range_parse(NULL, &s, &e, &t), -1);
}
END_TEST

START_TEST(test_urls)
{
	char *u = http_url_resolve("http://r:5000/v2/a/blobs/uploads/", "/v2/a/blobs/uploads/x?_state=1");
	ck_assert_str_eq(u, "http://r:5000/v2/a/blobs/uploads/x?_state=1");
	free(u);
	u = http_url_resolve("https://r/v2/a/blobs/sha256:1", "https://s3.example.com/b?sig=1");
	ck_assert_str_eq(u, "https://s3.example.com/b?sig=1");
	free(u);
	ck_assert(http_same_origin("https://r/v2/x", "https://r:443/v2/y"));
	ck_assert(!http_same_origin("https://r/v2/x", "http://r/v2/x"));
	ck_assert(!http_same_origin("http://127.0.0.1:5000/a", "http://127.0.0.2:5000/a"));
	ck_assert(!http_same_origin("http://r:5000/a", "http://r:5001/a"));
	ck_assert(!http_same_origin("https://r.example/a", "https://s3.amazonaws.com/a"));
}
END_TEST

START_TEST(test_loopback)
{
	static const struct {
		const char *in;
		int want;
	} cases[] = {
		{ "127.0.0.1", 1 },     { "127.0.0.1:5000", 1 }, { "127.1.2.3:80", 1 }, { "localhost", 1 },
		{ "localhost:5000", 1 }, { "[::1]:5000", 1 },    { "::1", 1 },          { "128.0.0.1", 0 },
		{ "127.0.0.1.nip.io", 0 }, { "localhost.example", 0 }, { "public.ecr.aws", 0 }, { "10.0.0.1:5000", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(http_host_is_loopback(cases[i].in) == cases[i].want, "%s", cases[i].in);
}
END_TEST

SUITE(http)
{
	Suite *s = suite_create("http");
	TCASE(s, test_retry_after);
	TCASE(s, test_backoff);
	TCASE(s, test_content_range);
	TCASE(s, test_urls);
	TCASE(s, test_loopback);
	return s;
}
