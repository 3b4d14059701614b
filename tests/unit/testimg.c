/* testimg.c - small images for unit tests (see testimg.h). */
#include "testimg.h"

#include <archive.h>
#include <archive_entry.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "common/digest.h"
#include "common/fs.h"

static const char default_config[] =
	"{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/bin:/bin\","
	"\"LAMBDA_TASK_ROOT=/var/task\"],\"WorkingDir\":\"/var/task\"},\"rootfs\":{\"type\":\"layers\","
	"\"diff_ids\":[\"%s\"]},\"history\":[{\"created_by\":\"testimg\"}]}";

void testimg_write(const char *dir, const char *rel, const char *data)
{
	struct lm_err err = LM_ERR_INIT;
	char *p = lm_path_join(dir, rel), *d = lm_path_dirname(p);
	ck_assert_int_eq(lm_mkdir_p(d, &err), 0);
	FILE *f = fopen(p, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fwrite(data, 1, strlen(data), f), strlen(data));
	ck_assert_int_eq(fclose(f), 0);
	free(p);
	free(d);
}

static la_ssize_t buf_write(struct archive *a, void *ctx, const void *data, size_t len)
{
	(void)a;
	buf_append(ctx, data, len);
	return (la_ssize_t)len;
}

static void make_tar(const struct testimg *ti, struct lm_buf *out)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	ck_assert_int_eq(archive_write_open(a, out, NULL, buf_write, NULL), ARCHIVE_OK);
	for (size_t i = 0; i < ti->nfiles; i++) {
		const struct testimg_file *f = &ti->files[i];
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, f->path);
		archive_entry_set_mtime(e, 315532800, 0);
		if (f->type == TI_DIR) {
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, f->mode ? f->mode : 0755);
		} else if (f->type == TI_SYMLINK) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, f->data);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, f->mode ? f->mode : 0644);
			archive_entry_set_size(e, (la_int64_t)strlen(f->data));
		}
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (f->type == TI_FILE && *f->data)
			ck_assert_int_eq(archive_write_data(a, f->data, strlen(f->data)), (la_ssize_t)strlen(f->data));
		archive_entry_free(e);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

static void gzip_buf(const struct lm_buf *in, struct lm_buf *out)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY), Z_OK);
	size_t cap = deflateBound(&z, in->len) + 64;
	char *o = lm_xmalloc(cap);
	z.next_in = (unsigned char *)in->data;
	z.avail_in = (unsigned)in->len;
	z.next_out = (unsigned char *)o;
	z.avail_out = (unsigned)cap;
	ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
	buf_append(out, o, cap - z.avail_out);
	deflateEnd(&z);
	free(o);
}

static void put_blob(const char *dir, const void *data, size_t len, char digest[LM_DIGEST_LEN])
{
	struct lm_err err = LM_ERR_INIT;
	digest_buf(data, len, digest);
	char *p = lm_asprintf("%s/blobs/sha256/%s", dir, digest_hex(digest));
	ck_assert_int_eq(lm_write_file_atomic(p, data, len, &err), 0);
	free(p);
}

/* The layer (as stored), its diff_id, and the config bytes. */
struct parts {
	struct lm_buf layer;
	char diff_id[LM_DIGEST_LEN];
	char *config;
};

static void make_parts(const struct testimg *ti, struct parts *p)
{
	struct lm_buf tar;
	buf_init(&tar, 0);
	buf_init(&p->layer, 0);
	make_tar(ti, &tar);
	digest_buf(tar.data, tar.len, p->diff_id);
	if (ti->plain_tar)
		buf_append(&p->layer, tar.data, tar.len);
	else
		gzip_buf(&tar, &p->layer);
	buf_release(&tar);
	p->config = ti->config ? lm_xstrdup(ti->config) : lm_asprintf(default_config, p->diff_id);
}

void testimg_layout(const struct testimg *ti, const char *dir)
{
	struct lm_err err = LM_ERR_INIT;
	struct parts p;
	char ld[LM_DIGEST_LEN], cd[LM_DIGEST_LEN], md[LM_DIGEST_LEN];
	char *blobs = lm_asprintf("%s/blobs/sha256", dir), *man, *idx;

	ck_assert_int_eq(lm_mkdir_p(blobs, &err), 0);
	make_parts(ti, &p);
	put_blob(dir, p.layer.data, p.layer.len, ld);
	put_blob(dir, p.config, strlen(p.config), cd);
	man = lm_asprintf("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
			  "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"%s\","
			  "\"size\":%zu},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar%s\","
			  "\"digest\":\"%s\",\"size\":%zu}]}",
			  cd, strlen(p.config), ti->plain_tar ? "" : "+gzip", ld, p.layer.len);
	put_blob(dir, man, strlen(man), md);
	idx = lm_asprintf("{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
			  "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
			  "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
			  md, strlen(man), ti->ref ? ti->ref : "latest");
	testimg_write(dir, "index.json", idx);
	testimg_write(dir, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}");
	buf_release(&p.layer);
	free(p.config);
	free(man);
	free(idx);
	free(blobs);
}

/* Adds every file under dir (relative names) to a tar at path. */
static void tar_dir(const char *dir, const char *const *names, size_t n, const char *path)
{
	struct archive *a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct lm_err err = LM_ERR_INIT;
		char *p = lm_path_join(dir, names[i]), *data = NULL;
		size_t len = 0;
		ck_assert_int_eq(lm_read_file(p, 1 << 24, &data, &len, &err), 0);
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, names[i]);
		archive_entry_set_filetype(e, AE_IFREG);
		archive_entry_set_perm(e, 0644);
		archive_entry_set_size(e, (la_int64_t)len);
		ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
		if (len)
			ck_assert_int_eq(archive_write_data(a, data, len), (la_ssize_t)len);
		archive_entry_free(e);
		free(data);
		free(p);
	}
	ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

void testimg_oci_archive(const struct testimg *ti, const char *path)
{
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_asprintf("%s.layout", path);
	char **names = lm_xcalloc(8, sizeof(*names));
	size_t n = 0;
	testimg_layout(ti, dir);
	names[n++] = lm_xstrdup("oci-layout");
	names[n++] = lm_xstrdup("index.json");
	{
		char *b = lm_asprintf("%s/blobs/sha256", dir);
		FILE *ls;
		char *cmd = lm_asprintf("ls '%s'", b), line[128];
		ls = popen(cmd, "r");
		ck_assert_ptr_nonnull(ls);
		while (fgets(line, sizeof(line), ls) && n < 8) {
			line[strcspn(line, "\n")] = '\0';
			names[n++] = lm_asprintf("blobs/sha256/%s", line);
		}
		pclose(ls);
		free(cmd);
		free(b);
	}
	tar_dir(dir, (const char *const *)names, n, path);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	free(dir);
}

void testimg_docker_archive(const struct testimg *ti, const char *path)
{
	struct lm_err err = LM_ERR_INIT;
	struct parts p;
	char cd[LM_DIGEST_LEN];
	char *dir = lm_asprintf("%s.docker", path), *cfgname, *man;
	make_parts(ti, &p);
	digest_buf(p.config, strlen(p.config), cd);
	cfgname = lm_asprintf("%s.json", digest_hex(cd));
	testimg_write(dir, cfgname, p.config);
	{
		char *lp = lm_path_join(dir, "l1/layer.tar");
		char *ldir = lm_path_dirname(lp);
		ck_assert_int_eq(lm_mkdir_p(ldir, &err), 0);
		ck_assert_int_eq(lm_write_file_atomic(lp, p.layer.data, p.layer.len, &err), 0);
		free(lp);
		free(ldir);
	}
	man = lm_asprintf("[{\"Config\":\"%s\",\"RepoTags\":[\"test:latest\"],\"Layers\":[\"l1/layer.tar\"]}]", cfgname);
	testimg_write(dir, "manifest.json", man);
	{
		const char *names[] = { "manifest.json", cfgname, "l1/layer.tar" };
		tar_dir(dir, names, 3, path);
	}
	ck_assert_int_eq(lm_rm_rf(dir, &err), 0);
	buf_release(&p.layer);
	free(p.config);
	free(cfgname);
	free(man);
	free(dir);
}
