/* manifest.h - lamina's build manifest (JSON, docs/manifest.md): parse and validate. */
#ifndef LM_MANIFEST_H
#define LM_MANIFEST_H

#include <stddef.h>

#include "build/bundle.h"
#include "common/err.h"
#include "run/precompile.h"
#include "run/precompile_node.h"
#include "prune/prune.h"
#include "run/verify.h"
#include "zip/zip.h"

struct mf_layer {
	char *name;
	char *from; /* absolute host path (resolved against the manifest's directory) */
	char *to;   /* absolute image path, default "/var/task" */
	char **exclude;
	size_t nexclude;
	struct prune_spec prune;
	struct bundle_node_spec bundle; /* "bundle": {"node": {...}} (docs/bundle.md) */
};

struct mf_kv {
	char *key, *value;
};

struct mf_config {
	char **cmd; /* NULL = not given */
	size_t ncmd;
	int entrypoint_given; /* "entrypoint" present (null = reset to none? no: null = keep base) */
	char **entrypoint;    /* NULL with entrypoint_given = keep the base's */
	size_t nentrypoint;
	char *workdir; /* default "/var/task" */
	struct mf_kv *env;
	size_t nenv;
	struct mf_kv *labels;
	size_t nlabels;
};

/* "zip": what `lamina zip` writes (docs/zip.md). */
struct mf_zip {
	int set;
	int kind_set;
	enum zip_kind kind; /* default function */
	char **layers;      /* names of the layers that go into the zip; NULL = every layer */
	size_t nlayers;
	int level; /* deflate level 0..9, -1 = default */
};

struct lm_manifest {
	char *path; /* as given */
	char *dir;  /* absolute directory of the manifest */
	char *base;
	char *platform; /* default "linux/amd64" */
	struct mf_layer *layers;
	size_t nlayers;
	struct mf_config config;
	char *tag; /* may be NULL */
	struct prune_spec prune;
	struct precompile_spec precompile;
	struct precompile_node_spec precompile_node; /* precompile.node */
	struct verify_spec verify;
	struct mf_zip zip;
	int compression_level; /* "compression": {"level": N}, GZ_LEVEL_MIN..MAX; 0 = default */
};

/* Parses and validates the manifest at path. Errors name file:line:column or the
 * field ("layers[1].from"), and suggest the nearest known key for a misspelt one. */
int manifest_load(const char *path, struct lm_manifest *m, struct lm_err *err);
/* Same from memory; dir is the directory relative paths are resolved against. */
int manifest_parse(const char *buf, size_t len, const char *name, const char *dir, struct lm_manifest *m,
		   struct lm_err *err);
void manifest_release(struct lm_manifest *m);

/* Checks that every layer's "from" is a directory we can read, before any slow work (a
 * base pulled from a registry): every layer that is not, one line each, in one error
 * (LM_E_IO, or LM_E_INPUT for something that is not a directory). */
int manifest_check_sources(const struct lm_manifest *m, struct lm_err *err);

/* The index of the layer called name in m, or -1 with LM_E_USAGE: "WHAT 'name': PATH has
 * no layer of that name (did you mean 'x'?)" (what: "--layer"). */
long manifest_find_layer(const struct lm_manifest *m, const char *name, const char *what, struct lm_err *err);

/* Edit distance (for "did you mean"); exposed for tests. */
size_t manifest_edit_distance(const char *a, const char *b);

#endif
