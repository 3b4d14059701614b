#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/cache.h"
#include "common/digest.h"
#include "image/image.h"
#include "image/oci.h"
#include "image/ociarchive.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

START_TEST(test_repo_tag_and_full_name_table)
{
	static const struct {
		const char *in, *repo_tag, *full;
	} t[] = {
		{ "hello", "hello:latest", "docker.io/library/hello:latest" },
		{ "hello:v2", "hello:v2", "docker.io/library/hello:v2" },
		{ "team/app:v1", "team/app:v1", "docker.io/team/app:v1" },
		{ "team/app", "team/app:latest", "docker.io/team/app:latest" },
		{ "localhost:5000/a/b:c", "localhost:5000/a/b:c", "localhost:5000/a/b:c" },
		{ "localhost:5000/a/b", "localhost:5000/a/b:latest", "localhost:5000/a/b:latest" },
		{ "localhost/app", "localhost/app:latest", "localhost/app:latest" },
		{ "123.dkr.ecr.us-east-1.amazonaws.com/app:1", "123.dkr.ecr.us-east-1.amazonaws.com/app:1",
		  "123.dkr.ecr.us-east-1.amazonaws.com/app:1" },
		{ "123.dkr.ecr.us-east-1.amazonaws.com/app", "123.dkr.ecr.us-east-1.amazonaws.com/app:latest",
		  "123.dkr.ecr.us-east-1.amazonaws.com/app:latest" },
		{ "docker.io/library/hello", "docker.io/library/hello:latest", "docker.io/library/hello:latest" },
		{ "a@sha256:" HEX64, "a@sha256:" HEX64, "docker.io/library/a@sha256:" HEX64 },
		{ "team/a@sha256:" HEX64, "team/a@sha256:" HEX64, "docker.io/team/a@sha256:" HEX64 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *rt = ociarchive_repo_tag(t[i].in), *full = ociarchive_full_name(t[i].in);
		ck_assert_msg(strcmp(rt, t[i].repo_tag) == 0, "repo_tag('%s') = '%s', want '%s'", t[i].in, rt,
			      t[i].repo_tag);
		ck_assert_msg(strcmp(full, t[i].full) == 0, "full_name('%s') = '%s', want '%s'", t[i].in, full, t[i].full);
		free(rt);
		free(full);
	}
}
END_TEST

/* An image whose config and one layer (with the layer listed twice) are in the cache. */
static void make_image(struct cache *c, struct lm_image *img)
{
	static const char cfg[] = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}";
	static const char layer[] = "not really gzip, but the archive does not care";
	struct lm_err err = LM_ERR_INIT;
	image_init(img);
	img->manifest.media_type = lm_xstrdup(OCI_MT_MANIFEST);
	img->manifest.config.media_type = lm_xstrdup(OCI_MT_CONFIG);
	ck_assert_int_eq(cache_put_buf(c, cfg, sizeof(cfg) - 1, img->manifest.config.digest, &err), 0);
	img->manifest.config.size = sizeof(cfg) - 1;
	img->manifest.nlayers = 2;
	img->manifest.layers = lm_xcalloc(2, sizeof(*img->manifest.layers));
	for (int i = 0; i < 2; i++) {
		img->manifest.layers[i].media_type = lm_xstrdup(OCI_MT_LAYER_GZIP);
		ck_assert_int_eq(cache_put_buf(c, layer, sizeof(layer) - 1, img->manifest.layers[i].digest, &err), 0);
		img->manifest.layers[i].size = sizeof(layer) - 1;
	}
}

struct got {
	char *name, *data;
	size_t len;
	unsigned mode;
};

static size_t read_archive(const char *path, struct got *g, size_t max)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	size_t n = 0;
	archive_read_support_format_tar(a);
	ck_assert_int_eq(archive_read_open_filename(a, path, 10240), ARCHIVE_OK);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		ck_assert_uint_lt(n, max);
		g[n].name = lm_xstrdup(archive_entry_pathname(e));
		g[n].len = (size_t)archive_entry_size(e);
		g[n].mode = archive_entry_perm(e);
		g[n].data = lm_xcalloc(1, g[n].len + 1);
		ck_assert_int_eq(archive_entry_mtime(e), 1700000000);
		ck_assert_int_eq(archive_entry_uid(e), 0);
		if (g[n].len)
			ck_assert_int_eq(archive_read_data(a, g[n].data, g[n].len), (la_ssize_t)g[n].len);
		n++;
	}
	archive_read_free(a);
	return n;
}

START_TEST(test_write_archive)
{
	struct lm_err err = LM_ERR_INIT;
	char *d = lm_asprintf("%s/lm-ociar-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	char *cdir, *out, mdigest[LM_DIGEST_LEN];
	struct cache *c;
	struct lm_image img;
	struct got g[16];
	size_t n;
	char *mbuf;
	size_t mlen;
	ck_assert_ptr_nonnull(mkdtemp(d));
	cdir = lm_path_join(d, "cache");
	out = lm_path_join(d, "image.tar");
	c = cache_open(cdir, &err);
	ck_assert_ptr_nonnull(c);
	make_image(c, &img);
	mbuf = oci_manifest_serialize(&img.manifest, &mlen);
	digest_buf(mbuf, mlen, mdigest);

	ck_assert_msg(ociarchive_write(&img, "team/app:v1", 1700000000, c, out, &err) == 0, "%s", err.msg);
	n = read_archive(out, g, 16);
	/* oci-layout, index.json, manifest.json, repositories, 2 dirs, config, one layer (deduplicated), manifest */
	ck_assert_uint_eq(n, 9);
	ck_assert_str_eq(g[0].name, "oci-layout");
	ck_assert_str_eq(g[0].data, "{\"imageLayoutVersion\":\"1.0.0\"}");
	ck_assert_str_eq(g[1].name, "index.json");
	ck_assert_ptr_nonnull(strstr(g[1].data, mdigest));
	ck_assert_ptr_nonnull(strstr(g[1].data, "\"io.containerd.image.name\":\"docker.io/team/app:v1\""));
	ck_assert_ptr_nonnull(strstr(g[1].data, "\"" OCI_ANNOT_REF_NAME "\":\"v1\""));
	ck_assert_str_eq(g[2].name, "manifest.json");
	{
		char *want = lm_asprintf("[{\"Config\":\"blobs/sha256/%s\",\"RepoTags\":[\"team/app:v1\"],\"Layers\":["
					 "\"blobs/sha256/%s\",\"blobs/sha256/%s\"]}]",
					 digest_hex(img.manifest.config.digest), digest_hex(img.manifest.layers[0].digest),
					 digest_hex(img.manifest.layers[1].digest));
		ck_assert_str_eq(g[2].data, want);
		free(want);
	}
	ck_assert_str_eq(g[3].name, "repositories");
	{
		char *want = lm_asprintf("{\"team/app\":{\"v1\":\"%s\"}}", digest_hex(img.manifest.layers[1].digest));
		ck_assert_str_eq(g[3].data, want);
		free(want);
	}
	ck_assert_str_eq(g[4].name, "blobs/");
	ck_assert_uint_eq(g[4].mode, 0755);
	ck_assert_str_eq(g[5].name, "blobs/sha256/");
	ck_assert(lm_str_endswith(g[6].name, digest_hex(img.manifest.config.digest)));
	ck_assert(lm_str_endswith(g[7].name, digest_hex(img.manifest.layers[0].digest)));
	ck_assert(lm_str_endswith(g[8].name, digest_hex(mdigest)));
	ck_assert_uint_eq(g[8].len, mlen);
	ck_assert(memcmp(g[8].data, mbuf, mlen) == 0);
	/* every blob's content hashes to its name */
	for (size_t i = 6; i < n; i++) {
		char dg[LM_DIGEST_LEN];
		digest_buf(g[i].data, g[i].len, dg);
		ck_assert_str_eq(g[i].name + strlen("blobs/sha256/"), digest_hex(dg));
		ck_assert_uint_eq(g[i].mode, 0644);
	}
	for (size_t i = 0; i < n; i++) {
		free(g[i].name);
		free(g[i].data);
	}

	/* no tag: no repositories file, empty RepoTags */
	ck_assert_int_eq(ociarchive_write(&img, NULL, 1700000000, c, out, &err), 0);
	n = read_archive(out, g, 16);
	ck_assert_uint_eq(n, 8);
	ck_assert_ptr_nonnull(strstr(g[2].data, "\"RepoTags\":[]"));
	ck_assert_str_eq(g[3].name, "blobs/");
	for (size_t i = 0; i < n; i++) {
		free(g[i].name);
		free(g[i].data);
	}

	/* a corrupted layer blob: an error, and the old archive stays as it was */
	{
		struct stat before, after;
		char *p = cache_blob_path(c, img.manifest.layers[0].digest);
		FILE *f = fopen(p, "r+");
		ck_assert_ptr_nonnull(f);
		fputc('N', f);
		fclose(f);
		ck_assert_int_eq(stat(out, &before), 0);
		ck_assert_int_eq(ociarchive_write(&img, "x", 1700000000, c, out, &err), -1);
		ck_assert_int_eq(err.code, LM_E_VERIFY);
		ck_assert_ptr_nonnull(strstr(err.msg, "corrupt"));
		lm_err_release(&err);
		ck_assert_int_eq(stat(out, &after), 0);
		ck_assert_uint_eq(before.st_ino, after.st_ino);
		ck_assert_int_eq(unlink(p), 0);
		/* a missing blob, with nothing at out beforehand: nothing at out afterwards */
		ck_assert_int_eq(unlink(out), 0);
		ck_assert_int_eq(ociarchive_write(&img, "x", 1700000000, c, out, &err), -1);
		lm_err_release(&err);
		ck_assert_int_eq(access(out, F_OK), -1);
		/* no temporary file left beside it: only the cache directory */
		{
			DIR *dh = opendir(d);
			struct dirent *de;
			size_t k = 0;
			ck_assert_ptr_nonnull(dh);
			while ((de = readdir(dh)))
				if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
					ck_assert_msg(strcmp(de->d_name, "cache") == 0, "left behind: '%s'", de->d_name);
					k++;
				}
			closedir(dh);
			ck_assert_uint_eq(k, 1);
		}
		free(p);
	}

	free(mbuf);
	image_release(&img);
	cache_free(c);
	ck_assert_int_eq(lm_rm_rf(d, &err), 0);
	free(cdir);
	free(out);
	free(d);
}
END_TEST

SUITE(ociarchive)
{
	Suite *s = suite_create("ociarchive");
	TCASE(s, test_repo_tag_and_full_name_table);
	TCASE(s, test_write_archive);
	return s;
}
