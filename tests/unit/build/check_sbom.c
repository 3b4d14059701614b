/* The SBOM (build/sbom.h) and the base index record (build/baseindex.h): licences as
 * packages write them, core metadata headers, the document over a synthetic layer
 * (packages, removed ones, files, reproducible bytes), and the record's round trip. */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "build/baseindex.h"
#include "build/sbom.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

START_TEST(test_spdx_license)
{
	static const struct {
		const char *in, *want;
	} t[] = {
		{ "MIT", "MIT" },
		{ "MIT License", "MIT" },
		{ "License :: OSI Approved :: MIT License", "MIT" },
		{ "Apache License 2.0", "Apache-2.0" },
		{ "Apache 2.0", "Apache-2.0" },
		{ "License :: OSI Approved :: Apache Software License 2.0", "Apache-2.0" },
		{ "BSD-3-Clause", "BSD-3-Clause" },
		{ "  ISC  ", "ISC" },
		{ "BSD", NULL },
		{ "Dual License", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *got = sbom_spdx_license(t[i].in);
		if (!t[i].want)
			ck_assert_msg(got == NULL, "'%s' -> %s", t[i].in, got);
		else
			ck_assert_msg(got && strcmp(got, t[i].want) == 0, "'%s' -> %s", t[i].in, got ? got : "NULL");
	}
}
END_TEST

START_TEST(test_python_metadata)
{
	static const struct {
		const char *text, *name, *version, *license, *raw;
	} t[] = {
		{ "Metadata-Version: 2.1\nName: PyYAML\nVersion: 6.0\nLicense: MIT\n\nbody\nName: no\n", "PyYAML", "6.0", "MIT",
		  "MIT" },
		{ "Name: boto3\r\nVersion: 1.26.27\r\nLicense: Apache License 2.0\r\n", "boto3", "1.26.27", "Apache-2.0",
		  "Apache License 2.0" },
		{ "Name: x\nVersion: 1\nLicense-Expression: MIT OR Apache-2.0\nLicense: whatever\n", "x", "1",
		  "MIT OR Apache-2.0", "MIT OR Apache-2.0" },
		{ "Name: x\nVersion: 1\nClassifier: License :: OSI Approved :: MIT License\n", "x", "1", "MIT", NULL },
		{ "Name: x\nVersion: 1\nClassifier: License :: OSI Approved :: MIT License\n"
		  "Classifier: License :: OSI Approved :: Apache Software License\n",
		  "x", "1", "NOASSERTION", NULL },
		{ "Name: x\nVersion: 1\nLicense: Copyright (c) someone\n        All rights reserved.\n", "x", "1",
		  "NOASSERTION", "Copyright (c) someone\nAll rights reserved." },
		{ "Name: x\nVersion: 1\nLicense: Dual License\n", "x", "1", "NOASSERTION", "Dual License" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *n = NULL, *v = NULL, *l = NULL, *raw = NULL;
		ck_assert_msg(sbom_python_metadata(t[i].text, strlen(t[i].text), &n, &v, &l, &raw) == 0, "%zu", i);
		ck_assert_str_eq(n, t[i].name);
		ck_assert_str_eq(v, t[i].version);
		ck_assert_msg(strcmp(l, t[i].license) == 0, "%zu: %s", i, l);
		if (t[i].raw)
			ck_assert_str_eq(raw, t[i].raw);
		else
			ck_assert_ptr_null(raw);
		free(n);
		free(v);
		free(l);
		free(raw);
	}
	{
		char *n = NULL, *v = NULL, *l = NULL, *raw = NULL;
		ck_assert_int_eq(sbom_python_metadata("Name: x\n", 8, &n, &v, &l, &raw), -1);
		ck_assert_int_eq(sbom_python_metadata("\nName: x\nVersion: 1\n", 20, &n, &v, &l, &raw), -1);
	}
}
END_TEST

START_TEST(test_path_for)
{
	char *p = sbom_path_for("out.tar");
	ck_assert_str_eq(p, "out.spdx.json");
	free(p);
	p = sbom_path_for("/x/image.oci");
	ck_assert_str_eq(p, "/x/image.oci.spdx.json");
	free(p);
	p = sbom_path_for(".tar");
	ck_assert_str_eq(p, ".tar.spdx.json");
	free(p);
}
END_TEST

static void add(struct lm_tree *t, const char *dir, int *n, const char *path, const char *content, int removed)
{
	struct lm_err err = LM_ERR_INIT;
	char *src = lm_asprintf("%s/%d", dir, (*n)++);
	struct lm_entry *e;
	ck_assert_int_eq(lm_write_file_atomic(src, content, strlen(content), &err), 0);
	e = tree_add(t, LM_F_REG, path, src, NULL, 0644, strlen(content));
	e->removed = removed;
	free(src);
}

static char *doc(const struct lm_tree *trees, size_t n, int64_t epoch)
{
	static const char *const names[] = { "deps", "app" };
	struct sbom_input in = { "fn:1",      "sha256:" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
				 "public.ecr.aws/lambda/python:3.12",
				 "sha256:" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
				 trees, names, n, epoch };
	struct lm_err err = LM_ERR_INIT;
	char *out = NULL;
	size_t len = 0;
	ck_assert_msg(sbom_spdx_json(&in, &out, &len, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(strlen(out), len);
	return out;
}

START_TEST(test_document)
{
	struct lm_tree t[2];
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "check-sbom", &err), *a, *b, *c;
	json_t *j, *pk, *files, *p;
	size_t i;
	int n = 0, seen_yaml = 0, seen_boto = 0, seen_npm = 0;
	tree_init(&t[0]);
	tree_init(&t[1]);
	add(&t[0], dir, &n, "var/task/PyYAML-6.0.dist-info/METADATA", "Name: PyYAML\nVersion: 6.0\nLicense: MIT\n", 0);
	add(&t[0], dir, &n, "var/task/yaml/__init__.py", "x = 1\n", 0);
	add(&t[0], dir, &n, "var/task/boto3-1.26.27.egg-info/PKG-INFO", "Name: boto3\nVersion: 1.26.27\n", 1);
	add(&t[0], dir, &n, "var/task/boto3/__init__.py", "gone\n", 1);
	add(&t[0], dir, &n, "var/task/node_modules/@aws-sdk/client-s3/package.json",
	    "{\"name\":\"@aws-sdk/client-s3\",\"version\":\"3.750.0\",\"license\":\"Apache-2.0\"}", 0);
	add(&t[0], dir, &n, "var/task/node_modules/x/test/package.json", "{\"name\":\"fixture\"}", 0);
	add(&t[1], dir, &n, "var/task/app.py", "import yaml\n", 0);
	add(&t[1], dir, &n, "var/task/yaml/__init__.py", "x = 2\n", 0); /* the later layer's is the image's */
	tree_finish(&t[0]);
	tree_finish(&t[1]);
	a = doc(t, 2, 1700000000);
	b = doc(t, 2, 1700000000);
	c = doc(t, 2, 1700000001);
	ck_assert_str_eq(a, b); /* reproducible */
	ck_assert_str_ne(a, c); /* the time is the epoch's */
	j = json_loads(a, 0, NULL);
	ck_assert_ptr_nonnull(j);
	ck_assert_str_eq(json_string_value(json_object_get(j, "spdxVersion")), "SPDX-2.3");
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "creationInfo"), "created")),
			 "2023-11-14T22:13:20Z");
	pk = json_object_get(j, "packages");
	json_array_foreach(pk, i, p)
	{
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *comment = json_string_value(json_object_get(p, "comment"));
		if (strcmp(name, "PyYAML") == 0) {
			seen_yaml = 1;
			ck_assert_str_eq(json_string_value(json_object_get(p, "licenseDeclared")), "MIT");
			ck_assert(strstr(comment, "removed") == NULL);
		} else if (strcmp(name, "boto3") == 0) {
			seen_boto = 1;
			ck_assert(strstr(comment, "removed from the image by prune") != NULL);
		} else if (strcmp(name, "@aws-sdk/client-s3") == 0) {
			seen_npm = 1;
			ck_assert_str_eq(json_string_value(json_object_get(
						 json_array_get(json_object_get(p, "externalRefs"), 0), "referenceLocator")),
					 "pkg:npm/%40aws-sdk/client-s3@3.750.0");
		}
		ck_assert(strcmp(name, "fixture") != 0); /* a package.json without a version is no package */
	}
	ck_assert(seen_yaml && seen_boto && seen_npm);
	/* the base: a registry reference gets its purl */
	json_array_foreach(pk, i, p)
	{
		if (strcmp(json_string_value(json_object_get(p, "SPDXID")), "SPDXRef-Base") != 0)
			continue;
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(p, "externalRefs"), 0),
								  "referenceLocator")),
				 "pkg:oci/python@sha256%3Abbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
				 "?repository_url=public.ecr.aws/lambda/python&tag=3.12");
	}
	ck_assert_uint_eq(json_array_size(pk), 2 + 3);
	files = json_object_get(j, "files");
	/* removed files are not there; a path two layers hold, once */
	ck_assert_uint_eq(json_array_size(files), 5);
	json_array_foreach(files, i, p)
	{
		const char *fn = json_string_value(json_object_get(p, "fileName"));
		ck_assert(strncmp(fn, "./var/task/", 11) == 0);
		ck_assert(strstr(fn, "boto3") == NULL);
		if (strcmp(fn, "./var/task/yaml/__init__.py") == 0) {
			char d[LM_DIGEST_LEN];
			digest_buf("x = 2\n", 6, d);
			ck_assert_str_eq(json_string_value(json_object_get(
						 json_array_get(json_object_get(p, "checksums"), 0), "checksumValue")),
					 d + 7);
		}
	}
	json_decref(j);
	free(a);
	free(b);
	free(c);
	tree_release(&t[0]);
	tree_release(&t[1]);
	lm_rm_rf(dir, &err);
	free(dir);
}
END_TEST

START_TEST(test_baseindex_record)
{
	struct prune_base b, back;
	char d[LM_DIGEST_LEN], *rec, *rec2;
	size_t len, len2;
	char *env[] = { "PATH=/usr/bin", "NODE_PATH=/opt/nodejs/node_modules::/var/runtime/node_modules/:/var/task" };
	prune_base_init(&b);
	digest_buf("x", 1, d);
	prune_base_add(&b, "var/runtime/node_modules/a/package.json", d, 9, "{\n\"a\":1}\n");
	prune_base_add(&b, "var/lang/site-packages/x.py", d, 1, NULL);
	prune_base_add(&b, "var/lang/site-packages/empty.txt", d, 0, "");
	base_index_node_path(env, 2, &b);
	ck_assert_uint_eq(b.nnode_path, 3);
	ck_assert_str_eq(b.node_path[1], "var/runtime/node_modules");
	prune_base_finish(&b);
	rec = base_index_to_record(&b, &len);
	ck_assert_int_eq(base_index_from_record(rec, len, &back), 0);
	rec2 = base_index_to_record(&back, &len2);
	ck_assert_uint_eq(len, len2);
	ck_assert(memcmp(rec, rec2, len) == 0);
	ck_assert_str_eq(prune_base_find(&back, "var/runtime/node_modules/a/package.json")->text, "{\n\"a\":1}\n");
	ck_assert_ptr_null(prune_base_find(&back, "var/lang/site-packages/x.py")->text);
	ck_assert_str_eq(prune_base_find(&back, "var/lang/site-packages/empty.txt")->text, "");
	ck_assert_uint_eq(back.nnode_path, 3);
	prune_base_release(&back);
	/* a truncated or bad record is refused */
	ck_assert_int_eq(base_index_from_record(rec, len / 2, &back), -1);
	ck_assert_int_eq(base_index_from_record("x\n", 2, &back), -1);
	free(rec);
	free(rec2);
	prune_base_release(&b);
}
END_TEST

SUITE(sbom)
{
	Suite *s = suite_create("sbom");
	TCASE(s, test_spdx_license);
	TCASE(s, test_python_metadata);
	TCASE(s, test_path_for);
	TCASE(s, test_document);
	TCASE(s, test_baseindex_record);
	return s;
}
