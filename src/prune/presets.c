/* prune_presets.c - the preset rule tables (docs/prune.md explains each rule). */
#include "prune/prune.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

#define PROSE_UNLESS                                                                                          \
	"[Ll][Ii][Cc][Ee][Nn][CcSs][Ee]*|[Cc][Oo][Pp][Yy][Ii][Nn][Gg]*|[Nn][Oo][Tt][Ii][Cc][Ee]*|*.py|*.js|*.cjs|" \
	"*.mjs|*.json|*.so|*.node|*.dist-info/|*.egg-info/"
#define CODE_UNLESS "*.py|*.pyc|*.js|*.cjs|*.mjs|*.json|*.so|*.so.*|*.node|*.ts|**/*.dist-info/METADATA|**/*.egg-info/PKG-INFO"

/* Shared by both ecosystems: prose, VCS/CI/editor files. */
#define COMMON_PROSE                                                                                \
	{ "README*", PRUNE_R_FILES, PROSE_UNLESS, NULL }, { "CHANGELOG*", PRUNE_R_FILES, PROSE_UNLESS, NULL },  \
		{ "CHANGES*", PRUNE_R_FILES, PROSE_UNLESS, NULL },                                          \
		{ "HISTORY*", PRUNE_R_FILES, PROSE_UNLESS, NULL },                                          \
		{ "NEWS*", PRUNE_R_FILES, PROSE_UNLESS, NULL }, { "AUTHORS*", PRUNE_R_FILES, PROSE_UNLESS, NULL }, \
		{ "CONTRIBUTORS*", PRUNE_R_FILES, PROSE_UNLESS, NULL },                                     \
		{ "CONTRIBUTING*", PRUNE_R_FILES, PROSE_UNLESS, NULL },                                     \
		{ "CODE_OF_CONDUCT*", PRUNE_R_FILES, PROSE_UNLESS, NULL },                                  \
		{ "*.md", PRUNE_R_FILES, PROSE_UNLESS, NULL }, { "*.markdown", PRUNE_R_FILES, PROSE_UNLESS, NULL }, \
		{ ".github/", 0, NULL, NULL }, { ".circleci/", 0, NULL, NULL }, { ".vscode/", 0, NULL, NULL },  \
		{ ".idea/", 0, NULL, NULL }, { ".gitignore", PRUNE_R_FILES, NULL, NULL },                    \
		{ ".gitattributes", PRUNE_R_FILES, NULL, NULL }, { ".travis.yml", PRUNE_R_FILES, NULL, NULL }, \
		{ ".gitlab-ci.yml", PRUNE_R_FILES, NULL, NULL }, { "appveyor.yml", PRUNE_R_FILES, NULL, NULL }, \
		{ ".editorconfig", PRUNE_R_FILES, NULL, NULL }

#define PYTHON_SAFE                                                                                     \
	{ "__pycache__/", 0, NULL, NULL }, { "*.pyc", PRUNE_R_FILES | PRUNE_R_SIBLING, NULL, ".py" },          \
		{ "*.pyo", PRUNE_R_FILES, NULL, NULL }, { "tests/", 0, NULL, NULL }, { "test/", 0, NULL, NULL }, \
		{ "conftest.py", PRUNE_R_FILES, NULL, NULL }, { "docs/", 0, NULL, NULL },                     \
		{ "doc/", 0, NULL, NULL }, { "examples/", 0, NULL, NULL }, { "example/", 0, NULL, NULL },       \
		{ "benchmarks/", 0, NULL, NULL }, { "benchmark/", 0, NULL, NULL },                            \
		{ "*.pyi", PRUNE_R_FILES, NULL, NULL }, { "*.c", PRUNE_R_FILES, NULL, NULL },                  \
		{ "*.h", PRUNE_R_FILES, NULL, NULL }, { "*.cpp", PRUNE_R_FILES, NULL, NULL },                  \
		{ "*.cc", PRUNE_R_FILES, NULL, NULL }, { "*.cxx", PRUNE_R_FILES, NULL, NULL },                 \
		{ "*.hpp", PRUNE_R_FILES, NULL, NULL }, { "*.pyx", PRUNE_R_FILES, NULL, NULL },                \
		{ "*.pxd", PRUNE_R_FILES, NULL, NULL }, { "*.pxi", PRUNE_R_FILES, NULL, NULL },                \
		{ "*.i", PRUNE_R_FILES, NULL, NULL }, { "*.f", PRUNE_R_FILES, NULL, NULL },                    \
		{ "*.f90", PRUNE_R_FILES, NULL, NULL }, { "*.asm", PRUNE_R_FILES, NULL, NULL },                \
		/* objects and static archives: build inputs, never loaded (dlopen needs a .so) */        \
		{ "*.o", PRUNE_R_FILES, NULL, NULL }, { "*.obj", PRUNE_R_FILES, NULL, NULL },                  \
		{ "*.a", PRUNE_R_FILES, NULL, NULL }, { "_tests/", 0, NULL, NULL },                           \
		{ "*.rst", PRUNE_R_FILES, PROSE_UNLESS, NULL }, COMMON_PROSE,                                  \
		/* botocore/boto3 load their models with json.loads(): same objects without the   \
		 * indentation (not removed: rewritten, see slim.h) */                              \
		{ "**/botocore/data/**/*.json", PRUNE_R_FILES | PRUNE_R_SLIM_JSON, NULL, NULL },             \
		{ "**/boto3/data/**/*.json", PRUNE_R_FILES | PRUNE_R_SLIM_JSON, NULL, NULL }

#define NODE_SAFE                                                                                             \
	{ "test/", 0, NULL, NULL }, { "tests/", 0, NULL, NULL }, { "__tests__/", 0, NULL, NULL },                   \
		{ "__mocks__/", 0, NULL, NULL }, { "docs/", 0, NULL, NULL }, { "doc/", 0, NULL, NULL },              \
		{ "example/", 0, NULL, NULL }, { "examples/", 0, NULL, NULL }, { "benchmark/", 0, NULL, NULL },      \
		{ "benchmarks/", 0, NULL, NULL }, { "coverage/", 0, NULL, NULL }, { ".nyc_output/", 0, NULL, NULL }, \
		{ "*.test.js", PRUNE_R_FILES, NULL, NULL }, { "*.spec.js", PRUNE_R_FILES, NULL, NULL },             \
		{ "*.d.ts", PRUNE_R_FILES, NULL, NULL }, { "*.d.mts", PRUNE_R_FILES, NULL, NULL },                  \
		{ "*.d.cts", PRUNE_R_FILES, NULL, NULL },                                                          \
		{ "*.ts", PRUNE_R_FILES | PRUNE_R_SIBLING, NULL, ".js|.cjs|.mjs" },                                \
		{ "*.mts", PRUNE_R_FILES | PRUNE_R_SIBLING, NULL, ".mjs|.js" },                                    \
		{ "*.cts", PRUNE_R_FILES | PRUNE_R_SIBLING, NULL, ".cjs|.js" },                                    \
		{ "*.tsx", PRUNE_R_FILES | PRUNE_R_SIBLING, NULL, ".js|.cjs|.mjs" },                               \
		{ "*.js.map", PRUNE_R_FILES, NULL, NULL }, { "*.mjs.map", PRUNE_R_FILES, NULL, NULL }, { "*.cjs.map", PRUNE_R_FILES, NULL, NULL }, { "*.ts.map", PRUNE_R_FILES, NULL, NULL }, { "*.css.map", PRUNE_R_FILES, NULL, NULL }, { "*.tsbuildinfo", PRUNE_R_FILES, NULL, NULL },             \
		{ ".npmignore", PRUNE_R_FILES, NULL, NULL }, { ".eslintrc*", PRUNE_R_FILES, NULL, NULL },           \
		{ ".eslintignore", PRUNE_R_FILES, NULL, NULL }, { ".prettierrc*", PRUNE_R_FILES, NULL, NULL },      \
		{ ".prettierignore", PRUNE_R_FILES, NULL, NULL }, { ".jshintrc", PRUNE_R_FILES, NULL, NULL },       \
		{ ".babelrc", PRUNE_R_FILES, NULL, NULL }, { ".nycrc*", PRUNE_R_FILES, NULL, NULL },                \
		{ ".mocharc*", PRUNE_R_FILES, NULL, NULL }, { ".taprc", PRUNE_R_FILES, NULL, NULL },                \
		{ ".airtap.yml", PRUNE_R_FILES, NULL, NULL }, { ".zuul.yml", PRUNE_R_FILES, NULL, NULL },          \
		{ "Gruntfile.js", PRUNE_R_FILES, NULL, NULL }, { "gulpfile.js", PRUNE_R_FILES, NULL, NULL },        \
		{ "karma.conf.js", PRUNE_R_FILES, NULL, NULL }, { "jest.config.*", PRUNE_R_FILES, NULL, NULL },     \
		{ "**/build/Release/obj.target/", 0, NULL, NULL }, { "**/build/Release/.deps/", 0, NULL, NULL },         \
		{ "**/build/Debug/", 0, NULL, NULL }, { "**/build/Makefile", PRUNE_R_FILES, NULL, NULL },                \
		{ "**/build/*.mk", PRUNE_R_FILES, NULL, NULL }, { "**/build/config.gypi", PRUNE_R_FILES, NULL, NULL },    \
		{ "*.o", PRUNE_R_FILES, NULL, NULL }, { "*.gyp", PRUNE_R_FILES, NULL, NULL },                       \
		{ "*.gypi", PRUNE_R_FILES, NULL, NULL }, { "*.c", PRUNE_R_FILES, NULL, NULL },                      \
		{ "*.cc", PRUNE_R_FILES, NULL, NULL }, { "*.cpp", PRUNE_R_FILES, NULL, NULL },                      \
		{ "*.h", PRUNE_R_FILES, NULL, NULL }, { "*.hpp", PRUNE_R_FILES, NULL, NULL }, COMMON_PROSE

/* First in every table it is in, so it claims a duplicate package's files before any
 * other rule (those yield to imports, this one does not). */
#define DEDUPE_BASE { "**", PRUNE_R_DEDUPE_BASE, NULL, NULL }

static const struct prune_rule python_safe[] = { DEDUPE_BASE, PYTHON_SAFE };

static const struct prune_rule python_aggressive[] = {
	DEDUPE_BASE,
	/* botocore reads the prose of its service models only to build docstrings; first, so
	 * it wins over python-safe's plain minifying of the same files */
	{ "**/botocore/data/**/service-2.json", PRUNE_R_FILES | PRUNE_R_SLIM_JSON | PRUNE_R_SLIM_BOTO_DOCS, NULL, NULL },
	PYTHON_SAFE,
	{ "testing/", 0, NULL, NULL },
	/* importlib.metadata reads METADATA (version, requires), entry_points.txt and
	 * top_level.txt; RECORD only for files(), which a function does not call */
	{ "**/*.dist-info/RECORD", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.dist-info/INSTALLER", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.dist-info/REQUESTED", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.dist-info/WHEEL", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.dist-info/direct_url.json", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.egg-info/SOURCES.txt", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.egg-info/installed-files.txt", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.egg-info/dependency_links.txt", PRUNE_R_FILES, NULL, NULL },
	{ "**/*.egg-info/not-zip-safe", PRUNE_R_FILES, NULL, NULL },
	/* importlib.metadata reads the headers; the body is the long description (README) */
	{ "**/*.dist-info/METADATA", PRUNE_R_FILES | PRUNE_R_SLIM_METADATA, NULL, NULL },
	{ "**/*.egg-info/PKG-INFO", PRUNE_R_FILES | PRUNE_R_SLIM_METADATA, NULL, NULL },
	{ "*.egg-info", PRUNE_R_FILES | PRUNE_R_SLIM_METADATA, NULL, NULL }, /* distutils: one file */
	/* C headers and API tables for building against a package (numpy/core/include) */
	{ "include/", 0, NULL, NULL },
	/* botocore reads examples-1.json only to generate documentation (botocore.docs) */
	{ "**/botocore/data/**/examples-1.json", PRUNE_R_FILES, NULL, NULL },
	/* installers are not run inside a function */
	{ "pip/", PRUNE_R_PYROOT, NULL, NULL },
	{ "setuptools/", PRUNE_R_PYROOT, NULL, NULL },
	{ "wheel/", PRUNE_R_PYROOT, NULL, NULL },
	{ "_distutils_hack/", PRUNE_R_PYROOT, NULL, NULL },
	/* Windows launchers and libraries never load on Linux */
	{ "*.exe", PRUNE_R_FILES, NULL, NULL },
	{ "*.dll", PRUNE_R_FILES, NULL, NULL },
	{ "*.pyd", PRUNE_R_FILES, NULL, NULL },
	{ "*.dylib", PRUNE_R_FILES, NULL, NULL },
};

static const struct prune_rule node_safe[] = { DEDUPE_BASE, NODE_SAFE };

static const struct prune_rule node_aggressive[] = {
	DEDUPE_BASE,
	NODE_SAFE,
	{ "*", PRUNE_R_FOREIGN, NULL, NULL },
	{ "*.exe", PRUNE_R_FILES, NULL, NULL },
	{ "*.dll", PRUNE_R_FILES, NULL, NULL },
	{ "*.dylib", PRUNE_R_FILES, NULL, NULL },
	{ "*.pdb", PRUNE_R_FILES, NULL, NULL },
	{ "*.ts", PRUNE_R_FILES, NULL, NULL },
	{ "*.mts", PRUNE_R_FILES, NULL, NULL },
	{ "*.cts", PRUNE_R_FILES, NULL, NULL },
	{ "*.tsx", PRUNE_R_FILES, NULL, NULL },
	{ "*.flow", PRUNE_R_FILES, NULL, NULL },
	{ "**/node_modules/.bin/", 0, NULL, NULL },
	{ "**/node_modules/.package-lock.json", PRUNE_R_FILES, NULL, NULL },
};

static const struct prune_rule licenses[] = {
	{ "[Ll][Ii][Cc][Ee][Nn][CcSs][Ee]*", PRUNE_R_FILES, CODE_UNLESS, NULL },
	{ "[Cc][Oo][Pp][Yy][Ii][Nn][Gg]*", PRUNE_R_FILES, CODE_UNLESS, NULL },
	{ "[Nn][Oo][Tt][Ii][Cc][Ee]*", PRUNE_R_FILES, CODE_UNLESS, NULL },
	{ "[Cc][Oo][Pp][Yy][Rr][Ii][Gg][Hh][Tt]*", PRUNE_R_FILES, CODE_UNLESS, NULL },
	{ "**/*.dist-info/licenses/", 0, NULL, NULL },
	{ "**/*.dist-info/license_files/", 0, NULL, NULL },
	{ "LICENSES/", 0, NULL, NULL },
};

static const struct prune_rule dedupe_base[] = { DEDUPE_BASE };

static const struct preset {
	const char *name;
	const struct prune_rule *rules;
	size_t n;
} presets[] = {
#define P(name, v) { name, v, sizeof(v) / sizeof(v[0]) }
	P("python-safe", python_safe), P("python-aggressive", python_aggressive), P("node-safe", node_safe),
	P("node-aggressive", node_aggressive), P("licenses", licenses), P("dedupe-base", dedupe_base),
#undef P
};

static const char *const names[] = { "python-safe", "python-aggressive", "node-safe", "node-aggressive", "licenses",
				     "dedupe-base", NULL };

const struct prune_rule *prune_preset_rules(const char *name, size_t *n)
{
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (strcmp(presets[i].name, name) == 0) {
			*n = presets[i].n;
			return presets[i].rules;
		}
	return NULL;
}

int prune_preset_known(const char *name)
{
	size_t n;
	return name && prune_preset_rules(name, &n) != NULL;
}

const char *const *prune_preset_names(void)
{
	return names;
}

static int spec_wants_base(const struct prune_spec *s)
{
	for (size_t i = 0; s && s->set && i < s->npresets; i++) {
		size_t n = 0;
		const struct prune_rule *pr = prune_preset_rules(s->presets[i], &n);
		for (size_t k = 0; pr && k < n; k++)
			if (pr[k].flags & PRUNE_R_DEDUPE_BASE)
				return 1;
	}
	return 0;
}

int prune_wants_base(const struct prune_spec *global, const struct prune_spec *layer)
{
	return spec_wants_base(global) || spec_wants_base(layer);
}

/* --- platforms -------------------------------------------------------------------- */

static const char *const foreign_os[] = { "darwin",  "win32",   "win64", "windows", "macos", "osx", "freebsd",
					  "openbsd", "netbsd",  "sunos", "solaris", "aix",   "android", "ios",
					  NULL };
static const char *const archs[] = { "x64",   "arm64",	"ia32",	   "x86",     "arm",	 "armv6", "armv7",
				     "armv7l", "armhf", "ppc64",   "ppc64le", "ppc",	 "s390x", "riscv64",
				     "mips64el", "mipsel", "loong64", "universal", NULL };

static int in_list(const char *t, const char *const *list)
{
	for (size_t i = 0; list[i]; i++)
		if (strcmp(t, list[i]) == 0)
			return 1;
	return 0;
}

/* Replaces every occurrence of from (same or longer than to) in s, in place. */
static void replace_all(char *s, const char *from, const char *to)
{
	size_t fl = strlen(from), tl = strlen(to);
	for (char *p = strstr(s, from); p; p = strstr(p + tl, from)) {
		memcpy(p, to, tl);
		memmove(p + tl, p + fl, strlen(p + fl) + 1);
	}
}

int prune_foreign_platform(const char *name, const char *platform)
{
	const char *image_arch = "x64";
	char *s = lm_xstrdup(name), *save = NULL;
	int has_linux = 0, foreign = 0, other_arch = 0, own_arch = 0, musl = 0;
	if (platform && strstr(platform, "arm64"))
		image_arch = "arm64";
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	replace_all(s, "x86_64", "x64");
	replace_all(s, "x86-64", "x64");
	replace_all(s, "amd64", "x64");
	replace_all(s, "aarch64", "arm64");
	for (char *t = strtok_r(s, "-_.@/", &save); t; t = strtok_r(NULL, "-_.@/", &save)) {
		if (in_list(t, foreign_os))
			foreign = 1;
		else if (strcmp(t, "linux") == 0)
			has_linux = 1;
		else if (strcmp(t, "musl") == 0 || strcmp(t, "linuxmusl") == 0)
			musl = 1;
		else if (in_list(t, archs)) {
			if (strcmp(t, image_arch) == 0)
				own_arch = 1;
			else
				other_arch = 1;
		}
	}
	free(s);
	if (foreign)
		return 1;
	if (has_linux && musl)
		return 1;
	/* "linux-arm64" on amd64; a name listing the image's arch too ("linux-x64-arm64") stays */
	return has_linux && other_arch && !own_arch;
}
