/* The pure helpers and the report model behind prune.h (prune_internal.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "prune/pkgid.h"
#include "prune/prune_internal.h"
#include "unit.h"

START_TEST(test_names)
{
	static const struct {
		const char *name;
		int native, js;
	} t[] = {
		{ "libx.so", 1, 0 },	{ "libx.so.1.2", 1, 0 },
		{ "sharp.node", 1, 0 }, { "_cffi.cpython-312-x86_64-linux-gnu.so", 1, 0 },
		{ "x.sox", 0, 0 },	{ "so", 0, 0 },
		{ "a.js", 0, 1 },	{ "a.cjs", 0, 1 },
		{ "a.mjs", 0, 1 },	{ "a.json", 0, 0 },
		{ "a.jsx", 0, 0 },	{ "js", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ck_assert_msg(prune_is_native_name(t[i].name) == t[i].native, "native '%s'", t[i].name);
		ck_assert_msg(prune_is_js(t[i].name) == t[i].js, "js '%s'", t[i].name);
	}
	ck_assert_str_eq(prune_base_name("a/b/c.py"), "c.py");
	ck_assert_str_eq(prune_base_name("c.py"), "c.py");
	ck_assert_str_eq(prune_base_name("a/"), "");
}
END_TEST

START_TEST(test_pyroot_names)
{
	static const struct {
		const char *rel;
		int want;
	} t[] = {
		{ "python", 1 },
		{ "python/lib/python3.12/site-packages", 1 },
		{ "lib/dist-packages", 1 },
		{ "site-packages", 1 },
		{ "x/python", 0 }, /* "python" only at the layer root (a Lambda layer's python/) */
		{ "site-packages-old", 0 },
		{ "pythonx", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(prune_is_pyroot_name(t[i].rel) == t[i].want, "'%s'", t[i].rel);
}
END_TEST

START_TEST(test_match_any_within)
{
	static const struct {
		const char *list, *rel;
		int dir, want;
	} t[] = {
		{ "numpy/testing/|**/_pytest/", "numpy/testing/__init__.py", 0, 1 },
		{ "numpy/testing/|**/_pytest/", "numpy/testing", 1, 1 },
		{ "numpy/testing/|**/_pytest/", "numpy/testing", 0, 0 }, /* "dir/" matches directories only */
		{ "numpy/testing/|**/_pytest/", "a/b/_pytest/x.py", 0, 1 },
		{ "numpy/testing/|**/_pytest/", "numpy/tests/x.py", 0, 0 },
		{ "*.md", "README.md", 0, 1 },
		{ "*.md", "docs/README.md", 0, 1 },
		{ "", "x", 0, 0 },
		{ NULL, "x", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(prune_match_any_within(t[i].list, t[i].rel, t[i].dir) == t[i].want, "case %zu", i);
}
END_TEST

START_TEST(test_rule_labels)
{
	static const struct {
		struct prune_rule r;
		const char *want;
	} t[] = {
		{ { "tests/", 0, NULL, NULL }, "python-safe: tests/" },
		{ { "**/*.ts", PRUNE_R_FILES | PRUNE_R_SIBLING, NULL, ".js" }, "python-safe: **/*.ts" },
		{ { "**/*", PRUNE_R_FOREIGN, NULL, NULL }, "python-safe: other platforms' binaries" },
		{ { "botocore/data/**/*.json", PRUNE_R_SLIM_JSON, NULL, NULL },
		  "python-safe: botocore/data/**/*.json (JSON minified)" },
		{ { "botocore/data/**/*.json", PRUNE_R_SLIM_JSON | PRUNE_R_SLIM_BOTO_DOCS, NULL, NULL },
		  "python-safe: botocore/data/**/*.json (JSON minified, documentation dropped)" },
		{ { "*.dist-info/METADATA", PRUNE_R_SLIM_METADATA, NULL, NULL },
		  "python-safe: *.dist-info/METADATA (description body dropped)" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *l = prune_rule_label("python-safe", &t[i].r);
		ck_assert_str_eq(l, t[i].want);
		free(l);
	}
}
END_TEST

START_TEST(test_import_prefixes)
{
	struct lm_strset s = LM_STRSET_INIT;
	prune_import_prefixes("botocore.docs.service", &s);
	prune_import_prefixes("yaml", &s);
	ck_assert_uint_eq(s.n, 4);
	ck_assert(lm_strset_has(&s, "botocore"));
	ck_assert(lm_strset_has(&s, "botocore.docs"));
	ck_assert(lm_strset_has(&s, "botocore.docs.service"));
	ck_assert(lm_strset_has(&s, "yaml"));
	ck_assert(!lm_strset_has(&s, "docs"));
	ck_assert(!lm_strset_has(&s, "botocore.docs.service.x"));
	lm_strset_release(&s);
}
END_TEST

START_TEST(test_package_names)
{
	static const struct {
		const char *in, *want;
	} dist[] = {
		{ "boto3-1.26.27.dist-info", "boto3" },
		{ "PyYAML-6.0.1.dist-info", "PyYAML" },
		{ "six-1.16.0-py3.11.egg-info", "six" },
		{ "zope.interface-6.0.dist-info", "zope.interface" },
	}, npm[] = {
		{ "node_modules/lodash/index.js", "lodash" },
		{ "node_modules/@aws-sdk/client-s3/dist/index.js", "@aws-sdk/client-s3" },
		{ "node_modules/a/node_modules/b/x.js", "b" }, /* the innermost */
		{ "node_modules/a/node_modules/@s/c/x.js", "@s/c" },
		{ "node_modules/a", "a" },
		{ "node_modules/@scope", "@scope" },
		{ "lib/my_node_modules/a/x.js", NULL }, /* only a whole component */
		{ "app.py", NULL },
	}, stem[] = {
		{ "yaml/__init__.py", "yaml" },
		{ "six.py", "six" },
		{ "_cffi_backend.cpython-312-x86_64-linux-gnu.so", "_cffi_backend" },
		{ "distutils-precedence.pth", "distutils-precedence" },
		{ "boto3-1.26.27.dist-info/RECORD", "boto3-1.26.27.dist-info" },
		{ "README.txt", "README.txt" },
		{ "bin", "bin" },
	};
	for (size_t i = 0; i < sizeof(dist) / sizeof(dist[0]); i++) {
		char *d = pkgid_dist_name(dist[i].in);
		ck_assert_str_eq(d, dist[i].want);
		free(d);
	}
	for (size_t i = 0; i < sizeof(npm) / sizeof(npm[0]); i++) {
		char *p = pkgid_npm_package(npm[i].in);
		if (npm[i].want)
			ck_assert_msg(p && strcmp(p, npm[i].want) == 0, "'%s': '%s'", npm[i].in, p ? p : "(null)");
		else
			ck_assert_msg(!p, "'%s': '%s'", npm[i].in, p);
		free(p);
	}
	for (size_t i = 0; i < sizeof(stem) / sizeof(stem[0]); i++) {
		char *s = prune_module_stem(stem[i].in);
		ck_assert_str_eq(s, stem[i].want);
		free(s);
	}
}
END_TEST

START_TEST(test_record_lines)
{
	static const struct {
		const char *line, *want;
	} t[] = {
		{ "yaml/__init__.py,sha256=abc,1234", "yaml/__init__.py" },
		{ "\"dir with, comma/x.py\",sha256=abc,12", "dir with, comma/x.py" },
		{ "PyYAML-6.0.dist-info/RECORD,,", "PyYAML-6.0.dist-info/RECORD" },
		{ "../../bin/tool,sha256=x,1", NULL }, /* outside the import root */
		{ ",sha256=x,1", NULL },
		{ "", NULL },
		{ "no-comma", "no-comma" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *line = lm_xstrdup(t[i].line);
		const char *p = prune_record_path(line);
		if (t[i].want)
			ck_assert_msg(p && strcmp(p, t[i].want) == 0, "case %zu: '%s'", i, p ? p : "(null)");
		else
			ck_assert_msg(!p, "case %zu: '%s'", i, p);
		free(line);
	}
}
END_TEST

/* A report made by hand: the text and JSON output, byte for byte. */
static struct prune_report *sample_report(void)
{
	struct prune_report *r = prune_report_new();
	struct layer_rep *l = prune_report_add(r);
	struct count *c;
	l->name = lm_xstrdup("deps");
	l->root = lm_xstrdup("/var/task");
	l->strip_mode = "debug";
	l->files_before = 10, l->bytes_before = 4096, l->files_after = 6, l->bytes_after = 1024;
	l->rules = lm_xcalloc(2, sizeof(*l->rules));
	l->nrules = l->caprules = 2;
	l->rules[0].name = lm_xstrdup("python-safe: tests/");
	l->rules[0].files = 4, l->rules[0].bytes = 2048;
	l->rules[1].name = lm_xstrdup("python-safe: **/*.json (JSON minified)");
	l->rules[1].rewrite = 1;
	l->strip_files = 1, l->strip_saved = 1024;
	c = prune_pkg_get(l, "numpy");
	c->files_before = 8, c->bytes_before = 4000, c->files_after = 5, c->bytes_after = 1000;
	ck_assert_ptr_eq(prune_pkg_get(l, "numpy"), c);
	c = prune_pkg_get(l, "six");
	c->files_before = c->files_after = 2, c->bytes_before = c->bytes_after = 96;
	prune_push_str(&l->kept, &l->nkept, &l->capkept, lm_xstrdup("numpy/testing/ (imported)"));
	prune_push_str(&l->warnings, &l->nwarnings, &l->capwarnings, lm_xstrdup("a warning"));
	return r;
}

START_TEST(test_report_text)
{
	struct prune_report *r = sample_report();
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	ck_assert_ptr_nonnull(f);
	prune_report_print(r, f);
	fclose(f);
	ck_assert_str_eq(text,
			 "layer 'deps' (/var/task): 10 files, 4.0 KiB -> 6 files, 1.0 KiB (-75.0 %)\n"
			 "  rule                                                    files        bytes\n"
			 "  python-safe: tests/                                         4      2.0 KiB\n"
			 "  strip debug (1 ELF file)                                    -      1.0 KiB\n"
			 "  kept because code that stays refers to them (1):\n"
			 "    numpy/testing/ (imported)\n"
			 "  warning: a warning\n"
			 "  package                                   files         before          after   saved\n"
			 "  numpy                                      8->5        3.9 KiB         1000 B -75.0 %\n"
			 "  (1 package unchanged)\n");
	free(text);
	prune_report_free(r);
}
END_TEST

START_TEST(test_report_json)
{
	struct prune_report *r = sample_report();
	char *j = prune_report_json(r);
	ck_assert_str_eq(j, "{\n"
			    "  \"layers\": [\n"
			    "    {\n"
			    "      \"name\": \"deps\",\n"
			    "      \"root\": \"/var/task\",\n"
			    "      \"before\": {\n"
			    "        \"files\": 10,\n"
			    "        \"bytes\": 4096\n"
			    "      },\n"
			    "      \"after\": {\n"
			    "        \"files\": 6,\n"
			    "        \"bytes\": 1024\n"
			    "      },\n"
			    "      \"saved\": {\n"
			    "        \"files\": 4,\n"
			    "        \"bytes\": 3072,\n"
			    "        \"percent\": 75.0\n"
			    "      },\n"
			    "      \"rules\": [\n"
			    "        {\n"
			    "          \"rule\": \"python-safe: tests/\",\n"
			    "          \"files\": 4,\n"
			    "          \"bytes\": 2048,\n"
			    "          \"action\": \"remove\"\n"
			    "        },\n"
			    "        {\n"
			    "          \"rule\": \"python-safe: **/*.json (JSON minified)\",\n"
			    "          \"files\": 0,\n"
			    "          \"bytes\": 0,\n"
			    "          \"action\": \"rewrite\"\n"
			    "        }\n"
			    "      ],\n"
			    "      \"strip\": {\n"
			    "        \"mode\": \"debug\",\n"
			    "        \"files\": 1,\n"
			    "        \"bytesSaved\": 1024\n"
			    "      },\n"
			    "      \"keptByReference\": [\n"
			    "        \"numpy/testing/ (imported)\"\n"
			    "      ],\n"
			    "      \"warnings\": [\n"
			    "        \"a warning\"\n"
			    "      ],\n"
			    "      \"packages\": [\n"
			    "        {\n"
			    "          \"name\": \"numpy\",\n"
			    "          \"before\": {\n"
			    "            \"files\": 8,\n"
			    "            \"bytes\": 4000\n"
			    "          },\n"
			    "          \"after\": {\n"
			    "            \"files\": 5,\n"
			    "            \"bytes\": 1000\n"
			    "          }\n"
			    "        },\n"
			    "        {\n"
			    "          \"name\": \"six\",\n"
			    "          \"before\": {\n"
			    "            \"files\": 2,\n"
			    "            \"bytes\": 96\n"
			    "          },\n"
			    "          \"after\": {\n"
			    "            \"files\": 2,\n"
			    "            \"bytes\": 96\n"
			    "          }\n"
			    "        }\n"
			    "      ]\n"
			    "    }\n"
			    "  ],\n"
			    "  \"total\": {\n"
			    "    \"before\": {\n"
			    "      \"files\": 10,\n"
			    "      \"bytes\": 4096\n"
			    "    },\n"
			    "    \"after\": {\n"
			    "      \"files\": 6,\n"
			    "      \"bytes\": 1024\n"
			    "    },\n"
			    "    \"percent\": 75.0\n"
			    "  }\n"
			    "}\n");
	free(j);
	prune_report_free(r);
	prune_report_free(NULL);
}
END_TEST

SUITE(prune_internal)
{
	Suite *s = suite_create("prune_internal");
	TCASE(s, test_names);
	TCASE(s, test_pyroot_names);
	TCASE(s, test_match_any_within);
	TCASE(s, test_rule_labels);
	TCASE(s, test_import_prefixes);
	TCASE(s, test_package_names);
	TCASE(s, test_record_lines);
	TCASE(s, test_report_text);
	TCASE(s, test_report_json);
	return s;
}
