#include <stdlib.h>
#include <string.h>

#include "registry/ref.h"
#include "unit.h"

#define D64 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

START_TEST(test_ref_good)
{
	static const struct {
		const char *in, *host, *repo, *tag, *digest, *norm;
	} cases[] = {
		{ "alpine", "docker.io", "library/alpine", "latest", "", "docker.io/library/alpine:latest" },
		{ "alpine:3.19", "docker.io", "library/alpine", "3.19", "", NULL },
		{ "user/img", "docker.io", "user/img", "latest", "", NULL },
		{ "docker.io/alpine", "docker.io", "library/alpine", "latest", "", NULL },
		{ "index.docker.io/library/alpine:edge", "docker.io", "library/alpine", "edge", "", NULL },
		{ "public.ecr.aws/lambda/python:3.12", "public.ecr.aws", "lambda/python", "3.12", "",
		  "public.ecr.aws/lambda/python:3.12" },
		{ "127.0.0.1:5000/lambda/python:3.12", "127.0.0.1:5000", "lambda/python", "3.12", "", NULL },
		{ "localhost/app", "localhost", "app", "latest", "", NULL },
		{ "localhost:5000/a/b/c:v1.0-rc_1", "localhost:5000", "a/b/c", "v1.0-rc_1", "", NULL },
		{ "[::1]:5000/app:x", "[::1]:5000", "app", "x", "", NULL },
		{ "123456789012.dkr.ecr.us-east-1.amazonaws.com/my-fn:latest",
		  "123456789012.dkr.ecr.us-east-1.amazonaws.com", "my-fn", "latest", "", NULL },
		{ "r.io/a@sha256:" D64, "r.io", "a", NULL, "sha256:" D64, "r.io/a@sha256:" D64 },
		{ "r.io/a:t@sha256:" D64, "r.io", "a", "t", "sha256:" D64, "r.io/a:t@sha256:" D64 },
		{ "r.io/a__b.c-d---e/f_g", "r.io", "a__b.c-d---e/f_g", "latest", "", NULL },
		{ "Registry.Example.com/x", "Registry.Example.com", "x", "latest", "", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ref r;
		struct lm_err err = LM_ERR_INIT;
		ck_assert_msg(ref_parse(cases[i].in, &r, &err) == 0, "%s: %s", cases[i].in, err.msg);
		ck_assert_str_eq(r.host, cases[i].host);
		ck_assert_str_eq(r.repo, cases[i].repo);
		if (cases[i].tag)
			ck_assert_str_eq(r.tag, cases[i].tag);
		else
			ck_assert_ptr_null(r.tag);
		ck_assert_str_eq(r.digest, cases[i].digest);
		if (cases[i].norm) {
			char *s = ref_string(&r);
			ck_assert_str_eq(s, cases[i].norm);
			free(s);
		}
		ref_release(&r);
	}
}
END_TEST

START_TEST(test_ref_bad)
{
	static const struct {
		const char *in, *needle;
	} cases[] = {
		{ "", "empty" },
		{ "Alpine", "lowercase" },
		{ "r.io/a b", "space" },
		{ "https://r.io/a", "scheme" },
		{ "r.io/a:", "bad tag" },
		{ "r.io/a:.x", "bad tag" },
		{ "r.io/a@sha256:abc", "64 lowercase hex" },
		{ "r.io/a@md5:" D64, "only sha256" },
		{ "r.io/", "no repository" },
		{ "r.io/a//b", "component ''" },
		{ "r.io/-a", "component '-a'" },
		{ "r.io/a_", "component 'a_'" },
		{ "r.io:99999/a", "bad registry host" },
		{ "r.io:/a", "bad registry host" },
		{ "r.io/a___b", "component" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ref r = { 0 };
		struct lm_err err = LM_ERR_INIT;
		ck_assert_msg(ref_parse(cases[i].in, &r, &err) == -1, "%s parsed", cases[i].in);
		ck_assert_int_eq(err.code, LM_E_INPUT);
		ck_assert_msg(strstr(err.msg, cases[i].needle), "%s: '%s' lacks '%s'", cases[i].in, err.msg,
			      cases[i].needle);
		ck_assert_ptr_null(r.host);
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_ref_helpers)
{
	struct ref r;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_int_eq(ref_parse("alpine@sha256:" D64, &r, &err), 0);
	ck_assert_str_eq(ref_api_host(&r), "registry-1.docker.io");
	ck_assert_str_eq(ref_manifest_ref(&r), "sha256:" D64);
	ref_release(&r);
	ck_assert_int_eq(ref_parse("q.io/x:y", &r, &err), 0);
	ck_assert_str_eq(ref_api_host(&r), "q.io");
	ck_assert_str_eq(ref_manifest_ref(&r), "y");
	ref_release(&r);
}
END_TEST

/* --tag and the manifest's "tag": what docker load would take as a name */
START_TEST(test_ref_check_name)
{
	static const struct {
		const char *s;
		int ok;
		const char *msg;
	} t[] = {
		{ "hello", 1, NULL },
		{ "hello:latest", 1, NULL },
		{ "my-org/app_x:v1.2-rc_3", 1, NULL },
		{ "localhost:5000/a/b:t", 1, NULL },
		{ "Registry.Example.com/app:Tag_1", 1, NULL }, /* hosts and tags may have capitals */
		{ "a__b/c--d:_x", 1, NULL },
		{ "UPPER/Case:tag", 0, "bad repository name component 'UPPER' (must be lowercase)" },
		{ "Bad Tag", 0, "contains a space" },
		{ "app:.hidden", 0, "bad tag '.hidden'" },
		{ "app:-x", 0, "bad tag" },
		{ "a___b", 0, "bad repository name component" },
		{ "app/", 0, "bad repository name component" },
		{ "app:", 0, "bad tag" },
		{ "", 0, "empty image reference" },
		{ "app@sha256:" D64, 0, "has a digest" },
		{ "https://x.io/app", 0, "URL scheme" },
	};
	char longtag[140];
	struct lm_err err = LM_ERR_INIT;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int r = ref_check_name(t[i].s, &err);
		ck_assert_msg((r == 0) == t[i].ok, "'%s': %d %s", t[i].s, r, err.msg ? err.msg : "");
		if (!t[i].ok) {
			ck_assert_int_eq(err.code, LM_E_INPUT);
			ck_assert_msg(strstr(err.msg, t[i].msg) && !strchr(err.msg, '\n'), "'%s': %s", t[i].s, err.msg);
			lm_err_release(&err);
		}
	}
	memset(longtag, 'x', sizeof(longtag));
	memcpy(longtag, "a:", 2);
	longtag[2 + 128] = '\0'; /* a 128-character tag is the longest */
	ck_assert_int_eq(ref_check_name(longtag, &err), 0);
	longtag[2 + 128] = 'x';
	longtag[2 + 129] = '\0';
	ck_assert_int_eq(ref_check_name(longtag, &err), -1);
	lm_err_release(&err);
}
END_TEST

SUITE(ref)
{
	Suite *s = suite_create("ref");
	TCASE(s, test_ref_good);
	TCASE(s, test_ref_bad);
	TCASE(s, test_ref_helpers);
	TCASE(s, test_ref_check_name);
	return s;
}
