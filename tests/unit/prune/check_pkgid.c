/* Unit tests for prune/pkgid.c: the one reading of package identity that prune, the
 * SBOM and the report share (the name splits are also exercised by check_dedupe.c and
 * check_prune_internal.c). */
#include <stdlib.h>
#include <string.h>

#include "prune/pkgid.h"
#include "report/model.h"
#include "unit.h"

START_TEST(test_npm_manifest)
{
	static const struct {
		const char *path;
		int yes;
	} t[] = {
		{ "var/task/node_modules/x/package.json", 1 },
		{ "node_modules/@aws-sdk/client-s3/package.json", 1 },
		{ "var/task/node_modules/a/node_modules/b/package.json", 1 },
		{ "var/task/node_modules/x/test/package.json", 0 }, /* a fixture's, not the package's */
		{ "var/task/node_modules/@scope/package.json", 0 },  /* a scope is no package */
		{ "var/task/package.json", 0 },
		{ "var/task/my_node_modules/x/package.json", 0 },
		{ "node_modules/package.json", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(pkgid_npm_manifest(t[i].path) == t[i].yes, "%s", t[i].path);
}
END_TEST

START_TEST(test_python_metadata)
{
	ck_assert(pkgid_python_metadata("var/task/PyYAML-6.0.dist-info/METADATA"));
	ck_assert(pkgid_python_metadata("x/site-packages/boto3-1.26.27.egg-info/PKG-INFO"));
	ck_assert(pkgid_python_metadata("x/site-packages/six-1.16.0.egg-info")); /* distutils: a file */
	ck_assert(!pkgid_python_metadata("var/task/PyYAML-6.0.dist-info/RECORD"));
	ck_assert(!pkgid_python_metadata("var/task/METADATA"));
	ck_assert(!pkgid_python_metadata("var/task/boto3-1.26.27.dist-info/PKG-INFO"));
}
END_TEST

START_TEST(test_pep503)
{
	static const char *const t[][2] = {
		{ "Zope.Interface", "zope-interface" }, { "python_dateutil", "python-dateutil" },
		{ "a__b--c..d", "a-b-c-d" },		 { "PyYAML", "pyyaml" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *n = pkgid_pep503(t[i][0], strlen(t[i][0]));
		ck_assert_str_eq(n, t[i][1]);
		free(n);
	}
}
END_TEST

/* The report groups a file by the same npm package folder prune accounts it to. */
START_TEST(test_report_agrees)
{
	static const struct {
		const char *path, *pkg;
	} t[] = {
		{ "/var/task/node_modules/@aws-sdk/client-s3/dist-cjs/index.js", "@aws-sdk/client-s3" },
		{ "var/task/node_modules/a/node_modules/b/index.js", "b" },
		{ "var/task/node_modules/.bin/tsc", NULL },
		{ "var/task/node_modules/.package-lock.json", NULL },
		{ "var/task/node_modules/x", NULL },
		{ "var/task/node_modules/@s/n", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		const char *eco;
		char *got = report_pkg_of(t[i].path, &eco), *p = pkgid_npm_package(t[i].path);
		if (t[i].pkg) {
			ck_assert_msg(got && strcmp(got, t[i].pkg) == 0, "%s: %s", t[i].path, got ? got : "(null)");
			ck_assert_str_eq(eco, "npm");
			ck_assert_str_eq(p, got);
		} else {
			ck_assert_msg(got == NULL || strcmp(eco, "npm") != 0, "%s: %s", t[i].path, got);
		}
		free(got);
		free(p);
	}
}
END_TEST

SUITE(pkgid)
{
	Suite *s = suite_create("pkgid");
	TCASE(s, test_npm_manifest);
	TCASE(s, test_python_metadata);
	TCASE(s, test_pep503);
	TCASE(s, test_report_agrees);
	return s;
}
