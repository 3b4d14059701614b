#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "run/verify.h"

/* 1 when list (NULL-terminated) holds s. */
static int has(char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return 1;
	return 0;
}

static size_t count(char *const *list)
{
	size_t n = 0;
	while (list && list[n])
		n++;
	return n;
}

START_TEST(test_blame_hints_table)
{
	static const struct {
		const char *what, *tb;
		const char *want[6]; /* exactly these, any order */
	} t[] = {
		{ "import 'mylib'",
		  "Traceback (most recent call last):\n"
		  "  File \"/var/task/mylib/__init__.py\", line 2, in <module>\n"
		  "  File \"<frozen importlib._bootstrap>\", line 1206, in _gcd_import\n"
		  "ModuleNotFoundError: No module named 'mylib.tests'\n",
		  { "mylib", "mylib.tests", "/var/task/mylib/__init__.py" } },
		{ "handler 'app.handler': import 'app'",
		  "Traceback (most recent call last):\n  File \"/var/task/app.py\", line 1, in <module>\n"
		  "    import helpers\nModuleNotFoundError: No module named 'helpers'\n",
		  { "app", "helpers", "/var/task/app.py" } },
		{ "import 'pkg'",
		  "ImportError: cannot import name 'util' from 'pkg' (/var/task/pkg/__init__.py)\n",
		  { "pkg", "pkg.util" } },
		{ "import 'cfg'",
		  "  File \"/var/task/cfg.py\", line 3, in <module>\n"
		  "FileNotFoundError: [Errno 2] No such file or directory: '/var/task/data/schema.json'\n",
		  { "cfg", "/var/task/cfg.py", "/var/task/data/schema.json" } },
		/* Node: the package of the require, the files of the stacks, not node's own */
		{ "require('fluent-ffmpeg')",
		  "Error: Cannot find module './lib/fluent-ffmpeg'\n"
		  "Require stack:\n- /var/task/node_modules/fluent-ffmpeg/index.js\n"
		  "    at Module._resolveFilename (node:internal/modules/cjs/loader:1225:15)\n"
		  "    at Object.<anonymous> (/var/task/node_modules/fluent-ffmpeg/index.js:1:18)\n"
		  "    at /var/task/app.js:3:9\n",
		  { "node_modules/fluent-ffmpeg", "/var/task/node_modules/fluent-ffmpeg/index.js", "/var/task/app.js" } },
		{ "import('@scope/pkg/sub')", "", { "node_modules/@scope/pkg" } },
		{ "require('Bad Name')", "", { NULL } },
		/* no module names in it, nothing odd taken for one */
		{ "handler 'app.handler'", "module 'app' (/var/task/app.py) has no attribute 'handler'\n", { NULL } },
		{ "import 'a b'", "", { NULL } },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char **h = verify_blame_hints(t[i].what, t[i].tb);
		size_t n = 0;
		for (; t[i].want[n]; n++)
			ck_assert_msg(has(h, t[i].want[n]), "hints of case %zu lack '%s'", i, t[i].want[n]);
		ck_assert_msg(count(h) == n, "case %zu: %zu hints, want %zu (first '%s')", i, count(h), n,
			      h[0] ? h[0] : "");
		verify_strv_free(h);
	}
}
END_TEST

START_TEST(test_blame_order)
{
	static const char *const readme[] = { "var/task/README.md", "var/task/docs/README.md" };
	static const char *const tests[] = { "var/task/mylib/tests", "var/task/mylib/tests/__init__.py",
					     "var/task/mylib/tests/fixtures.py" };
	static const char *const helpers[] = { "var/task/helpers.py" };
	static const char *const other_tests[] = { "var/task/otherlib/tests/x.py" };
	static const char *const mylib_docs[] = { "var/task/mylib/docs/index.rst" };
	static const char *const beside[] = { "var/task/conftest.py" };
	struct verify_blame_cand c[] = {
		{ "python-safe: README*", 0, 2, 13, readme, 2, -1, 0 },
		{ "python-safe: tests/", 0, 3, 10, other_tests, 1, -1, 0 },
		{ "python-safe: tests/ (mylib)", 0, 2, 10, tests, 3, -1, 0 },
		{ "remove: helpers.py", 0, 1, 6, helpers, 1, -1, 0 },
		{ "python-safe: docs/", 0, 1, 100, mylib_docs, 1, -1, 0 },
		{ "python-safe: conftest.py", 0, 1, 5, beside, 1, -1, 0 },
	};
	char *hints[] = { "mylib.tests", "/var/task/app.py", NULL };
	verify_blame_order(c, sizeof(c) / sizeof(c[0]), hints);
	/* the module itself (3 hits), its package (2), beside a traceback's file (1; by
	 * files removed, ties in the given order), then the rest */
	ck_assert_str_eq(c[0].label, "python-safe: tests/ (mylib)");
	ck_assert_int_eq(c[0].score, 3);
	ck_assert_uint_eq(c[0].hits, 3);
	ck_assert_str_eq(c[1].label, "python-safe: docs/");
	ck_assert_int_eq(c[1].score, 2);
	ck_assert_str_eq(c[2].label, "python-safe: README*"); /* 2 files */
	ck_assert_int_eq(c[2].score, 1);
	ck_assert_uint_eq(c[2].hits, 1); /* docs/README.md is not beside app.py */
	ck_assert_str_eq(c[3].label, "remove: helpers.py");
	ck_assert_int_eq(c[3].score, 1);
	ck_assert_str_eq(c[4].label, "python-safe: conftest.py");
	ck_assert_str_eq(c[5].label, "python-safe: tests/");
	ck_assert_int_eq(c[5].score, 0);

	/* a Node package hint: everything removed inside that package, not a look-alike */
	{
		static const char *const lib[] = { "var/task/node_modules/fluent-ffmpeg/lib",
						   "var/task/node_modules/fluent-ffmpeg/lib/fluent-ffmpeg.js" };
		static const char *const look[] = { "var/task/node_modules/fluent-ffmpeg-x/README.md" };
		struct verify_blame_cand d[] = {
			{ "node-safe: README*", 0, 1, 10, look, 1, -1, 0 },
			{ "remove: **/fluent-ffmpeg/lib/", 0, 1, 100, lib, 2, -1, 0 },
		};
		char *nh[] = { "node_modules/fluent-ffmpeg", NULL };
		verify_blame_order(d, 2, nh);
		ck_assert_str_eq(d[0].label, "remove: **/fluent-ffmpeg/lib/");
		ck_assert_int_eq(d[0].score, 3);
		ck_assert_int_eq(d[1].score, 0);
	}

	/* a missing top-level module: its own file first; "helpersx.py" is not "helpers" */
	static const char *const near[] = { "var/task/helpersx.py" };
	static const char *const so[] = { "var/task/lib/helpers.cpython-311-x86_64-linux-gnu.so" };
	struct verify_blame_cand d[] = {
		{ "remove: helpersx.py", 0, 1, 1, near, 1, -1, 0 },
		{ "remove: *.so", 0, 1, 1, so, 1, -1, 0 },
		{ "remove: helpers.py", 0, 1, 1, helpers, 1, -1, 0 },
	};
	char *h2[] = { "helpers", NULL };
	verify_blame_order(d, 3, h2);
	ck_assert_int_eq(d[0].score, 3);
	ck_assert_int_eq(d[1].score, 3);
	ck_assert_str_eq(d[0].label, "remove: *.so");
	ck_assert_str_eq(d[1].label, "remove: helpers.py");
	ck_assert_str_eq(d[2].label, "remove: helpersx.py");
	ck_assert_int_eq(d[2].score, 0);
}
END_TEST

SUITE(verify)
{
	Suite *s = suite_create("verify");
	TCASE(s, test_blame_hints_table);
	TCASE(s, test_blame_order);
	return s;
}
