/* pyscan.h - static scan of Python imports (pure functions).
 *
 * Prune uses it to keep directories that look removable (tests/, docs/, testing/) when code
 * that stays imports them: botocore/docs is a package botocore imports. The scan is
 * deliberately conservative: it reports every import statement wherever it appears
 * (inside functions, under "if TYPE_CHECKING:", in try/except), plus
 * importlib.import_module("x") / __import__("x") with a literal name. Dynamic imports
 * with computed names are not found; verification (the image's own interpreter) is the
 * dynamic proof. */
#ifndef LM_PYSCAN_H
#define LM_PYSCAN_H

#include <stddef.h>

/* Receives one absolute dotted module name ("a.b.c"); the string is borrowed. */
typedef void (*pyscan_fn)(const char *module, void *ctx);

/* Scans Python source src (len bytes, need not be NUL-terminated). pkg is the dotted
 * package the file belongs to ("" at top level), used to resolve relative imports:
 * for "a/b/c.py" it is "a.b", for "a/b/__init__.py" it is "a.b" too. Calls fn for:
 *   import a.b.c as x, d      -> "a.b.c", "d"
 *   from a.b import c, d      -> "a.b", "a.b.c", "a.b.d" (c may be a submodule)
 *   from . import x  (in a.b) -> "a.b", "a.b.x"
 *   from ..m import y         -> "a.m", "a.m.y"
 *   import_module("a.b")      -> "a.b"
 * Relative imports that climb above the top level are ignored. Never fails. */
void pyscan_imports(const char *src, size_t len, const char *pkg, pyscan_fn fn, void *ctx);

/* The dotted module name of a path relative to a sys.path root: "a/b/c.py" -> "a.b.c",
 * "a/b/__init__.py" -> "a.b", "a/_x.cpython-311-x86_64-linux-gnu.so" -> "a._x",
 * directory "a/b" -> "a.b". NULL when a component is not a Python identifier or the file
 * is not a module (.py, .pyc, .so, .pyd). Caller frees. */
char *pyscan_module_name(const char *relpath, int is_dir);

/* The package used to resolve relative imports in the file at relpath ("a/b/c.py" ->
 * "a.b", "a/b/__init__.py" -> "a.b", "c.py" -> ""). Caller frees. */
char *pyscan_file_package(const char *relpath);

#endif
