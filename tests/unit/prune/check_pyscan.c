#include <stdlib.h>
#include <string.h>

#include "prune/pyscan.h"
#include "unit.h"

struct acc {
	char buf[2048];
};

static void collect(const char *m, void *ctx)
{
	struct acc *a = ctx;
	strncat(a->buf, m, sizeof(a->buf) - strlen(a->buf) - 2);
	strcat(a->buf, " ");
}

START_TEST(test_imports_table)
{
	static const struct {
		const char *src, *pkg, *want;
	} t[] = {
		{ "import a.b.c as x, d\n", "", "a.b.c d " },
		{ "from a.b import c, d as e\n", "", "a.b a.b.c a.b.d " },
		{ "from . import x\n", "p.q", "p.q p.q.x " },
		{ "from ..m import y\n", "p.q", "p.m p.m.y " },
		{ "from .. import z\n", "p", "" }, /* climbs above the top level */
		{ "from .docs import docstring\n", "boto3", "boto3.docs boto3.docs.docstring " },
		{ "from x import (\n  a,\n  b as c,\n)\n", "", "x x.a x.b " },
		{ "def f():\n    import numpy.testing as t\n", "", "numpy.testing " },
		{ "if TYPE_CHECKING: from k import v\n", "", "k k.v " },
		{ "x = 1; import y\n", "", "y " },
		{ "s = 'import nope'\n# import nope2\n\"\"\"\nimport nope3\n\"\"\"\n", "", "" },
		{ "m = importlib.import_module('a.b')\n", "", "a.b " },
		{ "m = import_module('.sub', __name__)\n", "pkg", "pkg.sub " },
		{ "__import__(\"zz\")\n", "", "zz " },
		{ "from x import *\n", "", "x " },
		{ "yield from gen()\nraise E from e\n", "", "" },
		{ "import a\\\n.b\n", "", "a.b " },
		{ "from __future__ import annotations\n", "", "__future__ __future__.annotations " },
		{ "r = rb'import q'\nf'{x}'\n", "", "" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct acc a = { "" };
		pyscan_imports(t[i].src, strlen(t[i].src), t[i].pkg, collect, &a);
		ck_assert_msg(strcmp(a.buf, t[i].want) == 0, "case %zu: '%s' -> '%s', want '%s'", i, t[i].src, a.buf,
			      t[i].want);
	}
}
END_TEST

START_TEST(test_module_names)
{
	static const struct {
		const char *path;
		int is_dir;
		const char *want;
	} t[] = {
		{ "a/b/c.py", 0, "a.b.c" },
		{ "a/b/__init__.py", 0, "a.b" },
		{ "a/_x.cpython-311-x86_64-linux-gnu.so", 0, "a._x" },
		{ "a/b", 1, "a.b" },
		{ "botocore/docs", 1, "botocore.docs" },
		{ "a-b/c.py", 0, NULL },
		{ "a/README.md", 0, NULL },
		{ "__init__.py", 0, NULL },
		{ "foo.dist-info", 1, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *m = pyscan_module_name(t[i].path, t[i].is_dir);
		if (!t[i].want)
			ck_assert_msg(m == NULL, "%s -> %s, want NULL", t[i].path, m);
		else
			ck_assert_msg(m && strcmp(m, t[i].want) == 0, "%s -> %s, want %s", t[i].path, m ? m : "NULL",
				      t[i].want);
		free(m);
	}
	{
		char *p = pyscan_file_package("a/b/c.py");
		ck_assert_str_eq(p, "a.b");
		free(p);
		p = pyscan_file_package("c.py");
		ck_assert_str_eq(p, "");
		free(p);
	}
}
END_TEST

SUITE(pyscan)
{
	Suite *s = suite_create("pyscan");
	TCASE(s, test_imports_table);
	TCASE(s, test_module_names);
	return s;
}
