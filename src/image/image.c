#include "image/image.h"

#include <stdlib.h>
#include <string.h>


void image_init(struct lm_image *img)
{
	memset(img, 0, sizeof(*img));
}

void image_release(struct lm_image *img)
{
	if (!img)
		return;
	oci_manifest_release(&img->manifest);
	free(img->config_raw);
	free(img->name);
	memset(img, 0, sizeof(*img));
}

int image_from_manifest(struct lm_image *img, const char *manifest, size_t len, struct cache *c,
			struct lm_err *err)
{
	struct oci_manifest m = { 0 };
	char *cfgbuf = NULL;
	size_t cfglen = 0;
	if (oci_manifest_parse(manifest, len, &m, err) < 0)
		return -1;
	if (!cache_has(c, m.config.digest, m.config.size)) {
		lm_err_set(err, LM_E_INPUT, "config blob %s is missing", m.config.digest);
		goto fail;
	}
	/* an image's layers must be layers; an artifact's (another config type, e.g. the
	 * registry build cache) are whatever its type says */
	int image = !m.config.media_type || strcmp(m.config.media_type, OCI_MT_CONFIG) == 0 ||
		    strcmp(m.config.media_type, DOCKER_MT_CONFIG) == 0;
	for (size_t i = 0; i < m.nlayers; i++) {
		if (image && !oci_is_layer_media_type(m.layers[i].media_type)) {
			lm_err_set(err, LM_E_INPUT, "layer %zu (%s) has unsupported media type '%s'", i + 1,
				   m.layers[i].digest, m.layers[i].media_type ? m.layers[i].media_type : "(none)");
			goto fail;
		}
		if (!cache_has(c, m.layers[i].digest, m.layers[i].size)) {
			lm_err_set(err, LM_E_INPUT, "layer blob %s is missing", m.layers[i].digest);
			goto fail;
		}
	}
	if (cache_read_blob(c, m.config.digest, OCI_JSON_MAX, &cfgbuf, &cfglen, err) < 0)
		goto fail;
	oci_manifest_release(&img->manifest);
	free(img->config_raw);
	img->manifest = m;
	digest_buf(manifest, len, img->manifest_digest);
	img->config_raw = cfgbuf;
	img->config_len = cfglen;
	return 0;
fail:
	oci_manifest_release(&m);
	return -1;
}
