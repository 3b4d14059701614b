/* precompile.c - placeholder until the precompile module lands. */
#include "precompile.h"

int precompile_python(const struct precompile_spec *s, const struct lm_image *base, struct cache *c,
		      struct lm_tree *trees, size_t ntrees, const struct lm_opts *o, const char *workdir,
		      struct lm_err *err)
{
	(void)base, (void)c, (void)trees, (void)ntrees, (void)o, (void)workdir;
	if (s->set && s->enabled)
		return lm_err_set(err, LM_E_USAGE, "precompile is not implemented yet");
	return 0;
}
