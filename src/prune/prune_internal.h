/* prune_internal.h - private to src/prune/: one prune run over a layer's tree, shared by
 * the files that make up prune.h's prune_apply and prune_decide.
 *
 *   rules.c     the rules of both specs (presets, remove, keep), which entries each matches,
 *               and removal by inheritance (keep wins; a directory with anything left stays)
 *   guards.c    import guards: code that stays is scanned (pyscan, jsscan), and what it
 *               imports or requires is kept
 *   packages.c  which package (Python distribution, Node package) an entry belongs to,
 *               and the per-package accounting before and after
 *   dedupe.c    dedupe-base: the packages the base image ships too, file for file
 *               (struct prune_base), and the notes on those that shadow another version
 *   actions.c   what is done to entries that stay: data files rewritten (slim), ELF stripped
 *   report.c    the report model and its text and JSON output
 *   prune.c     prune_apply and prune_decide: the order of the steps
 * The pure helpers are covered by tests/unit/prune/check_prune_internal.c. */
#ifndef LM_PRUNE_INTERNAL_H
#define LM_PRUNE_INTERNAL_H

#include <stdint.h>

#include "common/strset.h"
#include "prune/prune.h"

/* Source files larger than this are not scanned for imports (generated bundles). */
#define PRUNE_SCAN_MAX ((size_t)64 << 20)
/* Data files larger than this are not rewritten (botocore's largest model is 2 MiB). */
#define PRUNE_SLIM_MAX ((size_t)256 << 20)

/* --- report model (report.c) ------------------------------------------------------- */

struct count {
	char *name;
	uint64_t files, bytes; /* rules: removed (rewrite rules: rewritten, saved) */
	int rewrite;	       /* rules: a rewrite rule */
	uint64_t files_before, bytes_before, files_after, bytes_after; /* packages */
};

struct layer_rep {
	char *name, *root;
	uint64_t files_before, bytes_before, files_after, bytes_after;
	struct count *rules;
	size_t nrules, caprules;
	struct count *pkgs;
	size_t npkgs, cappkgs;
	const char *strip_mode;
	uint64_t strip_files, strip_saved;
	char **kept; /* entries a preset matched but code that stays refers to */
	size_t nkept, capkept;
	char **warnings;
	size_t nwarnings, capwarnings;
	struct removed *removed; /* the files the rules removed, by path (the tree's order) */
	size_t nremoved, capremoved;
};

/* A file a rule removed: its path in the tree and the index of the rule in rules. */
struct removed {
	char *path;
	size_t rule;
};

struct prune_report {
	struct layer_rep *v;
	size_t n, cap;
};

/* Appends a zeroed layer to r and returns it (valid until the next append). */
struct layer_rep *prune_report_add(struct prune_report *r);
/* Frees what l holds (not l). NULL-safe. */
void prune_layer_rep_release(struct layer_rep *l);
/* The package named name in l, added with zero counts when new. */
struct count *prune_pkg_get(struct layer_rep *l, const char *name);
/* Appends s (owned from now on) to the list *v of *n strings. */
void prune_push_str(char ***v, size_t *n, size_t *cap, char *s);

/* --- one run (rules.c) ------------------------------------------------------------- */

struct rule {
	char *label; /* "python-safe: tests/" or "remove: foo/" */
	const char *glob;
	unsigned flags;
	const char *unless, *sibling;
	int guarded; /* preset rule: yields to references from remaining code */
};

struct run {
	struct lm_tree *t;
	const char *root; /* normalised, "" for '/' */
	size_t rootlen;	  /* strlen(root) + 1 when root is not "", else 0 */
	const char *platform;
	struct rule *rules;
	size_t nrules;
	char **keep;
	size_t nkeep, capkeep;
	/* per entry */
	size_t *parent; /* index of the parent entry, SIZE_MAX for none/outside */
	int *in_root;	/* below root (not root itself) */
	int *direct;	/* rule that matches the entry itself, -1 */
	int *cand;	/* rule that removes it (own or inherited), -1 */
	unsigned char *keepm, *gself, *gsub, *scanned, *removed;
	size_t *pyroot; /* length of the rel prefix of the entry's Python import root */
	struct lm_strset imports;
	const struct prune_base *base; /* may be NULL */
	unsigned char *dedupe;         /* per entry: part of a package the base ships identically; NULL: none */
	char **notes;                  /* dedupe-base's notes for the report */
	size_t nnotes, capnotes;
};

/* Entry i's path relative to the run's root. */
static inline const char *prune_rel(const struct run *r, size_t i)
{
	return r->t->v[i].path + r->rootlen;
}

/* Sets up a run over t (r zeroed by the caller): the rules of both specs (less the ones
 * labelled disabled, when given) and the per-entry arrays. Fails only for a bad user
 * glob. r is released by prune_run_release also after a failure. */
int prune_run_init(struct run *r, struct lm_tree *t, const char *nroot, const char *platform,
		   const struct prune_base *base, const struct prune_spec *global, const struct prune_spec *layer,
		   const char *disabled, struct lm_err *err);
void prune_run_release(struct run *r);
/* Parents, root membership, Python import roots, direct rule matches and keeps. */
void prune_classify(struct run *r);
/* Effective removal from direct matches, inheritance and guards; keep wins; a directory
 * with anything left inside stays. */
void prune_settle(struct run *r);
/* 1 when rule ru matches entry i. */
int prune_rule_matches(const struct run *r, const struct rule *ru, size_t i);

/* --- import guards (guards.c) ------------------------------------------------------ */

/* Scans code that stays and has not been scanned yet: Python imports go to r->imports,
 * relative require()/import targets that a preset would remove are guarded. Returns 1
 * when a JS reference guarded something. */
int prune_scan_remaining(struct run *r);
/* Guards candidates that are Python packages/modules imported by code that stays.
 * Returns 1 when it guarded something. */
int prune_guard_imports(struct run *r);

/* --- packages (packages.c) --------------------------------------------------------- */

/* Counts the files and bytes of each package in the layer: before (everything but
 * generated entries) or after (what stays). */
void prune_account(struct run *r, struct layer_rep *l, int before);

/* --- dedupe-base (dedupe.c) -------------------------------------------------------- */

/* When a rule of the run is dedupe-base and r->base is set: marks r->dedupe for every
 * entry of a Python distribution (its .dist-info/.egg-info and the files its RECORD or
 * top_level.txt names) or top-level Node package (node_modules/NAME) that the base
 * ships with the same name and version and byte-identical files (digests), and notes in
 * r->notes each one whose version differs (it shadows the base's). Needs parents and
 * import roots (prune_classify's first pass). */
void prune_dedupe_mark(struct run *r);

/* --- actions (actions.c) ----------------------------------------------------------- */

/* Replaces files that stay and match a rewrite rule by their smaller copy under
 * workdir/slim (dry run, workdir NULL: accounting only). Kept files are left as they are. */
int prune_slim_all(struct run *r, const char *workdir, struct layer_rep *l, struct lm_err *err);
/* Strips the ELF files that stay into workdir/strip (dry run: accounting only). */
int prune_strip_all(struct run *r, enum prune_strip mode, const char *workdir, struct layer_rep *l, struct lm_err *err);

/* --- pure helpers ------------------------------------------------------------------ */

/* The last component of p (borrowed). */
const char *prune_base_name(const char *p);
/* 1 when a file name looks like a native library: ".so", ".so.N...", ".node". */
int prune_is_native_name(const char *base);
/* 1 for ".js", ".cjs", ".mjs". */
int prune_is_js(const char *path);
/* 1 when rel names a Python import root: "python" at the layer root, or any
 * "site-packages" or "dist-packages". */
int prune_is_pyroot_name(const char *rel);
/* 1 when one of the '|'-separated globs matches rel or one of its ancestors. */
int prune_match_any_within(const char *list, const char *rel, int is_dir);
/* The report's label of rule pr of preset ("python-safe: tests/", "python-safe: other
 * platforms' binaries", "python-safe: botocore/data/... (JSON minified)"). Caller frees. */
char *prune_rule_label(const char *preset, const struct prune_rule *pr);
/* Adds module m and every package above it ("a.b.c": "a", "a.b", "a.b.c") to s. */
void prune_import_prefixes(const char *m, struct lm_strset *s);
/* The path field of a RECORD line (CSV, quoted or not), cut in place; NULL for an empty
 * one or one with "..". */
char *prune_record_path(char *line);
/* The import name of the first component of a Python root's entry: "yaml" for "yaml",
 * "six.py", "_cffi_backend.cpython-312-x86_64-linux-gnu.so". Caller frees. */
char *prune_module_stem(const char *first);

#endif
