#include "registry/ref.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"

#define REF_NAME_MAX 255
#define REF_TAG_MAX 128

static int is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* (distribution's grammar). */
static int component_valid(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return 0;
	while (i < n) {
		if (is_lower_alnum(s[i])) {
			i++;
			continue;
		}
		if (s[i] == '.' || (s[i] == '_' && s[i + 1] != '_')) {
			i++;
		} else if (s[i] == '_') {
			i += 2;
		} else if (s[i] == '-') {
			while (i < n && s[i] == '-')
				i++;
		} else {
			return 0;
		}
		if (i >= n || !is_lower_alnum(s[i]))
			return 0;
	}
	return 1;
}

static int host_valid(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t hn = colon ? (size_t)(colon - s) : n;
	if (hn == 0)
		return 0;
	if (s[0] == '[') { /* [::1]:5000 */
		const char *rb = memchr(s, ']', n);
		if (!rb)
			return 0;
		hn = (size_t)(rb - s) + 1;
		colon = hn < n ? s + hn : NULL;
		if (colon && *colon != ':')
			return 0;
		for (size_t i = 1; i + 1 < hn; i++)
			if (!strchr("0123456789abcdefABCDEF:.", s[i]))
				return 0;
	} else {
		for (size_t i = 0; i < hn; i++) {
			char c = s[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
			      c == '-'))
				return 0;
		}
		if (s[0] == '-' || s[0] == '.' || s[hn - 1] == '-' || s[hn - 1] == '.')
			return 0;
	}
	if (colon) {
		size_t pn = n - (size_t)(colon - s) - 1;
		if (pn == 0 || pn > 5)
			return 0;
		for (size_t i = 1; i <= pn; i++)
			if (colon[i] < '0' || colon[i] > '9')
				return 0;
		if (atoi(colon + 1) > 65535 || atoi(colon + 1) == 0)
			return 0;
	}
	return 1;
}

/* how much of a reference an error message shows */
#define REF_QUOTE_MAX 160

static int tag_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > REF_TAG_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int w = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
		if (!w && (i == 0 || (c != '.' && c != '-')))
			return 0;
	}
	return 1;
}

static int looks_like_host(const char *s, size_t n)
{
	return memchr(s, '.', n) || memchr(s, ':', n) || (n == 9 && memcmp(s, "localhost", 9) == 0) ||
	       (n > 0 && s[0] == '[');
}

int ref_parse(const char *s, struct ref *out, struct lm_err *err)
{
	char *work = NULL, *at, *name, *slash, *tagp = NULL, *host = NULL, *repo = NULL;
	char digest[LM_DIGEST_LEN] = "";
	const char *p;
	int ret = -1;
	/* messages quote the reference and cut it: it may be long or hold odd bytes */
	char *q = lm_str_quote(s ? s : "", REF_QUOTE_MAX);

	if (!s || !*s) {
		lm_err_set(err, LM_E_INPUT, "empty image reference");
		goto out;
	}
	for (p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			lm_err_set(err, LM_E_INPUT, "image reference '%s' contains a space or control character", q);
			goto out;
		}
	if (lm_str_startswith(s, "http://") || lm_str_startswith(s, "https://") || strstr(s, "://")) {
		lm_err_set(err, LM_E_INPUT, "image reference '%s' must not have a URL scheme (use HOST/REPO:TAG)", q);
		goto out;
	}
	work = lm_xstrdup(s);
	at = strchr(work, '@');
	if (at) {
		*at = '\0';
		if (!lm_str_startswith(at + 1, "sha256:")) {
			lm_err_set(err, LM_E_INPUT, "image reference '%s': only sha256 digests are supported", q);
			goto out;
		}
		if (!digest_valid(at + 1)) {
			lm_err_set(err, LM_E_INPUT,
				   "image reference '%s': digest must be sha256: followed by 64 lowercase hex digits", q);
			goto out;
		}
		memcpy(digest, at + 1, LM_DIGEST_LEN);
	}
	name = work;
	slash = strchr(name, '/');
	if (slash && looks_like_host(name, (size_t)(slash - name))) {
		if (!host_valid(name, (size_t)(slash - name))) {
			lm_err_set(err, LM_E_INPUT, "image reference '%s': bad registry host '%.*s'", q,
				   (int)(slash - name < 64 ? slash - name : 64), name);
			goto out;
		}
		host = lm_xstrndup(name, (size_t)(slash - name));
		name = slash + 1;
	}
	/* a tag is after the last ':' that follows the last '/' */
	{
		char *lastslash = strrchr(name, '/');
		char *colon = strrchr(lastslash ? lastslash : name, ':');
		if (colon) {
			*colon = '\0';
			tagp = colon + 1;
			if (!tag_valid(tagp)) {
				char *tq = lm_str_quote(tagp, 40);
				lm_err_set(err, LM_E_INPUT,
					   "image reference '%s': bad tag '%s' (letters, digits, '_', '.', '-', at most "
					   "128, not starting with '.' or '-')",
					   q, tq);
				free(tq);
				goto out;
			}
		}
	}
	if (!*name) {
		lm_err_set(err, LM_E_INPUT, "image reference '%s' has no repository name", q);
		goto out;
	}
	for (char *c = name;;) {
		char *e = strchr(c, '/');
		size_t n = e ? (size_t)(e - c) : strlen(c);
		if (!component_valid(c, n)) {
			int upper = 0;
			for (size_t i = 0; i < n; i++)
				upper |= c[i] >= 'A' && c[i] <= 'Z';
			lm_err_set(err, LM_E_INPUT, "image reference '%s': bad repository name component '%.*s%s'%s", q,
				   (int)(n < 64 ? n : 64), c, n > 64 ? "..." : "", upper ? " (must be lowercase)" : "");
			goto out;
		}
		if (!e)
			break;
		c = e + 1;
	}
	if (!host || strcmp(host, "index.docker.io") == 0 || strcmp(host, "registry-1.docker.io") == 0 ||
	    strcmp(host, "docker.io") == 0) {
		free(host);
		host = lm_xstrdup("docker.io");
		repo = strchr(name, '/') ? lm_xstrdup(name) : lm_asprintf("library/%s", name);
	} else {
		repo = lm_xstrdup(name);
	}
	if (strlen(host) + 1 + strlen(repo) > REF_NAME_MAX) {
		lm_err_set(err, LM_E_INPUT, "image reference '%s' is longer than %d characters", q, REF_NAME_MAX);
		goto out;
	}
	out->host = host;
	out->repo = repo;
	out->tag = tagp ? lm_xstrdup(tagp) : (digest[0] ? NULL : lm_xstrdup("latest"));
	memcpy(out->digest, digest, LM_DIGEST_LEN);
	host = repo = NULL;
	ret = 0;
out:
	free(q);
	free(work);
	free(host);
	free(repo);
	return ret;
}

int ref_check_name(const char *s, struct lm_err *err)
{
	struct ref r;
	int digest;
	if (ref_parse(s, &r, err) < 0)
		return -1;
	digest = r.digest[0] != '\0';
	ref_release(&r);
	if (digest) {
		char *q = lm_str_quote(s, REF_QUOTE_MAX);
		lm_err_set(err, LM_E_INPUT, "image name '%s' has a digest: expected NAME[:TAG]", q);
		free(q);
		return -1;
	}
	return 0;
}

void ref_release(struct ref *r)
{
	if (!r)
		return;
	free(r->host);
	free(r->repo);
	free(r->tag);
	r->host = r->repo = r->tag = NULL;
	r->digest[0] = '\0';
}

char *ref_string(const struct ref *r)
{
	return lm_asprintf("%s/%s%s%s%s%s", r->host, r->repo, r->tag ? ":" : "", r->tag ? r->tag : "",
			   r->digest[0] ? "@" : "", r->digest);
}

const char *ref_manifest_ref(const struct ref *r)
{
	return r->digest[0] ? r->digest : r->tag;
}

const char *ref_api_host(const struct ref *r)
{
	return strcmp(r->host, "docker.io") == 0 ? "registry-1.docker.io" : r->host;
}
