#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "prune/prune.h"
#include "image/tree.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

/* A synthetic layer under var/task: files get real content in a temporary directory so
 * the import/require scans can read them. */
struct fx {
	struct lm_tree t;
	char *dir;
	int n;
};

static void fx_init(struct fx *f)
{
	struct lm_err err = LM_ERR_INIT;
	tree_init(&f->t);
	f->dir = lm_mkdtemp(NULL, "check-prune", &err);
	ck_assert_ptr_nonnull(f->dir);
	f->n = 0;
}

static void fx_file(struct fx *f, const char *path, const char *content)
{
	char *src = lm_asprintf("%s/%d", f->dir, f->n++);
	struct lm_err err = LM_ERR_INIT;
	char *img = lm_asprintf("var/task/%s", path);
	ck_assert_int_eq(lm_write_file_atomic(src, content, strlen(content), &err), 0);
	tree_add(&f->t, LM_F_REG, img, src, NULL, 0644, strlen(content));
	free(img);
	free(src);
}

static void fx_release(struct fx *f)
{
	struct lm_err err = LM_ERR_INIT;
	tree_release(&f->t);
	lm_rm_rf(f->dir, &err);
	free(f->dir);
}

static int removed(const struct fx *f, const char *path)
{
	char *img = lm_asprintf("var/task/%s", path);
	const struct lm_entry *e = tree_find(&f->t, img);
	int r;
	ck_assert_msg(e != NULL, "no entry '%s'", img);
	r = e->removed;
	free(img);
	return r;
}

static void spec_set(struct prune_spec *s, const char *const *presets, const char *const *remove,
		     const char *const *keep)
{
	memset(s, 0, sizeof(*s));
	s->set = 1;
	s->strip = PRUNE_STRIP_NONE;
	s->strip_set = 1;
	for (; presets && *presets; presets++) {
		s->presets = lm_xrealloc(s->presets, (s->npresets + 1) * sizeof(char *));
		s->presets[s->npresets++] = lm_xstrdup(*presets);
	}
	for (; remove && *remove; remove++) {
		s->remove = lm_xrealloc(s->remove, (s->nremove + 1) * sizeof(char *));
		s->remove[s->nremove++] = lm_xstrdup(*remove);
	}
	for (; keep && *keep; keep++) {
		s->keep = lm_xrealloc(s->keep, (s->nkeep + 1) * sizeof(char *));
		s->keep[s->nkeep++] = lm_xstrdup(*keep);
	}
}

static void apply(struct fx *f, const char *const *presets, const char *const *remove, const char *const *keep,
		  struct prune_report *rep)
{
	struct prune_spec s;
	struct lm_err err = LM_ERR_INIT;
	spec_set(&s, presets, remove, keep);
	tree_finish(&f->t);
	ck_assert_msg(prune_apply(&s, NULL, &f->t, "/var/task", "linux/amd64", NULL, "deps", NULL, rep, &err) == 0, "%s",
		      err.msg);
	prune_spec_release(&s);
}

/* The entry's content as the layer would get it (its src after prune_apply). */
static char *content(const struct fx *f, const char *path)
{
	char *img = lm_asprintf("var/task/%s", path), *buf = NULL;
	const struct lm_entry *e = tree_find(&f->t, img);
	size_t len = 0;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_msg(e != NULL, "no entry '%s'", img);
	ck_assert_int_eq(lm_read_file(e->src, 1 << 20, &buf, &len, &err), 0);
	ck_assert_uint_eq(len, e->size);
	free(img);
	return buf;
}

static void apply_work(struct fx *f, const char *const *presets, const char *const *keep, struct prune_report *rep)
{
	struct prune_spec s;
	struct lm_err err = LM_ERR_INIT;
	char *work = lm_path_join(f->dir, "work");
	spec_set(&s, presets, NULL, keep);
	tree_finish(&f->t);
	ck_assert_msg(prune_apply(&s, NULL, &f->t, "/var/task", "linux/amd64", NULL, "deps", work, rep, &err) == 0, "%s",
		      err.msg);
	prune_spec_release(&s);
	free(work);
}

#define SVC_MODEL                                                                                          \
	"{\n  \"version\": \"2.0\",\n  \"documentation\": \"<p>Amazon S3</p>\",\n  \"operations\": {\n    " \
	"\"Get\": {\"name\": \"Get\", \"documentation\": \"<p>gets</p>\"}\n  },\n  \"shapes\": {\n    "        \
	"\"R\": {\"type\": \"structure\", \"members\": {\"B\": {\"shape\": \"S\", \"documentation\": "       \
	"\"b\"}}}\n  },\n  \"clientContextParams\": {\"A\": {\"type\": \"boolean\", \"documentation\": "        \
	"\"a\"}}\n}\n"

START_TEST(test_python_rewrites)
{
	static const char *const safe[] = { "python-safe", NULL };
	static const char *const aggr[] = { "python-aggressive", NULL };
	static const char *const keep[] = { "botocore/data/kept/*.json", NULL };
	for (int agg = 0; agg < 2; agg++) {
		struct prune_report *rep = prune_report_new();
		struct fx f;
		char *c, *json;
		fx_init(&f);
		fx_file(&f, "botocore/__init__.py", "");
		fx_file(&f, "botocore/data/s3/2006-03-01/service-2.json", SVC_MODEL);
		fx_file(&f, "botocore/data/s3/2006-03-01/paginators-1.json", "{\n  \"pagination\": {}\n}\n");
		fx_file(&f, "botocore/data/s3/2006-03-01/examples-1.json", "{\n  \"examples\": {}\n}\n");
		fx_file(&f, "botocore/data/kept/service-2.json", SVC_MODEL);
		fx_file(&f, "botocore/data/broken.json", "{\n  \"a\": 1,\n}\n");
		fx_file(&f, "boto3/data/s3/2006-03-01/resources-1.json", "{\n  \"service\": {}\n}\n");
		fx_file(&f, "pkg/__init__.py", "");
		fx_file(&f, "pkg/data.json", "{\n  \"a\": 1\n}\n"); /* read by who knows what: untouched */
		fx_file(&f, "pkg-1.0.dist-info/METADATA", "Name: pkg\nVersion: 1.0\n\n# pkg\n\nLong README\n");
		fx_file(&f, "old-1.0.egg-info", "Name: old\nVersion: 1.0\n\nREADME\n");
		apply_work(&f, agg ? aggr : safe, keep, rep);
		c = content(&f, "botocore/data/s3/2006-03-01/service-2.json");
		if (agg)
			ck_assert_str_eq(c, "{\"version\":\"2.0\",\"operations\":{\"Get\":{\"name\":\"Get\"}},\"shapes\":{"
					    "\"R\":{\"type\":\"structure\",\"members\":{\"B\":{\"shape\":\"S\",\"documentation\":\" \"}}}},"
					    "\"clientContextParams\":{\"A\":{\"type\":\"boolean\",\"documentation\":\"a\"}}}");
		else
			ck_assert_str_eq(c, "{\"version\":\"2.0\",\"documentation\":\"<p>Amazon S3</p>\",\"operations\":{"
					    "\"Get\":{\"name\":\"Get\",\"documentation\":\"<p>gets</p>\"}},\"shapes\":{\"R\":{"
					    "\"type\":\"structure\",\"members\":{\"B\":{\"shape\":\"S\",\"documentation\":"
					    "\"b\"}}}},\"clientContextParams\":{\"A\":{\"type\":\"boolean\",\"documentation\":"
					    "\"a\"}}}");
		free(c);
		c = content(&f, "botocore/data/s3/2006-03-01/paginators-1.json");
		ck_assert_str_eq(c, "{\"pagination\":{}}");
		free(c);
		ck_assert(removed(&f, "botocore/data/s3/2006-03-01/examples-1.json") == agg);
		c = content(&f, "botocore/data/kept/service-2.json"); /* keep wins over rewriting too */
		ck_assert_str_eq(c, SVC_MODEL);
		free(c);
		c = content(&f, "botocore/data/broken.json"); /* not JSON: left alone */
		ck_assert_str_eq(c, "{\n  \"a\": 1,\n}\n");
		free(c);
		c = content(&f, "boto3/data/s3/2006-03-01/resources-1.json");
		ck_assert_str_eq(c, "{\"service\":{}}");
		free(c);
		c = content(&f, "pkg/data.json");
		ck_assert_str_eq(c, "{\n  \"a\": 1\n}\n");
		free(c);
		c = content(&f, "pkg-1.0.dist-info/METADATA");
		ck_assert_str_eq(c, agg ? "Name: pkg\nVersion: 1.0\n" : "Name: pkg\nVersion: 1.0\n\n# pkg\n\nLong README\n");
		free(c);
		c = content(&f, "old-1.0.egg-info");
		ck_assert_str_eq(c, agg ? "Name: old\nVersion: 1.0\n" : "Name: old\nVersion: 1.0\n\nREADME\n");
		free(c);
		json = prune_report_json(rep);
		ck_assert_msg(strstr(json, agg ? "\"rule\": \"python-aggressive: **/botocore/data/**/service-2.json (JSON "
						 "minified, documentation dropped)\",\n          \"files\": 1,"
					       : "\"rule\": \"python-safe: **/botocore/data/**/*.json (JSON minified)\",\n"
						 "          \"files\": 3,") != NULL,
			      "rewrite rule accounting (agg %d)", agg);
		ck_assert(strstr(json, "\"action\": \"rewrite\"") != NULL);
		free(json);
		prune_report_free(rep);
		fx_release(&f);
	}
}
END_TEST

START_TEST(test_python_build_leftovers)
{
	static const char *const safe[] = { "python-safe", NULL };
	static const char *const aggr[] = { "python-aggressive", NULL };
	for (int agg = 0; agg < 2; agg++) {
		struct fx f;
		fx_init(&f);
		fx_file(&f, "numpy/__init__.py", "from . import core\n");
		fx_file(&f, "numpy/core/__init__.py", "");
		fx_file(&f, "numpy/core/lib/libnpymath.a", "!<arch>\n");
		fx_file(&f, "numpy/core/include/numpy/numpy.i", "%module numpy");
		fx_file(&f, "numpy/core/include/numpy/multiarray_api.txt", "api");
		fx_file(&f, "greenlet/platform/switch_x64_masm.obj", "obj");
		fx_file(&f, "greenlet/platform/switch_x64_masm.asm", "asm");
		fx_file(&f, "pkg/_ext.o", "o");
		fx_file(&f, "pkg/_ext.cpython-311-x86_64-linux-gnu.so", "so");
		fx_file(&f, "sniffio/__init__.py", "");
		fx_file(&f, "sniffio/_tests/test_sniffio.py", "import sniffio\n");
		/* an imported package named _tests stays */
		fx_file(&f, "uses/__init__.py", "from uses._tests import helper\n");
		fx_file(&f, "uses/_tests/__init__.py", "");
		fx_file(&f, "uses/_tests/helper.py", "");
		/* an imported package named include stays (aggressive) */
		fx_file(&f, "cfg/__init__.py", "from .include import x\n");
		fx_file(&f, "cfg/include/__init__.py", "x = 1\n");
		apply(&f, agg ? aggr : safe, NULL, NULL, NULL);
		ck_assert(removed(&f, "numpy/core/lib/libnpymath.a"));
		ck_assert(removed(&f, "numpy/core/include/numpy/numpy.i"));
		ck_assert(removed(&f, "numpy/core/include/numpy/multiarray_api.txt") == agg);
		ck_assert(removed(&f, "greenlet/platform/switch_x64_masm.obj"));
		ck_assert(removed(&f, "greenlet/platform/switch_x64_masm.asm"));
		ck_assert(removed(&f, "pkg/_ext.o"));
		ck_assert(!removed(&f, "pkg/_ext.cpython-311-x86_64-linux-gnu.so"));
		ck_assert(removed(&f, "sniffio/_tests"));
		ck_assert(!removed(&f, "sniffio/__init__.py"));
		ck_assert(!removed(&f, "uses/_tests/helper.py"));
		ck_assert(!removed(&f, "cfg/include/__init__.py"));
		fx_release(&f);
	}
}
END_TEST

START_TEST(test_python_safe_traps)
{
	static const char *const py[] = { "python-safe", NULL };
	struct prune_report *rep;
	struct fx f;
	fx_init(&f);
	/* boto3/docs and botocore/docs are code packages imported by code that stays */
	fx_file(&f, "boto3/__init__.py", "from boto3.session import Session\n");
	fx_file(&f, "boto3/session.py", "from .docs import docstring\n");
	fx_file(&f, "boto3/docs/__init__.py", "");
	fx_file(&f, "boto3/docs/docstring.py", "from botocore.docs.bcdoc import x\n");
	fx_file(&f, "botocore/__init__.py", "");
	fx_file(&f, "botocore/docs/__init__.py", "");
	fx_file(&f, "botocore/docs/bcdoc/__init__.py", "");
	/* a docs directory nobody imports goes */
	fx_file(&f, "pkg/__init__.py", "");
	fx_file(&f, "pkg/docs/index.rst", "hi");
	fx_file(&f, "pkg/docs/conf.py", "import sphinx\n");
	/* tests go, unless imported */
	fx_file(&f, "pkg/tests/__init__.py", "");
	fx_file(&f, "pkg/tests/test_a.py", "import pkg\n");
	fx_file(&f, "numpy/__init__.py", "from . import core\n");
	fx_file(&f, "numpy/core/__init__.py", "");
	fx_file(&f, "numpy/core/tests/test_x.py", "");
	/* metadata stays: importlib.metadata needs it */
	fx_file(&f, "pkg-1.0.dist-info/METADATA", "Name: pkg\n");
	fx_file(&f, "pkg-1.0.dist-info/top_level.txt", "pkg\n");
	fx_file(&f, "pkg-1.0.dist-info/LICENSE.md", "MIT");
	fx_file(&f, "pkg/README.md", "# pkg");
	fx_file(&f, "pkg/LICENSE.md", "MIT");
	fx_file(&f, "pkg/_c.c", "int x;");
	fx_file(&f, "pkg/__init__.pyi", "");
	fx_file(&f, "pkg/__pycache__/__init__.cpython-311.pyc", "x");
	fx_file(&f, "pkg/legacy.pyc", "sourceless");
	rep = prune_report_new();
	apply(&f, py, NULL, NULL, rep);
	/* the report names the rule behind each removed file (what lamina report shows) */
	ck_assert_str_eq(prune_report_rule_of(rep, "deps", "var/task/pkg/tests/test_a.py"), "python-safe: tests/");
	ck_assert_str_eq(prune_report_rule_of(rep, "deps", "var/task/pkg/__init__.pyi"), "python-safe: *.pyi");
	ck_assert_ptr_null(prune_report_rule_of(rep, "deps", "var/task/pkg/LICENSE.md")); /* kept */
	ck_assert_ptr_null(prune_report_rule_of(rep, "deps", "var/task/pkg/docs")); /* a directory */
	ck_assert_ptr_null(prune_report_rule_of(rep, "app", "var/task/pkg/__init__.pyi")); /* no such layer */
	prune_report_free(rep);
	ck_assert(!removed(&f, "boto3/docs"));
	ck_assert(!removed(&f, "boto3/docs/docstring.py"));
	ck_assert(!removed(&f, "botocore/docs"));
	ck_assert(!removed(&f, "botocore/docs/bcdoc/__init__.py"));
	ck_assert(removed(&f, "pkg/docs"));
	ck_assert(removed(&f, "pkg/docs/conf.py"));
	ck_assert(removed(&f, "pkg/tests"));
	ck_assert(removed(&f, "pkg/tests/test_a.py"));
	ck_assert(removed(&f, "numpy/core/tests/test_x.py"));
	ck_assert(!removed(&f, "numpy/core/__init__.py"));
	ck_assert(!removed(&f, "pkg-1.0.dist-info/METADATA"));
	ck_assert(!removed(&f, "pkg-1.0.dist-info/top_level.txt"));
	ck_assert(!removed(&f, "pkg-1.0.dist-info/LICENSE.md"));
	ck_assert(removed(&f, "pkg/README.md"));
	ck_assert(!removed(&f, "pkg/LICENSE.md")); /* licences only with "licenses" */
	ck_assert(removed(&f, "pkg/_c.c"));
	ck_assert(removed(&f, "pkg/__init__.pyi"));
	ck_assert(removed(&f, "pkg/__pycache__/__init__.cpython-311.pyc"));
	ck_assert(!removed(&f, "pkg/legacy.pyc")); /* no legacy.py beside it: it is the module */
	fx_release(&f);
}
END_TEST

START_TEST(test_python_aggressive_testing_imported)
{
	static const char *const py[] = { "python-aggressive", NULL };
	struct fx f;
	fx_init(&f);
	fx_file(&f, "numpy/__init__.py", "def __getattr__(a):\n    import numpy.testing as testing\n");
	fx_file(&f, "numpy/testing/__init__.py", "from ._private.utils import *\n");
	fx_file(&f, "numpy/testing/_private/utils.py", "");
	fx_file(&f, "numpy/testing/tests/test_utils.py", "");
	fx_file(&f, "other/__init__.py", "");
	fx_file(&f, "other/testing/__init__.py", "");
	fx_file(&f, "numpy-1.24.dist-info/RECORD", "numpy/__init__.py,,\n");
	fx_file(&f, "numpy-1.24.dist-info/METADATA", "Name: numpy\n");
	fx_file(&f, "pip/__init__.py", "");
	apply(&f, py, NULL, NULL, NULL);
	ck_assert(!removed(&f, "numpy/testing"));
	ck_assert(!removed(&f, "numpy/testing/_private/utils.py"));
	ck_assert(removed(&f, "numpy/testing/tests/test_utils.py"));
	ck_assert(removed(&f, "other/testing"));
	ck_assert(removed(&f, "numpy-1.24.dist-info/RECORD"));
	ck_assert(!removed(&f, "numpy-1.24.dist-info/METADATA"));
	ck_assert(removed(&f, "pip/__init__.py"));
	fx_release(&f);
}
END_TEST

START_TEST(test_node_safe_traps)
{
	static const char *const node[] = { "node-safe", NULL };
	struct fx f;
	fx_init(&f);
	/* langchain requires dist/agents/tests/utils.cjs at run time */
	fx_file(&f, "node_modules/langchain/dist/index.cjs", "const u = require(\"./agents/tests/utils.cjs\");\n");
	fx_file(&f, "node_modules/langchain/dist/agents/tests/utils.cjs", "require('./helper')\n");
	fx_file(&f, "node_modules/langchain/dist/agents/tests/helper.js", "");
	fx_file(&f, "node_modules/langchain/dist/agents/tests/other.test.cjs", "");
	fx_file(&f, "node_modules/langchain/dist/agents/tests/utils.d.cts", "");
	fx_file(&f, "node_modules/a/test/x.js", "");
	fx_file(&f, "node_modules/a/index.js", "");
	fx_file(&f, "node_modules/a/index.js.map", "{}");
	fx_file(&f, "node_modules/a/index.d.ts", "");
	fx_file(&f, "node_modules/a/src/index.ts", "");
	fx_file(&f, "node_modules/a/lib.ts", "");
	fx_file(&f, "node_modules/a/lib.js", "");
	fx_file(&f, "node_modules/a/README.md", "");
	fx_file(&f, "node_modules/a/LICENSE", "");
	fx_file(&f, "node_modules/a/docs/usage.md", "");
	apply(&f, node, NULL, NULL, NULL);
	ck_assert(!removed(&f, "node_modules/langchain/dist/agents/tests/utils.cjs"));
	ck_assert(!removed(&f, "node_modules/langchain/dist/agents/tests/helper.js"));
	ck_assert(!removed(&f, "node_modules/langchain/dist/agents/tests"));
	ck_assert(removed(&f, "node_modules/langchain/dist/agents/tests/other.test.cjs"));
	ck_assert(removed(&f, "node_modules/langchain/dist/agents/tests/utils.d.cts"));
	ck_assert(removed(&f, "node_modules/a/test"));
	ck_assert(!removed(&f, "node_modules/a/index.js"));
	ck_assert(removed(&f, "node_modules/a/index.js.map"));
	ck_assert(removed(&f, "node_modules/a/index.d.ts"));
	ck_assert(!removed(&f, "node_modules/a/src/index.ts")); /* no index.js beside it */
	ck_assert(removed(&f, "node_modules/a/lib.ts"));
	ck_assert(removed(&f, "node_modules/a/README.md"));
	ck_assert(!removed(&f, "node_modules/a/LICENSE"));
	ck_assert(removed(&f, "node_modules/a/docs"));
	fx_release(&f);
}
END_TEST

START_TEST(test_keep_wins_and_user_rules)
{
	static const char *const remove[] = { "data/", "*.csv", "/top.txt", NULL };
	static const char *const keep[] = { "data/keep.csv", NULL };
	static const char *const lic[] = { "licenses", NULL };
	struct fx f;
	fx_init(&f);
	fx_file(&f, "data/a.csv", "1");
	fx_file(&f, "data/keep.csv", "2");
	fx_file(&f, "x/b.csv", "3");
	fx_file(&f, "top.txt", "4");
	fx_file(&f, "x/top.txt", "5");
	fx_file(&f, "x/LICENSE", "6");
	fx_file(&f, "x/license.py", "7");
	/* "data/" is directory-only: a file named data is not matched */
	fx_file(&f, "y/data", "8");
	apply(&f, lic, remove, keep, NULL);
	ck_assert(removed(&f, "data/a.csv"));
	ck_assert(!removed(&f, "data/keep.csv"));
	ck_assert(!removed(&f, "data")); /* holds a kept file */
	ck_assert(removed(&f, "x/b.csv"));
	ck_assert(removed(&f, "top.txt"));
	ck_assert(!removed(&f, "x/top.txt"));
	ck_assert(removed(&f, "x/LICENSE"));
	ck_assert(!removed(&f, "x/license.py"));
	ck_assert(!removed(&f, "y/data"));
	fx_release(&f);
}
END_TEST

/* prune_decide agrees with prune_apply, attributes each removal to its rule, and with a
 * rule disabled puts back what that rule alone removed (another rule may take over). */
START_TEST(test_decide_with_rule_disabled)
{
	static const char *const py[] = { "python-safe", NULL };
	static const char *const remove[] = { "helpers.py", "*.md", NULL };
	struct fx f;
	struct prune_spec s;
	struct prune_decision d0, d1, d2, d3;
	struct lm_err err = LM_ERR_INIT;
	const char *label;
	fx_init(&f);
	fx_file(&f, "app.py", "import helpers\nimport mylib\n");
	fx_file(&f, "helpers.py", "X = 1\n");
	fx_file(&f, "mylib/__init__.py", "import importlib\nm = importlib.import_module(__name__ + '.tests.fx')\n");
	fx_file(&f, "mylib/tests/fx.py", "V = 2\n");
	fx_file(&f, "mylib/README.md", "# x\n");
	fx_file(&f, "mylib/NOTES.md", "n\n");
	spec_set(&s, py, remove, NULL);
	tree_finish(&f.t);
	ck_assert_msg(prune_decide(&s, NULL, &f.t, "/var/task", "linux/amd64", NULL, NULL, &d0, &err) == 0, "%s", err.msg);
	ck_assert_msg(prune_apply(&s, NULL, &f.t, "/var/task", "linux/amd64", NULL, "app", NULL, NULL, &err) == 0, "%s",
		      err.msg);
	/* same decisions as the real run, which the decision did not change */
	ck_assert_uint_eq(d0.n, f.t.n);
	for (size_t i = 0; i < f.t.n; i++)
		ck_assert_msg(d0.removed[i] == f.t.v[i].removed, "'%s': decide %d, apply %d", f.t.v[i].path,
			      d0.removed[i], f.t.v[i].removed);
	ck_assert(removed(&f, "helpers.py"));
	ck_assert(removed(&f, "mylib/tests/fx.py"));
	ck_assert(removed(&f, "mylib/README.md"));
	ck_assert(!removed(&f, "app.py"));
	/* attribution: the first matching rule; README.md is python-safe's, NOTES.md the glob's */
	{
		const struct lm_entry *e = tree_find(&f.t, "var/task/mylib/tests");
		ck_assert_ptr_nonnull(e);
		ck_assert_str_eq(d0.labels[d0.rule[e - f.t.v]], "python-safe: tests/");
		e = tree_find(&f.t, "var/task/mylib/tests/fx.py");
		ck_assert_str_eq(d0.labels[d0.rule[e - f.t.v]], "python-safe: tests/");
		e = tree_find(&f.t, "var/task/helpers.py");
		ck_assert_str_eq(d0.labels[d0.rule[e - f.t.v]], "remove: helpers.py");
		e = tree_find(&f.t, "var/task/mylib/README.md");
		ck_assert_str_eq(d0.labels[d0.rule[e - f.t.v]], "python-safe: README*");
		e = tree_find(&f.t, "var/task/mylib/NOTES.md");
		ck_assert_str_eq(d0.labels[d0.rule[e - f.t.v]], "python-safe: *.md");
		e = tree_find(&f.t, "var/task/app.py");
		ck_assert_int_eq(d0.rule[e - f.t.v], -1);
	}
	/* generated entries added since are ignored */
	tree_add(&f.t, LM_F_REG, "var/task/mylib/tests/__pycache__/fx.cpython-311.pyc", "/nonexistent", NULL, 0644, 1)
		->generated = 1;
	tree_finish(&f.t);
	label = "python-safe: tests/";
	ck_assert(prune_decide(&s, NULL, &f.t, "/var/task", "linux/amd64", NULL, label, &d1, &err) == 0);
	ck_assert(!d1.removed[tree_find(&f.t, "var/task/mylib/tests/fx.py") - f.t.v]);
	ck_assert(!d1.removed[tree_find(&f.t, "var/task/mylib/tests") - f.t.v]);
	ck_assert(d1.removed[tree_find(&f.t, "var/task/helpers.py") - f.t.v]);
	ck_assert(!d1.removed[tree_find(&f.t, "var/task/mylib/tests/__pycache__/fx.cpython-311.pyc") - f.t.v]);
	for (size_t k = 0; k < d1.nlabels; k++)
		ck_assert_str_ne(d1.labels[k], label);
	ck_assert(prune_decide(&s, NULL, &f.t, "/var/task", "linux/amd64", NULL, "remove: helpers.py", &d2, &err) == 0);
	ck_assert(!d2.removed[tree_find(&f.t, "var/task/helpers.py") - f.t.v]);
	ck_assert(d2.removed[tree_find(&f.t, "var/task/mylib/tests/fx.py") - f.t.v]);
	/* with python-safe's *.md off, the user's *.md still removes NOTES.md */
	ck_assert(prune_decide(&s, NULL, &f.t, "/var/task", "linux/amd64", NULL, "python-safe: *.md", &d3, &err) == 0);
	{
		const struct lm_entry *e = tree_find(&f.t, "var/task/mylib/NOTES.md");
		ck_assert(d3.removed[e - f.t.v]);
		ck_assert_str_eq(d3.labels[d3.rule[e - f.t.v]], "remove: *.md");
	}
	prune_decision_release(&d0);
	prune_decision_release(&d1);
	prune_decision_release(&d2);
	prune_decision_release(&d3);
	prune_spec_release(&s);
	fx_release(&f);
}
END_TEST

START_TEST(test_accounting)
{
	static const char *const py[] = { "python-safe", NULL };
	struct prune_report *rep = prune_report_new();
	struct fx f;
	char *json;
	fx_init(&f);
	fx_file(&f, "yaml/__init__.py", "import yaml.x\n");
	fx_file(&f, "yaml/tests/t.py", "0123456789");
	fx_file(&f, "PyYAML-6.0.dist-info/top_level.txt", "yaml\n_yaml\n");
	fx_file(&f, "_yaml/__init__.py", "");
	fx_file(&f, "node_modules/@scope/name/README.md", "abc");
	apply(&f, py, NULL, NULL, rep);
	json = prune_report_json(rep);
	ck_assert_msg(strstr(json, "\"name\": \"PyYAML\"") != NULL, "%s", json);
	ck_assert_msg(strstr(json, "\"name\": \"@scope/name\"") != NULL, "%s", json);
	ck_assert_msg(strstr(json, "\"rule\": \"python-safe: tests/\",\n          \"files\": 1,\n          \"bytes\": 10") !=
			      NULL,
		      "%s", json);
	free(json);
	prune_report_free(rep);
	fx_release(&f);
}
END_TEST

START_TEST(test_presets_and_globs)
{
	struct lm_err err = LM_ERR_INIT;
	size_t n;
	ck_assert(prune_preset_known("python-safe"));
	ck_assert(prune_preset_known("node-aggressive"));
	ck_assert(prune_preset_known("licenses"));
	ck_assert(!prune_preset_known("python"));
	ck_assert(!prune_preset_known(NULL));
	ck_assert_ptr_nonnull(prune_preset_rules("node-safe", &n));
	ck_assert_int_eq(prune_glob_check("tests/", "x", &err), 0);
	ck_assert_int_eq(prune_glob_check("foo[", "prune.remove[0]", &err), -1);
	ck_assert_msg(strstr(err.msg, "prune.remove[0]") && strstr(err.msg, "'foo['"), "%s", err.msg);
	lm_err_release(&err);
	ck_assert_int_eq(prune_glob_check("", "x", &err), -1);
	lm_err_release(&err);
	ck_assert_int_eq(prune_glob_check("a\\", "x", &err), -1);
	lm_err_release(&err);
	ck_assert_int_eq(prune_glob_check("../etc", "x", &err), -1);
	lm_err_release(&err);
}
END_TEST

START_TEST(test_foreign_platform)
{
	static const struct {
		const char *name, *platform;
		int want;
	} t[] = {
		{ "darwin-x64", "linux/amd64", 1 },	  { "win32-ia32", "linux/amd64", 1 },
		{ "linux-x64", "linux/amd64", 0 },	  { "linux-arm64", "linux/amd64", 1 },
		{ "linux-arm64", "linux/arm64", 0 },	  { "linux-x64", "linux/arm64", 1 },
		{ "linux-x64-musl", "linux/amd64", 1 },	  { "linux-x64-gnu", "linux/amd64", 0 },
		{ "sharp-linux-x86_64", "linux/amd64", 0 }, { "ffmpeg-linux-aarch64", "linux/amd64", 1 },
		{ "lib", "linux/amd64", 0 },		  { "arm", "linux/amd64", 0 },
		{ "windows.node", "linux/amd64", 1 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(prune_foreign_platform(t[i].name, t[i].platform) == t[i].want, "%s on %s != %d",
			      t[i].name, t[i].platform, t[i].want);
}
END_TEST

START_TEST(test_node_aggressive_foreign)
{
	static const char *const node[] = { "node-aggressive", NULL };
	struct fx f;
	fx_init(&f);
	fx_file(&f, "node_modules/x/prebuilds/darwin-arm64/x.node", "bin");
	fx_file(&f, "node_modules/x/prebuilds/linux-x64/x.node", "bin");
	fx_file(&f, "node_modules/@libsql/linux-x64-musl/index.node", "bin");
	fx_file(&f, "node_modules/@libsql/linux-x64-gnu/index.node", "bin");
	apply(&f, node, NULL, NULL, NULL);
	ck_assert(removed(&f, "node_modules/x/prebuilds/darwin-arm64"));
	ck_assert(!removed(&f, "node_modules/x/prebuilds/linux-x64/x.node"));
	ck_assert(removed(&f, "node_modules/@libsql/linux-x64-musl"));
	ck_assert(!removed(&f, "node_modules/@libsql/linux-x64-gnu/index.node"));
	fx_release(&f);
}
END_TEST

SUITE(prune)
{
	Suite *s = suite_create("prune");
	TCASE(s, test_python_safe_traps);
	TCASE(s, test_python_aggressive_testing_imported);
	TCASE(s, test_python_rewrites);
	TCASE(s, test_python_build_leftovers);
	TCASE(s, test_node_safe_traps);
	TCASE(s, test_keep_wins_and_user_rules);
	TCASE(s, test_decide_with_rule_disabled);
	TCASE(s, test_accounting);
	TCASE(s, test_presets_and_globs);
	TCASE(s, test_foreign_platform);
	TCASE(s, test_node_aggressive_foreign);
	return s;
}
