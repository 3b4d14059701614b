/* The OCI and Docker JSON documents of an image: manifests, indexes (and Docker manifest
 * lists), configs. The first byte picks the reader. */
#include "image/oci.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_err err = LM_ERR_INIT;
	const char *buf;
	size_t len;
	if (size < 1)
		return 0;
	buf = (const char *)data + 1;
	len = size - 1;
	(void)oci_doc_kind(buf, len, NULL);
	switch (data[0] % 3) {
	case 0: {
		struct oci_manifest m;
		memset(&m, 0, sizeof(m));
		if (oci_manifest_parse(buf, len, &m, &err) == 0) {
			size_t n;
			free(oci_manifest_serialize(&m, &n));
			oci_manifest_release(&m);
		}
		break;
	}
	case 1: {
		struct oci_index ix;
		memset(&ix, 0, sizeof(ix));
		if (oci_index_parse(buf, len, &ix, &err) == 0) {
			struct oci_platform want;
			memset(&want, 0, sizeof(want));
			if (oci_platform_parse("linux/arm64", &want, &err) == 0) {
				(void)oci_index_select(&ix, &want);
				oci_platform_release(&want);
			}
			oci_index_release(&ix);
		}
		break;
	}
	default: {
		struct oci_config *c = NULL;
		if (oci_config_parse(buf, len, &c, &err) == 0) {
			struct oci_config_view v;
			size_t n;
			memset(&v, 0, sizeof(v));
			oci_config_view_get(c, &v);
			oci_config_view_release(&v);
			free(oci_config_serialize(c, &n));
			oci_config_free(c);
		}
		break;
	}
	}
	lm_err_release(&err);
	return 0;
}
