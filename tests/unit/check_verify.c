#include <stdlib.h>
#include <string.h>

#include "unit.h"
#include "verify.h"

START_TEST(test_handler_split_table)
{
	static const struct {
		const char *in, *mod, *fn; /* mod NULL: rejected */
	} t[] = {
		{ "app.handler", "app", "handler" },
		{ "pkg/mod.fn", "pkg.mod", "fn" },
		{ "a/b/c.run", "a.b.c", "run" },
		{ "pkg.mod.fn", "pkg.mod", "fn" },
		{ "handler", NULL, NULL },
		{ ".handler", NULL, NULL },
		{ "app.", NULL, NULL },
		{ "app/.fn", NULL, NULL },
		{ "a.b/c", NULL, NULL },
		{ "/app.fn", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *m = NULL, *f = NULL;
		int r = verify_handler_split(t[i].in, &m, &f);
		if (!t[i].mod) {
			ck_assert_msg(r == -1, "split('%s') accepted", t[i].in);
			continue;
		}
		ck_assert_msg(r == 0 && strcmp(m, t[i].mod) == 0 && strcmp(f, t[i].fn) == 0, "split('%s') = '%s' '%s'",
			      t[i].in, m ? m : "", f ? f : "");
		free(m);
		free(f);
	}
}
END_TEST

SUITE(verify)
{
	Suite *s = suite_create("verify");
	TCASE(s, test_handler_split_table);
	return s;
}
