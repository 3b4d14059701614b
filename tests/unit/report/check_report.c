/* check_report.c - the report model's numbers and its renderers (text, JSON, Markdown, HTML). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../unit.h"
#include "common/alloc.h"
#include "report/model.h"
#include "report/render.h"
#include "report/scan.h"
#include "zip/sizereport.h"

START_TEST(test_pkg_of)
{
	static const struct {
		const char *path, *pkg, *eco;
	} cases[] = {
		{ "var/task/numpy/core/x.so", "numpy", "" },
		{ "var/task/node_modules/left-pad/index.js", "left-pad", "npm" },
		{ "var/task/node_modules/@aws-sdk/client-s3/dist/index.js", "@aws-sdk/client-s3", "npm" },
		{ "var/task/node_modules/a/node_modules/b/x.js", "b", "npm" },
		{ "var/task/node_modules/.bin/tsc", NULL, "" },
		{ "opt/python/lib/python3.12/site-packages/yaml/__init__.py", "yaml", "python" },
		{ "var/task/PyYAML-6.0.dist-info/RECORD", "pyyaml", "python" },
		{ "var/task/SQLAlchemy-1.4.46.egg-info/PKG-INFO", "sqlalchemy", "python" },
		{ "var/task/six.py", "six", "python" },
		{ "var/task/__pycache__/six.cpython-311.pyc", "six", "python" },
		{ "var/task/_cffi_backend.cpython-311-x86_64-linux-gnu.so", "_cffi_backend", "python" },
		{ "var/task/README", "(top-level files)", "" },
		{ "usr/lib/libc.so.6", NULL, "" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *eco = "?";
		char *p = report_pkg_of(cases[i].path, &eco);
		if (cases[i].pkg)
			ck_assert_msg(p && strcmp(p, cases[i].pkg) == 0, "%s: %s", cases[i].path, p ? p : "(null)");
		else
			ck_assert_msg(p == NULL, "%s: %s", cases[i].path, p);
		if (cases[i].pkg)
			ck_assert_msg(strcmp(eco, cases[i].eco) == 0, "%s: eco %s", cases[i].path, eco);
		free(p);
	}
}
END_TEST

START_TEST(test_layer_name)
{
	char *n = report_layer_name("lamina: layer 'deps' -> /var/task");
	ck_assert_str_eq(n, "deps");
	free(n);
	ck_assert_ptr_null(report_layer_name("/bin/sh -c #(nop) ADD file:abc in /"));
	ck_assert_ptr_null(report_layer_name(NULL));
	ck_assert_ptr_null(report_layer_name("lamina: layer '"));
}
END_TEST

START_TEST(test_pct_plural)
{
	char b[32];
	ck_assert_str_eq(report_pct(0, 100, b, sizeof(b)), "0 %");
	ck_assert_str_eq(report_pct(5, 0, b, sizeof(b)), "0 %");
	ck_assert_str_eq(report_pct(1, 100000, b, sizeof(b)), "<0.1 %");
	ck_assert_str_eq(report_pct(1, 3, b, sizeof(b)), "33.3 %");
	ck_assert_str_eq(report_plural(1, "package", "packages", b, sizeof(b)), "1 package");
	ck_assert_str_eq(report_plural(2, "package", "packages", b, sizeof(b)), "2 packages");
	ck_assert_str_eq(report_plural(0, "package", "packages", b, sizeof(b)), "0 packages");
}
END_TEST

START_TEST(test_largest_files)
{
	struct report r;
	char name[32];
	report_init(&r);
	for (unsigned i = 1; i <= 50; i++) {
		snprintf(name, sizeof(name), "f%u", i);
		report_add_file(&r, "app", name, (uint64_t)(i * 37 % 50) * 1000);
	}
	ck_assert_uint_eq(r.nfiles, REPORT_TOP_FILES);
	ck_assert_uint_eq(r.files[0].size, 49000);
	for (size_t i = 1; i < r.nfiles; i++)
		ck_assert_uint_ge(r.files[i - 1].size, r.files[i].size);
	ck_assert_uint_eq(r.files[REPORT_TOP_FILES - 1].size, 30000);
	report_release(&r);
}
END_TEST

/* A model like a Python app's: base layers, a deps layer with a 65 MiB binary in a small
 * package, prune rows, a function zip of the app layer only. */
static void sample(struct report *r)
{
	struct report_layer *l;
	struct report_delta *d;
	report_init(r);
	r->source = lm_xstrdup("app|<x>.json");
	r->digest = lm_xstrdup("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	report_add_layer(r, "base 1", "sha256:aa", 1, 20000000, 60000000);
	l = report_add_layer(r, "deps", "sha256:bb", 0, 40000000, 150000000);
	l->files = 3;
	report_add_layer(r, "app", "sha256:cc", 0, 500, 10240);
	report_add_pkg(r, "deps", "numpy", "python", 20000000, 6000000);
	report_add_pkg(r, "deps", "imageio_ffmpeg", "python", 68157440, 30000000);
	report_add_pkg(r, "deps", "six", "python", 80000, 27000);
	report_add_pkg(r, "app", "app", "python", 300, 200);
	report_add_file(r, "deps", "var/task/imageio_ffmpeg/binaries/ffmpeg", 68157440);
	report_add_file(r, "base 1", "usr/lib/libc.so.6", 1900000);
	r->have_prune = 1;
	d = report_add_delta(&r->players, &r->nplayers, "deps", "deps");
	d->files_before = 100, d->files_after = 90;
	d->before[REPORT_U] = 98000000, d->after[REPORT_U] = 75200000;
	d->before[REPORT_GZ] = 29000000, d->after[REPORT_GZ] = 25000000;
	d->before[REPORT_ZIP] = 28000000, d->after[REPORT_ZIP] = 24000000;
	d->have[REPORT_U] = d->have[REPORT_GZ] = d->have[REPORT_ZIP] = 1;
	d = report_add_delta(&r->rules, &r->nrules, "deps", "python-safe: tests/");
	d->files_before = 10, d->before[REPORT_U] = 5000000, d->before[REPORT_ZIP] = 1000000;
	d->have[REPORT_U] = d->have[REPORT_ZIP] = 1;
	d = report_add_delta(&r->rules, &r->nrules, "deps", "python-safe: *.pyi");
	d->files_before = 3, d->before[REPORT_U] = 90000, d->before[REPORT_ZIP] = 15000;
	d->have[REPORT_U] = d->have[REPORT_ZIP] = 1;
	/* packages: one unchanged, the 65 MiB one changed a little, a small one a lot */
	d = report_add_delta(&r->ppkgs, &r->nppkgs, "deps", "six");
	d->files_before = d->files_after = 5, d->before[REPORT_U] = d->after[REPORT_U] = 80000;
	d = report_add_delta(&r->ppkgs, &r->nppkgs, "deps", "greenlet");
	d->files_before = 69, d->files_after = 9, d->before[REPORT_U] = 562000, d->after[REPORT_U] = 106000;
	d = report_add_delta(&r->ppkgs, &r->nppkgs, "deps", "imageio_ffmpeg");
	d->files_before = 12, d->files_after = 11, d->before[REPORT_U] = 68200000, d->after[REPORT_U] = 68157440;
	r->pyc_files = 1, r->pyc_bytes = 700;
	r->have_zip = 1;
	r->zip_kind = lm_xstrdup("function");
	r->zip_size = 520;
	r->zip_usize = 10000;
	r->zip_files = 2;
	r->others_usize = 150000000;
	r->lambda_layers = 1;
	report_add_import(r, "numpy", 1.5, 120.25);
	report_add_import(r, "boto3", 0.5, 300.5);
	report_finish(r);
}

START_TEST(test_finish_limits)
{
	struct report r;
	sample(&r);
	ck_assert_uint_eq(r.nlimits, 4);
	ck_assert_str_eq(r.limits[0].name, "image uncompressed");
	ck_assert_uint_eq(r.limits[0].value, 60000000 + 150000000 + 10240);
	ck_assert_int_eq(r.limits[0].ok, 1);
	/* the zip of the app layer is counted with the deps layer */
	ck_assert_str_eq(r.limits[2].name, "zip unzipped");
	ck_assert_uint_eq(r.limits[2].value, 150010000);
	ck_assert_uint_eq(r.limits[2].limit, 262144000);
	ck_assert_str_eq(r.limits[3].name, "Lambda layers");
	ck_assert_uint_eq(r.limits[3].value, 1);
	ck_assert_ptr_nonnull(strstr(r.recommendation, "zip"));
	/* biggest first */
	ck_assert_str_eq(r.pkgs[0].name, "imageio_ffmpeg");
	ck_assert_str_eq(r.imports[0].module, "boto3");
	ck_assert_str_eq(r.rules[0].name, "python-safe: tests/");
	/* over the unzipped limit with the other layers: an image */
	r.others_usize = 262144000;
	report_finish(&r);
	ck_assert_int_eq(r.limits[2].ok, 0);
	ck_assert_ptr_nonnull(strstr(r.recommendation, "image"));
	ck_assert_ptr_nonnull(strstr(r.recommendation, "over"));
	/* a zip that cannot be: an image, and why */
	r.zip_error = lm_xstrdup("'/opt/x' is outside /var/task");
	report_finish(&r);
	ck_assert_uint_eq(r.nlimits, 1);
	ck_assert_ptr_nonnull(strstr(r.recommendation, "outside"));
	report_release(&r);
}
END_TEST

static char *render(const struct report *r, enum report_format f, int brief)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(m);
	if (f == REPORT_TEXT)
		report_text(r, brief, m);
	else
		report_render(r, f, brief, m);
	fclose(m);
	return buf;
}

/* the line of text that contains needle */
static const char *line_of(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);
	ck_assert_msg(p != NULL, "no '%s' in:\n%s", needle, text);
	while (p > text && p[-1] != '\n')
		p--;
	return p;
}

static size_t col_of(const char *line, const char *needle)
{
	const char *nl = strchr(line, '\n'), *p = strstr(line, needle);
	ck_assert(p && (!nl || p < nl));
	return (size_t)(p - line);
}

/* a before b, both present */
static void before(const char *a, const char *b)
{
	ck_assert(a && b);
	ck_assert_msg(a < b, "not in order: [%.40s] [%.40s]", a, b);
}

START_TEST(test_text)
{
	struct report r;
	char *t;
	sample(&r);
	t = render(&r, REPORT_TEXT, 0);
	ck_assert_ptr_null(strstr(t, "-0.0"));
	ck_assert_ptr_null(strstr(t, "1 packages"));
	ck_assert_ptr_nonnull(strstr(t, "(1 package unchanged)"));
	/* packages biggest first: the 65 MiB one before numpy before six */
	before(strstr(t, "imageio_ffmpeg"), strstr(t, "numpy "));
	before(strstr(t, "  numpy"), strstr(t, "  six"));
	/* prune's package rows by bytes saved */
	before(line_of(t, "  greenlet"), line_of(t, "  imageio_ffmpeg       "));
	/* columns: the sizes of every layer row end where the header's do */
	{
		const char *h = line_of(t, "  layer "), *a = line_of(t, "  base 1 "), *b = line_of(t, "  deps "),
			   *c = line_of(t, "  app ");
		size_t end = col_of(h, "compressed") + strlen("compressed");
		ck_assert_uint_eq(col_of(a, "19.1 MiB") + strlen("19.1 MiB"), end);
		ck_assert_uint_eq(col_of(b, "38.1 MiB") + strlen("38.1 MiB"), end);
		ck_assert_uint_eq(col_of(c, "500 B") + strlen("500 B"), end);
	}
	ck_assert_ptr_nonnull(strstr(
		t, "93.5 MiB -> 71.7 MiB uncompressed, 27.7 MiB -> 23.8 MiB gzip'd, 26.7 MiB -> 22.9 MiB zipped"));
	ck_assert_ptr_nonnull(strstr(t, "added by precompile: 700 B of .pyc in 1 file\n"));
	ck_assert_ptr_nonnull(strstr(t, "zip unzipped"));
	ck_assert_ptr_nonnull(strstr(t, "boto3"));
	ck_assert_ptr_nonnull(strstr(t, "300.5"));
	ck_assert_ptr_nonnull(strstr(t, "recommendation: zip"));
	free(t);
	/* the build's summary: no per-rule table, no largest files */
	t = render(&r, REPORT_TEXT, 1);
	ck_assert_ptr_null(strstr(t, "largest files"));
	ck_assert_ptr_null(strstr(t, "python-safe: *.pyi"));
	ck_assert_ptr_nonnull(strstr(t, "against Lambda's limits"));
	free(t);
	report_release(&r);
}
END_TEST

static void no_snake_keys(json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(j)) {
		json_object_foreach(j, k, v)
		{
			ck_assert_msg(strchr(k, '_') == NULL, "key '%s' is not camelCase", k);
			no_snake_keys(v);
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, v) no_snake_keys(v);
	}
}

START_TEST(test_json)
{
	struct report r;
	json_error_t je;
	json_t *j, *p, *rule;
	char *t;
	sample(&r);
	t = render(&r, REPORT_JSON, 0);
	j = json_loads(t, 0, &je);
	ck_assert_msg(j != NULL, "%s", je.text);
	no_snake_keys(j);
	ck_assert_int_eq(json_integer_value(json_object_get(j, "size")), 20000000 + 40000000 + 500);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "sharedWithBase"), "size")), 20000000);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(j, "uniqueToImage"), "size")), 40000500);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "packages"), 0), "name")),
			 "imageio_ffmpeg");
	p = json_object_get(j, "prune");
	rule = json_array_get(json_object_get(p, "rules"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(rule, "name")), "python-safe: tests/");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(rule, "before"), "zip")), 1000000);
	ck_assert(json_is_null(json_object_get(json_object_get(rule, "before"), "gzip")));
	ck_assert_int_eq(json_integer_value(json_object_get(
				 json_object_get(json_array_get(json_object_get(p, "layers"), 0), "after"), "gzip")),
			 25000000);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(p, "pycAdded"), "bytes")), 700);
	ck_assert_int_eq(
		json_integer_value(json_object_get(json_array_get(json_object_get(j, "limits"), 2), "headroom")),
		262144000 - 150010000);
	ck_assert(fabs(json_real_value(
			       json_object_get(json_array_get(json_object_get(j, "imports"), 0), "cumulativeMs")) -
		       300.5) < 1e-9);
	ck_assert(json_is_true(json_object_get(j, "ok")));
	json_decref(j);
	free(t);
	report_release(&r);
}
END_TEST

START_TEST(test_markdown)
{
	struct report r;
	char *t;
	sample(&r);
	t = render(&r, REPORT_MARKDOWN, 0);
	ck_assert_ptr_nonnull(strstr(t, "## lamina report: app\\|&lt;x>.json ✅\n"));
	ck_assert_ptr_nonnull(strstr(t, "| limit | value | of | verdict |\n|---|---:|---:|---|\n"));
	ck_assert_ptr_nonnull(strstr(t, "| zip unzipped | 143.1 MiB | 250.0 MiB | ✅ OK, 106.9 MiB to spare |"));
	ck_assert_ptr_nonnull(strstr(t, "| imageio_ffmpeg | deps | 1 | 65.0 MiB | 28.6 MiB |"));
	ck_assert_ptr_nonnull(strstr(t, "| `python-safe: tests/` | deps | 10 | 4.8 MiB | 976.6 KiB |"));
	ck_assert_ptr_nonnull(strstr(t, "| `boto3` | 300.5 | 0.5 |"));
	free(t);
	report_release(&r);
}
END_TEST

static size_t count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

START_TEST(test_html)
{
	struct report r;
	char *t;
	sample(&r);
	t = render(&r, REPORT_HTML, 0);
	ck_assert(strncmp(t, "<!DOCTYPE html>", 15) == 0);
	/* self-contained: no script, nothing fetched */
	ck_assert_ptr_null(strstr(t, "<script"));
	ck_assert_ptr_null(strstr(t, "http://"));
	ck_assert_ptr_null(strstr(t, "https://"));
	ck_assert_ptr_null(strstr(t, "<x>"));
	ck_assert_ptr_nonnull(strstr(t, "app|&lt;x&gt;.json"));
	ck_assert_ptr_nonnull(strstr(t, "<svg id=\"treemap\""));
	ck_assert_uint_eq(count(t, "class=\"tm\""), 4);
	ck_assert_ptr_nonnull(strstr(t, "data-name=\"imageio_ffmpeg\" data-layer=\"deps\" data-bytes=\"68157440\""));
	ck_assert_uint_eq(count(t, "<figure class=\"gauge"), 4);
	ck_assert_ptr_nonnull(strstr(t, "data-limit=\"zip unzipped\" data-value=\"150010000\" data-max=\"262144000\""));
	ck_assert_uint_eq(count(t, "class=\"rule-bar\""), 2);
	ck_assert_ptr_nonnull(strstr(t, "data-rule=\"python-safe: tests/\" data-layer=\"deps\" data-before=\"5000000\" "
					"data-after=\"0\" data-zip-before=\"1000000\""));
	ck_assert_uint_eq(count(t, "class=\"import-bar\""), 2);
	free(t);
	report_release(&r);
}
END_TEST

START_TEST(test_treemap)
{
	double v[] = { 60, 20, 10, 5, 3, 1, 1 };
	struct report_rect rc[7];
	double area = 0;
	report_treemap(v, 7, 1000, 500, rc);
	for (size_t i = 0; i < 7; i++) {
		ck_assert(rc[i].x >= -1e-6 && rc[i].y >= -1e-6);
		ck_assert(rc[i].x + rc[i].w <= 1000 + 1e-6 && rc[i].y + rc[i].h <= 500 + 1e-6);
		ck_assert_msg(fabs(rc[i].w * rc[i].h - v[i] / 100 * 500000) < 1e-3, "box %zu: area", i);
		area += rc[i].w * rc[i].h;
		for (size_t k = 0; k < i; k++) { /* no two overlap */
			double ox = fmin(rc[i].x + rc[i].w, rc[k].x + rc[k].w) - fmax(rc[i].x, rc[k].x);
			double oy = fmin(rc[i].y + rc[i].h, rc[k].y + rc[k].h) - fmax(rc[i].y, rc[k].y);
			ck_assert_msg(ox <= 1e-6 || oy <= 1e-6, "boxes %zu and %zu overlap", k, i);
		}
	}
	ck_assert(fabs(area - 500000) < 1e-3);
}
END_TEST

static void ent(struct report_entries *e, const char *path, uint64_t size, char type, size_t layer)
{
	e->v = lm_xrealloc(e->v, (e->n + 1) * sizeof(*e->v));
	e->v[e->n].path = lm_xstrdup(path);
	e->v[e->n].size = size;
	e->v[e->n].type = type;
	e->v[e->n].layer = layer;
	e->n++;
}

START_TEST(test_merge_tree)
{
	struct report_entries e = { 0 }, m = { 0 };
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	ent(&e, "etc", 0, 'd', 0);
	ent(&e, "etc/a", 10, 'f', 0);
	ent(&e, "etc/old", 0, 'd', 0);
	ent(&e, "etc/old/x", 5, 'f', 0);
	ent(&e, "var", 0, 'd', 0);
	ent(&e, "var/task", 0, 'd', 0);
	ent(&e, "var/task/app.py", 300, 'f', 0);
	ent(&e, "etc/.wh.old", 0, 'w', 1);
	ent(&e, "var/task/app.py", 400, 'f', 1);
	ent(&e, "var/task-x", 7, 'f', 1);
	report_entries_merge(&e, &m);
	ck_assert_uint_eq(m.n, 6);
	ck_assert_str_eq(m.v[0].path, "etc");
	ck_assert_str_eq(m.v[1].path, "etc/a");
	ck_assert_str_eq(m.v[2].path, "var");
	ck_assert_str_eq(m.v[3].path, "var/task");
	ck_assert_str_eq(m.v[4].path, "var/task/app.py");
	ck_assert_uint_eq(m.v[4].size, 400);
	ck_assert_str_eq(m.v[5].path, "var/task-x");
	f = open_memstream(&buf, &len);
	report_tree_print(&m, 2, f);
	fclose(f);
	ck_assert_str_eq(buf, "     417 B  /\n"
			      "      10 B  etc/\n"
			      "      10 B    a\n"
			      "     407 B  var/\n"
			      "     400 B    task/\n"
			      "       7 B    task-x\n");
	free(buf);
	report_entries_release(&e);
	report_entries_release(&m);
}
END_TEST

START_TEST(test_format_parse)
{
	enum report_format f;
	struct lm_err err = LM_ERR_INIT;
	ck_assert_int_eq(report_format_parse("md", &f, &err), 0);
	ck_assert_int_eq(f, REPORT_MARKDOWN);
	ck_assert_int_eq(report_format_parse("pdf", &f, &err), -1);
	ck_assert_int_eq(err.code, LM_E_USAGE);
	lm_err_release(&err);
	ck_assert_int_eq(report_format_for_path("r.html"), REPORT_HTML);
	ck_assert_int_eq(report_format_for_path("r.json"), REPORT_JSON);
	ck_assert_int_eq(report_format_for_path("r.md"), REPORT_MARKDOWN);
	ck_assert_int_eq(report_format_for_path("r.txt"), REPORT_TEXT);
}
END_TEST

SUITE(report)
{
	Suite *s = suite_create("report");
	TCASE(s, test_pkg_of);
	TCASE(s, test_layer_name);
	TCASE(s, test_pct_plural);
	TCASE(s, test_largest_files);
	TCASE(s, test_finish_limits);
	TCASE(s, test_text);
	TCASE(s, test_json);
	TCASE(s, test_markdown);
	TCASE(s, test_html);
	TCASE(s, test_treemap);
	TCASE(s, test_merge_tree);
	TCASE(s, test_format_parse);
	return s;
}
