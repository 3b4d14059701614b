#include "image/oci.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/alloc.h"

struct oci_config {
	json_t *root;
};

static char *dup_or_null(const char *s)
{
	return s ? lm_xstrdup(s) : NULL;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *load(const char *buf, size_t len, const char *what, struct lm_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		lm_err_set(err, LM_E_INPUT, "%s: invalid JSON at line %d column %d: %s", what, je.line, je.column,
			   je.text);
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		lm_err_set(err, LM_E_INPUT, "%s: not a JSON object", what);
		return NULL;
	}
	return root;
}

static char *dump(json_t *j, size_t *len)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (!s)
		abort();
	if (len)
		*len = strlen(s);
	return s;
}

void oci_platform_release(struct oci_platform *p)
{
	if (!p)
		return;
	free(p->os);
	free(p->arch);
	free(p->variant);
	p->os = p->arch = p->variant = NULL;
}

static char *norm_arch(const char *a)
{
	if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0)
		return lm_xstrdup("amd64");
	if (strcmp(a, "aarch64") == 0)
		return lm_xstrdup("arm64");
	return lm_xstrdup(a);
}

int oci_platform_parse(const char *s, struct oci_platform *out, struct lm_err *err)
{
	const char *a = strchr(s, '/'), *v;
	struct oci_platform p = { 0 };
	if (!a || a == s || !a[1])
		return lm_err_set(err, LM_E_USAGE, "platform '%s' is not of the form os/arch[/variant]", s);
	v = strchr(a + 1, '/');
	p.os = lm_xstrndup(s, (size_t)(a - s));
	{
		char *arch = v ? lm_xstrndup(a + 1, (size_t)(v - a - 1)) : lm_xstrdup(a + 1);
		p.arch = norm_arch(arch);
		free(arch);
	}
	if (v) {
		if (!v[1] || strchr(v + 1, '/')) {
			oci_platform_release(&p);
			return lm_err_set(err, LM_E_USAGE, "platform '%s' is not of the form os/arch[/variant]", s);
		}
		p.variant = lm_xstrdup(v + 1);
	}
	if (strcmp(p.os, "linux") != 0 || (strcmp(p.arch, "amd64") != 0 && strcmp(p.arch, "arm64") != 0)) {
		oci_platform_release(&p);
		return lm_err_set(err, LM_E_USAGE, "platform '%s': Lambda runs linux/amd64 or linux/arm64", s);
	}
	if (strcmp(p.arch, "arm64") == 0 && !p.variant)
		p.variant = lm_xstrdup("v8");
	*out = p;
	return 0;
}

int oci_platform_match(const struct oci_platform *have, const struct oci_platform *want)
{
	const char *hv, *wv;
	if (!have->os || !have->arch || strcmp(have->os, want->os) != 0)
		return 0;
	{
		char *ha = norm_arch(have->arch);
		int same = strcmp(ha, want->arch) == 0;
		free(ha);
		if (!same)
			return 0;
	}
	hv = have->variant ? have->variant : "";
	wv = want->variant ? want->variant : "";
	if (strcmp(want->arch, "arm64") == 0) {
		if (!*hv)
			hv = "v8";
		if (!*wv)
			wv = "v8";
	}
	if (!*hv || !*wv)
		return 1;
	return strcmp(hv, wv) == 0;
}

void oci_descriptor_release(struct oci_descriptor *d)
{
	if (!d)
		return;
	free(d->media_type);
	free(d->ref_name);
	oci_platform_release(&d->platform);
	memset(d, 0, sizeof(*d));
}

void oci_descriptor_copy(struct oci_descriptor *dst, const struct oci_descriptor *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->media_type = dup_or_null(src->media_type);
	memcpy(dst->digest, src->digest, LM_DIGEST_LEN);
	dst->size = src->size;
	dst->platform.os = dup_or_null(src->platform.os);
	dst->platform.arch = dup_or_null(src->platform.arch);
	dst->platform.variant = dup_or_null(src->platform.variant);
	dst->ref_name = dup_or_null(src->ref_name);
}

static int desc_parse(json_t *j, struct oci_descriptor *d, const char *what, struct lm_err *err)
{
	json_t *size = json_object_get(j, "size");
	const char *dg = jstr(j, "digest");
	memset(d, 0, sizeof(*d));
	if (!json_is_object(j))
		return lm_err_set(err, LM_E_INPUT, "%s: not an object", what);
	if (!dg)
		return lm_err_set(err, LM_E_INPUT, "%s: missing digest", what);
	if (!digest_valid(dg))
		return lm_err_set(err, LM_E_INPUT, "%s: unsupported or malformed digest '%s'", what, dg);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return lm_err_set(err, LM_E_INPUT, "%s: missing or negative size", what);
	memcpy(d->digest, dg, LM_DIGEST_LEN);
	d->size = json_integer_value(size);
	d->media_type = dup_or_null(jstr(j, "mediaType"));
	{
		json_t *p = json_object_get(j, "platform");
		if (json_is_object(p)) {
			d->platform.os = dup_or_null(jstr(p, "os"));
			d->platform.arch = dup_or_null(jstr(p, "architecture"));
			d->platform.variant = dup_or_null(jstr(p, "variant"));
		}
	}
	{
		json_t *a = json_object_get(j, "annotations");
		if (json_is_object(a))
			d->ref_name = dup_or_null(jstr(a, OCI_ANNOT_REF_NAME));
	}
	return 0;
}

static json_t *desc_json(const struct oci_descriptor *d)
{
	json_t *j = json_object();
	json_object_set_new(j, "mediaType", json_string(d->media_type ? d->media_type : "application/octet-stream"));
	json_object_set_new(j, "digest", json_string(d->digest));
	json_object_set_new(j, "size", json_integer(d->size));
	if (d->platform.os || d->platform.arch) {
		json_t *p = json_object();
		if (d->platform.arch)
			json_object_set_new(p, "architecture", json_string(d->platform.arch));
		if (d->platform.os)
			json_object_set_new(p, "os", json_string(d->platform.os));
		if (d->platform.variant)
			json_object_set_new(p, "variant", json_string(d->platform.variant));
		json_object_set_new(j, "platform", p);
	}
	if (d->ref_name) {
		json_t *a = json_object();
		json_object_set_new(a, OCI_ANNOT_REF_NAME, json_string(d->ref_name));
		json_object_set_new(j, "annotations", a);
	}
	return j;
}

enum oci_doc_kind oci_doc_kind(const char *buf, size_t len, const char *content_type)
{
	json_t *root = json_loadb(buf, len, 0, NULL);
	const char *mt;
	enum oci_doc_kind k = OCI_DOC_UNKNOWN;
	if (!root)
		return OCI_DOC_UNKNOWN;
	mt = jstr(root, "mediaType");
	if (!mt)
		mt = content_type;
	if (mt && (strcmp(mt, OCI_MT_INDEX) == 0 || strcmp(mt, DOCKER_MT_LIST) == 0))
		k = OCI_DOC_INDEX;
	else if (mt && (strcmp(mt, OCI_MT_MANIFEST) == 0 || strcmp(mt, DOCKER_MT_MANIFEST) == 0))
		k = OCI_DOC_MANIFEST;
	else if (json_is_array(json_object_get(root, "manifests")))
		k = OCI_DOC_INDEX;
	else if (json_is_object(json_object_get(root, "config")) && json_is_array(json_object_get(root, "layers")))
		k = OCI_DOC_MANIFEST;
	else if (json_integer_value(json_object_get(root, "schemaVersion")) == 1)
		k = OCI_DOC_DOCKER_V1;
	json_decref(root);
	return k;
}

int oci_is_layer_media_type(const char *mt)
{
	return mt && (strcmp(mt, OCI_MT_LAYER_TAR) == 0 || strcmp(mt, OCI_MT_LAYER_GZIP) == 0 ||
		      strcmp(mt, OCI_MT_LAYER_ZSTD) == 0 || strcmp(mt, DOCKER_MT_LAYER_GZIP) == 0 ||
		      strcmp(mt, DOCKER_MT_LAYER_TAR) == 0 ||
		      strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 0);
}

int oci_is_gzip_layer(const char *mt)
{
	return mt && (strcmp(mt, OCI_MT_LAYER_GZIP) == 0 || strcmp(mt, DOCKER_MT_LAYER_GZIP) == 0 ||
		      strcmp(mt, "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip") == 0);
}

void oci_manifest_release(struct oci_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	free(m->base_name);
	free(m->base_digest);
	oci_descriptor_release(&m->config);
	for (size_t i = 0; i < m->nlayers; i++)
		oci_descriptor_release(&m->layers[i]);
	free(m->layers);
	memset(m, 0, sizeof(*m));
}

int oci_manifest_parse(const char *buf, size_t len, struct oci_manifest *out, struct lm_err *err)
{
	json_t *root = load(buf, len, "image manifest", err), *layers;
	struct oci_manifest m = { 0 };
	const char *mt;
	if (!root)
		return -1;
	if (json_integer_value(json_object_get(root, "schemaVersion")) != 2) {
		json_decref(root);
		return lm_err_set(err, LM_E_INPUT, "image manifest: schemaVersion is not 2");
	}
	mt = jstr(root, "mediaType");
	if (mt && strcmp(mt, OCI_MT_MANIFEST) != 0 && strcmp(mt, DOCKER_MT_MANIFEST) != 0) {
		lm_err_set(err, LM_E_INPUT, "image manifest: unsupported mediaType '%s'", mt);
		json_decref(root);
		return -1;
	}
	m.media_type = dup_or_null(mt);
	{
		json_t *a = json_object_get(root, "annotations");
		if (json_is_object(a)) {
			m.base_name = dup_or_null(jstr(a, OCI_ANNOT_BASE_NAME));
			m.base_digest = dup_or_null(jstr(a, OCI_ANNOT_BASE_DIGEST));
		}
	}
	if (desc_parse(json_object_get(root, "config"), &m.config, "image manifest: config", err) < 0)
		goto fail;
	layers = json_object_get(root, "layers");
	if (!json_is_array(layers)) {
		lm_err_set(err, LM_E_INPUT, "image manifest: missing layers");
		goto fail;
	}
	m.nlayers = json_array_size(layers);
	m.layers = lm_xcalloc(m.nlayers, sizeof(*m.layers));
	for (size_t i = 0; i < m.nlayers; i++) {
		char what[64];
		snprintf(what, sizeof(what), "image manifest: layers[%zu]", i);
		if (desc_parse(json_array_get(layers, i), &m.layers[i], what, err) < 0)
			goto fail;
	}
	json_decref(root);
	*out = m;
	return 0;
fail:
	json_decref(root);
	oci_manifest_release(&m);
	return -1;
}

char *oci_manifest_serialize(const struct oci_manifest *m, size_t *len)
{
	json_t *j = json_object(), *layers = json_array();
	char *s;
	json_object_set_new(j, "schemaVersion", json_integer(2));
	json_object_set_new(j, "mediaType", json_string(m->media_type ? m->media_type : OCI_MT_MANIFEST));
	json_object_set_new(j, "config", desc_json(&m->config));
	for (size_t i = 0; i < m->nlayers; i++)
		json_array_append_new(layers, desc_json(&m->layers[i]));
	json_object_set_new(j, "layers", layers);
	if (m->base_name || m->base_digest) {
		json_t *a = json_object();
		if (m->base_name)
			json_object_set_new(a, OCI_ANNOT_BASE_NAME, json_string(m->base_name));
		if (m->base_digest)
			json_object_set_new(a, OCI_ANNOT_BASE_DIGEST, json_string(m->base_digest));
		json_object_set_new(j, "annotations", a);
	}
	s = dump(j, len);
	json_decref(j);
	return s;
}

void oci_index_release(struct oci_index *ix)
{
	if (!ix)
		return;
	free(ix->media_type);
	for (size_t i = 0; i < ix->n; i++)
		oci_descriptor_release(&ix->manifests[i]);
	free(ix->manifests);
	memset(ix, 0, sizeof(*ix));
}

int oci_index_parse(const char *buf, size_t len, struct oci_index *out, struct lm_err *err)
{
	json_t *root = load(buf, len, "image index", err), *arr;
	struct oci_index ix = { 0 };
	if (!root)
		return -1;
	arr = json_object_get(root, "manifests");
	if (!json_is_array(arr)) {
		json_decref(root);
		return lm_err_set(err, LM_E_INPUT, "image index: missing manifests");
	}
	ix.media_type = dup_or_null(jstr(root, "mediaType"));
	ix.n = json_array_size(arr);
	ix.manifests = lm_xcalloc(ix.n, sizeof(*ix.manifests));
	for (size_t i = 0; i < ix.n; i++) {
		char what[64];
		snprintf(what, sizeof(what), "image index: manifests[%zu]", i);
		if (desc_parse(json_array_get(arr, i), &ix.manifests[i], what, err) < 0) {
			json_decref(root);
			oci_index_release(&ix);
			return -1;
		}
	}
	json_decref(root);
	*out = ix;
	return 0;
}

char *oci_index_serialize(const struct oci_index *ix, size_t *len)
{
	json_t *j = json_object(), *arr = json_array();
	char *s;
	json_object_set_new(j, "schemaVersion", json_integer(2));
	json_object_set_new(j, "mediaType", json_string(ix->media_type ? ix->media_type : OCI_MT_INDEX));
	for (size_t i = 0; i < ix->n; i++)
		json_array_append_new(arr, desc_json(&ix->manifests[i]));
	json_object_set_new(j, "manifests", arr);
	s = dump(j, len);
	json_decref(j);
	return s;
}

int oci_index_select(const struct oci_index *ix, const struct oci_platform *want)
{
	for (size_t i = 0; i < ix->n; i++) {
		const struct oci_descriptor *d = &ix->manifests[i];
		if (d->media_type && strcmp(d->media_type, OCI_MT_MANIFEST) != 0 &&
		    strcmp(d->media_type, DOCKER_MT_MANIFEST) != 0)
			continue; /* nested indexes, attestations stored as other types */
		if (oci_platform_match(&d->platform, want))
			return (int)i;
	}
	return -1;
}

/* ---- config ---- */

int oci_config_parse(const char *buf, size_t len, struct oci_config **out, struct lm_err *err)
{
	json_t *root = load(buf, len, "image config", err);
	struct oci_config *c;
	if (!root)
		return -1;
	c = lm_xcalloc(1, sizeof(*c));
	c->root = root;
	*out = c;
	return 0;
}

void oci_config_free(struct oci_config *c)
{
	if (!c)
		return;
	json_decref(c->root);
	free(c);
}

static char **str_array(json_t *a, size_t *n)
{
	char **v;
	size_t k = 0;
	if (!json_is_array(a)) {
		*n = 0;
		return NULL;
	}
	v = lm_xcalloc(json_array_size(a) + 1, sizeof(*v));
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *s = json_array_get(a, i);
		if (json_is_string(s))
			v[k++] = lm_xstrdup(json_string_value(s));
	}
	*n = k;
	return v;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static json_t *cfg(struct oci_config *c)
{
	json_t *j = json_object_get(c->root, "config");
	if (!json_is_object(j)) {
		j = json_object();
		json_object_set_new(c->root, "config", j);
	}
	return j;
}

static int cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void oci_config_view_get(const struct oci_config *c, struct oci_config_view *v)
{
	json_t *cf = json_object_get(c->root, "config");
	json_t *rootfs = json_object_get(c->root, "rootfs");
	memset(v, 0, sizeof(*v));
	v->os = dup_or_null(jstr(c->root, "os"));
	v->arch = dup_or_null(jstr(c->root, "architecture"));
	v->variant = dup_or_null(jstr(c->root, "variant"));
	if (json_is_object(cf)) {
		v->env = str_array(json_object_get(cf, "Env"), &v->nenv);
		v->entrypoint = str_array(json_object_get(cf, "Entrypoint"), &v->nentrypoint);
		v->cmd = str_array(json_object_get(cf, "Cmd"), &v->ncmd);
		v->workdir = dup_or_null(jstr(cf, "WorkingDir"));
		v->user = dup_or_null(jstr(cf, "User"));
	}
	if (json_is_object(rootfs))
		v->diff_ids = str_array(json_object_get(rootfs, "diff_ids"), &v->ndiff_ids);
	if (json_is_object(cf) && json_is_object(json_object_get(cf, "Labels"))) {
		json_t *l = json_object_get(cf, "Labels"), *val;
		const char *k;
		size_t n = json_object_size(l), i = 0;
		v->labels = lm_xcalloc(n + 1, sizeof(*v->labels));
		json_object_foreach(l, k, val)
		{
			if (json_is_string(val))
				v->labels[i++] = lm_asprintf("%s=%s", k, json_string_value(val));
		}
		v->nlabels = i;
		qsort(v->labels, i, sizeof(*v->labels), cmp_strp);
	}
	if (json_is_array(json_object_get(c->root, "history"))) {
		json_t *h = json_object_get(c->root, "history"), *it;
		size_t i, n = 0;
		v->layer_history = lm_xcalloc(json_array_size(h) + 1, sizeof(*v->layer_history));
		json_array_foreach(h, i, it)
		{
			if (json_is_true(json_object_get(it, "empty_layer")))
				continue;
			v->layer_history[n++] = lm_xstrdup(jstr(it, "created_by") ? jstr(it, "created_by") : "");
		}
		v->nlayer_history = n;
	}
}

void oci_config_view_release(struct oci_config_view *v)
{
	if (!v)
		return;
	free(v->os);
	free(v->arch);
	free(v->variant);
	free_strv(v->env, v->nenv);
	free_strv(v->entrypoint, v->nentrypoint);
	free_strv(v->cmd, v->ncmd);
	free(v->workdir);
	free(v->user);
	free_strv(v->diff_ids, v->ndiff_ids);
	free_strv(v->labels, v->nlabels);
	free_strv(v->layer_history, v->nlayer_history);
	memset(v, 0, sizeof(*v));
}

void oci_config_set_env(struct oci_config *c, const char *key, const char *value)
{
	json_t *cf = cfg(c), *env = json_object_get(cf, "Env");
	size_t kl = strlen(key);
	char *kv = lm_asprintf("%s=%s", key, value);
	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cf, "Env", env);
	}
	for (size_t i = 0; i < json_array_size(env); i++) {
		const char *s = json_string_value(json_array_get(env, i));
		if (s && strncmp(s, key, kl) == 0 && s[kl] == '=') {
			json_array_set_new(env, i, json_string(kv));
			free(kv);
			return;
		}
	}
	json_array_append_new(env, json_string(kv));
	free(kv);
}

static json_t *argv_json(char *const *argv, size_t n)
{
	json_t *a;
	if (!argv)
		return json_null();
	a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(argv[i]));
	return a;
}

void oci_config_set_entrypoint(struct oci_config *c, char *const *argv, size_t n)
{
	json_object_set_new(cfg(c), "Entrypoint", argv_json(argv, n));
}

void oci_config_set_cmd(struct oci_config *c, char *const *argv, size_t n)
{
	json_object_set_new(cfg(c), "Cmd", argv_json(argv, n));
}

void oci_config_set_workdir(struct oci_config *c, const char *dir)
{
	json_object_set_new(cfg(c), "WorkingDir", json_string(dir));
}

void oci_config_set_label(struct oci_config *c, const char *key, const char *value)
{
	json_t *cf = cfg(c), *l = json_object_get(cf, "Labels");
	if (!json_is_object(l)) {
		l = json_object();
		json_object_set_new(cf, "Labels", l);
	}
	json_object_set_new(l, key, json_string(value));
}

const char *oci_time_rfc3339(int64_t epoch, char *buf, size_t bufsz)
{
	time_t t = (time_t)epoch;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, bufsz, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

void oci_config_set_created(struct oci_config *c, int64_t epoch)
{
	char ts[32];
	json_object_set_new(c->root, "created", json_string(oci_time_rfc3339(epoch, ts, sizeof(ts))));
}

void oci_config_add_layer(struct oci_config *c, const char *diff_id, const char *created_by, int64_t epoch)
{
	json_t *rootfs = json_object_get(c->root, "rootfs"), *ids, *hist, *h;
	char ts[32];
	if (!json_is_object(rootfs)) {
		rootfs = json_object();
		json_object_set_new(c->root, "rootfs", rootfs);
	}
	json_object_set_new(rootfs, "type", json_string("layers"));
	ids = json_object_get(rootfs, "diff_ids");
	if (!json_is_array(ids)) {
		ids = json_array();
		json_object_set_new(rootfs, "diff_ids", ids);
	}
	json_array_append_new(ids, json_string(diff_id));
	hist = json_object_get(c->root, "history");
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(c->root, "history", hist);
	}
	h = json_object();
	json_object_set_new(h, "created", json_string(oci_time_rfc3339(epoch, ts, sizeof(ts))));
	json_object_set_new(h, "created_by", json_string(created_by));
	json_array_append_new(hist, h);
}

char *oci_config_serialize(const struct oci_config *c, size_t *len)
{
	return dump(c->root, len);
}
