/* The pure parts of build/bundle.c: what stays external and why, esbuild's arguments,
 * where esbuild is found, import paths, source map rebasing. */
#include <stdlib.h>
#include <string.h>

#include "build/bundle.h"
#include "common/alloc.h"
#include "unit.h"

START_TEST(test_js_reads_own_files_table)
{
	static const struct {
		const char *js;
		int want;
	} t[] = {
		{ "const p = path.join(__dirname, 'presets');", 1 },
		{ "const p = require('path').resolve( __dirname, '..', 'bin');", 1 },
		{ "fs.readFileSync(__dirname + '/data.json')", 1 },
		{ "const f = `${__dirname}/ffmpeg`;", 1 },
		{ "return load(__dirname)", 1 },
		{ "const f = `bin${__dirname}`;", 1 },
		{ "x = myjoin(__dirname)", 0 },
		{ "new URL('./build/pdf.worker.wasm', import.meta.url)", 1 },
		{ "new URL(\"./locales/en.json\", import.meta.url)", 1 },
		/* not reads */
		{ "new URL('./worker.mjs', import.meta.url)", 0 },
		{ "if (typeof __dirname !== 'undefined') dir = __dirname;", 0 },
		{ "// path.join(__dirname, 'x')\nmodule.exports = 1;", 0 },
		{ "/* resolve(__dirname, 'x') */ var a;", 0 },
		{ "const url = 'http://x/'; const d = __dirname;", 0 },
		{ "x = my__dirname + 1", 0 },
		{ "i = __dirname++", 0 },
		{ "const u = import.meta.url;", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(bundle_js_reads_own_files(t[i].js, strlen(t[i].js)) == t[i].want, "case %zu: %s", i, t[i].js);
}
END_TEST

START_TEST(test_pkg_of_import_table)
{
	static const struct {
		const char *spec, *want;
	} t[] = {
		{ "better-sqlite3", "better-sqlite3" },
		{ "better-sqlite3/lib/index.js", "better-sqlite3" },
		{ "@ffmpeg-installer/ffmpeg", "@ffmpeg-installer/ffmpeg" },
		{ "@s/p/x/y.js", "@s/p" },
		{ "pdfjs-dist/legacy/build/pdf.mjs", "pdfjs-dist" },
		{ "fs", NULL },
		{ "fs/promises", NULL },
		{ "node:fs", NULL },
		{ "worker_threads", NULL },
		{ "./local.js", NULL },
		{ "/abs", NULL },
		{ "@scope", NULL },
		{ "", NULL },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *g = bundle_pkg_of_import(t[i].spec);
		if (t[i].want) {
			ck_assert_msg(g && strcmp(g, t[i].want) == 0, "%s: got %s", t[i].spec, g ? g : "NULL");
		} else {
			ck_assert_msg(!g, "%s: got %s", t[i].spec, g);
		}
		free(g);
	}
}
END_TEST

START_TEST(test_user_external_and_list)
{
	char *ext[] = { "better-sqlite3", "@aws-sdk/*" };
	ck_assert(bundle_user_external("better-sqlite3", ext, 2));
	ck_assert(!bundle_user_external("better-sqlite", ext, 2));
	ck_assert(bundle_user_external("@aws-sdk/client-s3", ext, 2));
	ck_assert(!bundle_user_external("@aws-sdk", ext, 2));
	ck_assert(!bundle_user_external("@aws-sdkx/a", ext, 2));
	ck_assert(bundle_listed("@ffmpeg-installer/ffmpeg"));
	ck_assert(bundle_listed("@ffmpeg-installer/linux-x64"));
	ck_assert(bundle_listed("pdfjs-dist"));
	ck_assert(bundle_listed("pdf-parse"));
	ck_assert(!bundle_listed("form-data"));
}
END_TEST

static struct bundle_pkg pkg(const char *name, const char *native, int os_cpu, const char *opt)
{
	struct bundle_pkg p = { 0 };
	p.name = lm_xstrdup(name);
	p.dir = lm_asprintf("node_modules/%s", name);
	p.native = native ? lm_xstrdup(native) : NULL;
	p.os_cpu = os_cpu;
	if (opt) {
		p.optional = lm_xcalloc(2, sizeof(char *));
		p.optional[0] = lm_xstrdup(opt);
		p.noptional = 1;
	}
	return p;
}

START_TEST(test_classify)
{
	struct bundle_pkg p[7];
	char *ext[] = { "left-pad" };
	p[0] = pkg("better-sqlite3", "build/Release/better_sqlite3.node", 0, NULL);
	p[1] = pkg("form-data", NULL, 0, NULL);
	p[2] = pkg("libsql", NULL, 0, "@libsql/linux-x64-gnu");
	p[3] = pkg("@libsql/linux-x64-gnu", "index.node", 1, NULL);
	p[4] = pkg("left-pad", NULL, 0, NULL);
	p[5] = pkg("@ffmpeg-installer/ffmpeg", NULL, 0, "@ffmpeg-installer/linux-x64");
	p[6] = pkg("optional-but-portable", NULL, 0, "form-data");
	bundle_classify(p, 7, ext, 1);
	ck_assert_int_eq(p[0].why, BUNDLE_WHY_NATIVE);
	ck_assert_str_eq(p[0].detail, "build/Release/better_sqlite3.node");
	ck_assert_int_eq(p[1].why, BUNDLE_IN);
	ck_assert_int_eq(p[2].why, BUNDLE_WHY_PICKS);
	ck_assert_str_eq(p[2].detail, "@libsql/linux-x64-gnu");
	/* native wins over platform: the first reason found is kept */
	ck_assert_int_eq(p[3].why, BUNDLE_WHY_NATIVE);
	ck_assert_int_eq(p[4].why, BUNDLE_WHY_USER);
	ck_assert_int_eq(p[5].why, BUNDLE_WHY_LISTED);
	/* an optionalDependency without os/cpu is no platform package */
	ck_assert_int_eq(p[6].why, BUNDLE_IN);
	/* classify again with no user externals: reset first */
	bundle_classify(p, 7, NULL, 0);
	ck_assert_int_eq(p[4].why, BUNDLE_IN);
	for (size_t i = 0; i < 7; i++)
		bundle_pkg_release(&p[i]);
	/* a platform package without a native file */
	p[0] = pkg("esbuild", NULL, 0, "@esbuild/linux-x64");
	p[1] = pkg("@esbuild/linux-x64", NULL, 1, NULL);
	bundle_classify(p, 2, NULL, 0);
	ck_assert_int_eq(p[0].why, BUNDLE_WHY_PICKS);
	ck_assert_int_eq(p[1].why, BUNDLE_WHY_PLATFORM);
	ck_assert_str_eq(p[1].detail, "of esbuild");
	bundle_pkg_release(&p[0]);
	bundle_pkg_release(&p[1]);
}
END_TEST

static char *joined(char **v)
{
	char *r = lm_xstrdup("");
	for (size_t i = 0; v[i]; i++) {
		char *t = lm_asprintf("%s%s%s", r, i ? " " : "", v[i]);
		free(r);
		r = t;
	}
	return r;
}

static void free_argv(char **v)
{
	for (size_t i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

START_TEST(test_esbuild_args)
{
	struct bundle_node_spec s = { 0 };
	char *entries[] = { "src/index.js", "b.js" };
	char *ext[] = { "@ffmpeg-installer/ffmpeg", "better-sqlite3" };
	char **a, *j;
	s.entry = entries;
	s.nentry = 2;
	a = bundle_esbuild_args(&s, "/x/esbuild", NULL, 0, "/o", "/m/meta.json");
	j = joined(a);
	ck_assert_str_eq(j, "/x/esbuild ./src/index.js ./b.js --bundle --platform=node --log-level=warning --color=false "
			    "--charset=utf8 --legal-comments=eof --tree-shaking=true --main-fields=main,module "
			    "--target=node22 --format=cjs --outdir=/o --metafile=/m/meta.json");
	free(j);
	free_argv(a);
	s.format = BUNDLE_ESM;
	s.minify = 1;
	s.sourcemap = 1;
	s.target = "node20";
	a = bundle_esbuild_args(&s, "esbuild", ext, 2, "/o", NULL);
	j = joined(a);
	ck_assert_msg(strstr(j, " --target=node20 --format=esm --out-extension:.js=.mjs --banner:js=import { createRequire"),
		      "%s", j);
	ck_assert_msg(strstr(j, " --minify --sourcemap=linked --external:@ffmpeg-installer/ffmpeg "
				"--external:better-sqlite3 --outdir=/o"),
		      "%s", j);
	ck_assert(!strstr(j, "metafile"));
	free(j);
	free_argv(a);
}
END_TEST

static const char *const present[] = { "/p/node_modules/.bin/esbuild", "/usr/local/bin/esbuild", "/bin/esbuild", NULL };
static int fake_exists(const char *f)
{
	for (const char *const *p = present; *p; p++)
		if (strcmp(*p, f) == 0)
			return 1;
	return 0;
}

START_TEST(test_find_esbuild_order)
{
	const char *proj1[] = { "/q", "/p" };
	const char *proj2[] = { "/q" };
	char *r;
	/* the project's node_modules first, even with $LAMINA_ESBUILD set */
	r = bundle_find_esbuild(proj1, 2, "/env/esbuild", "/usr/local/bin:/bin", fake_exists);
	ck_assert_str_eq(r, "/p/node_modules/.bin/esbuild");
	free(r);
	/* then $LAMINA_ESBUILD */
	r = bundle_find_esbuild(proj2, 1, "/env/esbuild", "/usr/local/bin:/bin", fake_exists);
	ck_assert_str_eq(r, "/env/esbuild");
	free(r);
	/* then PATH, in its order; empty $LAMINA_ESBUILD and empty PATH entries are skipped */
	r = bundle_find_esbuild(proj2, 1, "", "::/nope:/bin:/usr/local/bin", fake_exists);
	ck_assert_str_eq(r, "/bin/esbuild");
	free(r);
	ck_assert_ptr_null(bundle_find_esbuild(proj2, 1, NULL, "/nope", fake_exists));
	ck_assert_ptr_null(bundle_find_esbuild(proj2, 1, NULL, NULL, fake_exists));
}
END_TEST

START_TEST(test_map_rebase)
{
	static const char map[] = "{\"version\":3,\"sources\":[\"../../../work/app/src/index.js\","
				  "\"../../../work/app/node_modules/a/i.js\",\"<define>\"],\"mappings\":\"AAAA\","
				  "\"names\":[]}";
	char *out = NULL;
	size_t len = 0;
	ck_assert_int_eq(bundle_map_rebase(map, strlen(map), "../../../work/app/", "", &out, &len), 0);
	ck_assert_str_eq(out, "{\"version\":3,\"sources\":[\"src/index.js\",\"node_modules/a/i.js\",\"<define>\"],"
			      "\"mappings\":\"AAAA\",\"names\":[]}");
	ck_assert_uint_eq(len, strlen(out));
	free(out);
	ck_assert_int_eq(bundle_map_rebase(map, strlen(map), "../../../work/app/", "../", &out, &len), 0);
	ck_assert(strstr(out, "\"../src/index.js\""));
	free(out);
	ck_assert_int_eq(bundle_map_rebase("[1]", 3, "x", "", &out, &len), -1);
	ck_assert_int_eq(bundle_map_rebase("{", 1, "x", "", &out, &len), -1);
}
END_TEST

static struct bundle_pkg dpkg(const char *dir, const char *deps)
{
	struct bundle_pkg p = { 0 };
	const char *slash = strrchr(dir, '/');
	p.dir = lm_xstrdup(dir);
	p.name = lm_xstrdup(slash + 1);
	p.deps = lm_xcalloc(8, sizeof(char *));
	for (const char *d = deps; d && *d;) {
		const char *e = strchr(d, ' ');
		size_t l = e ? (size_t)(e - d) : strlen(d);
		p.deps[p.ndeps] = lm_xmalloc(l + 1);
		memcpy(p.deps[p.ndeps], d, l);
		p.deps[p.ndeps++][l] = '\0';
		d = e ? e + 1 : NULL;
	}
	return p;
}

START_TEST(test_closure_resolves_like_node)
{
	struct bundle_pkg p[8];
	unsigned char take[8] = { 0 };
	p[0] = dpkg("node_modules/ext", "a b missing");
	p[1] = dpkg("node_modules/ext/node_modules/a", "c"); /* ext's own a (another version) */
	p[2] = dpkg("node_modules/a", "");                   /* the hoisted a: not ext's */
	p[3] = dpkg("node_modules/b", "a");                  /* b's a is the hoisted one */
	p[4] = dpkg("node_modules/c", "");                   /* found from ext/node_modules/a upwards */
	p[5] = dpkg("node_modules/unrelated", "c");
	p[6] = dpkg("node_modules/ext/node_modules/a/node_modules/d", "");
	p[7] = dpkg("node_modules/e", "");
	take[0] = 1;
	bundle_closure(p, 8, take);
	ck_assert_int_eq(take[0], 1);
	ck_assert_int_eq(take[1], 1);
	ck_assert_int_eq(take[2], 1); /* through b */
	ck_assert_int_eq(take[3], 1);
	ck_assert_int_eq(take[4], 1);
	ck_assert_int_eq(take[5], 0);
	ck_assert_int_eq(take[6], 0); /* nobody depends on d */
	ck_assert_int_eq(take[7], 0);
	/* without b, the hoisted a stays out: ext resolves its own */
	memset(take, 0, sizeof(take));
	free(p[0].deps[1]);
	p[0].deps[1] = lm_xstrdup("nothing");
	take[0] = 1;
	bundle_closure(p, 8, take);
	ck_assert_int_eq(take[1], 1);
	ck_assert_int_eq(take[2], 0);
	ck_assert_int_eq(take[4], 1);
	for (size_t i = 0; i < 8; i++)
		bundle_pkg_release(&p[i]);
}
END_TEST

START_TEST(test_relpath_table)
{
	static const struct {
		const char *a, *b, *want;
	} t[] = {
		{ "/t/c/out", "/w/app", "../../../w/app/" },
		{ "/w/cache/tmp/b0", "/w/app", "../../../app/" },
		{ "/w/app", "/w/app", "" },
		{ "/w/app", "/w/app/sub/x", "sub/x/" },
		{ "/w/app/.cache/tmp/b0", "/w/app", "../../../" },
		{ "/w/ab", "/w/a", "../a/" },
		{ "/w/a", "/w/ab", "../ab/" },
		{ "/", "/w", "w/" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *r = bundle_relpath(t[i].a, t[i].b);
		ck_assert_msg(strcmp(r, t[i].want) == 0, "%s -> %s: got '%s'", t[i].a, t[i].b, r);
		free(r);
	}
}
END_TEST

START_TEST(test_spec_check)
{
	struct bundle_node_spec s = { 0 };
	struct lm_err err = LM_ERR_INIT;
	const char *field = NULL;
	size_t bad = 9;
	char *entries[] = { "index.js", "a/../../b.js" };
	char *ext[] = { "@aws-sdk/*", "pg", "@bad", "a b" };
	s.entry = entries;
	s.nentry = 1;
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), 0);
	s.nentry = 2;
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), -1);
	ck_assert_str_eq(field, "entry");
	ck_assert_uint_eq(bad, 1);
	lm_err_release(&err);
	s.nentry = 1;
	s.external = ext;
	s.nexternal = 2;
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), 0);
	s.nexternal = 3;
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), -1);
	ck_assert_str_eq(field, "external");
	ck_assert_uint_eq(bad, 2);
	lm_err_release(&err);
	s.nexternal = 2;
	s.target = "node22.1";
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), 0);
	s.target = "node";
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), -1);
	ck_assert_str_eq(field, "target");
	lm_err_release(&err);
	s.target = "node22.";
	ck_assert_int_eq(bundle_spec_check(&s, &field, &bad, &err), -1);
	lm_err_release(&err);
}
END_TEST

SUITE(bundle)
{
	Suite *s = suite_create("bundle");
	TCASE(s, test_js_reads_own_files_table);
	TCASE(s, test_pkg_of_import_table);
	TCASE(s, test_user_external_and_list);
	TCASE(s, test_classify);
	TCASE(s, test_esbuild_args);
	TCASE(s, test_find_esbuild_order);
	TCASE(s, test_map_rebase);
	TCASE(s, test_closure_resolves_like_node);
	TCASE(s, test_relpath_table);
	TCASE(s, test_spec_check);
	return s;
}
