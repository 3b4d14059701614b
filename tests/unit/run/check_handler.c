/* Handler strings as each runtime's bootstrap reads them (run/handler.h), table-driven. */
#include <stdlib.h>
#include <string.h>

#include "run/handler.h"
#include "unit.h"

static const struct {
	enum lm_runtime rt;
	const char *in;
	const char *mod, *fn, *file0; /* mod NULL: rejected */
} cases[] = {
	/* Python: the last '.' splits; '/' is a package separator */
	{ LM_RUNTIME_PYTHON, "app.handler", "app", "handler", "app.py" },
	{ LM_RUNTIME_PYTHON, "pkg/mod.fn", "pkg.mod", "fn", "pkg/mod.py" },
	{ LM_RUNTIME_PYTHON, "a/b/c.run", "a.b.c", "run", "a/b/c.py" },
	{ LM_RUNTIME_PYTHON, "pkg.mod.fn", "pkg.mod", "fn", "pkg/mod.py" },
	{ LM_RUNTIME_PYTHON, "handler", NULL, NULL, NULL },
	{ LM_RUNTIME_PYTHON, ".handler", NULL, NULL, NULL },
	{ LM_RUNTIME_PYTHON, "app.", NULL, NULL, NULL },
	{ LM_RUNTIME_PYTHON, "app/.fn", NULL, NULL, NULL },
	{ LM_RUNTIME_PYTHON, "a.b/c", NULL, NULL, NULL },
	{ LM_RUNTIME_PYTHON, "/app.fn", NULL, NULL, NULL },
	{ LM_RUNTIME_PYTHON, "", NULL, NULL, NULL },
	/* Node: the module ends at the first '.' of the last component; the rest is a
	 * path into the exports */
	{ LM_RUNTIME_NODE, "index.handler", "index", "handler", "index.js" },
	{ LM_RUNTIME_NODE, "src/app.handler", "src/app", "handler", "src/app.js" },
	{ LM_RUNTIME_NODE, "app.handlers.get", "app", "handlers.get", "app.js" },
	{ LM_RUNTIME_NODE, "a.b/app.fn", "a.b/app", "fn", "a.b/app.js" },
	{ LM_RUNTIME_NODE, "dist/v1.2/app.handler", "dist/v1.2/app", "handler", "dist/v1.2/app.js" },
	{ LM_RUNTIME_NODE, "../app.handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "src/../app.handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "app..handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "/var/task/app.handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "src//app.handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "./app.handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, ".handler", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "app.", NULL, NULL, NULL },
	{ LM_RUNTIME_NODE, "app.handler.", NULL, NULL, NULL },
};

START_TEST(test_handler_table)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct handler_ref h;
		char *why = NULL;
		int r = handler_resolve(cases[i].rt, cases[i].in, &h, &why);
		if (!cases[i].mod) {
			ck_assert_msg(r == -1 && why && *why, "%s '%s' accepted", lm_runtime_name(cases[i].rt), cases[i].in);
			free(why);
			continue;
		}
		ck_assert_msg(r == 0, "%s '%s' refused: %s", lm_runtime_name(cases[i].rt), cases[i].in, why ? why : "");
		ck_assert_msg(strcmp(h.module, cases[i].mod) == 0 && strcmp(h.function, cases[i].fn) == 0,
			      "%s '%s' = '%s' '%s'", lm_runtime_name(cases[i].rt), cases[i].in, h.module, h.function);
		if (cases[i].file0)
			ck_assert_str_eq(h.files[0], cases[i].file0);
		handler_ref_release(&h);
	}
}
END_TEST

/* Node tries .js, .mjs, .cjs in that order; Python mod.py, then the package */
START_TEST(test_handler_file_order)
{
	struct handler_ref h;
	char *why = NULL;
	ck_assert_int_eq(handler_resolve(LM_RUNTIME_NODE, "lib/index.handler", &h, &why), 0);
	ck_assert_str_eq(h.files[0], "lib/index.js");
	ck_assert_str_eq(h.files[1], "lib/index.mjs");
	ck_assert_str_eq(h.files[2], "lib/index.cjs");
	ck_assert_ptr_null(h.files[3]);
	handler_ref_release(&h);
	ck_assert_int_eq(handler_resolve(LM_RUNTIME_PYTHON, "pkg.app.handler", &h, &why), 0);
	ck_assert_str_eq(h.files[0], "pkg/app.py");
	ck_assert_str_eq(h.files[1], "pkg/app/__init__.py");
	ck_assert_ptr_null(h.files[2]);
	handler_ref_release(&h);
}
END_TEST

START_TEST(test_runtime_names)
{
	enum lm_runtime rt;
	ck_assert_int_eq(lm_runtime_parse("node", &rt), 0);
	ck_assert_int_eq(rt, LM_RUNTIME_NODE);
	ck_assert_int_eq(lm_runtime_parse("nodejs", &rt), 0);
	ck_assert_int_eq(rt, LM_RUNTIME_NODE);
	ck_assert_int_eq(lm_runtime_parse("python", &rt), 0);
	ck_assert_int_eq(rt, LM_RUNTIME_PYTHON);
	ck_assert_int_eq(lm_runtime_parse("ruby", &rt), -1);
	ck_assert_str_eq(lm_runtime_name(LM_RUNTIME_NODE), "node");
	ck_assert_ptr_null(lm_runtime_name(LM_RUNTIME_AUTO));
}
END_TEST

SUITE(handler)
{
	Suite *s = suite_create("handler");
	TCASE(s, test_handler_table);
	TCASE(s, test_handler_file_order);
	TCASE(s, test_runtime_names);
	return s;
}
