/* The registry session's pure decisions (registry_internal.h): no network. */
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "registry/registry.h"
#include "registry/registry_internal.h"
#include "unit.h"

#define H64(c)                                                                                                         \
	c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c  \
		c c c c c c c c c
#define D1 "sha256:" H64("1")
#define D2 "sha256:" H64("2")
#define D3 "sha256:" H64("3")

START_TEST(test_insecure_hosts)
{
	static const char *const list[] = { "reg.internal", "other.example:5000", "10.0.0.7" };
	static const struct {
		const char *host;
		int want;
	} t[] = {
		{ "localhost", 1 }, /* loopback: always */
		{ "localhost:5000", 1 },     { "127.0.0.1:40123", 1 },	     { "[::1]:5000", 1 },
		{ "reg.internal", 1 },					     /* HOST: any port */
		{ "reg.internal:443", 1 },   { "reg.internal.evil.com", 0 }, /* not a prefix match */
		{ "reg.internalx:5000", 0 }, { "other.example:5000", 1 },    /* HOST:PORT: only that port */
		{ "other.example:5001", 0 }, { "other.example", 0 },	     { "10.0.0.7:5000", 1 },
		{ "10.0.0.70", 0 },	     { "public.ecr.aws", 0 },	     { "registry-1.docker.io", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(reg_is_insecure(list, 3, t[i].host) == t[i].want, "'%s': want %d", t[i].host, t[i].want);
	ck_assert_int_eq(reg_is_insecure(NULL, 0, "reg.internal"), 0);
}
END_TEST

START_TEST(test_accept)
{
	/* a manifest GET accepts single images and indexes, OCI and Docker */
	static const char *const want[] = { OCI_MT_MANIFEST, OCI_MT_INDEX, DOCKER_MT_MANIFEST, DOCKER_MT_LIST };
	for (size_t i = 0; i < 4; i++)
		ck_assert_msg(strstr(REG_ACCEPT, want[i]) != NULL, "Accept lacks %s", want[i]);
	ck_assert_str_eq(REG_ACCEPT, "application/vnd.oci.image.manifest.v1+json, "
				     "application/vnd.oci.image.index.v1+json, "
				     "application/vnd.docker.distribution.manifest.v2+json, "
				     "application/vnd.docker.distribution.manifest.list.v2+json");
}
END_TEST

START_TEST(test_token_request_get)
{
	struct auth_challenge ch = { AUTH_BEARER, "https://auth.example/token", "reg.example", NULL, NULL };
	char *scopes[] = { "repository:a/b:pull", "repository:c:pull,push" };
	struct auth_cred basic = { "user", "secret", NULL };
	struct lm_buf url, form;
	buf_init(&url, 0);
	buf_init(&form, 0);
	/* anonymous and Basic credentials: a GET with the parameters in the query */
	ck_assert_int_eq(reg_token_request(&ch, NULL, scopes, 2, &url, &form), 0);
	ck_assert_str_eq(url.data, "https://auth.example/token?service=reg.example&scope=repository%3Aa%2Fb%3Apull"
				   "&scope=repository%3Ac%3Apull%2Cpush");
	ck_assert_uint_eq(form.len, 0);
	buf_reset(&url);
	ck_assert_int_eq(reg_token_request(&ch, &basic, scopes, 1, &url, &form), 0);
	ck_assert_str_eq(url.data, "https://auth.example/token?service=reg.example&scope=repository%3Aa%2Fb%3Apull");
	ck_assert_ptr_null(strstr(url.data, "secret"));
	/* a realm with a query of its own; no service */
	buf_reset(&url);
	ch.realm = "https://auth.example/token?account=x";
	ch.service = NULL;
	ck_assert_int_eq(reg_token_request(&ch, NULL, scopes, 1, &url, &form), 0);
	ck_assert_str_eq(url.data, "https://auth.example/token?account=x&scope=repository%3Aa%2Fb%3Apull");
	buf_release(&url);
	buf_release(&form);
}
END_TEST

START_TEST(test_token_request_identity_token)
{
	struct auth_challenge ch = { AUTH_BEARER, "https://auth.example/token", "reg.example", NULL, NULL };
	char *scopes[] = { "repository:a:pull" };
	struct auth_cred idt = { NULL, NULL, "r3fresh&tok=en" };
	struct lm_buf url, form;
	buf_init(&url, 0);
	buf_init(&form, 0);
	/* an identity token: an OAuth2 refresh-token grant, posted; the URL is the bare realm */
	ck_assert_int_eq(reg_token_request(&ch, &idt, scopes, 1, &url, &form), 1);
	ck_assert_str_eq(url.data, "https://auth.example/token");
	ck_assert_str_eq(form.data, "grant_type=refresh_token&client_id=lamina&service=reg.example"
				    "&scope=repository%3Aa%3Apull&refresh_token=r3fresh%26tok%3Den");
	buf_reset(&form);
	buf_reset(&url);
	ch.service = NULL;
	ck_assert_int_eq(reg_token_request(&ch, &idt, NULL, 0, &url, &form), 1);
	ck_assert_str_eq(form.data,
			 "grant_type=refresh_token&client_id=lamina&service=&refresh_token=r3fresh%26tok%3Den");
	buf_release(&url);
	buf_release(&form);
}
END_TEST

START_TEST(test_error_message)
{
	static const struct {
		const char *body, *want;
	} t[] = {
		{ "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"requested access to the resource is denied\"}]}",
		  "requested access to the resource is denied" },
		{ "{\"errors\":[{\"code\":\"X\",\"message\":\"\"}]}", "" },
		{ "{\"errors\":[{\"code\":\"X\"}]}", NULL },
		{ "{\"message\":\"unterminated", NULL },
		{ "<html>502 Bad Gateway</html>", NULL },
		{ "", NULL },
		{ NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *m = reg_error_message(t[i].body);
		if (t[i].want)
			ck_assert_msg(m && strcmp(m, t[i].want) == 0, "case %zu: '%s'", i, m ? m : "(null)");
		else
			ck_assert_msg(m == NULL, "case %zu: '%s'", i, m);
		free(m);
	}
}
END_TEST

#define IDX_ENTRY(dg, plat)                                                                                            \
	"{\"mediaType\":\"" OCI_MT_MANIFEST "\",\"digest\":\"" dg "\",\"size\":100,\"platform\":" plat "}"

START_TEST(test_select_platform)
{
	static const char
		in[] = "{\"schemaVersion\":2,\"manifests\":[" IDX_ENTRY(D1, "{\"architecture\":\"amd64\",\"os\":"
									    "\"linux\"}") "," IDX_ENTRY(
			D2,
			"{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}") "," IDX_ENTRY(D3,
													  "{\"architect"
													  "ure\":"
													  "\"unknown\","
													  "\"os\":"
													  "\"unknown\""
													  "}") "]}";
	static const struct {
		const char *want;
		int idx;
	} t[] = {
		{ "linux/amd64", 0 },	{ "linux/x86_64", 0 },	 { "linux/arm64", 1 },
		{ "linux/aarch64", 1 }, { "linux/arm64/v8", 1 }, { "linux/arm64/v9", -1 },
	};
	struct lm_err err = LM_ERR_INIT;
	struct oci_index ix;
	char *pl;
	ck_assert_msg(oci_index_parse(in, sizeof(in) - 1, &ix, &err) == 0, "%s", err.msg);
	pl = reg_platforms_list(&ix);
	ck_assert_str_eq(pl, "linux/amd64, linux/arm64/v8, unknown/unknown");
	free(pl);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct oci_platform w;
		ck_assert_int_eq(oci_platform_parse(t[i].want, &w, &err), 0);
		ck_assert_msg(reg_select_platform(&ix, &w, t[i].want, "reg/app:1", &err) == t[i].idx, "%s", t[i].want);
		if (t[i].idx < 0) {
			char *want = NULL;
			ck_assert_int_eq(err.code, LM_E_INPUT);
			want = lm_asprintf("'reg/app:1' has no image for platform '%s' (it has: linux/amd64, "
					   "linux/arm64/v8, unknown/unknown)",
					   t[i].want);
			ck_assert_str_eq(err.msg, want);
			free(want);
			lm_err_release(&err);
		} else {
			ck_assert_int_eq(err.code, 0);
		}
		oci_platform_release(&w);
	}
	oci_index_release(&ix);
}
END_TEST

START_TEST(test_select_platform_none_listed)
{
	static const char in[] = "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MT_MANIFEST
				 "\",\"digest\":\"" D1 "\",\"size\":1}]}";
	static const char arm_only[] = "{\"schemaVersion\":2,\"manifests\":[" IDX_ENTRY(
		D2, "{\"architecture\":\"arm64\",\"os\":\"linux\"}") "]}";
	struct lm_err err = LM_ERR_INIT;
	struct oci_index ix;
	struct oci_platform w;
	char *pl;
	ck_assert_int_eq(oci_index_parse(arm_only, sizeof(arm_only) - 1, &ix, &err), 0);
	ck_assert_int_eq(oci_platform_parse("linux/amd64", &w, &err), 0);
	ck_assert_int_eq(reg_select_platform(&ix, &w, "linux/amd64", "r", &err), -1);
	ck_assert_str_eq(err.msg, "'r' has no image for platform 'linux/amd64' (it has: linux/arm64)");
	lm_err_release(&err);
	oci_platform_release(&w);
	oci_index_release(&ix);
	ck_assert_int_eq(oci_index_parse(in, sizeof(in) - 1, &ix, &err), 0);
	pl = reg_platforms_list(&ix);
	ck_assert_str_eq(pl, "");
	free(pl);
	ck_assert_int_eq(oci_platform_parse("linux/arm64", &w, &err), 0);
	ck_assert_int_eq(reg_select_platform(&ix, &w, "linux/arm64", "r", &err), -1);
	ck_assert_str_eq(err.msg, "'r' has no image for platform 'linux/arm64' (it has: none)");
	lm_err_release(&err);
	oci_platform_release(&w);
	oci_index_release(&ix);
}
END_TEST

START_TEST(test_resume_check)
{
	static const struct {
		int64_t from;
		long status;
		const char *cr;
		enum reg_resume want;
	} t[] = {
		{ 0, 200, NULL, REG_RESUME_APPEND }, /* a plain GET: nothing to check */
		{ 0, 206, "bytes 0-9/10", REG_RESUME_APPEND },
		{ 100, 206, "bytes 100-199/200", REG_RESUME_APPEND },
		{ 100, 206, "bytes 100-199/*", REG_RESUME_APPEND },
		{ 100, 200, NULL, REG_RESUME_RESTART }, /* Range ignored: the whole blob again */
		{ 100, 206, "bytes 0-199/200", REG_RESUME_BAD },
		{ 100, 206, "bytes 101-199/200", REG_RESUME_BAD },
		{ 100, 206, NULL, REG_RESUME_BAD },
		{ 100, 206, "100-199/200", REG_RESUME_BAD },
		{ 100, 416, NULL, REG_RESUME_BAD },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(reg_resume_check(t[i].from, t[i].status, t[i].cr) == t[i].want, "case %zu", i);
}
END_TEST

START_TEST(test_upload_urls)
{
	char *u, *loc;
	u = reg_upload_start_url("https://r.example", "team/app", D1, NULL);
	ck_assert_str_eq(u, "https://r.example/v2/team/app/blobs/uploads/");
	free(u);
	u = reg_upload_start_url("http://127.0.0.1:5000", "app", D1, "lambda/python");
	ck_assert_str_eq(u, "http://127.0.0.1:5000/v2/app/blobs/uploads/?mount=" D1 "&from=lambda%2Fpython");
	/* Location answers: relative to the POST URL, or absolute; the PUT adds the digest */
	loc = http_url_resolve(u, "/v2/app/blobs/uploads/5f3c?_state=abc");
	ck_assert_str_eq(loc, "http://127.0.0.1:5000/v2/app/blobs/uploads/5f3c?_state=abc");
	free(u);
	u = reg_upload_put_url(loc, D2);
	ck_assert_str_eq(u, "http://127.0.0.1:5000/v2/app/blobs/uploads/5f3c?_state=abc&digest=" D2);
	free(u);
	free(loc);
	loc = http_url_resolve("https://r.example/v2/app/blobs/uploads/", "https://upload.example/u/1");
	u = reg_upload_put_url(loc, D3);
	ck_assert_str_eq(u, "https://upload.example/u/1?digest=" D3);
	free(u);
	free(loc);
}
END_TEST

START_TEST(test_upload_offset)
{
	static const struct {
		long status;
		const char *range;
		int64_t want;
	} t[] = {
		{ 204, "0-0", 0 }, /* distribution's answer for an empty session */
		{ 204, "0-1023", 1024 }, { 204, "0-16777215", 16777216 }, { 204, "1-1023", -1 },
		{ 204, "0--5", -1 },	 { 204, "bytes=0-10", -1 },	  { 204, NULL, -1 },
		{ 200, "0-1023", -1 },	 { 404, "0-1023", -1 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(reg_upload_offset(t[i].status, t[i].range) == t[i].want, "case %zu", i);
}
END_TEST

START_TEST(test_upload_chunks)
{
	char cr[64];
	int64_t size = (int64_t)REG_CHUNK * 2 + 5, off = 0, n;
	int chunks = 0;
	n = reg_upload_chunk(0, size, cr);
	ck_assert_int_eq(n, REG_CHUNK);
	ck_assert_str_eq(cr, "0-16777215");
	while (off < size) {
		n = reg_upload_chunk(off, size, cr);
		ck_assert(n > 0 && n <= REG_CHUNK);
		off += n;
		chunks++;
	}
	ck_assert_int_eq(off, size);
	ck_assert_int_eq(chunks, 3);
	ck_assert_str_eq(cr, "33554432-33554436");
	/* resumed mid-chunk: the next chunk starts where the session is */
	n = reg_upload_chunk(1000, size, cr);
	ck_assert_int_eq(n, REG_CHUNK);
	ck_assert_str_eq(cr, "1000-16778215");
}
END_TEST

START_TEST(test_mount_source)
{
	static const struct {
		const char *name, *base, *host, *repo, *want;
	} t[] = {
		/* pulled from another repository of the same registry */
		{ "127.0.0.1:5000/lambda/python:3.12", NULL, "127.0.0.1:5000", "app", "lambda/python" },
		/* same repository: nothing to mount */
		{ "127.0.0.1:5000/app:1", NULL, "127.0.0.1:5000", "app", NULL },
		/* another registry */
		{ "public.ecr.aws/lambda/python:3.12", NULL, "127.0.0.1:5000", "app", NULL },
		/* built: the base.name annotation */
		{ "app", "127.0.0.1:5000/base/py@" D1, "127.0.0.1:5000", "app", "base/py" },
		{ NULL, "127.0.0.1:5000/base/py:3", "127.0.0.1:5000", "app", "base/py" },
		/* the name wins over the base */
		{ "127.0.0.1:5000/a:1", "127.0.0.1:5000/b:1", "127.0.0.1:5000", "app", "a" },
		/* unparsable names are skipped */
		{ "Not A Ref", "127.0.0.1:5000/b:1", "127.0.0.1:5000", "app", "b" },
		{ NULL, NULL, "r", "app", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *m = reg_mount_source(t[i].name, t[i].base, t[i].host, t[i].repo);
		if (t[i].want)
			ck_assert_msg(m && strcmp(m, t[i].want) == 0, "case %zu: '%s'", i, m ? m : "(null)");
		else
			ck_assert_msg(m == NULL, "case %zu: '%s'", i, m);
		free(m);
	}
}
END_TEST

START_TEST(test_manifest_jobs)
{
	struct oci_descriptor layers[4];
	struct oci_manifest m;
	struct job *jobs;
	size_t n = 99;
	memset(layers, 0, sizeof(layers));
	memset(&m, 0, sizeof(m));
	strcpy(m.config.digest, D1);
	strcpy(layers[0].digest, D2);
	strcpy(layers[1].digest, D3);
	strcpy(layers[2].digest, D2); /* the same layer twice: one transfer */
	strcpy(layers[3].digest, D1); /* a layer equal to the config */
	m.layers = layers;
	m.nlayers = 4;
	jobs = reg_manifest_jobs(&m, &n);
	ck_assert_uint_eq(n, 3);
	ck_assert_ptr_eq(jobs[0].d, &m.config);
	ck_assert_ptr_eq(jobs[1].d, &layers[0]);
	ck_assert_ptr_eq(jobs[2].d, &layers[1]);
	ck_assert_ptr_null(jobs[0].mount_from);
	free(jobs);
	m.nlayers = 0;
	jobs = reg_manifest_jobs(&m, &n);
	ck_assert_uint_eq(n, 1);
	free(jobs);
}
END_TEST

/* A token realm gets credentials only over HTTPS, or plain HTTP to loopback or a host
 * named with --insecure-registry. */
START_TEST(test_realm_allowed)
{
	const char *insecure[] = { "registry.test", "other.test:5000" };
	struct reg_opts ro = { 0 };
	static const struct {
		const char *realm;
		int plain, with_insecure;
	} t[] = {
		{ "https://public.ecr.aws/token/", 1, 1 },
		{ "https://auth.example.com:8443/t?x=1", 1, 1 },
		{ "http://127.0.0.1:5001/token", 1, 1 },
		{ "http://localhost/token", 1, 1 },
		{ "http://[::1]:5001/token", 1, 1 },
		{ "http://auth.evil.example/token", 0, 0 },
		{ "http://192.0.2.1/token", 0, 0 },
		{ "http://registry.test/token", 0, 1 },
		{ "http://registry.test:9999/token", 0, 1 },
		{ "http://other.test:5000/token", 0, 1 },
		{ "http://other.test:5001/token", 0, 0 },
		{ "http://user:pw@127.0.0.1/token", 0, 0 },
		{ "ftp://127.0.0.1/token", 0, 0 },
		{ "/token", 0, 0 },
		{ "http://", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ro.insecure = NULL;
		ro.ninsecure = 0;
		ck_assert_msg(registry_realm_allowed(t[i].realm, &ro) == t[i].plain, "%s", t[i].realm);
		ro.insecure = insecure;
		ro.ninsecure = 2;
		ck_assert_msg(registry_realm_allowed(t[i].realm, &ro) == t[i].with_insecure, "%s (insecure)", t[i].realm);
	}
}
END_TEST

SUITE(registry)
{
	Suite *s = suite_create("registry");
	TCASE(s, test_insecure_hosts);
	TCASE(s, test_realm_allowed);
	TCASE(s, test_accept);
	TCASE(s, test_token_request_get);
	TCASE(s, test_token_request_identity_token);
	TCASE(s, test_error_message);
	TCASE(s, test_select_platform);
	TCASE(s, test_select_platform_none_listed);
	TCASE(s, test_resume_check);
	TCASE(s, test_upload_urls);
	TCASE(s, test_upload_offset);
	TCASE(s, test_upload_chunks);
	TCASE(s, test_mount_source);
	TCASE(s, test_manifest_jobs);
	return s;
}
