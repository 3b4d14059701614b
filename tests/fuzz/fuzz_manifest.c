/* The manifest parser: any bytes as lamina.json. */
#include "build/manifest.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_manifest m;
	struct lm_err err = LM_ERR_INIT;
	memset(&m, 0, sizeof(m));
	if (manifest_parse((const char *)data, size, "fuzz.json", "/nonexistent", &m, &err) == 0)
		manifest_release(&m);
	lm_err_release(&err);
	return 0;
}
