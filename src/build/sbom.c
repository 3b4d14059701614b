/* sbom.c - the SPDX 2.3 JSON document of a built image (see sbom.h). */
#include "build/sbom.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/jsonw.h"
#include "common/str.h"
#include "common/version.h"
#include "image/oci.h"
#include "prune/pkgid.h"
#include "registry/ref.h"

/* Metadata and package.json files larger than this are not read (none is near it). */
#define SBOM_META_MAX ((size_t)16 << 20)

char *sbom_path_for(const char *archive)
{
	size_t n = strlen(archive);
	if (n > 4 && strcmp(archive + n - 4, ".tar") == 0)
		n -= 4;
	return lm_asprintf("%.*s.spdx.json", (int)n, archive);
}

static const struct {
	const char *text, *id;
} licenses[] = {
	/* what METADATA's License field and the trove classifiers say, lowercased */
	{ "mit", "MIT" },
	{ "mit license", "MIT" },
	{ "the mit license", "MIT" },
	{ "mit-0", "MIT-0" },
	{ "isc", "ISC" },
	{ "isc license", "ISC" },
	{ "isc license (iscl)", "ISC" },
	{ "apache-2.0", "Apache-2.0" },
	{ "apache 2.0", "Apache-2.0" },
	{ "apache 2", "Apache-2.0" },
	{ "apache license 2.0", "Apache-2.0" },
	{ "apache license, version 2.0", "Apache-2.0" },
	{ "apache license version 2.0", "Apache-2.0" },
	{ "apache software license 2.0", "Apache-2.0" },
	{ "bsd-2-clause", "BSD-2-Clause" },
	{ "bsd-3-clause", "BSD-3-Clause" },
	{ "new bsd", "BSD-3-Clause" },
	{ "new bsd license", "BSD-3-Clause" },
	{ "0bsd", "0BSD" },
	{ "psf", "PSF-2.0" },
	{ "psf-2.0", "PSF-2.0" },
	{ "python software foundation license", "PSF-2.0" },
	{ "mpl-2.0", "MPL-2.0" },
	{ "mozilla public license 2.0 (mpl 2.0)", "MPL-2.0" },
	{ "lgpl-2.1", "LGPL-2.1-only" },
	{ "lgpl-3.0", "LGPL-3.0-only" },
	{ "gpl-2.0", "GPL-2.0-only" },
	{ "gpl-3.0", "GPL-3.0-only" },
	{ "unlicense", "Unlicense" },
	{ "the unlicense (unlicense)", "Unlicense" },
	{ "cc0-1.0", "CC0-1.0" },
	{ "zlib", "Zlib" },
	{ "blueoak-1.0.0", "BlueOak-1.0.0" },
};

const char *sbom_spdx_license(const char *s)
{
	char buf[128];
	size_t n;
	const char *p;
	if (!s)
		return NULL;
	/* "License :: OSI Approved :: MIT License": the last part */
	p = strstr(s, "::") ? strrchr(s, ':') + 1 : s;
	while (*p == ' ' || *p == '\t')
		p++;
	n = strlen(p);
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	if (!n || n >= sizeof(buf))
		return NULL;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)tolower((unsigned char)p[i]);
	buf[n] = '\0';
	for (size_t i = 0; i < sizeof(licenses) / sizeof(licenses[0]); i++)
		if (strcmp(buf, licenses[i].text) == 0)
			return licenses[i].id;
	return NULL;
}

/* An SPDX licence expression as npm and PEP 639 write them ("MIT", "(MIT OR Apache-2.0)"):
 * only the characters one may hold; otherwise it is free text. */
static int looks_like_expression(const char *s)
{
	if (!*s || strlen(s) > 200)
		return 0;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr(".-+() :", *p))
			return 0;
	/* an expression's words are ids and operators: "MIT License" is not one */
	for (const char *p = s; *p;) {
		size_t n = strcspn(p, " ()");
		if (n) {
			int upper_op = (n == 2 && strncmp(p, "OR", 2) == 0) || (n == 3 && strncmp(p, "AND", 3) == 0) ||
				       (n == 4 && strncmp(p, "WITH", 4) == 0);
			int id = 0;
			for (size_t k = 0; k < n; k++)
				id |= isdigit((unsigned char)p[k]) || p[k] == '-' || isupper((unsigned char)p[k]);
			if (!upper_op && !id)
				return 0;
			if (!upper_op && strncasecmp(p, "license", n) == 0)
				return 0;
		}
		p += n;
		while (*p == ' ' || *p == '(' || *p == ')')
			p++;
	}
	return 1;
}

int sbom_python_metadata(const char *text, size_t len, char **name, char **version, char **license,
			 char **license_text)
{
	char *buf = lm_xstrndup(text, len), *last = NULL, *next;
	char *nm = NULL, *ver = NULL, *lic = NULL, *expr = NULL, *classifier_id = NULL;
	int nclass = 0;
	/* line by line (not strtok: an empty line ends the headers) */
	for (char *line = buf; line; line = next) {
		size_t l;
		char *colon;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		l = strlen(line);
		if (l && line[l - 1] == '\r')
			line[--l] = '\0';
		if (!l)
			break; /* the body */
		if ((line[0] == ' ' || line[0] == '\t') && last == lic && lic) {
			char *more = lm_asprintf("%s\n%s", lic, line + strspn(line, " \t|"));
			free(lic);
			lic = last = more;
			continue;
		}
		last = NULL;
		colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		colon++;
		colon += strspn(colon, " \t");
		if (strcasecmp(line, "Name") == 0 && !nm)
			nm = lm_xstrdup(colon);
		else if (strcasecmp(line, "Version") == 0 && !ver)
			ver = lm_xstrdup(colon);
		else if (strcasecmp(line, "License-Expression") == 0 && !expr)
			expr = lm_xstrdup(colon);
		else if (strcasecmp(line, "License") == 0 && !lic)
			last = lic = lm_xstrdup(colon);
		else if (strcasecmp(line, "Classifier") == 0 && lm_str_startswith(colon, "License ::")) {
			const char *id = sbom_spdx_license(colon);
			nclass++;
			if (id && !classifier_id)
				classifier_id = lm_xstrdup(id);
			else if (!id || strcmp(id, classifier_id) != 0)
				nclass++; /* several licences or one that cannot be told: no single answer */
		}
	}
	free(buf);
	if (!nm || !ver || !*nm || !*ver) {
		free(nm);
		free(ver);
		free(lic);
		free(expr);
		free(classifier_id);
		return -1;
	}
	*name = nm;
	*version = ver;
	if (expr && looks_like_expression(expr))
		*license = lm_xstrdup(expr);
	else if (lic && sbom_spdx_license(lic))
		*license = lm_xstrdup(sbom_spdx_license(lic));
	else if (lic && !strchr(lic, '\n') && looks_like_expression(lic))
		*license = lm_xstrdup(lic);
	else if (classifier_id && nclass == 1)
		*license = lm_xstrdup(classifier_id);
	else
		*license = lm_xstrdup("NOASSERTION");
	if (expr) {
		*license_text = expr;
		free(lic);
	} else {
		*license_text = lic; /* may be NULL */
	}
	free(classifier_id);
	return 0;
}

/* --- the document -------------------------------------------------------------------- */

struct pkg {
	int npm;
	char *name, *version, *license, *license_text;
	char *meta; /* image path of the file it was read from */
	const char *layer;
	int removed;
};

static int cmp_pkg(const void *a, const void *b)
{
	const struct pkg *x = a, *y = b;
	int c = x->npm - y->npm;
	if (!c)
		c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->version, y->version);
	return c ? c : strcmp(x->meta, y->meta);
}

struct file {
	const struct lm_entry *e;
	size_t tree;
};

static int cmp_file(const void *a, const void *b)
{
	const struct file *x = a, *y = b;
	int c = strcmp(x->e->path, y->e->path);
	return c ? c : (x->tree > y->tree) - (x->tree < y->tree);
}

static int read_pkg(const struct lm_entry *e, int npm, struct pkg *out, struct lm_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int r = -1;
	memset(out, 0, sizeof(*out));
	if (!e->src)
		return 1;
	if (lm_read_file(e->src, SBOM_META_MAX, &buf, &len, err) < 0)
		return lm_err_wrap(err, "'/%s'", e->path);
	if (npm) {
		json_t *j = json_loadb(buf, len, 0, NULL), *n, *v, *l;
		n = j ? json_object_get(j, "name") : NULL;
		v = j ? json_object_get(j, "version") : NULL;
		l = j ? json_object_get(j, "license") : NULL;
		if (json_is_object(l))
			l = json_object_get(l, "type");
		if (json_is_string(n) && json_is_string(v) && *json_string_value(n) && *json_string_value(v)) {
			out->npm = 1;
			out->name = lm_xstrdup(json_string_value(n));
			out->version = lm_xstrdup(json_string_value(v));
			if (json_is_string(l)) {
				const char *ls = json_string_value(l);
				const char *id = sbom_spdx_license(ls);
				out->license = lm_xstrdup(id ? id : looks_like_expression(ls) ? ls : "NOASSERTION");
				out->license_text = lm_xstrdup(ls);
			} else {
				out->license = lm_xstrdup("NOASSERTION");
			}
			r = 0;
		} else {
			r = 1; /* a package.json that names no package (a test fixture's): not one */
		}
		json_decref(j);
	} else {
		r = sbom_python_metadata(buf, len, &out->name, &out->version, &out->license, &out->license_text) < 0;
	}
	free(buf);
	if (r == 0)
		out->meta = lm_xstrdup(e->path);
	return r;
}

static void pkg_release(struct pkg *p)
{
	free(p->name);
	free(p->version);
	free(p->license);
	free(p->license_text);
	free(p->meta);
}

/* A purl component: percent-encodes what is not unreserved. */
static char *purl_enc(const char *s)
{
	size_t n = strlen(s);
	char *out = lm_xcalloc(3 * n + 1, 1), *o = out;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (isalnum(c) || strchr("-._~", c))
			*o++ = (char)c;
		else
			o += sprintf(o, "%%%02X", c);
	}
	return out;
}

static char *purl(const struct pkg *p)
{
	char *ver = purl_enc(p->version), *out;
	if (p->npm) {
		const char *slash = p->name[0] == '@' ? strchr(p->name, '/') : NULL;
		if (slash) {
			char *scope = lm_xstrndup(p->name, (size_t)(slash - p->name));
			char *es = purl_enc(scope), *en = purl_enc(slash + 1);
			out = lm_asprintf("pkg:npm/%s/%s@%s", es, en, ver);
			free(scope);
			free(es);
			free(en);
		} else {
			char *en = purl_enc(p->name);
			out = lm_asprintf("pkg:npm/%s@%s", en, ver);
			free(en);
		}
	} else {
		char *norm = pkgid_pep503(p->name, strlen(p->name)), *en = purl_enc(norm);
		out = lm_asprintf("pkg:pypi/%s@%s", en, ver);
		free(en);
		free(norm);
	}
	free(ver);
	return out;
}

/* key: string. Text from packages need not be UTF-8; JSON text must be. */
static void kv(struct jsonw *w, const char *key, const char *s)
{
	jsonw_key(w, key);
	jsonw_string(w, s, "NOASSERTION (not UTF-8)");
}

/* The base's purl (purl-spec's oci type): "pkg:oci/python@sha256%3A<hex>?repository_url=
 * public.ecr.aws/lambda/python&tag=3.12"; NULL when base_ref is no registry reference.
 * Caller frees. */
static char *oci_purl(const struct sbom_input *in)
{
	struct ref r;
	struct lm_err e2 = LM_ERR_INIT;
	const char *name;
	char *out, *tag;
	memset(&r, 0, sizeof(r));
	if (ref_parse(in->base_ref, &r, &e2) < 0) {
		lm_err_release(&e2);
		return NULL;
	}
	name = strrchr(r.repo, '/') ? strrchr(r.repo, '/') + 1 : r.repo;
	tag = r.tag ? purl_enc(r.tag) : NULL;
	out = lm_asprintf("pkg:oci/%s@sha256%%3A%s?repository_url=%s/%s%s%s", name, digest_hex(in->base_digest), r.host,
			  r.repo, tag ? "&tag=" : "", tag ? tag : "");
	free(tag);
	ref_release(&r);
	return out;
}

static void checksum(struct jsonw *w, const char *digest)
{
	jsonw_key(w, "checksums");
	jsonw_array(w);
	jsonw_object(w);
	kv(w, "algorithm", "SHA256");
	kv(w, "checksumValue", digest_hex(digest));
	jsonw_end(w);
	jsonw_end(w);
}

static void purl_ref(struct jsonw *w, const char *locator)
{
	jsonw_key(w, "externalRefs");
	jsonw_array(w);
	jsonw_object(w);
	kv(w, "referenceCategory", "PACKAGE-MANAGER");
	kv(w, "referenceType", "purl");
	kv(w, "referenceLocator", locator);
	jsonw_end(w);
	jsonw_end(w);
}

static void relate(struct jsonw *w, const char *a, const char *type, const char *b)
{
	jsonw_object(w);
	kv(w, "spdxElementId", a);
	kv(w, "relationshipType", type);
	kv(w, "relatedSpdxElement", b);
	jsonw_end(w);
}

/* The image's files: the regular files of the trees, in path order, a path two layers
 * hold once (the later layer's is the one in the image). */
static int is_shadowed(const struct file *fv, size_t nf, size_t i)
{
	return i + 1 < nf && strcmp(fv[i].e->path, fv[i + 1].e->path) == 0;
}

int sbom_spdx_json(const struct sbom_input *in, char **out, size_t *outlen, struct lm_err *err)
{
	struct pkg *pk = NULL;
	struct file *fv = NULL;
	char (*dg)[LM_DIGEST_LEN] = NULL;
	size_t npk = 0, cappk = 0, nf = 0, capf = 0;
	struct jsonw w;
	char created[32], *s, *baseloc = NULL;
	int ret = -1;

	jsonw_init(&w, 1);
	/* what the trees hold */
	for (size_t t = 0; t < in->ntrees; t++) {
		const struct lm_tree *tr = &in->trees[t];
		for (size_t i = 0; i < tr->n; i++) {
			const struct lm_entry *e = &tr->v[i];
			int py = e->type == LM_F_REG && pkgid_python_metadata(e->path);
			int npm = !py && e->type == LM_F_REG && pkgid_npm_manifest(e->path);
			if (py || npm) {
				struct pkg one;
				int r = read_pkg(e, npm, &one, err);
				if (r < 0)
					goto out;
				if (r == 0) {
					one.layer = in->layer_names ? in->layer_names[t] : NULL;
					one.removed = e->removed;
					lm_grow((void **)&pk, &cappk, npk + 1, sizeof(*pk));
					pk[npk++] = one;
				}
			}
			if (e->type == LM_F_REG && !e->removed) {
				lm_grow((void **)&fv, &capf, nf + 1, sizeof(*fv));
				fv[nf].e = e;
				fv[nf].tree = t;
				nf++;
			}
		}
	}
	if (npk)
		qsort(pk, npk, sizeof(*pk), cmp_pkg);
	if (nf)
		qsort(fv, nf, sizeof(*fv), cmp_file);
	/* every file's digest before a byte is written: an unreadable file fails the document */
	dg = lm_xcalloc(nf ? nf : 1, sizeof(*dg));
	for (size_t i = 0; i < nf; i++) {
		const struct lm_entry *e = fv[i].e;
		uint64_t sz;
		if (is_shadowed(fv, nf, i))
			continue;
		if (e->digest[0]) {
			snprintf(dg[i], sizeof(dg[i]), "%s", e->digest);
		} else if (!e->src || digest_file(e->src, dg[i], &sz, err) < 0) {
			if (!e->src)
				lm_err_set(err, LM_E_INTERNAL, "no content for '/%s'", e->path);
			lm_err_wrap(err, "'/%s'", e->path);
			goto out;
		}
	}

	jsonw_object(&w);
	kv(&w, "spdxVersion", "SPDX-2.3");
	kv(&w, "dataLicense", "CC0-1.0");
	kv(&w, "SPDXID", "SPDXRef-DOCUMENT");
	kv(&w, "name", in->name);
	{
		char *e = purl_enc(in->name);
		s = lm_asprintf("https://lamina.invalid/spdx/%s/%s", digest_hex(in->image_digest), e);
		free(e);
	}
	kv(&w, "documentNamespace", s);
	free(s);
	jsonw_key(&w, "creationInfo");
	jsonw_object(&w);
	kv(&w, "created", oci_time_rfc3339(in->epoch, created, sizeof(created)));
	jsonw_key(&w, "creators");
	jsonw_array(&w);
	jsonw_string(&w, "Tool: lamina-" LM_VERSION, "?");
	jsonw_end(&w);
	jsonw_end(&w);

	/* the image and its base */
	jsonw_key(&w, "packages");
	jsonw_array(&w);
	jsonw_object(&w);
	kv(&w, "SPDXID", "SPDXRef-Image");
	kv(&w, "name", in->name);
	kv(&w, "versionInfo", in->image_digest);
	kv(&w, "downloadLocation", "NOASSERTION");
	jsonw_key(&w, "filesAnalyzed");
	jsonw_bool(&w, 0);
	checksum(&w, in->image_digest);
	kv(&w, "primaryPackagePurpose", "CONTAINER");
	kv(&w, "comment", "the image lamina built: its manifest digest; the files listed are those of its app layers "
			  "(the base's layers are the base image's)");
	jsonw_end(&w);
	jsonw_object(&w);
	kv(&w, "SPDXID", "SPDXRef-Base");
	kv(&w, "name", in->base_ref);
	kv(&w, "versionInfo", in->base_digest);
	/* a registry reference is where it can be had; a local archive is not */
	kv(&w, "downloadLocation", "NOASSERTION");
	if (!strstr(in->base_ref, "archive:") && strncmp(in->base_ref, "oci:", 4) != 0 && (baseloc = oci_purl(in))) {
		purl_ref(&w, baseloc);
		free(baseloc);
	}
	jsonw_key(&w, "filesAnalyzed");
	jsonw_bool(&w, 0);
	checksum(&w, in->base_digest);
	kv(&w, "primaryPackagePurpose", "CONTAINER");
	kv(&w, "comment", "the base image, by reference and manifest digest; its layers are passed through unchanged, "
			  "first and in order");
	jsonw_end(&w);

	for (size_t i = 0; i < npk; i++) {
		char id[64], *loc = purl(&pk[i]), *c;
		snprintf(id, sizeof(id), "SPDXRef-%s-%zu", pk[i].npm ? "npm" : "Python", i + 1);
		jsonw_object(&w);
		kv(&w, "SPDXID", id);
		kv(&w, "name", pk[i].name);
		kv(&w, "versionInfo", pk[i].version);
		kv(&w, "downloadLocation", "NOASSERTION");
		jsonw_key(&w, "filesAnalyzed");
		jsonw_bool(&w, 0);
		kv(&w, "licenseConcluded", "NOASSERTION");
		kv(&w, "licenseDeclared", pk[i].license);
		if (pk[i].license_text)
			kv(&w, "licenseComments", pk[i].license_text);
		kv(&w, "copyrightText", "NOASSERTION");
		kv(&w, "primaryPackagePurpose", "LIBRARY");
		purl_ref(&w, loc);
		kv(&w, "sourceInfo", pk[i].npm ? "npm package.json" : "Python core metadata");
		c = pk[i].removed ? lm_asprintf("from /%s (layer '%s'); removed from the image by prune rules: not in the "
						"image",
						pk[i].meta, pk[i].layer ? pk[i].layer : "")
				  : lm_asprintf("from /%s (layer '%s')", pk[i].meta, pk[i].layer ? pk[i].layer : "");
		kv(&w, "comment", c);
		free(c);
		jsonw_end(&w);
		free(loc);
	}
	jsonw_end(&w);

	jsonw_key(&w, "files");
	jsonw_array(&w);
	for (size_t i = 0; i < nf; i++) {
		char id[64], *name;
		if (is_shadowed(fv, nf, i))
			continue;
		snprintf(id, sizeof(id), "SPDXRef-File-%zu", i + 1);
		name = lm_asprintf("./%s", fv[i].e->path);
		jsonw_object(&w);
		kv(&w, "SPDXID", id);
		kv(&w, "fileName", name);
		checksum(&w, dg[i]);
		if (in->layer_names) {
			char *c = lm_asprintf("layer '%s'", in->layer_names[fv[i].tree]);
			kv(&w, "comment", c);
			free(c);
		}
		jsonw_end(&w);
		free(name);
	}
	jsonw_end(&w);

	jsonw_key(&w, "relationships");
	jsonw_array(&w);
	relate(&w, "SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image");
	relate(&w, "SPDXRef-Image", "DESCENDANT_OF", "SPDXRef-Base");
	for (size_t i = 0; i < npk; i++) {
		char id[64];
		if (pk[i].removed)
			continue;
		snprintf(id, sizeof(id), "SPDXRef-%s-%zu", pk[i].npm ? "npm" : "Python", i + 1);
		relate(&w, "SPDXRef-Image", "CONTAINS", id);
	}
	for (size_t i = 0; i < nf; i++) {
		char id[64];
		if (is_shadowed(fv, nf, i))
			continue;
		snprintf(id, sizeof(id), "SPDXRef-File-%zu", i + 1);
		relate(&w, "SPDXRef-Image", "CONTAINS", id);
	}
	jsonw_end(&w);
	jsonw_end(&w);
	buf_append(&w.out, "\n", 1);
	*out = jsonw_take(&w, outlen);
	ret = 0;
out:
	for (size_t i = 0; i < npk; i++)
		pkg_release(&pk[i]);
	free(pk);
	free(fv);
	free(dg);
	jsonw_release(&w);
	return ret;
}
