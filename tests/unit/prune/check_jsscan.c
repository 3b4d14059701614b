#include <stdlib.h>
#include <string.h>

#include "prune/jsscan.h"
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

START_TEST(test_specifiers_table)
{
	static const struct {
		const char *src, *want;
	} t[] = {
		{ "const u = require(\"./tests/utils.cjs\");", "./tests/utils.cjs " },
		{ "require ( './a' )", "./a " },
		{ "require.resolve('./b')", "./b " },
		{ "import { X } from './y.js';", "./y.js " },
		{ "import X, * as Y from \"../z\"", "../z " },
		{ "import './side-effect.js'", "./side-effect.js " },
		{ "const m = await import('./lazy.mjs')", "./lazy.mjs " },
		{ "export * from \"./all\"; export { a } from './one'", "./all ./one " },
		{ "import {\n a,\n b\n} from 'pkg/sub'", "pkg/sub " },
		{ "myrequire('./no'); x.require('./no2')", "" },
		{ "require(`./tpl`)", "./tpl " },
		{ "require(`./tpl/${x}`)", "" },
		{ "require(name)", "" },
		{ "import /* c */ './cm'", "./cm " },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct acc a = { "" };
		jsscan_specifiers(t[i].src, strlen(t[i].src), collect, &a);
		ck_assert_msg(strcmp(a.buf, t[i].want) == 0, "case %zu: '%s' -> '%s', want '%s'", i, t[i].src, a.buf,
			      t[i].want);
	}
}
END_TEST

static int exists(const char *p, void *ctx)
{
	static const char *const files[] = { "m/dist/agents/tests/utils.cjs", "m/lib/index.js", "m/x.json",
					      "m/dist/a.mjs", NULL };
	(void)ctx;
	for (size_t i = 0; files[i]; i++)
		if (strcmp(p, files[i]) == 0)
			return 1;
	if (strcmp(p, "m/lib") == 0)
		return 2;
	return 0;
}

START_TEST(test_resolve)
{
	static const struct {
		const char *from, *spec, *want;
	} t[] = {
		{ "m/dist/agents/index.cjs", "./tests/utils.cjs", "m/dist/agents/tests/utils.cjs" },
		{ "m/dist/index.cjs", "./agents/tests/utils", "m/dist/agents/tests/utils.cjs" },
		{ "m/dist/index.cjs", "../lib", "m/lib/index.js" },
		{ "m/dist/q/index.cjs", "../../x", "m/x.json" },
		{ "m/dist/index.js", "./a.mjs", "m/dist/a.mjs" },
		{ "m/dist/index.js", "./missing", NULL },
		{ "m/index.js", "../../../etc", NULL },
		{ "m/index.js", "lodash", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *r = jsscan_resolve(t[i].from, t[i].spec, exists, NULL);
		if (!t[i].want)
			ck_assert_msg(!r, "%s + %s -> %s, want NULL", t[i].from, t[i].spec, r);
		else
			ck_assert_msg(r && strcmp(r, t[i].want) == 0, "%s + %s -> %s, want %s", t[i].from, t[i].spec,
				      r ? r : "NULL", t[i].want);
		free(r);
	}
}
END_TEST

SUITE(jsscan)
{
	Suite *s = suite_create("jsscan");
	TCASE(s, test_specifiers_table);
	TCASE(s, test_resolve);
	return s;
}
