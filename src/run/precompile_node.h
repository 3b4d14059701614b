/* precompile_node.h - a V8 compile cache for Node images, made by the image's own node.
 *
 * Node 22.1+ keeps V8's code cache for every CommonJS and ES module it compiles in
 * NODE_COMPILE_CACHE/<tag>/<hash of the module's path>, where <tag> is
 * "<node version>-<arch>-<V8 cached-data tag>-<uid>" and the V8 tag hashes V8's
 * version, the V8 flags and the CPU features it detected. A cache is used only by a
 * node with all of these equal, for a module at the same path with the same source.
 * So lamina loads the app's modules with the image's node, in the image's root
 * filesystem, at their final paths, once per set of V8 flags the runtime will pass
 * (Lambda's Node bootstrap derives heap flags from the function's memory size), and
 * links the result under each uid the function may run as. */
#ifndef LM_PRECOMPILE_NODE_H
#define LM_PRECOMPILE_NODE_H

#include <stddef.h>

#include "image/cache.h"
#include "common/err.h"
#include "image/image.h"
#include "common/opts.h"
#include "image/tree.h"
#include "run/precompile.h"

#define PRECOMPILE_NODE_DIR "/var/task/.node-compile-cache"
#define PRECOMPILE_NODE_MEMORY_MIN 128
#define PRECOMPILE_NODE_MEMORY_MAX 10240

struct pn_flags {
	char **v; /* V8/node flags, e.g. "--expose-gc" */
	size_t n;
};

struct precompile_node_spec {
	int set;           /* the manifest had precompile.node */
	int compile_cache; /* "compileCache" (default true when "node" is given) */
	char *dir;         /* "dir": image path of NODE_COMPILE_CACHE; NULL = PRECOMPILE_NODE_DIR */
	int *memory_sizes; /* "memorySizes": MB; each gives the flags Lambda's bootstrap passes */
	size_t nmemory_sizes;
	struct pn_flags *node_args; /* "nodeArgs": further flag sets, used as given */
	size_t nnode_args;
	char **entries; /* "entries": NULL = the handler module + every top-level package */
	size_t nentries;
	long *uids; /* "uids": NULL = { 993, 0 } (Lambda's sbx_user1051, root) */
	size_t nuids;
};

void precompile_node_spec_release(struct precompile_node_spec *s);

/* The spec's cache directory (borrowed). */
const char *precompile_node_dir(const struct precompile_node_spec *s);

/* The V8 flags AWS's Node bootstrap (/var/runtime/bootstrap of the nodejs images) passes
 * for a function of mb megabytes: --expose-gc --max-semi-space-size=mb/10/2
 * --max-old-space-size=mb-mb/10. Fills f (release with pn_flags_release). Pure. */
void precompile_node_lambda_flags(int mb, struct pn_flags *f);
void pn_flags_release(struct pn_flags *f);

/* The handler module of a Lambda handler string ("index.handler" -> "index",
 * "src/app.main" -> "src/app"): everything before the last '.' after the last '/'.
 * Returns NULL when cmd0 is not of that form. Caller frees. Pure. */
char *precompile_node_handler_module(const char *cmd0);

/* Splits a cache directory name written by node ("v22.23.3-x64-9ac5647c-0") into the
 * part before the uid and the uid, when it ends in "-<uid>". Returns 1 and sets *base
 * (caller frees) when it does, else 0. Pure. */
int precompile_node_split_tag(const char *name, long uid, char **base);

/* Which of the layers (roots: normalised image paths such as "var/task") gets the cache
 * directory dir (normalised): the one with the longest root that contains it, else the
 * last. Pure. */
size_t precompile_node_layer(const char *dir, char *const *roots, size_t nroots);

/* When the spec asks for it: loads the handler module (from cmd[0]) and the packages
 * (or the spec's entries) with the image's node in its root filesystem (base layers +
 * these finished, pruned trees), once per flag set, and adds the cache files to the
 * tree precompile_node_layer picks (generated = 1). *made is set to 1 when cache files
 * were added (the image's ENV then needs NODE_COMPILE_CACHE), else 0. workdir holds
 * scratch files that must live until the layers are written. Modules that fail to load
 * are warnings, not errors (lines for the user go to res, with the count of files made); no node, a node without a compile cache, or a Lambda
 * bootstrap with no memory size given are errors (LM_E_INPUT). */
int precompile_node(const struct precompile_node_spec *s, const struct lm_image *base, struct cache *c,
		    struct lm_tree *trees, char *const *roots, size_t ntrees, char *const *cmd, size_t ncmd,
		    const struct lm_opts *o, const char *workdir, int *made, struct precompile_result *res,
		    struct lm_err *err);

#endif
