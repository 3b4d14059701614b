/* pkgid.h - which package a path belongs to, read from the names package managers give
 * their metadata. One reading for prune's accounting and dedupe-base, the SBOM and the
 * report, so that they name the same packages. All pure; returned strings are the
 * caller's to free.
 *
 * Python: a distribution's metadata directory is "<name>-<version>[-pyX.Y].dist-info"
 * or ".egg-info" right in an import root; its core metadata file is METADATA (.dist-info),
 * PKG-INFO (.egg-info directory) or the .egg-info file itself (distutils).
 * npm: a package is the folder right below a node_modules folder, "NAME" or "@SCOPE/NAME";
 * its manifest is that folder's package.json. */
#ifndef LM_PKGID_H
#define LM_PKGID_H

#include <stddef.h>

/* The innermost npm package folder of path ("a/node_modules/x/node_modules/@s/n/i.js" ->
 * "@s/n"; "node_modules/.bin/x" -> ".bin", "node_modules/x" -> "x"), or NULL when path is
 * in no node_modules folder. */
char *pkgid_npm_package(const char *path);
/* 1 when path is a package's own manifest: ".../node_modules/NAME/package.json" or
 * ".../node_modules/@SCOPE/NAME/package.json". */
int pkgid_npm_manifest(const char *path);
/* The "version" string of a package.json's text, NULL when it has none. */
char *pkgid_npm_version(const char *text, size_t len);

/* 1 when path (its last component) is a distribution's core metadata file. */
int pkgid_python_metadata(const char *path);
/* Splits a metadata directory's name: "python_dateutil-2.8.2.egg-info" -> name
 * "python-dateutil" (normalised, pkgid_pep503), version "2.8.2"
 * ("boto3-1.26.27-py3.11.egg-info": "1.26.27"). 0, or -1 when it is no metadata
 * directory or has no version. */
int pkgid_dist_split(const char *dirname, char **name, char **version);
/* The distribution's name as its metadata directory writes it: "boto3-1.26.27.dist-info"
 * -> "boto3", "PyYAML-6.0.dist-info" -> "PyYAML". */
char *pkgid_dist_name(const char *dirname);
/* A Python project name as PEP 503 compares them: lower case, every run of "-", "_"
 * and "." one "-" ("Zope.Interface" -> "zope-interface"). */
char *pkgid_pep503(const char *name, size_t len);

#endif
