/* checkload.c - what the rules read: an image's layers from the cache, a zip's entries. */
#include "check/check.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"

static void add_entry(void *ctx, const struct layer_entry *e)
{
	check_layer_add(ctx, e);
}

int check_image_load(struct check_image *ci, const struct lm_image *img, struct cache *c,
		     const unsigned char *docker_uncompressed, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0)
		return lm_err_wrap(err, "config");
	oci_config_view_get(cfg, &ci->cfg);
	oci_config_free(cfg);
	ci->nlayers = img->manifest.nlayers;
	ci->layers = lm_xcalloc(ci->nlayers + 1, sizeof(*ci->layers));
	for (size_t i = 0; i < ci->nlayers; i++) {
		const struct oci_descriptor *d = &img->manifest.layers[i];
		struct check_layer *l = &ci->layers[i];
		struct layer_check lc;
		struct lm_err e2 = LM_ERR_INIT;
		memcpy(l->digest, d->digest, LM_DIGEST_LEN);
		l->media_type = d->media_type ? lm_xstrdup(d->media_type) : NULL;
		l->docker_uncompressed = docker_uncompressed ? docker_uncompressed[i] : 0;
		if (layer_check_walk(c, d, &lc, add_entry, l, &e2) < 0) {
			if (e2.code == LM_E_IO) {
				lm_err_set(err, e2.code, "layer %zu %s: %s", i + 1, d->digest, e2.msg);
				lm_err_release(&e2);
				return -1;
			}
			l->problem = lm_xstrdup(e2.msg ? e2.msg : "unreadable");
			lm_err_release(&e2);
			continue;
		}
		memcpy(l->diff_id, lc.diff_id, LM_DIGEST_LEN);
		l->usize = lc.usize;
	}
	return 0;
}

int check_zip_load(struct check_zip *z, const char *path, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	struct stat st;
	int r, ret = -1;
	if (stat(path, &st) < 0) {
		archive_read_free(a);
		return lm_err_sys(err, "'%s'", path);
	}
	z->size = (uint64_t)st.st_size;
	/* the central directory, as Lambda's unzip reads it */
	archive_read_support_format_zip_seekable(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "'%s' is not a zip: %s", path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		mode_t ft = archive_entry_filetype(e);
		const char *name = archive_entry_pathname(e);
		enum check_zip_type t = ft == AE_IFDIR ? CHECK_ZDIR : ft == AE_IFLNK ? CHECK_ZSYMLINK : CHECK_ZFILE;
		/* a zip made on Unix carries the mode in its external attributes */
		unsigned mode = (unsigned)archive_entry_perm(e);
		int has_mode = mode != 0;
		check_zip_add(z, name ? name : "", t, mode, has_mode,
			      archive_entry_size_is_set(e) && archive_entry_size(e) > 0 ? (uint64_t)archive_entry_size(e) : 0);
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "'%s': %s", path, archive_error_string(a));
		goto out;
	}
	ret = 0;
out:
	archive_read_free(a);
	return ret;
}
