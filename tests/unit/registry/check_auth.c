#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/auth.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

START_TEST(test_challenge_good)
{
	static const struct {
		const char *in;
		enum auth_scheme scheme;
		const char *realm, *service, *scope, *error;
	} cases[] = {
		{ "Bearer realm=\"https://public.ecr.aws/token/\",service=\"public.ecr.aws\",scope=\"aws\"", AUTH_BEARER,
		  "https://public.ecr.aws/token/", "public.ecr.aws", "aws", NULL },
		{ "bearer realm=https://t/x,service=reg", AUTH_BEARER, "https://t/x", "reg", NULL, NULL },
		{ "Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
		  "scope=\"repository:library/alpine:pull,push\",error=\"insufficient_scope\"",
		  AUTH_BEARER, "https://auth.docker.io/token", "registry.docker.io", "repository:library/alpine:pull,push",
		  "insufficient_scope" },
		{ "  Bearer   realm = \"r\" ,  service=\"a\\\"b\"", AUTH_BEARER, "r", "a\"b", NULL, NULL },
		{ "Basic realm=\"Registry Realm\"", AUTH_BASIC, "Registry Realm", NULL, NULL, NULL },
		{ "BASIC", AUTH_BASIC, NULL, NULL, NULL, NULL },
		{ "Bearer realm=\"r1\", Basic realm=\"r2\"", AUTH_BEARER, "r1", NULL, NULL, NULL },
		{ "Bearer realm=\"r\",unknown=\"zz\",service=\"s\"", AUTH_BEARER, "r", "s", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct auth_challenge c;
		struct lm_err err = LM_ERR_INIT;
		ck_assert_msg(auth_challenge_parse(cases[i].in, &c, &err) == 0, "%s: %s", cases[i].in, err.msg);
		ck_assert_int_eq(c.scheme, cases[i].scheme);
#define CK(f)                                          \
	if (cases[i].f)                                    \
		ck_assert_str_eq(c.f ? c.f : "(null)", cases[i].f); \
	else                                               \
		ck_assert_ptr_null(c.f);
		CK(realm)
		CK(service)
		CK(scope)
		CK(error)
#undef CK
		auth_challenge_release(&c);
	}
}
END_TEST

START_TEST(test_challenge_bad)
{
	static const char *const cases[] = { "", "Negotiate abc", "Bearer service=\"x\"", "Bearer realm=\"open",
					     "Digest realm=\"x\"", "Bearer =x" };
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct auth_challenge c;
		struct lm_err err = LM_ERR_INIT;
		ck_assert_msg(auth_challenge_parse(cases[i], &c, &err) == -1, "'%s' parsed", cases[i]);
		ck_assert_int_eq(err.code, LM_E_AUTH);
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_token_parse)
{
	static const struct {
		const char *in, *tok;
		int exp;
	} cases[] = {
		{ "{\"token\":\"abc\"}", "abc", 0 },
		{ "{\"access_token\":\"xyz\",\"expires_in\":300}", "xyz", 300 },
		{ "{\"token\":\"\",\"access_token\":\"x2\"}", "x2", 0 },
		{ "{\"nothing\":1}", NULL, 0 },
		{ "[]", NULL, 0 },
		{ "garbage", NULL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *t = NULL;
		int e = -1;
		struct lm_err err = LM_ERR_INIT;
		int r = auth_token_parse(cases[i].in, strlen(cases[i].in), &t, &e, &err);
		if (cases[i].tok) {
			ck_assert_int_eq(r, 0);
			ck_assert_str_eq(t, cases[i].tok);
			ck_assert_int_eq(e, cases[i].exp);
		} else {
			ck_assert_int_eq(r, -1);
			ck_assert_ptr_null(t);
		}
		free(t);
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_basic_header)
{
	char *h = auth_basic_header("AWS", "p:w");
	ck_assert_str_eq(h, "Basic QVdTOnA6dw==");
	free(h);
}
END_TEST

/* base64("alice:s3cret") = YWxpY2U6czNjcmV0 */
static const char config[] = "{"
			     " \"auths\": {"
			     "  \"https://index.docker.io/v1/\": {\"auth\": \"YWxpY2U6czNjcmV0\"},"
			     "  \"reg.example.com\": {\"username\": \"bob\", \"password\": \"pw\"},"
			     "  \"https://other.example.com/v1/\": {\"auth\": \"YWxpY2U6czNjcmV0\"},"
			     "  \"tok.example.com\": {\"identitytoken\": \"refresh-me\"},"
			     "  \"stub.example.com\": {}"
			     " },"
			     " \"credHelpers\": {\"123.dkr.ecr.us-east-1.amazonaws.com\": \"ecr-login\"},"
			     " \"credsStore\": \"desktop\""
			     "}";

START_TEST(test_config_lookup)
{
	static const struct {
		const char *host, *user, *pass, *itok, *helper, *server;
	} cases[] = {
		{ "docker.io", "alice", "s3cret", NULL, NULL, "https://index.docker.io/v1/" },
		{ "reg.example.com", "bob", "pw", NULL, NULL, "reg.example.com" },
		{ "other.example.com", "alice", "s3cret", NULL, NULL, "other.example.com" },
		{ "tok.example.com", NULL, NULL, "refresh-me", NULL, "tok.example.com" },
		{ "123.dkr.ecr.us-east-1.amazonaws.com", NULL, NULL, NULL, "ecr-login", NULL },
		{ "stub.example.com", NULL, NULL, NULL, "desktop", "stub.example.com" },
		{ "reg.example", NULL, NULL, NULL, "desktop", NULL },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct auth_lookup l;
		struct lm_err err = LM_ERR_INIT;
		ck_assert_int_eq(auth_config_lookup(config, strlen(config), cases[i].host, &l, &err), 1);
#define CK(f, v)                                  \
	if (v)                                        \
		ck_assert_str_eq(f ? f : "(null)", v); \
	else if (!cases[i].helper)                    \
		ck_assert_ptr_null(f);
		CK(l.cred.username, cases[i].user)
		CK(l.cred.password, cases[i].pass)
		CK(l.cred.identity_token, cases[i].itok)
		CK(l.helper, cases[i].helper)
		CK(l.server, cases[i].server)
#undef CK
		auth_lookup_release(&l);
	}
}
END_TEST

START_TEST(test_config_lookup_none_and_bad)
{
	struct auth_lookup l;
	struct lm_err err = LM_ERR_INIT;
	const char *none = "{\"auths\":{\"a.io\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}";
	ck_assert_int_eq(auth_config_lookup(none, strlen(none), "b.io", &l, &err), 0);
	ck_assert_int_eq(auth_config_lookup(none, strlen(none), "a.iox", &l, &err), 0);
	ck_assert_int_eq(auth_config_lookup("{", 1, "a.io", &l, &err), -1);
	lm_err_release(&err);
}
END_TEST

START_TEST(test_helper_parse)
{
	struct auth_cred c;
	struct lm_err err = LM_ERR_INIT;
	const char *a = "{\"ServerURL\":\"x\",\"Username\":\"AWS\",\"Secret\":\"pw\"}";
	const char *b = "{\"Username\":\"<token>\",\"Secret\":\"idtok\"}";
	ck_assert_int_eq(auth_helper_parse(a, strlen(a), &c, &err), 0);
	ck_assert_str_eq(c.username, "AWS");
	ck_assert_str_eq(c.password, "pw");
	auth_cred_release(&c);
	ck_assert_int_eq(auth_helper_parse(b, strlen(b), &c, &err), 0);
	ck_assert_ptr_null(c.username);
	ck_assert_str_eq(c.identity_token, "idtok");
	auth_cred_release(&c);
	ck_assert_int_eq(auth_helper_parse("{}", 2, &c, &err), -1);
	lm_err_release(&err);
}
END_TEST

/* A fake docker-credential-fake on PATH: checks the protocol (argument "get", server on stdin). */
START_TEST(test_helper_get_and_resolve)
{
	struct lm_err err = LM_ERR_INIT;
	struct auth_cred c = { 0 };
	char *dir = lm_mkdtemp(NULL, "lamina-auth", &err), *script, *path, *oldpath, *cfg;
	FILE *f;
	ck_assert_ptr_nonnull(dir);
	script = lm_path_join(dir, "docker-credential-fake");
	f = fopen(script, "w");
	fprintf(f, "#!/bin/sh\n"
		   "[ \"$1\" = get ] || exit 3\n"
		   "read -r server\n"
		   "case \"$server\" in\n"
		   "  reg.test:5000) echo '{\"ServerURL\":\"'\"$server\"'\",\"Username\":\"u1\",\"Secret\":\"p1\"}' ;;\n"
		   "  *) echo 'credentials not found in native keychain'; exit 1 ;;\n"
		   "esac\n");
	fclose(f);
	chmod(script, 0755);
	oldpath = lm_xstrdup(getenv("PATH"));
	path = lm_asprintf("%s:%s", dir, oldpath);
	setenv("PATH", path, 1);

	ck_assert_int_eq(auth_helper_get("fake", "reg.test:5000", &c, &err), 1);
	ck_assert_str_eq(c.username, "u1");
	ck_assert_str_eq(c.password, "p1");
	auth_cred_release(&c);
	ck_assert_int_eq(auth_helper_get("fake", "nope.test", &c, &err), 0);
	ck_assert_int_eq(auth_helper_get("missing-helper", "x", &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "not found"));
	lm_err_release(&err);

	cfg = lm_path_join(dir, "config.json");
	f = fopen(cfg, "w");
	fprintf(f, "{\"credHelpers\":{\"reg.test:5000\":\"fake\"},"
		   "\"auths\":{\"plain.test\":{\"auth\":\"YWxpY2U6czNjcmV0\"}}}");
	fclose(f);
	setenv("DOCKER_CONFIG", dir, 1);
	ck_assert_int_eq(auth_resolve("reg.test:5000", &c, &err), 1);
	ck_assert_str_eq(c.password, "p1");
	auth_cred_release(&c);
	ck_assert_int_eq(auth_resolve("plain.test", &c, &err), 1);
	ck_assert_str_eq(c.username, "alice");
	auth_cred_release(&c);
	ck_assert_int_eq(auth_resolve("none.test", &c, &err), 0);
	unsetenv("DOCKER_CONFIG");
	setenv("PATH", oldpath, 1);
	lm_rm_rf(dir, &err);
	free(cfg);
	free(script);
	free(path);
	free(oldpath);
	free(dir);
}
END_TEST

SUITE(auth)
{
	Suite *s = suite_create("auth");
	TCASE(s, test_challenge_good);
	TCASE(s, test_challenge_bad);
	TCASE(s, test_token_parse);
	TCASE(s, test_basic_header);
	TCASE(s, test_config_lookup);
	TCASE(s, test_config_lookup_none_and_bad);
	TCASE(s, test_helper_parse);
	TCASE(s, test_helper_get_and_resolve);
	return s;
}
