/* lamina init's pure parts: the handler a file exports, image names, the starter text;
 * and one scan of a directory made here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "build/manifest.h"
#include "build/starter.h"
#include "common/fs.h"
#include "unit.h"

START_TEST(test_handler_of)
{
	static const struct {
		const char *file, *text;
		enum starter_runtime rt;
		const char *want;
	} t[] = {
		{ "app.py",
		  "import json\n\ndef helper(x):\n    pass\n\ndef lambda_handler(event, context):\n    return 1\n",
		  STARTER_PYTHON, "app.lambda_handler" },
		{ "main.py", "async def handler(event, ctx):\n  pass\n", STARTER_PYTHON, "main.handler" },
		{ "f.py", "def run(event, context):\n  pass\ndef util(a):\n  pass\n", STARTER_PYTHON, "f.run" },
		{ "f.py", "class X:\n    def handler(self, event):\n        pass\n", STARTER_PYTHON,
		  NULL }, /* a method */
		{ "f.py", "x = 1\n", STARTER_PYTHON, NULL },
		{ "index.mjs", "export const handler = async (event) => ({})\n", STARTER_NODE, "index.handler" },
		{ "index.js", "const a = 1;\nexports.handler = function (e, c, cb) { cb(null, 1) }\n", STARTER_NODE,
		  "index.handler" },
		{ "app.js", "module.exports.lambdaHandler = async () => 1;\n", STARTER_NODE, "app.lambdaHandler" },
		{ "h.mjs", "export async function handler(event) {}\nexport function other() {}\n", STARTER_NODE,
		  "h.handler" },
		{ "lib.js", "function handler() {}\n", STARTER_NODE, NULL }, /* not exported */
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *h = starter_handler_of(t[i].file, t[i].text, strlen(t[i].text), t[i].rt);
		if (t[i].want)
			ck_assert_msg(h && strcmp(h, t[i].want) == 0, "%zu: %s", i, h ? h : "(null)");
		else
			ck_assert_msg(!h, "%zu: %s", i, h);
		free(h);
	}
}
END_TEST

START_TEST(test_image_name)
{
	char *n;
	ck_assert_str_eq((n = starter_image_name("My_Project 2")), "my-project-2");
	free(n);
	ck_assert_str_eq((n = starter_image_name("@acme/Order-API")), "order-api");
	free(n);
	ck_assert_ptr_null(starter_image_name("___"));
}
END_TEST

/* the text is a manifest that manifest_parse takes */
START_TEST(test_scan_and_manifest)
{
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "starter", &err), *p, *text;
	struct starter s;
	struct lm_manifest m;
	FILE *f;
	ck_assert_ptr_nonnull(dir);
	p = lm_path_join(dir, "package.json");
	f = fopen(p, "w");
	fputs("{\"name\": \"@me/Shop\", \"dependencies\": {\"left-pad\": \"1\"}}", f);
	fclose(f);
	free(p);
	p = lm_path_join(dir, "index.mjs");
	f = fopen(p, "w");
	fputs("export const handler = async () => 1;\n", f);
	fclose(f);
	free(p);
	ck_assert_int_eq(starter_scan(dir, STARTER_AUTO, &s, &err), 0);
	ck_assert_int_eq(s.runtime, STARTER_NODE);
	ck_assert_str_eq(s.handler, "index.handler");
	ck_assert_str_eq(s.name, "shop");
	ck_assert_str_eq(s.deps_from, "node_modules");
	ck_assert_int_eq(s.deps_missing, 1);
	text = starter_manifest(&s);
	ck_assert_msg(manifest_parse(text, strlen(text), "lamina.json", dir, &m, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(m.nlayers, 2);
	ck_assert_str_eq(m.tag, "shop:latest");
	manifest_release(&m);
	free(text);
	starter_release(&s);
	/* Python files too: the runtime must be named */
	p = lm_path_join(dir, "requirements.txt");
	f = fopen(p, "w");
	fputs("# none\n", f);
	fclose(f);
	free(p);
	ck_assert_int_eq(starter_scan(dir, STARTER_AUTO, &s, &err), -1);
	ck_assert_msg(strstr(err.msg, "--runtime"), "%s", err.msg);
	lm_err_release(&err);
	ck_assert_int_eq(starter_scan(dir, STARTER_PYTHON, &s, &err), 0);
	ck_assert_ptr_null(s.deps_from); /* requirements.txt without a requirement */
	ck_assert_ptr_null(s.handler);
	text = starter_manifest(&s);
	ck_assert_msg(manifest_parse(text, strlen(text), "lamina.json", dir, &m, &err) == 0, "%s", err.msg);
	manifest_release(&m);
	free(text);
	starter_release(&s);
	lm_rm_rf(dir, &err);
	free(dir);
}
END_TEST

SUITE(starter)
{
	Suite *s = suite_create("starter");
	TCASE(s, test_handler_of);
	TCASE(s, test_image_name);
	TCASE(s, test_scan_and_manifest);
	return s;
}
