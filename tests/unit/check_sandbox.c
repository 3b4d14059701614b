#include <stdlib.h>
#include <string.h>

#include "precompile.h"
#include "sandbox.h"
#include "unit.h"

START_TEST(test_env_merge)
{
	char *img[] = { "PATH=/var/lang/bin:/usr/bin", "LANG=en_US.UTF-8", "EMPTY=" };
	char *extra[] = { "LANG=C.UTF-8", "_HANDLER=app.handler" };
	char **env = sandbox_env(img, 3, extra, 2);
	size_t n = 0;
	while (env[n])
		n++;
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(env[0], "PATH=/var/lang/bin:/usr/bin");
	ck_assert_str_eq(env[1], "LANG=C.UTF-8");
	ck_assert_str_eq(sandbox_env_get(env, "_HANDLER"), "app.handler");
	ck_assert_str_eq(sandbox_env_get(env, "EMPTY"), "");
	ck_assert(sandbox_env_get(env, "PAT") == NULL);
	ck_assert(sandbox_env_get(env, "LANGX") == NULL);
	sandbox_env_free(env);
}
END_TEST

START_TEST(test_third_party_table)
{
	static const struct {
		const char *path;
		int want;
	} t[] = {
		{ "var/task/app.py", 0 },
		{ "var/task/site-packages/x.py", 1 },
		{ "opt/python/lib/python3.12/site-packages/yaml/__init__.py", 1 },
		{ "usr/lib/python3/dist-packages/a.py", 1 },
		{ "var/task/my_site-packages.py", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(precompile_is_third_party(t[i].path) == t[i].want, "third_party('%s')", t[i].path);
}
END_TEST

SUITE(sandbox)
{
	Suite *s = suite_create("sandbox");
	TCASE(s, test_env_merge);
	TCASE(s, test_third_party_table);
	return s;
}
