/* prune.c - placeholder until the prune module lands: presets unknown, rules not applied. */
#include "prune.h"

#include <stdlib.h>

#include "util.h"

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void prune_spec_release(struct prune_spec *s)
{
	if (!s)
		return;
	free_list(s->presets, s->npresets);
	free_list(s->remove, s->nremove);
	free_list(s->keep, s->nkeep);
}

int prune_preset_known(const char *name)
{
	(void)name;
	return 0;
}

const char *const *prune_preset_names(void)
{
	static const char *const none[] = { NULL };
	return none;
}

struct prune_report {
	int unused;
};

struct prune_report *prune_report_new(void)
{
	return lm_xcalloc(1, sizeof(struct prune_report));
}

void prune_report_free(struct prune_report *r)
{
	free(r);
}

int prune_apply(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t,
		const char *root, const char *platform, const char *layer_name, const char *workdir,
		struct prune_report *rep, struct lm_err *err)
{
	(void)global, (void)layer, (void)t, (void)root, (void)platform, (void)layer_name, (void)workdir;
	(void)rep;
	if ((global && global->set) || (layer && layer->set))
		return lm_err_set(err, LM_E_USAGE, "prune rules are not implemented yet");
	return 0;
}

void prune_report_print(const struct prune_report *r, FILE *f)
{
	(void)r;
	(void)f;
}

char *prune_report_json(const struct prune_report *r)
{
	(void)r;
	return lm_xstrdup("{}");
}
