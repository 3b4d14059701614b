/* prune.h - prune rules: presets, remove/keep globs, ELF stripping, accounting. */
#ifndef LM_PRUNE_H
#define LM_PRUNE_H

#include <stdint.h>
#include <stdio.h>

#include "common/err.h"
#include "image/tree.h"

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

/* --- what the base image ships (the dedupe-base rule) ------------------------------- */

/* One file of the base image below a site-packages, dist-packages or node_modules
 * directory, as the flattened base has it. */
struct prune_base_file {
	char *path;                 /* image path, relative to '/' ("var/lang/lib/.../boto3/x.py") */
	char digest[LM_DIGEST_LEN]; /* "sha256:<hex>" of the content */
	uint64_t size;
	char *text; /* the content of package metadata (RECORD, top_level.txt, package.json)
		       up to PRUNE_BASE_TEXT_MAX bytes, else NULL */
	size_t seq; /* internal: order of addition */
};

#define PRUNE_BASE_TEXT_MAX ((size_t)4 << 20)

/* The base's packages, as dedupe-base compares them (build/baseindex.h fills one from
 * the base's layers). Plain data: tests fill it by hand. */
struct prune_base {
	struct prune_base_file *v; /* sorted by path once prune_base_finish ran */
	size_t n, cap;
	char **node_path; /* the base's NODE_PATH directories, relative to '/' */
	size_t nnode_path;
	int sorted;
};

void prune_base_init(struct prune_base *b);
void prune_base_release(struct prune_base *b);
/* Adds a file (copies path and text; text may be NULL); a later add of the same path
 * replaces it (layers in order), so does prune_base_remove_under. */
void prune_base_add(struct prune_base *b, const char *path, const char *digest, uint64_t size, const char *text);
/* Drops path and everything below it (a whiteout); with opaque, only what is below. */
void prune_base_remove_under(struct prune_base *b, const char *path, int opaque);
/* Sorts by path, keeping the last of equal paths. */
void prune_base_finish(struct prune_base *b);
/* The file at path (borrowed), NULL when the base has none. b must be finished. */
const struct prune_base_file *prune_base_find(const struct prune_base *b, const char *path);
/* 1 when the specs name a preset that compares with the base (dedupe-base, in the safe
 * and aggressive presets): the caller then needs a prune_base. */
int prune_wants_base(const struct prune_spec *global, const struct prune_spec *layer);

struct prune_report;
struct prune_report *prune_report_new(void);
void prune_report_free(struct prune_report *r);

/* Applies the rules to one layer's tree (after tree_finish): the global spec, then the
 * layer's own (either may be NULL or unset). root is the layer's destination in the
 * image ("var/task"); globs are relative to it. platform is the image's ("linux/amd64").
 * base (borrowed, may be NULL: dedupe-base then removes nothing) is what the base image
 * ships. Marks removed entries; stripped ELF copies are written under workdir and the
 * entries point at them. Adds per-rule and per-package accounting under layer_name to
 * rep, and dedupe-base's notes (a package that shadows another version of the base's). */
int prune_apply(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t,
		const char *root, const char *platform, const struct prune_base *base, const char *layer_name,
		const char *workdir, struct prune_report *rep, struct lm_err *err);

/* What the rules decide for one layer, without changing anything: for finding the rule
 * behind a failed verification. Entries are indexed like the tree's when decided. */
struct prune_decision {
	size_t n;               /* entries (t->n) */
	unsigned char *removed; /* per entry: 1 when removed */
	int *rule;              /* per entry: index into labels of the rule that removes it, else -1 */
	char **labels;          /* distinct rule labels, as the report names them
				   ("python-safe: tests/", "remove: helpers.py") */
	size_t nlabels;
};

/* Decides like prune_apply (same rules, guards and keeps; no stripping, no accounting)
 * with the rules labelled disabled left out (NULL: none). t must be the tree prune_apply
 * saw, possibly with generated entries added since (they are ignored) and e->removed
 * set (not read). Sorts t when needed; changes nothing else. Fills d (caller releases;
 * on failure d is zeroed). Fails only for a bad glob, as prune_apply would. */
int prune_decide(const struct prune_spec *global, const struct prune_spec *layer, struct lm_tree *t,
		 const char *root, const char *platform, const struct prune_base *base, const char *disabled,
		 struct prune_decision *d, struct lm_err *err);
void prune_decision_release(struct prune_decision *d);

/* The report's figures, read-only, for other reports (src/report/). Strings are borrowed
 * from the report. */
struct prune_layer_stat {
	const char *name, *root;
	uint64_t files_before, bytes_before, files_after, bytes_after;
	const char *strip_mode; /* "none", "debug", "unneeded" */
	uint64_t strip_files, strip_saved;
	size_t nrules;
};
struct prune_rule_stat {
	const char *label;
	uint64_t files, bytes; /* removed; a rewrite rule: rewritten, and the bytes it saved */
	int rewrite;
};
/* The label of the rule that removed the file at path (a tree entry's path) in the layer
 * named layer, as the report names it; NULL when none did (or the report has no such
 * layer). Borrowed from r. */
const char *prune_report_rule_of(const struct prune_report *r, const char *layer, const char *path);
/* How many layers the report has. */
size_t prune_report_nlayers(const struct prune_report *r);
/* Layer i (< prune_report_nlayers) and its rule k (< nrules). */
void prune_report_layer_stat(const struct prune_report *r, size_t i, struct prune_layer_stat *out);
void prune_report_rule_stat(const struct prune_report *r, size_t i, size_t k, struct prune_rule_stat *out);

/* People's table and JSON for CI. */
void prune_report_print(const struct prune_report *r, FILE *f);
char *prune_report_json(const struct prune_report *r);


/* Checks one user glob: 0, or -1 with an error naming it ("unclosed '['", "empty",
 * "trailing backslash", "'..' component"). what names the field ("prune.remove[2]"). */
int prune_glob_check(const char *glob, const char *what, struct lm_err *err);

/* --- presets (prune_presets.c) ------------------------------------------------------ */

enum prune_rule_flag {
	PRUNE_R_FILES = 1 << 0,   /* files (and symlinks) only, never directories */
	PRUNE_R_SIBLING = 1 << 1, /* only when a sibling with the same stem and one of .sibling's
				     extensions exists (x.ts beside x.js, x.pyc beside x.py) */
	PRUNE_R_PYROOT = 1 << 2,  /* only entries directly in a Python import root (the layer
				     root, python/, site-packages/, dist-packages/) */
	PRUNE_R_FOREIGN = 1 << 3, /* only names that denote another OS or CPU than the image's
				     (see prune_foreign_platform); the glob must match too */
	/* Rewrite rules: matching files that stay are not removed but replaced by a smaller
	 * copy that loads the same (slim.h); the first rewrite rule that matches applies,
	 * keep globs win, input a rewriter does not understand is left alone. */
	PRUNE_R_SLIM_JSON = 1 << 4,	 /* JSON without whitespace between tokens */
	PRUNE_R_SLIM_BOTO_DOCS = 1 << 5, /* with SLIM_JSON: also botocore service model prose */
	PRUNE_R_SLIM_METADATA = 1 << 6,	 /* core metadata (METADATA, PKG-INFO) without its body */
	PRUNE_R_REWRITE = PRUNE_R_SLIM_JSON | PRUNE_R_SLIM_BOTO_DOCS | PRUNE_R_SLIM_METADATA,
	/* dedupe-base: the glob is not used; matches the files of a Python distribution or a
	 * top-level Node package whose name, version and every file's content the base image
	 * ships too (struct prune_base). Not guarded by imports: the base's copy answers them. */
	PRUNE_R_DEDUPE_BASE = 1 << 7,
};

struct prune_rule {
	const char *glob;    /* gitignore-style, relative to the layer root */
	unsigned flags;      /* enum prune_rule_flag */
	const char *unless;  /* NULL or '|'-separated globs: entries matching one, or inside a
				directory matching one, are not matched by this rule */
	const char *sibling; /* PRUNE_R_SIBLING: '|'-separated extensions (".js|.cjs|.mjs") */
};

/* The rules of a preset (borrowed, static); NULL when unknown. Preset rules never remove
 * a Python package or module imported by code that stays, nor a file reached by a
 * relative require()/import from code that stays (see prune.c). */
const struct prune_rule *prune_preset_rules(const char *name, size_t *n);

/* 1 when a file or directory name denotes another operating system or CPU than the
 * image's platform ("linux/amd64", "linux/arm64"): "darwin-x64", "win32-ia32",
 * "linux-arm64" on amd64, "linux-x64-musl" (Lambda is glibc). Pure. */
int prune_foreign_platform(const char *name, const char *platform);

#endif
