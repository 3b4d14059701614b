/* jsscan.h - static scan of JavaScript module specifiers (pure functions).
 *
 * Prune uses it so a preset never removes a file that code that stays reaches by a
 * relative require()/import: langchain's dist/agents/tests/utils.cjs is required at run
 * time from outside its tests/ directory. The scan is conservative: it does not parse
 * JavaScript, it looks for the call and statement shapes below anywhere in the text
 * (comments included), so it may report specifiers that are never loaded, which only
 * keeps more files. */
#ifndef LM_JSSCAN_H
#define LM_JSSCAN_H

#include <stddef.h>

/* Receives one specifier exactly as written (without quotes), borrowed. */
typedef void (*jsscan_fn)(const char *spec, void *ctx);

/* Scans src (len bytes) for string-literal specifiers of
 *   require("x")  require.resolve("x")  import("x")  import "x"
 *   import a from "x"  import {a} from "x"  export * from "x"  export {a} from "x"
 * (single, double or back quotes without ${...}). Never fails. */
void jsscan_specifiers(const char *src, size_t len, jsscan_fn fn, void *ctx);

/* 1 when spec is relative ("./x", "../x", "." or ".."). */
int jsscan_is_relative(const char *spec);

/* Returns 1 when the image path names a regular file, 2 a directory, 0 nothing. */
typedef int (*jsscan_exists_fn)(const char *path, void *ctx);

/* Resolves a relative specifier written in the file at image path 'from' the way
 * Node's CommonJS and ESM loaders look for files: the exact path, then with .js .cjs
 * .mjs .json .node appended, then DIR/index.{js,cjs,mjs,json,node}. Paths are
 * normalised ("a/./b/../c" -> "a/c"). Returns the first candidate that exists (caller
 * frees), or NULL. Directory "main" fields in package.json are not followed. */
char *jsscan_resolve(const char *from, const char *spec, jsscan_exists_fn exists, void *ctx);

#endif
