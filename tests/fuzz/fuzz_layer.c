/* A layer blob as its media type says: plain tar, gzip (any number of members), zstd;
 * read to its end and its diff_id computed (image/layercheck.c). The first byte picks the
 * media type. */
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "image/layercheck.h"
#include "fuzz.h"

static struct cache *cache;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lm_err err = LM_ERR_INIT;
	char *top, *c;
	(void)argc;
	(void)argv;
	if (!(top = lm_mkdtemp(NULL, "lamina-fuzz-layer", &err)))
		abort();
	c = lm_path_join(top, "cache");
	if (!(cache = cache_open(c, &err)))
		abort();
	free(c);
	free(top);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const types[] = {
		OCI_MT_LAYER_TAR,
		OCI_MT_LAYER_GZIP,
		OCI_MT_LAYER_ZSTD,
		"application/vnd.docker.image.rootfs.diff.tar.gzip",
	};
	struct lm_err err = LM_ERR_INIT;
	struct oci_descriptor d;
	struct layer_check out;
	char *blob;
	if (size < 1)
		return 0;
	memset(&d, 0, sizeof(d));
	if (cache_put_buf(cache, data + 1, size - 1, d.digest, &err) < 0)
		abort();
	d.media_type = (char *)types[data[0] % 4];
	d.size = (int64_t)(size - 1);
	(void)layer_check(cache, &d, &out, &err);
	lm_err_release(&err);
	/* the cache stays small: the blob goes again */
	blob = cache_blob_path(cache, d.digest);
	unlink(blob);
	free(blob);
	return 0;
}
