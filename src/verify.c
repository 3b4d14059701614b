/* verify.c - placeholder until the verify module lands. */
#include "verify.h"

#include <stdlib.h>

void verify_spec_release(struct verify_spec *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nimports; i++)
		free(v->imports[i]);
	free(v->imports);
	v->imports = NULL;
	v->nimports = 0;
}

int verify_image(const struct lm_image *img, struct cache *c, const struct verify_spec *v,
		 const struct lm_opts *o, struct lm_err *err)
{
	(void)img, (void)c, (void)o;
	if (v->set)
		return lm_err_set(err, LM_E_USAGE, "verify is not implemented yet");
	return 0;
}
