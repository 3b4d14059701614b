/* registry.c - placeholder until the distribution client lands. */
#include "registry.h"

int registry_pull(const char *ref, const struct reg_opts *ro, struct cache *c, struct lm_image *out,
		  struct lm_err *err)
{
	(void)ro;
	(void)c;
	(void)out;
	return lm_err_set(err, LM_E_USAGE, "pulling '%s' from a registry is not implemented yet", ref);
}

int registry_push(const struct lm_image *img, struct cache *c, const char *ref, const struct reg_opts *ro,
		  char digest_out[LM_DIGEST_LEN], struct lm_err *err)
{
	(void)img;
	(void)c;
	(void)ro;
	(void)digest_out;
	return lm_err_set(err, LM_E_USAGE, "pushing to '%s' is not implemented yet", ref);
}
