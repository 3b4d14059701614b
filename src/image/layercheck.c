/* layercheck.c - layer blobs checked against their media type and diff_id (see layercheck.h).
 *
 * Two libarchive readers in a row: the first decompresses the blob with only the filter
 * its media type allows (format "raw"), the second reads what comes out of the first as a
 * tar (no filter), and every byte between them is hashed for the diff_id. */
#include "image/layercheck.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/digest.h"
#include "common/fs.h"

#define CHUNK (1u << 18)

enum comp { COMP_NONE, COMP_GZIP, COMP_ZSTD, COMP_BAD };

static enum comp comp_of(const char *mt)
{
	if (!mt)
		return COMP_BAD;
	if (strcmp(mt, OCI_MT_LAYER_GZIP) == 0 || strcmp(mt, DOCKER_MT_LAYER_GZIP) == 0)
		return COMP_GZIP;
	if (strcmp(mt, OCI_MT_LAYER_ZSTD) == 0)
		return COMP_ZSTD;
	if (strcmp(mt, OCI_MT_LAYER_TAR) == 0 || strcmp(mt, DOCKER_MT_LAYER_TAR) == 0)
		return COMP_NONE;
	return COMP_BAD;
}

struct pipe_ctx {
	struct archive *raw;
	struct digest_ctx dg;
	uint64_t n;
	char *buf;
	int failed;
};

static la_ssize_t pipe_read(struct archive *a, void *ud, const void **out)
{
	struct pipe_ctx *p = ud;
	la_ssize_t r;
	(void)a;
	r = archive_read_data(p->raw, p->buf, CHUNK);
	if (r < 0) {
		p->failed = 1;
		return -1;
	}
	digest_update(&p->dg, p->buf, (size_t)r);
	p->n += (uint64_t)r;
	*out = p->buf;
	return r;
}

static void entry_report(struct archive_entry *e, layer_entry_fn fn, void *ctx)
{
	struct layer_entry le = { 0 };
	mode_t ft = archive_entry_filetype(e);
	/* names as stored (pax: UTF-8), whatever the locale */
	le.path = archive_entry_pathname_utf8(e)	? archive_entry_pathname_utf8(e)
		  : archive_entry_pathname(e) ? archive_entry_pathname(e)
						: "";
	le.mode = (unsigned)archive_entry_perm(e);
	le.size = archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0;
	if (archive_entry_hardlink_utf8(e) || archive_entry_hardlink(e)) {
		le.type = LAYER_ENT_HARDLINK;
		le.link = archive_entry_hardlink_utf8(e) ? archive_entry_hardlink_utf8(e) : archive_entry_hardlink(e);
	} else if (ft == AE_IFREG) {
		le.type = LAYER_ENT_FILE;
	} else if (ft == AE_IFDIR) {
		le.type = LAYER_ENT_DIR;
	} else if (ft == AE_IFLNK) {
		le.type = LAYER_ENT_SYMLINK;
		le.link = archive_entry_symlink_utf8(e) ? archive_entry_symlink_utf8(e) : archive_entry_symlink(e);
	} else {
		le.type = LAYER_ENT_OTHER;
	}
	fn(ctx, &le);
}

int layer_check(struct cache *c, const struct oci_descriptor *d, struct layer_check *out, struct lm_err *err)
{
	return layer_check_walk(c, d, out, NULL, NULL, err);
}

int layer_check_walk(struct cache *c, const struct oci_descriptor *d, struct layer_check *out, layer_entry_fn fn,
		     void *ctx, struct lm_err *err)
{
	char *path = cache_blob_path(c, d->digest);
	struct archive *raw = archive_read_new(), *tar = NULL;
	struct archive_entry *e;
	struct pipe_ctx p = { 0 };
	enum comp k = comp_of(d->media_type);
	int ret = -1, r, filter;

	memset(out, 0, sizeof(*out));
	digest_init(&p.dg);
	p.raw = raw;
	p.buf = lm_xmalloc(CHUNK);
	if (k == COMP_BAD) {
		lm_err_set(err, LM_E_INPUT, "media type '%s' is not a layer's",
			   d->media_type ? d->media_type : "(none)");
		goto out;
	}
	if (k == COMP_GZIP)
		archive_read_support_filter_gzip(raw);
	else if (k == COMP_ZSTD)
		archive_read_support_filter_zstd(raw);
	archive_read_support_format_raw(raw);
	if (archive_read_open_filename(raw, path, CHUNK) != ARCHIVE_OK ||
	    archive_read_next_header(raw, &e) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "%s", archive_error_string(raw));
		goto out;
	}
	/* the compression the media type names, not another nor none */
	filter = archive_filter_count(raw) > 1 ? archive_filter_code(raw, 0) : ARCHIVE_FILTER_NONE;
	if ((k == COMP_GZIP && filter != ARCHIVE_FILTER_GZIP) || (k == COMP_ZSTD && filter != ARCHIVE_FILTER_ZSTD) ||
	    (k == COMP_NONE && filter != ARCHIVE_FILTER_NONE)) {
		lm_err_set(err, LM_E_INPUT, "not %s data, as its media type '%s' says",
			   k == COMP_GZIP ? "gzip" : k == COMP_ZSTD ? "zstd" : "uncompressed tar", d->media_type);
		goto out;
	}
	tar = archive_read_new();
	archive_read_support_format_tar(tar);
	if (archive_read_open(tar, &p, NULL, pipe_read, NULL) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "not a tar: %s", archive_error_string(tar));
		goto out;
	}
	/* ARCHIVE_WARN: a name this locale cannot show (a UTF-8 pax name in the C locale), not
	 * a broken tar */
	while ((r = archive_read_next_header(tar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		out->entries++;
		if (fn)
			entry_report(e, fn, ctx);
		if (archive_read_data_skip(tar) != ARCHIVE_OK) {
			r = ARCHIVE_FATAL;
			break;
		}
	}
	if (r != ARCHIVE_EOF || p.failed) {
		lm_err_set(err, LM_E_INPUT, "not a whole tar: %s",
			   p.failed ? archive_error_string(raw) : archive_error_string(tar));
		goto out;
	}
	/* the tar reader stops at the end-of-archive blocks: the padding after them is part of
	 * the stream (and of the diff_id) too */
	for (;;) {
		const void *b;
		la_ssize_t n = pipe_read(NULL, &p, &b);
		if (n < 0) {
			lm_err_set(err, LM_E_INPUT, "%s", archive_error_string(raw));
			goto out;
		}
		if (n == 0)
			break;
	}
	if (out->entries == 0 && p.n == 0) {
		lm_err_set(err, LM_E_INPUT, "empty, not a tar");
		goto out;
	}
	digest_final(&p.dg, out->diff_id);
	out->usize = p.n;
	ret = 0;
out:
	digest_abort(&p.dg);
	if (tar)
		archive_read_free(tar);
	archive_read_free(raw);
	free(p.buf);
	free(path);
	return ret;
}

int layer_check_cached(struct cache *c, const struct oci_descriptor *d, const char *want, struct lm_err *err)
{
	char *marker = NULL, *text = NULL;
	struct layer_check lc;
	struct lm_err e2 = LM_ERR_INIT;
	size_t len = 0;
	int ret = -1;

	if (!digest_valid(d->digest))
		return lm_err_set(err, LM_E_INPUT, "'%s' is not a digest", d->digest);
	marker = lm_asprintf("%s/verified/%s", cache_dir(c), digest_hex(d->digest));
	if (lm_read_file(marker, 256, &text, &len, &e2) == 0 && want && strncmp(text, want, LM_DIGEST_LEN - 1) == 0) {
		ret = 0;
		goto out;
	}
	lm_err_release(&e2);
	if (layer_check(c, d, &lc, err) < 0)
		goto out;
	if (want && strcmp(lc.diff_id, want) != 0) {
		lm_err_set(err, LM_E_INPUT, "its uncompressed content is %s, but the config's diff_id is %s", lc.diff_id,
			   want);
		goto out;
	}
	{
		char *dir = lm_path_dirname(marker);
		if (mkdir(dir, 0700) == 0 || errno == EEXIST)
			lm_write_file_atomic(marker, lc.diff_id, strlen(lc.diff_id), &e2);
		lm_err_release(&e2);
		free(dir);
	}
	ret = 0;
out:
	free(text);
	free(marker);
	return ret;
}
