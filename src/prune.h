/* prune.h - prune rules: presets, remove/keep globs, ELF stripping, accounting. */
#ifndef LM_PRUNE_H
#define LM_PRUNE_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "tree.h"

enum prune_strip { PRUNE_STRIP_DEBUG = 0, PRUNE_STRIP_NONE, PRUNE_STRIP_UNNEEDED };

/* What the manifest says ("prune": {...} at top level or in a layer). */
struct prune_spec {
	int set; /* the manifest had a "prune" object here */
	char **presets;
	size_t npresets;
	char **remove; /* globs */
	size_t nremove;
	char **keep; /* globs; keep always wins */
	size_t nkeep;
	enum prune_strip strip;
	int strip_set;
};

void prune_spec_release(struct prune_spec *s);
/* 1 when name is a known preset ("python-safe", "node-aggressive", "licenses" ...). */
int prune_preset_known(const char *name);
/* NULL-terminated list of preset names (for messages and --help). */
const char *const *prune_preset_names(void);

struct prune_report;
struct prune_report *prune_report_new(void);
void prune_report_free(struct prune_report *r);

/* Applies the rules to one layer's tree (after tree_finish): the global spec, then the
 * layer's own (either may be NULL or unset). root is the layer's destination in the
 * image ("var/task"); globs are relative to it. platform is the image's ("linux/amd64").
 * Marks removed entries; stripped ELF copies are written under workdir and the entries
 * point at them. Adds per-rule and per-package accounting under layer_name to rep. */
int prune_apply(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t,
		const char *root, const char *platform, const char *layer_name, const char *workdir,
		struct prune_report *rep, struct lm_err *err);

/* People's table and JSON for CI. */
void prune_report_print(const struct prune_report *r, FILE *f);
char *prune_report_json(const struct prune_report *r);

#endif
