/* dedupe-base: the pure helpers, struct prune_base, and runs over synthetic layers
 * against a hand-made base (same files, another version, a changed file, Node with and
 * without ES modules). */
#include <stdlib.h>
#include <string.h>

#include "prune/pkgid.h"
#include "prune/prune_internal.h"
#include "image/tree.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

#define SP "var/lang/lib/python3.12/site-packages"

START_TEST(test_dist_split)
{
	static const struct {
		const char *dir, *name, *version;
	} t[] = {
		{ "boto3-1.26.27.egg-info", "boto3", "1.26.27" },
		{ "python_dateutil-2.8.2.egg-info", "python-dateutil", "2.8.2" },
		{ "boto3-1.26.27-py3.11.egg-info", "boto3", "1.26.27" },
		{ "PyYAML-6.0.dist-info", "pyyaml", "6.0" },
		{ "zope.interface-6.0.dist-info", "zope-interface", "6.0" },
		{ "a__b-1.dist-info", "a-b", "1" },
		{ "noversion.dist-info", NULL, NULL },
		{ "-1.0.dist-info", NULL, NULL },
		{ "x-.egg-info", NULL, NULL },
		{ "boto3-1.0", NULL, NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *n = NULL, *v = NULL;
		int r = pkgid_dist_split(t[i].dir, &n, &v);
		if (!t[i].name) {
			ck_assert_msg(r < 0, "%s", t[i].dir);
			continue;
		}
		ck_assert_msg(r == 0, "%s", t[i].dir);
		ck_assert_str_eq(n, t[i].name);
		ck_assert_str_eq(v, t[i].version);
		free(n);
		free(v);
	}
}
END_TEST

START_TEST(test_npm_version)
{
	const char *j = "{\"name\":\"a\",\"version\":\"3.750.0\"}";
	char *v = pkgid_npm_version(j, strlen(j));
	ck_assert_str_eq(v, "3.750.0");
	free(v);
	ck_assert_ptr_null(pkgid_npm_version("{\"name\":\"a\"}", 12));
	ck_assert_ptr_null(pkgid_npm_version("{\"version\":1}", 13));
	ck_assert_ptr_null(pkgid_npm_version("not json", 8));
}
END_TEST

START_TEST(test_base_struct)
{
	struct prune_base b;
	char d1[LM_DIGEST_LEN], d2[LM_DIGEST_LEN];
	digest_buf("1", 1, d1);
	digest_buf("2", 1, d2);
	prune_base_init(&b);
	prune_base_add(&b, "a/site-packages/x/b.py", d1, 1, NULL);
	prune_base_add(&b, "a/site-packages/x/a.py", d1, 1, NULL);
	prune_base_add(&b, "a/site-packages/x/b.py", d2, 1, "two"); /* a later layer's */
	prune_base_add(&b, "a/site-packages/y/c.py", d1, 1, NULL);
	prune_base_add(&b, "a/site-packages/yy.py", d1, 1, NULL);
	prune_base_remove_under(&b, "a/site-packages/y", 0); /* whiteout y: not yy.py */
	prune_base_finish(&b);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_str_eq(b.v[0].path, "a/site-packages/x/a.py");
	ck_assert_str_eq(prune_base_find(&b, "a/site-packages/x/b.py")->digest, d2);
	ck_assert_str_eq(prune_base_find(&b, "a/site-packages/x/b.py")->text, "two");
	ck_assert_ptr_null(prune_base_find(&b, "a/site-packages/y/c.py"));
	ck_assert_ptr_nonnull(prune_base_find(&b, "a/site-packages/yy.py"));
	ck_assert_ptr_null(prune_base_find(&b, "nothing"));
	/* opaque: what is below goes, the directory itself is not a file anyway */
	prune_base_remove_under(&b, "a/site-packages/x", 1);
	ck_assert_uint_eq(b.n, 1);
	prune_base_release(&b);
	prune_base_release(&b); /* twice is fine */
}
END_TEST

/* --- runs ----------------------------------------------------------------------------- */

struct fx {
	struct lm_tree t;
	struct prune_base b;
	char *dir;
	int n;
};

static void fx_init(struct fx *f)
{
	struct lm_err err = LM_ERR_INIT;
	tree_init(&f->t);
	prune_base_init(&f->b);
	f->dir = lm_mkdtemp(NULL, "check-dedupe", &err);
	ck_assert_ptr_nonnull(f->dir);
	f->n = 0;
}

/* A file of the app layer (under var/task) and, when base_dir is set, the same file in the
 * base at base_dir/path with base_content (NULL: the same content). */
static void fx_file(struct fx *f, const char *path, const char *content, const char *base_dir,
		    const char *base_content)
{
	char *src = lm_asprintf("%s/%d", f->dir, f->n++);
	struct lm_err err = LM_ERR_INIT;
	char *img = lm_asprintf("var/task/%s", path);
	ck_assert_int_eq(lm_write_file_atomic(src, content, strlen(content), &err), 0);
	tree_add(&f->t, LM_F_REG, img, src, NULL, 0644, strlen(content));
	if (base_dir) {
		const char *bc = base_content ? base_content : content;
		char d[LM_DIGEST_LEN], *bp = lm_asprintf("%s/%s", base_dir, path);
		const char *b = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		int text = strcmp(b, "package.json") == 0 || strcmp(b, "top_level.txt") == 0 || strcmp(b, "RECORD") == 0;
		digest_buf(bc, strlen(bc), d);
		prune_base_add(&f->b, bp, d, strlen(bc), text ? bc : NULL);
		free(bp);
	}
	free(img);
	free(src);
}

/* A base file only (the base's own copy of another version). */
static void fx_base(struct fx *f, const char *path, const char *content)
{
	char d[LM_DIGEST_LEN];
	digest_buf(content, strlen(content), d);
	prune_base_add(&f->b, path, d, strlen(content), content);
}

static void fx_release(struct fx *f)
{
	struct lm_err err = LM_ERR_INIT;
	tree_release(&f->t);
	prune_base_release(&f->b);
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

static char *apply(struct fx *f, const char *preset)
{
	struct prune_spec s;
	struct lm_err err = LM_ERR_INIT;
	struct prune_report *rep = prune_report_new();
	char *json;
	memset(&s, 0, sizeof(s));
	s.set = 1;
	s.strip = PRUNE_STRIP_NONE;
	s.strip_set = 1;
	s.presets = lm_xcalloc(2, sizeof(char *));
	s.presets[0] = lm_xstrdup(preset);
	s.npresets = 1;
	tree_finish(&f->t);
	prune_base_finish(&f->b);
	ck_assert_msg(prune_apply(&s, NULL, &f->t, "/var/task", "linux/amd64", &f->b, "deps", NULL, rep, &err) == 0,
		      "%s", err.msg);
	json = prune_report_json(rep);
	prune_report_free(rep);
	prune_spec_release(&s);
	return json;
}

START_TEST(test_python_same)
{
	struct fx f;
	char *json;
	fx_init(&f);
	/* egg-info: top_level.txt names the package; the module file of six */
	fx_file(&f, "boto3-1.26.27.egg-info/PKG-INFO", "Name: boto3\nVersion: 1.26.27\n", SP, NULL);
	fx_file(&f, "boto3-1.26.27.egg-info/top_level.txt", "boto3\n", SP, NULL);
	fx_file(&f, "boto3/__init__.py", "import botocore\n", SP, NULL);
	fx_file(&f, "boto3/docs/__init__.py", "", SP, NULL); /* docs/: imported, but the base's answers */
	fx_file(&f, "boto3/__pycache__/__init__.cpython-312.pyc", "pyc", NULL, NULL); /* the base need not have it */
	fx_file(&f, "six-1.16.0.egg-info/PKG-INFO", "Name: six\nVersion: 1.16.0\n", SP, NULL);
	fx_file(&f, "six-1.16.0.egg-info/top_level.txt", "six\n", SP, NULL);
	fx_file(&f, "six.py", "x = 1\n", SP, NULL);
	/* dist-info: RECORD lists the files; INSTALLER may differ */
	fx_file(&f, "jmespath-1.0.1.dist-info/METADATA", "Name: jmespath\nVersion: 1.0.1\n", SP, NULL);
	fx_file(&f, "jmespath-1.0.1.dist-info/RECORD", "jmespath/__init__.py,sha256=x,1\njmespath-1.0.1.dist-info/METADATA,,\n",
		SP, NULL);
	fx_file(&f, "jmespath-1.0.1.dist-info/INSTALLER", "uv\n", SP, "pip\n");
	fx_file(&f, "jmespath/__init__.py", "j = 1\n", SP, NULL);
	/* not in the base */
	fx_file(&f, "yaml-6.0.dist-info/METADATA", "Name: PyYAML\nVersion: 6.0\n", NULL, NULL);
	fx_file(&f, "yaml/__init__.py", "import boto3\n", NULL, NULL);
	fx_file(&f, "app.py", "import boto3, six, jmespath, yaml\n", NULL, NULL);
	json = apply(&f, "python-safe");
	ck_assert(removed(&f, "boto3"));
	ck_assert(removed(&f, "boto3/docs/__init__.py"));
	ck_assert(removed(&f, "boto3/__pycache__/__init__.cpython-312.pyc"));
	ck_assert(removed(&f, "boto3-1.26.27.egg-info"));
	ck_assert(removed(&f, "six.py"));
	ck_assert(removed(&f, "six-1.16.0.egg-info/PKG-INFO"));
	ck_assert(removed(&f, "jmespath/__init__.py"));
	ck_assert(removed(&f, "jmespath-1.0.1.dist-info/INSTALLER"));
	ck_assert(!removed(&f, "yaml/__init__.py"));
	ck_assert(!removed(&f, "app.py"));
	ck_assert_msg(strstr(json, "\"python-safe: dedupe-base\"") != NULL, "%s", json);
	/* no "importlib.metadata.version() will fail" warning: the base's metadata answers */
	ck_assert_msg(strstr(json, "importlib.metadata") == NULL, "%s", json);
	free(json);
	fx_release(&f);
}
END_TEST

START_TEST(test_python_differs)
{
	struct fx f;
	char *json;
	fx_init(&f);
	/* another version: kept, reported with its bytes */
	fx_file(&f, "boto3-1.30.0.egg-info/PKG-INFO", "Name: boto3\nVersion: 1.30.0\n", NULL, NULL);
	fx_file(&f, "boto3-1.30.0.egg-info/top_level.txt", "boto3\n", NULL, NULL);
	fx_file(&f, "boto3/__init__.py", "new\n", NULL, NULL);
	fx_base(&f, SP "/boto3-1.26.27.egg-info/PKG-INFO", "Name: boto3\nVersion: 1.26.27\n");
	fx_base(&f, SP "/boto3/__init__.py", "old\n");
	/* the same version with a changed file: kept */
	fx_file(&f, "six-1.16.0.egg-info/PKG-INFO", "Name: six\nVersion: 1.16.0\n", SP, NULL);
	fx_file(&f, "six-1.16.0.egg-info/top_level.txt", "six\n", SP, NULL);
	fx_file(&f, "six.py", "x = 2\n", SP, "x = 1\n");
	/* the same version with a file the base lacks: kept */
	fx_file(&f, "jmespath-1.0.1.egg-info/PKG-INFO", "Name: jmespath\nVersion: 1.0.1\n", SP, NULL);
	fx_file(&f, "jmespath-1.0.1.egg-info/top_level.txt", "jmespath\n", SP, NULL);
	fx_file(&f, "jmespath/__init__.py", "", SP, NULL);
	fx_file(&f, "jmespath/extra.py", "", NULL, NULL);
	/* no top_level.txt nor RECORD: which files are its own cannot be told: kept, silently */
	fx_file(&f, "urllib3-1.26.12.egg-info/PKG-INFO", "Name: urllib3\nVersion: 1.26.12\n", SP, NULL);
	fx_file(&f, "urllib3/__init__.py", "", SP, NULL);
	json = apply(&f, "dedupe-base");
	ck_assert(!removed(&f, "boto3/__init__.py"));
	ck_assert(!removed(&f, "boto3-1.30.0.egg-info/PKG-INFO"));
	ck_assert(!removed(&f, "six.py"));
	ck_assert(!removed(&f, "jmespath/__init__.py"));
	ck_assert(!removed(&f, "urllib3/__init__.py"));
	ck_assert_msg(strstr(json, "dedupe-base: 'boto3' 1.30.0 shadows the base's 1.26.27 (/" SP
				   "): 38 B more in the image; drop it unless the app needs this version") != NULL,
		      "%s", json);
	ck_assert_msg(strstr(json, "'six' 1.16.0 is in the base too (/" SP ") but its files differ: kept") != NULL,
		      "%s", json);
	ck_assert_msg(strstr(json, "'jmespath' 1.0.1 is in the base too") != NULL, "%s", json);
	free(json);
	fx_release(&f);
}
END_TEST

START_TEST(test_no_base)
{
	struct fx f;
	struct prune_spec s;
	struct lm_err err = LM_ERR_INIT;
	static const char *const presets[] = { "python-safe", NULL };
	fx_init(&f);
	fx_file(&f, "six-1.16.0.egg-info/PKG-INFO", "Name: six\nVersion: 1.16.0\n", SP, NULL);
	fx_file(&f, "six-1.16.0.egg-info/top_level.txt", "six\n", SP, NULL);
	fx_file(&f, "six.py", "x = 1\n", SP, NULL);
	memset(&s, 0, sizeof(s));
	s.set = 1;
	s.presets = lm_xcalloc(2, sizeof(char *));
	s.presets[0] = lm_xstrdup(presets[0]);
	s.npresets = 1;
	tree_finish(&f.t);
	ck_assert(prune_apply(&s, NULL, &f.t, "/var/task", "linux/amd64", NULL, "deps", NULL, NULL, &err) == 0);
	ck_assert(!removed(&f, "six.py"));
	ck_assert(prune_wants_base(&s, NULL));
	prune_spec_release(&s);
	s.set = 1;
	s.presets = lm_xcalloc(2, sizeof(char *));
	s.presets[0] = lm_xstrdup("licenses");
	s.npresets = 1;
	ck_assert(!prune_wants_base(&s, NULL));
	ck_assert(!prune_wants_base(NULL, NULL));
	prune_spec_release(&s);
	fx_release(&f);
}
END_TEST

START_TEST(test_node)
{
	struct fx f;
	char *json;
	const char *nm = "var/runtime/node_modules";
	fx_init(&f);
	f.b.node_path = lm_xcalloc(2, sizeof(char *));
	f.b.node_path[0] = lm_xstrdup("var/runtime");
	f.b.node_path[1] = lm_xstrdup(nm);
	f.b.nnode_path = 2;
	/* the base's node_modules holds the files at var/runtime/node_modules/<name>/... */
	fx_file(&f, "node_modules/@aws-sdk/client-s3/package.json", "{\"name\":\"@aws-sdk/client-s3\",\"version\":\"3.750.0\"}",
		"var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/client-s3/dist-cjs/index.js", "module.exports = 1;\n", "var/runtime", NULL);
	fx_file(&f, "node_modules/tslib/package.json", "{\"name\":\"tslib\",\"version\":\"2.8.0\"}", NULL, NULL);
	fx_file(&f, "node_modules/tslib/tslib.js", "x\n", NULL, NULL);
	fx_base(&f, "var/runtime/node_modules/tslib/package.json", "{\"name\":\"tslib\",\"version\":\"2.6.0\"}");
	/* identical files, but a dependency the app holds in another version: from the base,
	 * it would load the base's tslib; and what depends on it stays too */
	fx_file(&f, "node_modules/@aws-sdk/core/package.json",
		"{\"name\":\"@aws-sdk/core\",\"version\":\"3.750.0\",\"dependencies\":{\"tslib\":\"^2.6.0\"}}",
		"var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/core/index.js", "require('tslib')\n", "var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/util/package.json",
		"{\"name\":\"@aws-sdk/util\",\"version\":\"3.750.0\",\"peerDependencies\":{\"@aws-sdk/core\":\"*\"}}",
		"var/runtime", NULL);
	/* a dependency inside the package itself is compared with it */
	fx_file(&f, "node_modules/@aws-sdk/nested/package.json",
		"{\"name\":\"@aws-sdk/nested\",\"version\":\"1.0.0\",\"dependencies\":{\"tslib\":\"1\"}}", "var/runtime",
		NULL);
	fx_file(&f, "node_modules/@aws-sdk/nested/node_modules/tslib/package.json", "{\"name\":\"tslib\",\"version\":\"1.0.0\"}",
		"var/runtime", NULL);
	fx_file(&f, "index.js", "require('@aws-sdk/client-s3')\n", NULL, NULL);
	json = apply(&f, "node-safe");
	ck_assert(removed(&f, "node_modules/@aws-sdk/client-s3/dist-cjs/index.js"));
	ck_assert(removed(&f, "node_modules/@aws-sdk/client-s3"));
	ck_assert(!removed(&f, "node_modules/tslib/tslib.js"));
	ck_assert(!removed(&f, "node_modules/@aws-sdk/core/index.js"));
	ck_assert(!removed(&f, "node_modules/@aws-sdk/util/package.json"));
	ck_assert(removed(&f, "node_modules/@aws-sdk/nested/node_modules/tslib/package.json"));
	ck_assert_msg(strstr(json, "'@aws-sdk/core' is in the base too (/var/runtime/node_modules/@aws-sdk/core) but it "
				   "requires 'tslib', which the app keeps") != NULL,
		      "%s", json);
	ck_assert_msg(strstr(json, "'@aws-sdk/util' is in the base too (/var/runtime/node_modules/@aws-sdk/util) but it "
				   "requires '@aws-sdk/core', which the app keeps") != NULL,
		      "%s", json);
	ck_assert_msg(strstr(json, "'tslib' 2.8.0 shadows the base's 2.6.0 (/var/runtime/node_modules/tslib)") != NULL,
		      "%s", json);
	free(json);
	fx_release(&f);

	/* with ES module code: import does not search NODE_PATH */
	fx_init(&f);
	f.b.node_path = lm_xcalloc(1, sizeof(char *));
	f.b.node_path[0] = lm_xstrdup(nm);
	f.b.nnode_path = 1;
	fx_file(&f, "node_modules/@aws-sdk/client-s3/package.json", "{\"name\":\"@aws-sdk/client-s3\",\"version\":\"3.750.0\"}",
		"var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/client-s3/dist-cjs/index.js", "module.exports = 1;\n", "var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/client-s3/dist-cjs/x.js", "require('@aws-sdk/core')\n", "var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/client-s3/package.json",
		"{\"name\":\"@aws-sdk/client-s3\",\"version\":\"3.750.0\",\"dependencies\":{\"@aws-sdk/core\":\"1\"}}",
		"var/runtime", NULL);
	fx_file(&f, "node_modules/@aws-sdk/core/package.json", "{\"name\":\"@aws-sdk/core\",\"version\":\"3.750.0\"}",
		"var/runtime", NULL);
	fx_file(&f, "node_modules/uuid/package.json", "{\"name\":\"uuid\",\"version\":\"9.0.1\"}", "var/runtime", NULL);
	fx_file(&f, "node_modules/uuid/index.js", "x\n", "var/runtime", NULL);
	/* another package's ES module build imports uuid */
	fx_file(&f, "node_modules/esm-only/package.json", "{\"name\":\"esm-only\",\"version\":\"1.0.0\",\"type\":\"module\"}",
		NULL, NULL);
	fx_file(&f, "node_modules/esm-only/index.js", "import { v4 } from 'uuid';\n", NULL, NULL);
	fx_file(&f, "package.json", "{\"type\":\"module\"}", NULL, NULL);
	fx_file(&f, "index.js", "import '@aws-sdk/client-s3'\n", NULL, NULL);
	json = apply(&f, "dedupe-base");
	ck_assert(!removed(&f, "node_modules/@aws-sdk/client-s3/dist-cjs/index.js"));
	ck_assert(!removed(&f, "node_modules/@aws-sdk/core/package.json")); /* what client-s3 requires */
	ck_assert(!removed(&f, "node_modules/uuid/index.js"));
	ck_assert_msg(strstr(json, "'@aws-sdk/client-s3' is in the base too (/var/runtime/node_modules/@aws-sdk/client-s3) "
				   "but ES module code imports it, and import does not search NODE_PATH: kept") != NULL,
		      "%s", json);
	free(json);
	fx_release(&f);
}
END_TEST

SUITE(dedupe)
{
	Suite *s = suite_create("dedupe");
	TCASE(s, test_dist_split);
	TCASE(s, test_npm_version);
	TCASE(s, test_base_struct);
	TCASE(s, test_python_same);
	TCASE(s, test_python_differs);
	TCASE(s, test_no_base);
	TCASE(s, test_node);
	return s;
}
