/* bundle.h - bundle a Node.js app with esbuild before it becomes a layer (docs/bundle.md).
 *
 * A layer with "bundle": {"node": {...}} is not copied from its "from" directory: esbuild
 * bundles the entries (paths relative to "from") into a fresh directory, and the packages
 * that cannot live inside a bundle are copied, with their dependency closure, into a
 * node_modules beside it. That directory becomes the layer's input.
 *
 * What stays external (enum bundle_why), decided from the installed packages alone:
 *   - the manifest's "external" names (exact, or "@scope/\*");
 *   - native addons: a package with a .node file or a binding.gyp;
 *   - platform packages: an installed optionalDependency with "os" or "cpu" in its
 *     package.json, and the package that lists it (it picks one at run time);
 *   - a short documented list of packages that read their own files
 *     (bundle_listed: @ffmpeg-installer/\*, @ffprobe-installer/\*, pdfjs-dist, pdf-parse);
 *   - a package whose bundled code builds a path from __dirname or import.meta.url
 *     (bundle_js_reads_own_files, on the files esbuild actually bundled: esbuild runs
 *     again with those packages external).
 * Only externals the bundle imports (esbuild's metafile) are copied, with the
 * dependencies, optionalDependencies and peerDependencies they resolve to (Node's
 * lookup: the package's own node_modules, then each parent's).
 *
 * esbuild is found in this order: the project's node_modules/.bin/esbuild ("from", then
 * the manifest's directory), $LAMINA_ESBUILD, PATH. It runs as a plain child process
 * (fork + execve, no shell) in "from", with the arguments of bundle_esbuild_args, its
 * stdout and stderr going to lamina's stderr. Its flags are pinned so the same inputs
 * give the same bytes; source map "sources" are made relative to "from" (they would
 * name the temporary directory otherwise). */
#ifndef LM_BUNDLE_H
#define LM_BUNDLE_H

#include <stddef.h>

#include "common/err.h"

enum bundle_format { BUNDLE_CJS, BUNDLE_ESM };

/* "bundle": {"node": {...}} of one layer. */
struct bundle_node_spec {
	int set;
	char **entry; /* relative to the layer's "from", at least one */
	size_t nentry;
	char **external; /* package names or "@scope/\*" */
	size_t nexternal;
	enum bundle_format format; /* default cjs */
	int minify;                /* default 0 */
	int sourcemap;             /* default 0: .map files beside the bundle + NODE_OPTIONS=--enable-source-maps */
	char *target;              /* default "node22" */
};

void bundle_node_spec_release(struct bundle_node_spec *s);

/* Checks the values of a spec the manifest parsed (entries relative without "..",
 * names that are package names, a nodeN[.N] target). On failure *field names the
 * offending member ("entry", "external", "target", static) and *bad is the index of
 * the element (entry, external) or 0. Pure. Returns 0 or -1 with err set (no name). */
int bundle_spec_check(const struct bundle_node_spec *s, const char **field, size_t *bad, struct lm_err *err);

/* Why a package stays outside the bundle. */
enum bundle_why {
	BUNDLE_IN = 0,        /* bundled */
	BUNDLE_WHY_USER,      /* named in "external" */
	BUNDLE_WHY_NATIVE,    /* has a .node file or binding.gyp */
	BUNDLE_WHY_PLATFORM,  /* a platform package (os/cpu) of an optionalDependency */
	BUNDLE_WHY_PICKS,     /* lists platform packages as optionalDependencies */
	BUNDLE_WHY_LISTED,    /* on the documented list */
	BUNDLE_WHY_OWNFILES,  /* its code reads files through __dirname / import.meta.url */
};
/* "native addon" ... for the report. Static strings. */
const char *bundle_why_text(enum bundle_why w);

/* What the scan found about one installed package: the input of bundle_classify. */
struct bundle_pkg {
	char *name;      /* "name" of its package.json, else from its directory */
	char *dir;       /* relative to the project: "node_modules/a/node_modules/@s/b" */
	char *native;    /* its first .node file or binding.gyp (relative to dir), or NULL */
	int os_cpu;      /* its package.json has "os" or "cpu" */
	char **optional; /* optionalDependencies names */
	size_t noptional;
	char **deps; /* dependencies, optionalDependencies, peerDependencies names */
	size_t ndeps;
	enum bundle_why why; /* set by bundle_classify */
	char *detail;        /* what shows it (a file, the platform package), or NULL */
};

void bundle_pkg_release(struct bundle_pkg *p);

/* 1 when name is on the documented list of packages that read their own files. Pure. */
int bundle_listed(const char *name);
/* 1 when name matches one of the "external" patterns (exact or "@scope/\*"). Pure. */
int bundle_user_external(const char *name, char *const *ext, size_t n);

/* Sets why (and detail) of every package in p[0..n) from the facts the scan recorded
 * and the user's externals; a platform package makes the packages that list it as an
 * optionalDependency BUNDLE_WHY_PICKS. Pure. */
void bundle_classify(struct bundle_pkg *p, size_t n, char *const *ext, size_t next);

/* 1 when JavaScript source text builds a path to its own package's files at run time:
 * path.join/resolve(__dirname, ...), __dirname + ..., `${__dirname}...`,
 * load(__dirname), or new URL('...', import.meta.url) for a file that is not a module
 * (.js/.mjs/.cjs). Comments and `typeof __dirname` tests do not count. Pure. */
int bundle_js_reads_own_files(const char *text, size_t len);

/* The package an import path names: "@s/p/x.js" -> "@s/p", "p/x" -> "p"; NULL for a
 * relative or absolute path and for Node's builtins ("fs", "node:fs", "fs/promises").
 * Caller frees. Pure. */
char *bundle_pkg_of_import(const char *spec);

/* esbuild's argv (NULL-terminated, caller frees each and the array) for spec: argv[0] is
 * esbuild, then the entries ("./"-prefixed), the pinned flags, the spec's choices, the
 * externals in the order given (sort them first), --outdir and --metafile. Pure. */
char **bundle_esbuild_args(const struct bundle_node_spec *s, const char *esbuild, char *const *ext, size_t next,
			   const char *outdir, const char *metafile);

/* Which esbuild to run: the first of projects[i]/node_modules/.bin/esbuild that exists,
 * then env ($LAMINA_ESBUILD, when non-empty; taken as given), then the directories of
 * path ($PATH). exists() says whether a file can be executed (tests pass their own).
 * Returns the path (caller frees) or NULL. Pure but for exists. */
char *bundle_find_esbuild(const char *const *projects, size_t nprojects, const char *env, const char *path,
			  int (*exists)(const char *file));

/* Rewrites a source map's "sources" so they do not name the temporary output directory:
 * each source starting with prefix (the project as seen from the map's directory,
 * "../../x/app/") gets repl instead ("" for a map at the bundle's root, "../" one level
 * down), so the sources point where the project's files would be beside the bundle.
 * map is JSON; *out gets the new text (caller frees), the key order kept. Pure.
 * Returns 0 or -1 (not a JSON object). */
int bundle_map_rebase(const char *map, size_t len, const char *prefix, const char *repl, char **out,
		      size_t *outlen);

/* The dependency closure: marks in take[] (n bytes, the roots set by the caller) every
 * package a marked one depends on (deps), transitively, each resolved as Node resolves it
 * from the depending package's dir: DIR/node_modules/NAME, then each enclosing
 * node_modules, then the project's node_modules/NAME. A dependency not installed is
 * skipped (an optional one, or npm's business). Pure. */
void bundle_closure(const struct bundle_pkg *v, size_t n, unsigned char *take);

/* The relative path from directory a to directory b (both absolute and canonical), with
 * a trailing '/', "" when they are the same: ("/t/c/out", "/w/app") -> "../../../w/app/".
 * Caller frees. Pure. */
char *bundle_relpath(const char *a, const char *b);

/* The outcome of bundling one layer, for the report. */
struct bundle_result {
	char *esbuild;   /* the esbuild that ran */
	char **outputs;  /* files written by esbuild, relative to the output directory */
	size_t noutputs;
	char **bundled;  /* packages inside the bundle (by name, sorted, unique) */
	size_t nbundled;
	char **external; /* "name (why: detail)" for each external the bundle imports, sorted */
	size_t nexternal;
	size_t copied;   /* packages copied into node_modules (externals and their closure) */
	unsigned long long copied_bytes;
	int runs;        /* esbuild runs (a second one when a bundled package reads its own files) */
};

void bundle_result_release(struct bundle_result *r);

/* Bundles layer `layer` (its index idx, for the field names in errors) whose app is in
 * from (absolute), with spec s; project_dir is the manifest's directory (a second place
 * for node_modules/.bin/esbuild). Writes the bundle and the external packages into outdir
 * (created; the caller removes it) and esbuild's metafile into scratch (a directory that
 * exists). Errors: esbuild missing or failing, an entry that is not a file, an external
 * the bundle imports that is not installed (LM_E_INPUT), file system (LM_E_IO); they name
 * the layer and its manifest field (layers[N].bundle.node...). */
int bundle_node_run(const struct bundle_node_spec *s, const char *layer, size_t idx, const char *from,
		    const char *project_dir, const char *outdir, const char *scratch, struct bundle_result *res,
		    struct lm_err *err);

/* The report of res as lines (no trailing newline), for the build's notes. Caller frees. */
char *bundle_report_text(const char *layer, const struct bundle_result *res);

#endif
