/* stages.h - the build's named stages, each with explicit inputs and outputs.
 *
 *   load      the manifest (the caller: build/manifest.h, loaded once)
 *   base      base reference -> struct lm_image, every blob verified into the cache
 *   trees     each manifest layer's "from" -> one sorted lm_tree per layer
 *   prune     the prune rules -> entries marked removed, stripped/slimmed copies, a report
 *   compile   .pyc and the Node compile cache, made in the base image's own rootfs
 *   layers    trees -> reproducible gzip tar layers in the cache
 *   image     base + layers + the manifest's config -> the image manifest in the cache
 *   verify    the checks run inside the built image
 *   outputs   an OCI archive, a push, a Lambda zip, a size report (build/build.c)
 *
 * A stage knows nothing of the command that runs it: it reads its inputs, writes its
 * outputs and the notes (warnings, progress lines) it wants shown, and never prints.
 * build_run (build.h) runs them in order; tests run them one by one. */
#ifndef LM_BUILD_STAGES_H
#define LM_BUILD_STAGES_H

#include <stddef.h>

#include "build/manifest.h"
#include "common/err.h"
#include "common/opts.h"
#include "image/cache.h"
#include "image/image.h"
#include "image/layer.h"
#include "image/tree.h"
#include "prune/prune.h"
#include "registry/registry.h"
#include "run/verify.h"

/* Lines a stage wants the user to see (progress, warnings), in order. */
struct build_notes {
	char **v; /* each "warning: ..." or a progress line, without a trailing newline */
	size_t n, cap;
};

void build_notes_add(struct build_notes *n, const char *fmt, ...) LM_PRINTF(2, 3);
void build_notes_release(struct build_notes *n);

/* base: opens spec (a registry reference, oci-archive:, oci:, docker-archive:) for
 * platform with the registry options reg (may be NULL) and stores its blobs in c. Notes
 * a base layer Lambda would refuse (not gzip) when for_image. */
int stage_base(const char *spec, const char *platform, const struct reg_opts *reg, struct cache *c, int for_image,
	       struct lm_image *base, struct build_notes *notes, struct lm_err *err);

enum build_stage {
	STAGE_BASE, STAGE_TREES, STAGE_PREP, STAGE_PRUNE, STAGE_COMPILE, STAGE_LAYERS, STAGE_IMAGE, STAGE_VERIFY,
	STAGE_OUTPUTS, STAGE_DONE
};
/* The stages' names, for -v ("base", "trees", "cache", ...). */
extern const char *const build_stage_names[STAGE_DONE];

/* What the stages did, for -v and the tests: how much work the caches saved. */
struct build_stats {
	double ms[STAGE_DONE]; /* wall time of each stage */
	int cur;               /* internal: the stage running */
	uint64_t files, files_hashed, bytes_hashed; /* source files; of them read to hash them */
	uint64_t layers_written, layers_reused;     /* app layers tarred and compressed, or reused */
	uint64_t bytes_compressed;                  /* tar bytes compressed */
	unsigned corrupt;                           /* cache entries found corrupt (removed, redone) */
	int verify_cached;                          /* the image passed these checks before: not run */
	uint64_t prep_reused;                       /* layers whose prune and precompile came from the cache */
	uint64_t compiled;                          /* Python sources compiled */
	uint64_t pyc_cached;                        /* .pyc taken from the cache (one per source) */
	uint64_t imported;                          /* records imported from --cache-from */
	uint64_t exported;                          /* records pushed to --cache-to */
};

/* trees: scans layers[i].from into trees[i] (m->nlayers trees, initialised here) with
 * the layer's excludes, under its "to", finishes each and gives every file its content
 * digest (read only when its stat changed since the last build, see statcache.h; c may
 * be NULL: then nothing is hashed). On failure every tree is released. Errors name the
 * manifest and the layer. */
int stage_trees(const struct lm_manifest *m, struct cache *c, struct lm_tree *trees, struct build_stats *stats,
		struct lm_err *err);
/* The same for layer i alone, into t (initialised here; released on failure). */
int stage_tree(const struct lm_manifest *m, size_t i, struct cache *c, struct lm_tree *t, struct build_stats *stats,
	       struct lm_err *err);

/* bundle: runs esbuild for every layer with "bundle" (build/bundle.h) into workdir and
 * gives *out a copy of m whose bundled layers take their files from the bundle
 * (layers[i].from replaced; the rest borrowed from m: release it with
 * stage_bundle_release, never manifest_release). *out is a plain copy of m when no layer
 * is bundled. The report of each bundle goes to notes. */
int stage_bundle(const struct lm_manifest *m, const char *workdir, struct lm_manifest *out,
		 struct build_notes *notes, struct lm_err *err);
void stage_bundle_release(const struct lm_manifest *m, struct lm_manifest *out);

/* prune: applies the manifest's prune rules (global + per layer) to every tree i with
 * todo[i] (todo NULL: all) for the image's platform, with what the base ships (pb, may
 * be NULL: see stage_base_index); rewritten copies go under workdir; accounting into
 * rep. Sets *any when any prune rule was given. */
int stage_prune(const struct lm_manifest *m, const char *platform, const struct prune_base *pb,
		struct lm_tree *trees, const unsigned char *todo, const char *workdir, struct prune_report *rep,
		int *any, struct lm_err *err);

/* The base's packages for the dedupe-base rule, when a layer's prune rules use it:
 * fills pb (initialised here; empty when no rule needs it) from base's layers in c
 * (with use_cache, once per base: the action cache keeps it). */
int stage_base_index(const struct lm_manifest *m, const struct lm_image *base, struct cache *c, int use_cache,
		     struct prune_base *pb, struct lm_err *err);

/* compile: Python .pyc (precompile, by default when the base has python3) made by the
 * base image's own interpreter in its rootfs, for the trees with todo[i] (todo NULL:
 * all); generated files are added to the trees, a .pyc the cache has for the same
 * source and interpreter taken from it (with use_cache). Warnings (a third-party file
 * left as source) go to notes; stats count the sources compiled and the .pyc reused. */
int stage_compile(const struct lm_manifest *m, const struct lm_image *base, struct cache *c, struct lm_tree *trees,
		  const unsigned char *todo, int use_cache, const struct lm_opts *o, const char *workdir,
		  struct build_notes *notes, struct build_stats *stats, struct lm_err *err);

/* node cache: when the manifest asks (precompile.node), the V8 compile cache of the app
 * (all trees), made by the base image's own node; *node_cache is set when files were
 * added (the config then needs NODE_COMPILE_CACHE). */
int stage_node_cache(const struct lm_manifest *m, const struct lm_image *base, struct cache *c, struct lm_tree *trees,
		     const struct lm_opts *o, const char *workdir, int *node_cache, struct build_notes *notes,
		     struct lm_err *err);

/* layers: writes trees[i] as gzip tar layer res[i] (m->nlayers) into c at gzip level;
 * with use_cache a layer whose entries did not change is reused (layercache.h). */
int stage_layers(const struct lm_manifest *m, struct lm_tree *trees, int level, const struct lm_opts *o,
		 struct cache *c, int use_cache, struct layer_result *res, struct build_stats *stats,
		 struct lm_err *err);

/* image: the config (base config + manifest's env/cmd/entrypoint/workdir/labels + the
 * new diff_ids and history, created at epoch) and the manifest (base layers first,
 * byte-identical, then res) stored in c; img receives the result. base_ref, when
 * non-NULL, is recorded in the standard base-image annotations (a registry base, so a
 * push can mount its layers). */
int stage_image(const struct lm_manifest *m, const struct lm_image *base, const char *base_ref,
		const struct layer_result *res, int node_cache, int64_t epoch, struct cache *c, struct lm_image *img,
		struct lm_err *err);

/* verify: runs the checks v inside img. With any_prune, a failure is re-checked with
 * the prune rules disabled one by one (over trees, as pruned, with pb as prune had it) to name the rule behind
 * it. *vo (may be NULL) receives the handler's result when v->event is set. With
 * use_cache, an image (by manifest digest) that passed the same checks before is not
 * checked again (stats->verify_cached); a handler call (v->event) is always made. */
int stage_verify(const struct lm_manifest *m, const struct verify_spec *v, const char *platform,
		 struct lm_tree *trees, int any_prune, const struct prune_base *pb, const struct lm_image *img, struct cache *c, int use_cache,
		 const struct lm_opts *o, struct verify_outcome *vo, struct build_stats *stats, struct lm_err *err);

/* The action-cache key of "img passed the checks v". Pure. */
void stage_verify_key(const struct lm_image *img, const struct verify_spec *v, char key[LM_DIGEST_LEN]);

/* The number of compression threads for -j (0: compress in the caller's thread). */
int build_threads(const struct lm_opts *o);

#endif
