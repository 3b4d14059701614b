/* Image references and platforms: "HOST/REPO:TAG@sha256:...", "linux/arm64/v8". */
#include "image/oci.h"
#include "registry/ref.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);
	struct ref r;
	struct oci_platform p;
	struct lm_err err = LM_ERR_INIT;
	memset(&r, 0, sizeof(r));
	if (ref_parse(s, &r, &err) == 0) {
		char *back = ref_string(&r);
		struct ref again;
		memset(&again, 0, sizeof(again));
		/* what lamina prints parses again to the same reference */
		if (ref_parse(back, &again, &err) != 0 || strcmp(again.host, r.host) != 0 ||
		    strcmp(again.repo, r.repo) != 0)
			abort();
		ref_release(&again);
		free(back);
		ref_release(&r);
	}
	lm_err_release(&err);
	memset(&p, 0, sizeof(p));
	if (oci_platform_parse(s, &p, &err) == 0)
		oci_platform_release(&p);
	lm_err_release(&err);
	free(s);
	return 0;
}
