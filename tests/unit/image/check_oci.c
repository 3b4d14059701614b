#include <stdlib.h>
#include <string.h>

#include "image/oci.h"
#include "unit.h"

#define H64(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define D1 "sha256:" H64("1")
#define D2 "sha256:" H64("2")
#define D3 "sha256:" H64("3")
#define DA "sha256:" H64("a")

START_TEST(test_manifest_roundtrip)
{
	static const char in[] =
		"{\n  \"schemaVersion\": 2,\n  \"mediaType\": \"" OCI_MT_MANIFEST "\",\n"
		"  \"config\": {\"mediaType\": \"" OCI_MT_CONFIG "\", \"size\": 1234, \"digest\": \"" D1 "\"},\n"
		"  \"layers\": [\n"
		"    {\"mediaType\": \"" OCI_MT_LAYER_GZIP "\", \"digest\": \"" D2 "\", \"size\": 99},\n"
		"    {\"mediaType\": \"" DOCKER_MT_LAYER_GZIP "\", \"digest\": \"" D3 "\", \"size\": 0,\n"
		"     \"annotations\": {\"" OCI_ANNOT_REF_NAME "\": \"v1\", \"other\": \"x\"}}\n"
		"  ],\n  \"annotations\": {\"a\": \"b\"}\n}";
	static const char want[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\","
		"\"config\":{\"mediaType\":\"" OCI_MT_CONFIG "\",\"digest\":\"" D1 "\",\"size\":1234},"
		"\"layers\":[{\"mediaType\":\"" OCI_MT_LAYER_GZIP "\",\"digest\":\"" D2 "\",\"size\":99},"
		"{\"mediaType\":\"" DOCKER_MT_LAYER_GZIP "\",\"digest\":\"" D3 "\",\"size\":0,"
		"\"annotations\":{\"" OCI_ANNOT_REF_NAME "\":\"v1\"}}]}";
	struct lm_err err = LM_ERR_INIT;
	struct oci_manifest m, m2;
	char *s, *s2;
	size_t len = 0;
	ck_assert_msg(oci_manifest_parse(in, sizeof(in) - 1, &m, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(m.media_type, OCI_MT_MANIFEST);
	ck_assert_str_eq(m.config.media_type, OCI_MT_CONFIG);
	ck_assert_str_eq(m.config.digest, D1);
	ck_assert_int_eq(m.config.size, 1234);
	ck_assert_uint_eq(m.nlayers, 2);
	ck_assert_str_eq(m.layers[0].digest, D2);
	ck_assert_int_eq(m.layers[0].size, 99);
	ck_assert_ptr_null(m.layers[0].ref_name);
	ck_assert_str_eq(m.layers[1].media_type, DOCKER_MT_LAYER_GZIP);
	ck_assert_int_eq(m.layers[1].size, 0);
	ck_assert_str_eq(m.layers[1].ref_name, "v1");
	s = oci_manifest_serialize(&m, &len);
	ck_assert_str_eq(s, want);
	ck_assert_uint_eq(len, strlen(want));
	/* and again: a fixed point */
	ck_assert_int_eq(oci_manifest_parse(s, len, &m2, &err), 0);
	s2 = oci_manifest_serialize(&m2, NULL);
	ck_assert_str_eq(s2, s);
	free(s);
	free(s2);
	oci_manifest_release(&m);
	oci_manifest_release(&m2);
	ck_assert_ptr_null(m.layers);
}
END_TEST

START_TEST(test_manifest_base_annotations)
{
	static const char in[] = "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":7},\"layers\":[],"
				 "\"annotations\":{\"x\":\"y\",\"" OCI_ANNOT_BASE_DIGEST "\":\"" D2 "\",\""
				 OCI_ANNOT_BASE_NAME "\":\"reg.example/lambda/python:3.12\"}}";
	struct lm_err err = LM_ERR_INIT;
	struct oci_manifest m;
	char *s;
	ck_assert_msg(oci_manifest_parse(in, sizeof(in) - 1, &m, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(m.base_name, "reg.example/lambda/python:3.12");
	ck_assert_str_eq(m.base_digest, D2);
	s = oci_manifest_serialize(&m, NULL);
	/* name before digest, other annotations not carried over */
	ck_assert_str_eq(s, "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"config\":{\"mediaType\":"
			    "\"application/octet-stream\",\"digest\":\"" D1 "\",\"size\":7},\"layers\":[],"
			    "\"annotations\":{\"" OCI_ANNOT_BASE_NAME "\":\"reg.example/lambda/python:3.12\",\""
			    OCI_ANNOT_BASE_DIGEST "\":\"" D2 "\"}}");
	free(s);
	oci_manifest_release(&m);
	ck_assert_ptr_null(m.base_name);
}
END_TEST

START_TEST(test_manifest_without_media_type)
{
	static const char in[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"" DOCKER_MT_CONFIG "\",\"digest\":\"" D1
				 "\",\"size\":7},\"layers\":[]}";
	struct lm_err err = LM_ERR_INIT;
	struct oci_manifest m;
	char *s;
	ck_assert_msg(oci_manifest_parse(in, sizeof(in) - 1, &m, &err) == 0, "%s", err.msg);
	ck_assert_ptr_null(m.media_type);
	ck_assert_uint_eq(m.nlayers, 0);
	s = oci_manifest_serialize(&m, NULL);
	ck_assert_str_eq(s, "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_MANIFEST "\",\"config\":{\"mediaType\":\"" DOCKER_MT_CONFIG
			    "\",\"digest\":\"" D1 "\",\"size\":7},\"layers\":[]}");
	free(s);
	oci_manifest_release(&m);

	/* a Docker v2 manifest type is accepted and kept */
	{
		static const char d[] = "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MT_MANIFEST
					"\",\"config\":{\"digest\":\"" D1 "\",\"size\":7},\"layers\":[]}";
		ck_assert_int_eq(oci_manifest_parse(d, sizeof(d) - 1, &m, &err), 0);
		s = oci_manifest_serialize(&m, NULL);
		ck_assert_ptr_nonnull(strstr(s, "\"mediaType\":\"" DOCKER_MT_MANIFEST "\""));
		free(s);
		oci_manifest_release(&m);
	}
}
END_TEST

START_TEST(test_manifest_bad)
{
	static const struct {
		const char *json, *want;
	} t[] = {
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:abc\",\"size\":1},\"layers\":[]}",
		  "config: unsupported or malformed digest 'sha256:abc'" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha256:" H64("A") "\",\"size\":1},\"layers\":[]}",
		  "malformed digest" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"sha512:" H64("a") "\",\"size\":1},\"layers\":[]}",
		  "malformed digest" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[{\"digest\":\"" D2
		  "x\",\"size\":1}]}",
		  "layers[0]: unsupported or malformed digest" },
		{ "{\"schemaVersion\":2,\"config\":{\"size\":1},\"layers\":[]}", "config: missing digest" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\"},\"layers\":[]}", "config: missing or negative size" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":-1},\"layers\":[]}",
		  "missing or negative size" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":\"5\"},\"layers\":[]}",
		  "missing or negative size" },
		{ "{\"schemaVersion\":2,\"layers\":[]}", "config: not an object" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1}}", "missing layers" },
		{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[5]}",
		  "layers[0]: not an object" },
		{ "{\"schemaVersion\":1,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}", "schemaVersion is not 2" },
		{ "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"config\":{\"digest\":\"" D1
		  "\",\"size\":1},\"layers\":[]}",
		  "unsupported mediaType" },
		{ "{\"schemaVersion\":2,", "invalid JSON at line 1" },
		{ "[]", "not a JSON object" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_err err = LM_ERR_INIT;
		struct oci_manifest m;
		ck_assert_msg(oci_manifest_parse(t[i].json, strlen(t[i].json), &m, &err) == -1, "case %zu accepted", i);
		ck_assert_int_eq(err.code, LM_E_INPUT);
		ck_assert_msg(strstr(err.msg, t[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err.msg, t[i].want);
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_platform_parse_table)
{
	static const struct {
		const char *in;
		int ok;
		const char *os, *arch, *variant;
	} t[] = {
		{ "linux/amd64", 1, "linux", "amd64", NULL },
		{ "linux/x86_64", 1, "linux", "amd64", NULL },
		{ "linux/x86-64", 1, "linux", "amd64", NULL },
		{ "linux/arm64", 1, "linux", "arm64", "v8" },
		{ "linux/aarch64", 1, "linux", "arm64", "v8" },
		{ "linux/arm64/v8", 1, "linux", "arm64", "v8" },
		{ "linux/amd64/v2", 1, "linux", "amd64", "v2" },
		{ "windows/amd64", 0, NULL, NULL, NULL },
		{ "darwin/arm64", 0, NULL, NULL, NULL },
		{ "linux", 0, NULL, NULL, NULL },
		{ "linux/s390x", 0, NULL, NULL, NULL },
		{ "linux/arm", 0, NULL, NULL, NULL },
		{ "linux/arm/v7", 0, NULL, NULL, NULL },
		{ "", 0, NULL, NULL, NULL },
		{ "/amd64", 0, NULL, NULL, NULL },
		{ "linux/", 0, NULL, NULL, NULL },
		{ "linux/arm64/", 0, NULL, NULL, NULL },
		{ "linux/arm64/v8/x", 0, NULL, NULL, NULL },
		{ "Linux/amd64", 0, NULL, NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_err err = LM_ERR_INIT;
		struct oci_platform p = { 0 };
		int r = oci_platform_parse(t[i].in, &p, &err);
		if (!t[i].ok) {
			ck_assert_msg(r == -1, "'%s' accepted", t[i].in);
			ck_assert_int_eq(err.code, LM_E_USAGE);
			ck_assert_msg(strstr(err.msg, t[i].in) != NULL, "'%s' not named in '%s'", t[i].in, err.msg);
			ck_assert_ptr_null(p.os);
			lm_err_release(&err);
			continue;
		}
		ck_assert_msg(r == 0, "'%s': %s", t[i].in, err.msg);
		ck_assert_str_eq(p.os, t[i].os);
		ck_assert_str_eq(p.arch, t[i].arch);
		if (t[i].variant)
			ck_assert_msg(p.variant && strcmp(p.variant, t[i].variant) == 0, "'%s' variant '%s'", t[i].in,
				      p.variant ? p.variant : "(null)");
		else
			ck_assert_ptr_null(p.variant);
		ck_assert_ptr_null(err.msg);
		oci_platform_release(&p);
	}
}
END_TEST

START_TEST(test_platform_match_table)
{
	static const struct {
		const char *os, *arch, *variant; /* have */
		const char *want;
		int match;
	} t[] = {
		{ "linux", "amd64", NULL, "linux/amd64", 1 },
		{ "linux", "x86_64", NULL, "linux/amd64", 1 },
		{ "linux", "amd64", "v3", "linux/amd64", 1 }, /* variant compared only when both are set */
		{ "linux", "amd64", NULL, "linux/arm64", 0 },
		{ "linux", "arm64", NULL, "linux/arm64", 1 },
		{ "linux", "arm64", "v8", "linux/arm64", 1 },
		{ "linux", "aarch64", NULL, "linux/arm64", 1 },
		{ "linux", "arm64", "v9", "linux/arm64", 0 },
		{ "linux", "arm64", "v8", "linux/arm64/v8", 1 },
		{ "linux", "arm", "v7", "linux/arm64", 0 },
		{ "windows", "amd64", NULL, "linux/amd64", 0 },
		{ "unknown", "unknown", NULL, "linux/amd64", 0 },
		{ NULL, NULL, NULL, "linux/amd64", 0 },
		{ "linux", NULL, NULL, "linux/amd64", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_err err = LM_ERR_INIT;
		struct oci_platform w, h = { (char *)t[i].os, (char *)t[i].arch, (char *)t[i].variant };
		ck_assert_int_eq(oci_platform_parse(t[i].want, &w, &err), 0);
		ck_assert_msg(oci_platform_match(&h, &w) == t[i].match, "case %zu: %s/%s/%s vs %s", i,
			      t[i].os ? t[i].os : "-", t[i].arch ? t[i].arch : "-", t[i].variant ? t[i].variant : "-",
			      t[i].want);
		oci_platform_release(&w);
	}
}
END_TEST

#define IDX_ENTRY(mt, dg, plat) "{\"mediaType\":\"" mt "\",\"digest\":\"" dg "\",\"size\":100,\"platform\":" plat "}"

START_TEST(test_index_select)
{
	static const char in[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":["
		IDX_ENTRY(OCI_MT_INDEX, D1, "{\"architecture\":\"amd64\",\"os\":\"linux\"}") ","
		IDX_ENTRY(OCI_MT_MANIFEST, D2, "{\"architecture\":\"unknown\",\"os\":\"unknown\"}") ","
		IDX_ENTRY(OCI_MT_MANIFEST, D3, "{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}") ","
		IDX_ENTRY(DOCKER_MT_MANIFEST, DA, "{\"architecture\":\"arm64\",\"os\":\"linux\"}") ","
		"{\"digest\":\"" D2 "\",\"size\":5,\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"},"
		"\"annotations\":{\"" OCI_ANNOT_REF_NAME "\":\"latest\"}}"
		"]}";
	struct lm_err err = LM_ERR_INIT;
	struct oci_index ix;
	struct oci_platform amd, arm, armv8;
	char *s;
	ck_assert_msg(oci_index_parse(in, sizeof(in) - 1, &ix, &err) == 0, "%s", err.msg);
	ck_assert_str_eq(ix.media_type, OCI_MT_INDEX);
	ck_assert_uint_eq(ix.n, 5);
	ck_assert_str_eq(ix.manifests[2].platform.variant, "v7");
	ck_assert_ptr_null(ix.manifests[3].platform.variant);
	ck_assert_ptr_null(ix.manifests[4].media_type);
	ck_assert_str_eq(ix.manifests[4].ref_name, "latest");
	ck_assert_int_eq(oci_platform_parse("linux/amd64", &amd, &err), 0);
	ck_assert_int_eq(oci_platform_parse("linux/arm64", &arm, &err), 0);
	ck_assert_int_eq(oci_platform_parse("linux/arm64/v8", &armv8, &err), 0);
	/* a nested index for amd64 is skipped; the untyped entry is taken */
	ck_assert_int_eq(oci_index_select(&ix, &amd), 4);
	/* arm64 without a variant in the index is v8 */
	ck_assert_int_eq(oci_index_select(&ix, &arm), 3);
	ck_assert_int_eq(oci_index_select(&ix, &armv8), 3);

	/* serialize: entries keep their platform and annotation */
	s = oci_index_serialize(&ix, NULL);
	ck_assert_ptr_nonnull(strstr(s, "\"platform\":{\"architecture\":\"arm\",\"os\":\"linux\",\"variant\":\"v7\"}"));
	ck_assert_ptr_nonnull(strstr(s, "\"annotations\":{\"" OCI_ANNOT_REF_NAME "\":\"latest\"}"));
	{
		static const char head[] = "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MT_INDEX "\",\"manifests\":[";
		ck_assert(strncmp(s, head, sizeof(head) - 1) == 0);
	}
	free(s);
	oci_index_release(&ix);

	/* an index with an explicit v8 arm64 and none for amd64 */
	{
		static const char in2[] = "{\"schemaVersion\":2,\"manifests\":[" IDX_ENTRY(
			OCI_MT_MANIFEST, D1, "{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}") "]}";
		ck_assert_int_eq(oci_index_parse(in2, sizeof(in2) - 1, &ix, &err), 0);
		ck_assert_ptr_null(ix.media_type);
		ck_assert_int_eq(oci_index_select(&ix, &arm), 0);
		ck_assert_int_eq(oci_index_select(&ix, &amd), -1);
		s = oci_index_serialize(&ix, NULL);
		ck_assert_ptr_nonnull(strstr(s, "\"mediaType\":\"" OCI_MT_INDEX "\""));
		free(s);
		oci_index_release(&ix);
	}
	/* bad ones */
	{
		static const char *const bad[] = {
			"{\"schemaVersion\":2}",
			"{\"manifests\":[{\"digest\":\"sha256:1\",\"size\":1}]}",
			"{\"manifests\":[{\"digest\":\"" D1 "\"}]}",
		};
		for (size_t i = 0; i < 3; i++) {
			ck_assert_msg(oci_index_parse(bad[i], strlen(bad[i]), &ix, &err) == -1, "bad index %zu accepted", i);
			ck_assert_int_eq(err.code, LM_E_INPUT);
			lm_err_release(&err);
		}
	}
	oci_platform_release(&amd);
	oci_platform_release(&arm);
	oci_platform_release(&armv8);
}
END_TEST

START_TEST(test_doc_kind_table)
{
	static const struct {
		const char *json, *ctype;
		enum oci_doc_kind kind;
	} t[] = {
		{ "{\"mediaType\":\"" OCI_MT_MANIFEST "\"}", NULL, OCI_DOC_MANIFEST },
		{ "{\"mediaType\":\"" DOCKER_MT_MANIFEST "\"}", NULL, OCI_DOC_MANIFEST },
		{ "{\"mediaType\":\"" OCI_MT_INDEX "\"}", NULL, OCI_DOC_INDEX },
		{ "{\"mediaType\":\"" DOCKER_MT_LIST "\"}", NULL, OCI_DOC_INDEX },
		/* the document's own type wins over the header */
		{ "{\"mediaType\":\"" OCI_MT_INDEX "\"}", OCI_MT_MANIFEST, OCI_DOC_INDEX },
		{ "{\"schemaVersion\":2}", OCI_MT_MANIFEST, OCI_DOC_MANIFEST },
		{ "{\"schemaVersion\":2}", DOCKER_MT_LIST, OCI_DOC_INDEX },
		/* by shape */
		{ "{\"schemaVersion\":2,\"manifests\":[]}", NULL, OCI_DOC_INDEX },
		{ "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}", NULL, OCI_DOC_MANIFEST },
		{ "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}", "application/json", OCI_DOC_MANIFEST },
		{ "{\"schemaVersion\":1,\"fsLayers\":[]}", NULL, OCI_DOC_DOCKER_V1 },
		{ "{\"schemaVersion\":2,\"config\":{}}", NULL, OCI_DOC_UNKNOWN },
		{ "{}", NULL, OCI_DOC_UNKNOWN },
		{ "not json", OCI_MT_MANIFEST, OCI_DOC_UNKNOWN },
		{ "", NULL, OCI_DOC_UNKNOWN },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(oci_doc_kind(t[i].json, strlen(t[i].json), t[i].ctype) == t[i].kind, "case %zu: %d, want %d",
			      i, oci_doc_kind(t[i].json, strlen(t[i].json), t[i].ctype), t[i].kind);
}
END_TEST

START_TEST(test_layer_media_types)
{
	ck_assert(oci_is_layer_media_type(OCI_MT_LAYER_GZIP));
	ck_assert(oci_is_layer_media_type(OCI_MT_LAYER_TAR));
	ck_assert(oci_is_layer_media_type(OCI_MT_LAYER_ZSTD));
	ck_assert(oci_is_layer_media_type(DOCKER_MT_LAYER_GZIP));
	ck_assert(!oci_is_layer_media_type(OCI_MT_CONFIG));
	ck_assert(!oci_is_layer_media_type(NULL));
	ck_assert(oci_is_gzip_layer(OCI_MT_LAYER_GZIP));
	ck_assert(oci_is_gzip_layer(DOCKER_MT_LAYER_GZIP));
	ck_assert(!oci_is_gzip_layer(OCI_MT_LAYER_ZSTD));
	ck_assert(!oci_is_gzip_layer(OCI_MT_LAYER_TAR));
	ck_assert(!oci_is_gzip_layer(NULL));
}
END_TEST

START_TEST(test_config_edit)
{
	static const char in[] =
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"custom\":{\"x\":[1,2.5,null,true]},"
		"\"config\":{\"Env\":[\"PATH=/usr/bin\",\"LANG=C\",\"TZ=:/etc/localtime\"],"
		"\"Entrypoint\":[\"/lambda-entrypoint.sh\"],\"Cmd\":[\"old.handler\"],\"WorkingDir\":\"/var/task\","
		"\"User\":\"1000\",\"ExposedPorts\":{\"8080/tcp\":{}}},"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\"]},"
		"\"history\":[{\"created_by\":\"base\",\"comment\":\"keep me\"}]}";
	static const char want[] =
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"custom\":{\"x\":[1,2.5,null,true]},"
		"\"config\":{\"Env\":[\"PATH=/usr/bin\",\"LANG=C.UTF-8\",\"TZ=:/etc/localtime\",\"PAT=x\",\"NEW=a=b\"],"
		"\"Entrypoint\":null,\"Cmd\":[\"app.handler\",\"arg\"],\"WorkingDir\":\"/srv\","
		"\"User\":\"1000\",\"ExposedPorts\":{\"8080/tcp\":{}},\"Labels\":{\"team\":\"core\"}},"
		"\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1 "\",\"" D2 "\"]},"
		"\"history\":[{\"created_by\":\"base\",\"comment\":\"keep me\"},"
		"{\"created\":\"2023-11-14T22:13:20Z\",\"created_by\":\"lamina: layer app\"}],"
		"\"created\":\"2023-11-14T22:13:20Z\"}";
	struct lm_err err = LM_ERR_INIT;
	struct oci_config *c = NULL;
	struct oci_config_view v;
	char *cmd[] = { "app.handler", "arg" };
	char *s;
	size_t len = 0;
	ck_assert_msg(oci_config_parse(in, sizeof(in) - 1, &c, &err) == 0, "%s", err.msg);
	oci_config_view_get(c, &v);
	ck_assert_str_eq(v.os, "linux");
	ck_assert_str_eq(v.arch, "amd64");
	ck_assert_ptr_null(v.variant);
	ck_assert_uint_eq(v.nenv, 3);
	ck_assert_str_eq(v.env[1], "LANG=C");
	ck_assert_uint_eq(v.nentrypoint, 1);
	ck_assert_str_eq(v.entrypoint[0], "/lambda-entrypoint.sh");
	ck_assert_uint_eq(v.ncmd, 1);
	ck_assert_str_eq(v.workdir, "/var/task");
	ck_assert_str_eq(v.user, "1000");
	ck_assert_uint_eq(v.ndiff_ids, 1);
	ck_assert_str_eq(v.diff_ids[0], D1);
	oci_config_view_release(&v);

	oci_config_set_env(c, "LANG", "C.UTF-8"); /* replaced in place */
	oci_config_set_env(c, "PAT", "x");        /* a prefix of PATH: a new key */
	oci_config_set_env(c, "NEW", "a=b");      /* appended, in order */
	oci_config_set_entrypoint(c, NULL, 0);
	oci_config_set_cmd(c, cmd, 2);
	oci_config_set_workdir(c, "/srv");
	oci_config_set_label(c, "team", "core");
	oci_config_add_layer(c, D2, "lamina: layer app", 1700000000);
	oci_config_set_created(c, 1700000000);
	s = oci_config_serialize(c, &len);
	ck_assert_str_eq(s, want);
	ck_assert_uint_eq(len, strlen(want));
	free(s);

	oci_config_view_get(c, &v);
	ck_assert_ptr_null(v.entrypoint);
	ck_assert_uint_eq(v.nentrypoint, 0);
	ck_assert_uint_eq(v.nenv, 5);
	ck_assert_str_eq(v.env[1], "LANG=C.UTF-8");
	ck_assert_str_eq(v.env[4], "NEW=a=b");
	ck_assert_uint_eq(v.ndiff_ids, 2);
	ck_assert_str_eq(v.diff_ids[1], D2);
	ck_assert_uint_eq(v.ncmd, 2);
	ck_assert_str_eq(v.cmd[1], "arg");
	oci_config_view_release(&v);
	oci_config_free(c);
}
END_TEST

START_TEST(test_config_from_scratch)
{
	struct lm_err err = LM_ERR_INIT;
	struct oci_config *c = NULL;
	char *ep[] = { "/bin/sh", "-c" };
	char *s;
	ck_assert_int_eq(oci_config_parse("{}", 2, &c, &err), 0);
	oci_config_set_env(c, "A", "1");
	oci_config_set_entrypoint(c, ep, 2);
	oci_config_set_cmd(c, NULL, 0);
	oci_config_add_layer(c, D3, "x", 0);
	s = oci_config_serialize(c, NULL);
	ck_assert_str_eq(s, "{\"config\":{\"Env\":[\"A=1\"],\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":null},"
			    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D3 "\"]},"
			    "\"history\":[{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"x\"}]}");
	free(s);
	oci_config_free(c);
	oci_config_free(NULL);

	c = NULL;
	ck_assert_int_eq(oci_config_parse("[1]", 3, &c, &err), -1);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(err.msg, "image config: not a JSON object"));
	lm_err_release(&err);
	ck_assert_int_eq(oci_config_parse("{\"a\":", 5, &c, &err), -1);
	ck_assert_ptr_nonnull(strstr(err.msg, "image config: invalid JSON"));
	lm_err_release(&err);
}
END_TEST

START_TEST(test_time_and_descriptor_copy)
{
	static const struct {
		int64_t t;
		const char *want;
	} t[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1700000000, "2023-11-14T22:13:20Z" },
		{ 951782400, "2000-02-29T00:00:00Z" },
		{ 4102444799, "2099-12-31T23:59:59Z" },
	};
	char buf[32];
	struct oci_descriptor a = { 0 }, b;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_str_eq(oci_time_rfc3339(t[i].t, buf, sizeof(buf)), t[i].want);

	a.media_type = strdup(OCI_MT_MANIFEST);
	memcpy(a.digest, D1, sizeof(D1));
	a.size = 42;
	a.platform.os = strdup("linux");
	a.platform.arch = strdup("arm64");
	a.ref_name = strdup("v1");
	oci_descriptor_copy(&b, &a);
	ck_assert_ptr_ne(b.media_type, a.media_type);
	ck_assert_str_eq(b.media_type, OCI_MT_MANIFEST);
	ck_assert_str_eq(b.digest, D1);
	ck_assert_int_eq(b.size, 42);
	ck_assert_str_eq(b.platform.arch, "arm64");
	ck_assert_ptr_null(b.platform.variant);
	ck_assert_str_eq(b.ref_name, "v1");
	oci_descriptor_release(&a);
	ck_assert_ptr_null(a.media_type);
	ck_assert_str_eq(b.platform.os, "linux");
	oci_descriptor_release(&b);
	oci_descriptor_release(NULL);
}
END_TEST

SUITE(oci)
{
	Suite *s = suite_create("oci");
	TCASE(s, test_manifest_roundtrip);
	TCASE(s, test_manifest_base_annotations);
	TCASE(s, test_manifest_without_media_type);
	TCASE(s, test_manifest_bad);
	TCASE(s, test_platform_parse_table);
	TCASE(s, test_platform_match_table);
	TCASE(s, test_index_select);
	TCASE(s, test_doc_kind_table);
	TCASE(s, test_layer_media_types);
	TCASE(s, test_config_edit);
	TCASE(s, test_config_from_scratch);
	TCASE(s, test_time_and_descriptor_copy);
	return s;
}
