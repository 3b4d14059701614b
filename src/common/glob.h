/* glob.h - gitignore/wildmatch-style path patterns (pure functions).
 *
 *   *      any run of characters except '/'
 *   ?      one character except '/'
 *   [...]  a character class: ranges "a-z", negation "[!...]" or "[^...]"
 *   **     as a whole path component (at the start followed by a slash, between two
 *          slashes, or at the end after a slash): zero or more directories;
 *          elsewhere like '*'
 *   \x     the character x literally
 * A pattern with no '/' except a trailing one matches the last component at any depth
 * ("*.pyc", "tests/"). A leading '/' or a '/' in the middle anchors it to the root of the
 * tree ("/src/x.py", "docs/api"). A trailing '/' matches directories only. */
#ifndef LM_GLOB_H
#define LM_GLOB_H

/* Core matcher: 1 when text matches pattern with the rules above applied to whole
 * strings (no gitignore anchoring), else 0. */
int wildmatch(const char *pattern, const char *text);

/* gitignore semantics for one path relative to the tree root ("a/b/c.py", no leading
 * '/'); is_dir says whether the path is a directory. Returns 1 on match. */
int glob_match(const char *pattern, const char *path, int is_dir);

/* Like glob_match, but also matches when any ancestor directory of path matches
 * (a file inside an excluded directory is excluded). */
int glob_match_within(const char *pattern, const char *path, int is_dir);

#endif
