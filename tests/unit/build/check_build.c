/* The build's stages one by one, and build_run with its outputs, on a small base image
 * (an OCI layout written by the test) and app trees in a temporary directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "build/build.h"
#include "build/manifest.h"
#include "build/stages.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"
#include "image/cache.h"
#include "image/compress.h"
#include "testimg.h"
#include "unit.h"

static const struct testimg_file base_files[] = {
	{ TI_DIR, "var", NULL, 0755 },
	{ TI_DIR, "var/task", NULL, 0755 },
	{ TI_FILE, "etc/os-release", "ID=test\n", 0644 },
};

static char *tmp, *basespec;
static struct cache *cache;
static struct lm_opts opts;
static struct build_stats stats;

static void setup(void)
{
	struct lm_err err = LM_ERR_INIT;
	struct testimg ti = { base_files, 3, NULL, 0, NULL };
	tmp = lm_mkdtemp(NULL, "check-build", &err);
	ck_assert_ptr_nonnull(tmp);
	char *cd = lm_path_join(tmp, "cache"), *ld = lm_path_join(tmp, "base");
	cache = cache_open(cd, &err);
	ck_assert_ptr_nonnull(cache);
	testimg_layout(&ti, ld);
	basespec = lm_asprintf("oci:%s", ld);
	testimg_write(tmp, "app/app.py", "def handler(e, c):\n    return 1\n");
	testimg_write(tmp, "app/tests/test_app.py", "assert True\n");
	testimg_write(tmp, "app/notes.log", "x\n");
	testimg_write(tmp, "deps/lib/mod.py", "X = 1\n");
	memset(&opts, 0, sizeof(opts));
	opts.epoch = LM_DEFAULT_EPOCH;
	opts.jobs = 1;
	opts.quiet = 1;
	opts.cache_dir = cd;
	free(ld);
	/* cd stays alive in opts for the test; freed in teardown through tmp's removal */
}

static void teardown(void)
{
	cache_free(cache);
	lm_rm_rf_quiet(tmp);
	free((char *)opts.cache_dir);
	free(tmp);
	free(basespec);
}

/* A manifest over tmp's app/ and deps/ with extra top-level JSON. */
static void load(struct lm_manifest *m, const char *extra)
{
	struct lm_err err = LM_ERR_INIT;
	char *json = lm_asprintf("{\"base\": \"%s\", \"layers\": [{\"name\": \"deps\", \"from\": \"deps\"}, "
				 "{\"name\": \"app\", \"from\": \"app\", \"exclude\": [\"*.log\"]}]%s%s}",
				 basespec, extra ? ", " : "", extra ? extra : "");
	ck_assert_msg(manifest_parse(json, strlen(json), "test.json", tmp, m, &err) == 0, "%s", err.msg);
	free(json);
}

static const struct lm_entry *find(const struct lm_tree *t, const char *path)
{
	const struct lm_entry *e = tree_find(t, path);
	return e && !e->removed ? e : NULL;
}

START_TEST(test_base_notes_non_gzip)
{
	struct lm_err err = LM_ERR_INIT;
	struct build_notes n = { 0 };
	struct lm_image img;
	struct testimg ti = { base_files, 3, NULL, 1, NULL };
	char *ld = lm_path_join(tmp, "plain"), *spec = lm_asprintf("oci:%s", ld);
	testimg_layout(&ti, ld);
	image_init(&img);
	ck_assert_int_eq(stage_base(basespec, "linux/amd64", NULL, cache, 1, &img, &n, &err), 0);
	ck_assert_int_eq(n.n, 0);
	image_release(&img);
	ck_assert_int_eq(stage_base(spec, "linux/amd64", NULL, cache, 1, &img, &n, &err), 0);
	ck_assert_int_eq(n.n, 1);
	ck_assert_ptr_nonnull(strstr(n.v[0], "Lambda accepts only gzip layers"));
	image_release(&img);
	build_notes_release(&n);
	/* a zip does not carry the base: no warning */
	ck_assert_int_eq(stage_base(spec, "linux/amd64", NULL, cache, 0, &img, &n, &err), 0);
	ck_assert_int_eq(n.n, 0);
	image_release(&img);
	/* a bad reference names the base */
	ck_assert_int_eq(stage_base("oci:/nonexistent", "linux/amd64", NULL, cache, 1, &img, &n, &err), -1);
	ck_assert_msg(lm_str_startswith(err.msg, "base 'oci:/nonexistent'"), "%s", err.msg);
	lm_err_release(&err);
	free(ld);
	free(spec);
}
END_TEST

START_TEST(test_trees)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_manifest m;
	struct lm_tree t[2];
	load(&m, NULL);
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	ck_assert_ptr_nonnull(find(&t[0], "var/task/lib/mod.py"));
	ck_assert_ptr_nonnull(find(&t[1], "var/task/app.py"));
	ck_assert_ptr_nonnull(find(&t[1], "var/task"));          /* parents added */
	ck_assert_ptr_null(find(&t[1], "var/task/notes.log")); /* excluded */
	tree_release(&t[0]);
	tree_release(&t[1]);
	manifest_release(&m);
	/* a missing "from" names the manifest and the layer */
	{
		char *deps = lm_path_join(tmp, "deps");
		lm_rm_rf_quiet(deps);
		free(deps);
	}
	load(&m, NULL);
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), -1);
	ck_assert_msg(strstr(err.msg, "test.json: layer 'deps' (layers[0].from)"), "%s", err.msg);
	lm_err_release(&err);
	manifest_release(&m);
}
END_TEST

START_TEST(test_prune)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_manifest m;
	struct lm_tree t[2];
	struct prune_report *rep = prune_report_new();
	char *wd = lm_path_join(tmp, "work");
	int any = -1;
	load(&m, NULL);
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	ck_assert_int_eq(stage_prune(&m, "linux/amd64", NULL, t, NULL, wd, rep, &any, &err), 0);
	ck_assert_int_eq(any, 0);
	ck_assert_ptr_nonnull(find(&t[1], "var/task/tests/test_app.py"));
	tree_release(&t[0]);
	tree_release(&t[1]);
	manifest_release(&m);

	load(&m, "\"prune\": {\"remove\": [\"tests/\"]}");
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	ck_assert_int_eq(stage_prune(&m, "linux/amd64", NULL, t, NULL, wd, rep, &any, &err), 0);
	ck_assert_int_eq(any, 1);
	ck_assert_ptr_null(find(&t[1], "var/task/tests/test_app.py"));
	ck_assert_ptr_nonnull(find(&t[1], "var/task/app.py"));
	tree_release(&t[0]);
	tree_release(&t[1]);
	manifest_release(&m);
	prune_report_free(rep);
	free(wd);
}
END_TEST

START_TEST(test_compile_without_python)
{
	struct lm_err err = LM_ERR_INIT;
	struct build_notes n = { 0 };
	struct lm_manifest m;
	struct lm_image base;
	struct lm_tree t[2];
	int node = -1;
	char *wd = lm_path_join(tmp, "work");
	ck_assert_int_eq(lm_mkdir_p(wd, &err), 0);
	image_init(&base);
	ck_assert_int_eq(stage_base(basespec, "linux/amd64", NULL, cache, 1, &base, &n, &err), 0);
	/* by default precompile runs only when the base has python3: nothing added */
	load(&m, NULL);
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	size_t before = t[1].n;
	ck_assert_msg(stage_compile(&m, &base, cache, t, NULL, 1, &opts, wd, &n, &stats, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(t[1].n, before);
	ck_assert_int_eq(stage_node_cache(&m, &base, cache, t, &opts, wd, &node, &n, &err), 0);
	ck_assert_int_eq(node, 0);
	tree_release(&t[0]);
	tree_release(&t[1]);
	manifest_release(&m);
	/* asked for explicitly, it is an error naming what is missing */
	load(&m, "\"precompile\": {\"python\": {}}");
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	ck_assert_int_eq(stage_compile(&m, &base, cache, t, NULL, 1, &opts, wd, &n, &stats, &err), -1);
	ck_assert_msg(strstr(err.msg, "no Python interpreter"), "%s", err.msg);
	lm_err_release(&err);
	tree_release(&t[0]);
	tree_release(&t[1]);
	manifest_release(&m);
	image_release(&base);
	build_notes_release(&n);
	free(wd);
}
END_TEST

/* stage_layers + stage_image: the image has the base layers first, unchanged, then one
 * layer per manifest layer; its config has the manifest's settings and the diff_ids. */
START_TEST(test_layers_and_image)
{
	struct lm_err err = LM_ERR_INIT;
	struct build_notes n = { 0 };
	struct lm_manifest m;
	struct lm_image base, img, img2;
	struct lm_tree t[2];
	struct layer_result res[2];
	memset(res, 0, sizeof(res));
	image_init(&base);
	image_init(&img);
	image_init(&img2);
	ck_assert_int_eq(stage_base(basespec, "linux/amd64", NULL, cache, 1, &base, &n, &err), 0);
	load(&m, "\"config\": {\"cmd\": [\"app.handler\"], \"env\": {\"A\": \"1\"}}");
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	ck_assert_int_eq(stage_layers(&m, t, GZ_LEVEL_DEFAULT, &opts, cache, 1, res, &stats, &err), 0);
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(cache_has(cache, res[i].desc.digest, res[i].desc.size), 1);
		ck_assert_str_ne(res[i].diff_id, res[i].desc.digest);
	}
	ck_assert_int_eq(stage_image(&m, &base, NULL, res, 0, opts.epoch, cache, &img, &err), 0);
	ck_assert_int_eq(img.manifest.nlayers, 3);
	ck_assert_str_eq(img.manifest.layers[0].digest, base.manifest.layers[0].digest);
	ck_assert_str_eq(img.manifest.layers[2].digest, res[1].desc.digest);
	ck_assert_ptr_nonnull(strstr(img.config_raw, "\"app.handler\""));
	ck_assert_ptr_nonnull(strstr(img.config_raw, "\"A=1\""));
	ck_assert_ptr_nonnull(strstr(img.config_raw, res[0].diff_id));
	ck_assert_ptr_nonnull(strstr(img.config_raw, "lamina: layer 'app' -> /var/task"));
	ck_assert_ptr_null(img.manifest.base_name);
	/* the same inputs give the same image; a registry base is recorded for a push */
	ck_assert_int_eq(stage_image(&m, &base, "example.com/base:1", res, 0, opts.epoch, cache, &img2, &err), 0);
	ck_assert_str_ne(img.manifest_digest, img2.manifest_digest);
	ck_assert_ptr_nonnull(img2.manifest.base_name);
	image_release(&img2);
	image_init(&img2);
	ck_assert_int_eq(stage_image(&m, &base, NULL, res, 0, opts.epoch, cache, &img2, &err), 0);
	ck_assert_str_eq(img.manifest_digest, img2.manifest_digest);
	for (int i = 0; i < 2; i++) {
		layer_result_release(&res[i]);
		tree_release(&t[i]);
	}
	manifest_release(&m);
	image_release(&base);
	image_release(&img);
	image_release(&img2);
	build_notes_release(&n);
}
END_TEST

struct seen {
	char *text;
};

static void collect(void *ctx, const char *text)
{
	struct seen *s = ctx;
	char *old = s->text;
	s->text = lm_asprintf("%s%s\n", old ? old : "", text);
	free(old);
}

/* build_run: the outputs asked for and nothing else; the notes in order. */
START_TEST(test_run_outputs)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_manifest m;
	struct build_request r;
	struct build_result res;
	struct seen s = { NULL };
	char *out = lm_path_join(tmp, "out.tar");
	struct stat st;
	load(&m, "\"prune\": {\"remove\": [\"tests/\"]}");
	memset(&r, 0, sizeof(r));
	r.m = &m;
	r.archive = out;
	/* the test base is no Lambda image (no entrypoint; its missing parent directories are
	 * warnings, as it is the base): Lambda's rules stop the build before the archive is
	 * written (no cache: the run below prunes afresh and reports it) */
	r.no_cache = 1;
	build_result_init(&res);
	ck_assert_int_eq(build_run(&r, &opts, collect, &s, &res, &err), -1);
	ck_assert_int_eq(err.code, LM_E_CHECK);
	ck_assert_msg(strstr(err.msg, "check: the image breaks") &&
			      strstr(err.msg, "entrypoint: config: neither ENTRYPOINT nor CMD"),
		      "%s", err.msg);
	ck_assert_int_eq(stat(out, &st), -1);
	lm_err_release(&err);
	build_result_release(&res);
	free(s.text);
	s.text = NULL;
	r.no_check = 1;
	r.no_cache = 0;
	build_result_init(&res);
	ck_assert_msg(build_run(&r, &opts, collect, &s, &res, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(stat(out, &st), 0);
	ck_assert_int_eq(res.nlayers, 2);
	ck_assert_int_eq(res.base_layers, 1);
	ck_assert_str_eq(res.layers[1].name, "app");
	ck_assert(lm_str_startswith(s.text, "base oci:"));
	ck_assert_ptr_nonnull(strstr(s.text, "tests/"));   /* the prune report */
	ck_assert_int_eq(res.report.have_image, 0);        /* not asked for */
	build_result_release(&res);
	free(s.text);
	s.text = NULL;

	/* a failure writes nothing at the output */
	unlink(out);
	manifest_release(&m);
	load(&m, "\"precompile\": {\"python\": {}}");
	r.m = &m;
	build_result_init(&res);
	ck_assert_int_eq(build_run(&r, &opts, collect, &s, &res, &err), -1);
	ck_assert_int_eq(stat(out, &st), -1);
	lm_err_release(&err);
	build_result_release(&res);
	free(s.text);
	s.text = NULL;

	/* a zip output, measured with the report; no archive */
	manifest_release(&m);
	load(&m, NULL);
	struct build_zip z = { NULL, -1, NULL, 0, -1, 1 };
	memset(&r, 0, sizeof(r));
	r.m = &m;
	r.zip = &z;
	r.report = 1;
	build_result_init(&res);
	ck_assert_msg(build_run(&r, &opts, NULL, NULL, &res, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(res.report.have_zip, 1);
	ck_assert_int_eq(res.report.have_image, 1);
	ck_assert_int_eq(res.report.zip_files, 3); /* mod.py, app.py, tests/test_app.py; notes.log excluded */
	build_result_release(&res);
	manifest_release(&m);
	free(out);
}
END_TEST

/* A layer whose entries did not change is reused, checked first: a corrupt blob is
 * written again, with the same bytes. */
START_TEST(test_layers_reused)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_manifest m;
	struct lm_tree t[2];
	struct layer_result a[2], b[2];
	memset(&stats, 0, sizeof(stats));
	load(&m, NULL);
	ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
	ck_assert_int_eq(stats.files, 3);
	ck_assert_int_eq(stage_layers(&m, t, GZ_LEVEL_DEFAULT, &opts, cache, 1, a, &stats, &err), 0);
	ck_assert_int_eq(stats.layers_written, 2);
	ck_assert_int_eq(stats.layers_reused, 0);
	ck_assert_uint_gt(stats.bytes_compressed, 0);
	for (int round = 0; round < 3; round++) {
		memset(&stats, 0, sizeof(stats));
		tree_release(&t[0]);
		tree_release(&t[1]);
		if (round == 1) { /* one changed byte in the app layer's blob on disk */
			char *p = cache_blob_path(cache, a[1].desc.digest);
			FILE *f = fopen(p, "r+");
			fseek(f, 20, SEEK_SET);
			int ch = fgetc(f);
			fseek(f, 20, SEEK_SET);
			fputc(ch ^ 1, f);
			fclose(f);
			free(p);
		}
		if (round == 2) /* another file: that layer only is written again */
			testimg_write(tmp, "app/app.py", "def handler(e, c):\n    return 2\n");
		ck_assert_int_eq(stage_trees(&m, cache, t, &stats, &err), 0);
		ck_assert_int_eq(stage_layers(&m, t, GZ_LEVEL_DEFAULT, &opts, cache, 1, b, &stats, &err), 0);
		if (round == 0) {
			ck_assert_int_eq(stats.layers_reused, 2);
			ck_assert_int_eq(stats.bytes_compressed, 0);
		} else if (round == 1) {
			ck_assert_int_eq(stats.layers_reused, 1);
			ck_assert_int_eq(stats.corrupt, 1);
		} else {
			ck_assert_int_eq(stats.layers_reused, 1);
			ck_assert_int_eq(stats.layers_written, 1);
			ck_assert_str_eq(b[0].desc.digest, a[0].desc.digest);
			ck_assert_str_ne(b[1].desc.digest, a[1].desc.digest);
		}
		if (round < 2) {
			for (int i = 0; i < 2; i++) {
				ck_assert_str_eq(b[i].desc.digest, a[i].desc.digest);
				ck_assert_str_eq(b[i].diff_id, a[i].diff_id);
				ck_assert_int_eq(b[i].usize, a[i].usize);
			}
			ck_assert_int_eq(cache_blob_check(cache, a[1].desc.digest, a[1].desc.size), 1);
		}
		layer_result_release(&b[0]);
		layer_result_release(&b[1]);
	}
	for (int i = 0; i < 2; i++) {
		layer_result_release(&a[i]);
		tree_release(&t[i]);
	}
	manifest_release(&m);
}
END_TEST

SUITE(build)
{
	Suite *s = suite_create("build");
	TCase *tc = tcase_create("build");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_base_notes_non_gzip);
	tcase_add_test(tc, test_trees);
	tcase_add_test(tc, test_prune);
	tcase_add_test(tc, test_compile_without_python);
	tcase_add_test(tc, test_layers_and_image);
	tcase_add_test(tc, test_layers_reused);
	tcase_add_test(tc, test_run_outputs);
	suite_add_tcase(s, tc);
	return s;
}
