/* pkgid.c - package identity from paths and metadata names (see pkgid.h). */
#include "prune/pkgid.h"

#include <ctype.h>
#include <jansson.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

/* Just past the last "node_modules/" component of path, or NULL. */
static const char *last_node_modules(const char *path)
{
	const char *nm = NULL;
	for (const char *s = strstr(path, "node_modules/"); s; s = strstr(s + 1, "node_modules/"))
		if (s == path || s[-1] == '/')
			nm = s + strlen("node_modules/");
	return nm;
}

/* The end of the package folder's name that starts at nm ("@s/n/..." -> at "/..."),
 * NULL when the name runs to the end of the string. */
static const char *package_end(const char *nm)
{
	const char *end = strchr(nm, '/');
	if (*nm == '@' && end)
		end = strchr(end + 1, '/');
	return end;
}

char *pkgid_npm_package(const char *path)
{
	const char *nm = last_node_modules(path), *end;
	if (!nm || !*nm)
		return NULL;
	end = package_end(nm);
	return end ? lm_xstrndup(nm, (size_t)(end - nm)) : lm_xstrdup(nm);
}

int pkgid_npm_manifest(const char *path)
{
	const char *nm = last_node_modules(path), *end;
	if (!nm || !lm_str_endswith(path, "/package.json"))
		return 0;
	end = package_end(nm);
	return end && end > nm && strcmp(end, "/package.json") == 0;
}

char *pkgid_npm_version(const char *text, size_t len)
{
	json_t *j = json_loadb(text, len, 0, NULL);
	json_t *v = j ? json_object_get(j, "version") : NULL;
	char *out = json_is_string(v) ? lm_xstrdup(json_string_value(v)) : NULL;
	json_decref(j);
	return out;
}

int pkgid_python_metadata(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	if (strcmp(b, "METADATA") == 0 && b - path > 11 && strncmp(b - 11, ".dist-info/", 11) == 0)
		return 1;
	if (strcmp(b, "PKG-INFO") == 0 && b - path > 10 && strncmp(b - 10, ".egg-info/", 10) == 0)
		return 1;
	return lm_str_endswith(b, ".egg-info");
}

char *pkgid_pep503(const char *s, size_t n)
{
	char *out = lm_xcalloc(n + 1, 1);
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '-' || s[i] == '_' || s[i] == '.') {
			if (k && out[k - 1] != '-')
				out[k++] = '-';
			continue;
		}
		out[k++] = (char)tolower((unsigned char)s[i]);
	}
	out[k] = '\0';
	return out;
}

int pkgid_dist_split(const char *dirname, char **name, char **version)
{
	const char *dash = strchr(dirname, '-'), *end, *vend;
	if (lm_str_endswith(dirname, ".dist-info"))
		end = dirname + strlen(dirname) - strlen(".dist-info");
	else if (lm_str_endswith(dirname, ".egg-info"))
		end = dirname + strlen(dirname) - strlen(".egg-info");
	else
		return -1;
	if (!dash || dash >= end || dash == dirname)
		return -1;
	vend = memchr(dash + 1, '-', (size_t)(end - dash - 1)); /* "-py3.11" */
	if (!vend)
		vend = end;
	if (vend == dash + 1)
		return -1;
	*name = pkgid_pep503(dirname, (size_t)(dash - dirname));
	*version = lm_xstrndup(dash + 1, (size_t)(vend - dash - 1));
	return 0;
}

char *pkgid_dist_name(const char *dirname)
{
	const char *dash = strchr(dirname, '-');
	const char *dot = strrchr(dirname, '.');
	size_t n = dash ? (size_t)(dash - dirname) : dot ? (size_t)(dot - dirname) : strlen(dirname);
	return lm_xstrndup(dirname, n);
}
