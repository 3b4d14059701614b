#include "image/layer.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <locale.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "image/compress.h"
#include "common/alloc.h"
#include "common/str.h"

#define READ_CHUNK (256u << 10)

struct tar_ctx {
	layer_sink_fn sink;
	void *ctx;
	struct lm_err *err;
	int failed;
};

static la_ssize_t tar_write_cb(struct archive *a, void *ud, const void *buf, size_t n)
{
	struct tar_ctx *tc = ud;
	(void)a;
	if (tc->failed || tc->sink(tc->ctx, buf, n, tc->err) < 0) {
		tc->failed = 1;
		return -1;
	}
	return (la_ssize_t)n;
}

static int copy_file(struct archive *a, const struct lm_entry *e, char *buf, struct tar_ctx *tc,
		     struct lm_err *err)
{
	uint64_t left = e->size;
	int fd = tree_open_src(e, err);
	if (fd < 0)
		return -1;
	while (left) {
		size_t want = left < READ_CHUNK ? (size_t)left : READ_CHUNK;
		ssize_t r = read(fd, buf, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			lm_err_sys(err, "read '%s'", e->src);
			close(fd);
			return -1;
		}
		if (r == 0) {
			close(fd);
			return lm_err_set(err, LM_E_IO, "'%s' shrank while the layer was written", e->src);
		}
		if (archive_write_data(a, buf, (size_t)r) != r) {
			if (!tc->failed)
				lm_err_set(err, LM_E_IO, "tar data for '%s': %s", e->path, archive_error_string(a));
			close(fd);
			return -1;
		}
		left -= (uint64_t)r;
	}
	{
		char c;
		ssize_t r = read(fd, &c, 1);
		close(fd);
		if (r > 0)
			return lm_err_set(err, LM_E_IO, "'%s' grew while the layer was written", e->src);
	}
	return 0;
}

static int write_tar(const struct lm_tree *t, int64_t mtime, layer_sink_fn sink, void *ctx, struct lm_err *err);

int layer_write_tar(const struct lm_tree *t, int64_t mtime, layer_sink_fn sink, void *ctx, struct lm_err *err)
{
	/* Names are bytes, and UTF-8 (the scan refuses others): libarchive writes them into
	 * the PAX headers through the locale, so this thread uses a UTF-8 one whatever the
	 * user's is, and the bytes come out as they went in. */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), prev = (locale_t)0;
	if (utf8 == (locale_t)0)
		utf8 = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
	if (utf8 != (locale_t)0)
		prev = uselocale(utf8);
	int r = write_tar(t, mtime, sink, ctx, err);
	if (utf8 != (locale_t)0) {
		uselocale(prev);
		freelocale(utf8);
	}
	return r;
}

static int write_tar(const struct lm_tree *t, int64_t mtime, layer_sink_fn sink, void *ctx, struct lm_err *err)
{
	struct tar_ctx tc = { sink, ctx, err, 0 };
	struct archive *a = archive_write_new();
	struct archive_entry *ae = archive_entry_new();
	char *buf = lm_xmalloc(READ_CHUNK);
	int ret = -1;
	if (!a || !ae)
		abort();
	if (archive_write_set_format_pax_restricted(a) != ARCHIVE_OK ||
	    archive_write_set_bytes_per_block(a, 10240) != ARCHIVE_OK ||
	    archive_write_open2(a, &tc, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INTERNAL, "tar: %s", archive_error_string(a));
		goto out;
	}
	for (size_t i = 0; i < t->n; i++) {
		const struct lm_entry *e = &t->v[i];
		char *name;
		if (e->removed)
			continue;
		archive_entry_clear(ae);
		/* directories carry a trailing slash, as GNU tar and Docker write them */
		name = e->type == LM_F_DIR ? lm_asprintf("%s/", e->path) : lm_xstrdup(e->path);
		archive_entry_set_pathname(ae, name);
		free(name);
		archive_entry_set_uid(ae, 0);
		archive_entry_set_gid(ae, 0);
		archive_entry_set_mtime(ae, (time_t)mtime, 0);
		archive_entry_set_perm(ae, e->mode);
		switch (e->type) {
		case LM_F_DIR:
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_size(ae, 0);
			break;
		case LM_F_SYMLINK:
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e->link);
			archive_entry_set_size(ae, 0);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_size(ae, (la_int64_t)e->size);
		}
		if (archive_write_header(a, ae) != ARCHIVE_OK) {
			if (!tc.failed)
				lm_err_set(err, LM_E_IO, "tar header '%s': %s", e->path, archive_error_string(a));
			goto out;
		}
		if (e->type == LM_F_REG && e->size && copy_file(a, e, buf, &tc, err) < 0)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		if (!tc.failed)
			lm_err_set(err, LM_E_IO, "tar: %s", archive_error_string(a));
		goto out;
	}
	ret = 0;
out:
	archive_entry_free(ae);
	archive_write_free(a);
	free(buf);
	return ret;
}

static int gz_sink(void *ctx, const void *data, size_t len, struct lm_err *err)
{
	return gz_write(ctx, data, len, err);
}

int layer_write(const struct lm_tree *t, const struct layer_opts *o, struct cache *c, struct layer_result *res,
		struct lm_err *err)
{
	struct cache_writer *cw = cache_writer_new(c, err);
	struct gz_writer *gz = NULL;
	struct layer_result r;
	if (!cw)
		return -1;
	memset(&r, 0, sizeof(r));
	gz = gz_writer_new(o->level ? o->level : GZ_LEVEL_DEFAULT, o->threads, cache_writer_sink, cw);
	if (layer_write_tar(t, o->mtime, gz_sink, gz, err) < 0)
		goto fail;
	if (gz_finish(gz, r.diff_id, &r.usize, err) < 0)
		goto fail;
	gz_writer_free(gz);
	gz = NULL;
	r.desc.size = (int64_t)cache_writer_size(cw);
	if (cache_writer_commit(cw, NULL, r.desc.size, r.desc.digest, err) < 0)
		return -1;
	r.desc.media_type = lm_xstrdup(OCI_MT_LAYER_GZIP);
	for (size_t i = 0; i < t->n; i++)
		r.files += !t->v[i].removed;
	*res = r;
	return 0;
fail:
	gz_writer_free(gz);
	cache_writer_abort(cw);
	return -1;
}

void layer_result_release(struct layer_result *r)
{
	if (r)
		oci_descriptor_release(&r->desc);
}
