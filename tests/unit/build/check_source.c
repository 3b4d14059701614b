/* Base sources: an OCI layout, an OCI archive, a docker save archive, and the errors. */
#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/source.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "image/cache.h"
#include "testimg.h"
#include "unit.h"

static const struct testimg_file files[] = {
	{ TI_DIR, "var", NULL, 0755 },
	{ TI_DIR, "var/task", NULL, 0755 },
	{ TI_FILE, "var/task/hello.txt", "hello\n", 0644 },
};

static char *tmp;
static struct cache *cache;

static void setup(void)
{
	struct lm_err err = LM_ERR_INIT;
	tmp = lm_mkdtemp(NULL, "check-source", &err);
	ck_assert_ptr_nonnull(tmp);
	char *cd = lm_path_join(tmp, "cache");
	cache = cache_open(cd, &err);
	ck_assert_ptr_nonnull(cache);
	free(cd);
}

static void teardown(void)
{
	cache_free(cache);
	lm_rm_rf_quiet(tmp);
	free(tmp);
}

/* Opens spec and checks the image: one layer of the given media type, config present. */
static void open_ok(const char *spec, const char *layer_mt)
{
	struct lm_err err = LM_ERR_INIT;
	struct lm_image img;
	struct source_opts so = { "linux/amd64", NULL, NULL, 0, 0 };
	image_init(&img);
	ck_assert_msg(source_open(spec, &so, cache, &img, &err) == 0, "%s: %s", spec, err.msg);
	ck_assert_int_eq(img.manifest.nlayers, 1);
	ck_assert_str_eq(img.manifest.layers[0].media_type, layer_mt);
	ck_assert_int_eq(cache_has(cache, img.manifest.layers[0].digest, img.manifest.layers[0].size), 1);
	ck_assert_ptr_nonnull(img.config_raw);
	ck_assert_ptr_nonnull(strstr(img.config_raw, "LAMBDA_TASK_ROOT"));
	ck_assert_str_eq(img.name, spec);
	image_release(&img);
}

START_TEST(test_oci_layout)
{
	struct testimg ti = { files, 3, NULL, 0, "3.12" };
	char *dir = lm_path_join(tmp, "layout"), *spec = lm_asprintf("oci:%s:3.12", dir);
	testimg_layout(&ti, dir);
	open_ok(spec, "application/vnd.oci.image.layer.v1.tar+gzip");
	free(spec);
	spec = lm_asprintf("oci:%s", dir); /* the only image, without a tag */
	open_ok(spec, "application/vnd.oci.image.layer.v1.tar+gzip");
	free(spec);
	free(dir);
}
END_TEST

START_TEST(test_oci_archive)
{
	struct testimg ti = { files, 3, NULL, 1, NULL };
	char *path = lm_path_join(tmp, "img.tar"), *spec = lm_asprintf("oci-archive:%s", path);
	testimg_oci_archive(&ti, path);
	open_ok(spec, "application/vnd.oci.image.layer.v1.tar");
	free(spec);
	free(path);
}
END_TEST

START_TEST(test_docker_archive)
{
	struct testimg ti = { files, 3, NULL, 1, NULL };
	char *path = lm_path_join(tmp, "saved.tar"), *spec = lm_asprintf("docker-archive:%s", path);
	testimg_docker_archive(&ti, path);
	struct lm_err err = LM_ERR_INIT;
	struct lm_image img;
	struct source_opts so = { "linux/amd64", NULL, NULL, 0, 0 };
	image_init(&img);
	ck_assert_msg(source_open(spec, &so, cache, &img, &err) == 0, "%s", err.msg);
	ck_assert_int_eq(img.manifest.nlayers, 1);
	ck_assert_int_eq(cache_has(cache, img.manifest.layers[0].digest, -1), 1);
	image_release(&img);
	free(spec);
	free(path);
}
END_TEST

/* An OCI archive that holds index.json twice (found by fuzz_archive: the second leaked
 * the first) is refused: different tools would read different images from it. */
START_TEST(test_oci_archive_two_indexes)
{
	struct testimg ti = { files, 3, NULL, 1, NULL };
	char *path = lm_path_join(tmp, "img.tar"), *dup = lm_path_join(tmp, "dup.tar");
	char *spec = lm_asprintf("oci-archive:%s", dup);
	struct archive *in = archive_read_new(), *out = archive_write_new();
	struct archive_entry *e;
	char buf[8192];
	testimg_oci_archive(&ti, path);
	archive_read_support_format_tar(in);
	archive_write_set_format_pax_restricted(out);
	ck_assert_int_eq(archive_read_open_filename(in, path, 10240), ARCHIVE_OK);
	ck_assert_int_eq(archive_write_open_filename(out, dup), ARCHIVE_OK);
	while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
		int twice = strcmp(archive_entry_pathname(e), "index.json") == 0 ? 2 : 1;
		la_ssize_t n = archive_read_data(in, buf, sizeof(buf));
		ck_assert_int_ge(n, 0);
		for (int k = 0; k < twice; k++) {
			ck_assert_int_eq(archive_write_header(out, e), ARCHIVE_OK);
			ck_assert_int_eq(archive_write_data(out, buf, (size_t)n), n);
		}
	}
	archive_read_free(in);
	archive_write_free(out);

	struct lm_err err = LM_ERR_INIT;
	struct lm_image img;
	struct source_opts so = { "linux/amd64", NULL, NULL, 0, 0 };
	image_init(&img);
	ck_assert_int_eq(source_open(spec, &so, cache, &img, &err), -1);
	ck_assert_int_eq(err.code, LM_E_INPUT);
	ck_assert_msg(strstr(err.msg, "holds index.json twice"), "%s", err.msg);
	lm_err_release(&err);
	image_release(&img);
	free(spec);
	free(dup);
	free(path);
}
END_TEST

START_TEST(test_errors)
{
	static const struct {
		const char *spec;
		int code;
		const char *needle;
	} t[] = {
		{ "oci-archive:", LM_E_INPUT, "names no path" },
		{ "oci:", LM_E_INPUT, "names no path" },
		{ "oci-archive:/nonexistent/x.tar", LM_E_IO, "/nonexistent/x.tar" },
		{ "docker-archive:/nonexistent/x.tar", LM_E_IO, "/nonexistent/x.tar" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct lm_err err = LM_ERR_INIT;
		struct lm_image img;
		struct source_opts so = { "linux/amd64", NULL, NULL, 0, 0 };
		image_init(&img);
		ck_assert_int_eq(source_open(t[i].spec, &so, cache, &img, &err), -1);
		ck_assert_msg(err.code == t[i].code, "%s: code %d, want %d (%s)", t[i].spec, err.code, t[i].code,
			      err.msg);
		ck_assert_msg(strstr(err.msg, t[i].needle), "%s: '%s' lacks '%s'", t[i].spec, err.msg, t[i].needle);
		lm_err_release(&err);
	}
}
END_TEST

START_TEST(test_platform_mismatch)
{
	struct testimg ti = { files, 3, NULL, 0, NULL };
	char *dir = lm_path_join(tmp, "layout"), *spec = lm_asprintf("oci:%s", dir);
	struct lm_err err = LM_ERR_INIT;
	struct lm_image img;
	struct source_opts so = { "linux/arm64", NULL, NULL, 0, 0 };
	testimg_layout(&ti, dir);
	image_init(&img);
	ck_assert_int_eq(source_open(spec, &so, cache, &img, &err), -1);
	ck_assert_msg(strstr(err.msg, "arm64") && strstr(err.msg, "amd64"), "%s", err.msg);
	lm_err_release(&err);
	free(spec);
	free(dir);
}
END_TEST

START_TEST(test_is_registry)
{
	static const struct {
		const char *spec;
		int want;
	} t[] = {
		{ "public.ecr.aws/lambda/python:3.12", 1 },
		{ "localhost:5000/a:b", 1 },
		{ "oci-archive:x.tar", 0 },
		{ "oci:dir", 0 },
		{ "docker-archive:x.tar", 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ck_assert_msg(source_is_registry(t[i].spec) == t[i].want, "%s", t[i].spec);
}
END_TEST

SUITE(source)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_oci_layout);
	tcase_add_test(tc, test_oci_archive);
	tcase_add_test(tc, test_docker_archive);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_oci_archive_two_indexes);
	tcase_add_test(tc, test_platform_mismatch);
	tcase_add_test(tc, test_is_registry);
	suite_add_tcase(s, tc);
	return s;
}
