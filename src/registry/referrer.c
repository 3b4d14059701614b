/* referrer.c - registry_attach: an artifact (an SBOM) pushed as an OCI 1.1 referrer of an
 * image, with the referrers tag schema for registries without the referrers API (Docker
 * Distribution 2.8, Debian's docker-registry). */
#include "registry/registry_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "image/oci.h"

#define OCI_MT_EMPTY "application/vnd.oci.empty.v1+json"
/* "{}", the empty descriptor's content */
#define OCI_EMPTY_DIGEST "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
/* Referrers lists and tag indexes are small; a larger answer is not read whole. */
#define REG_REFERRERS_MAX ((size_t)4 << 20)

static json_t *desc(const char *mt, const char *digest, int64_t size)
{
	json_t *d = json_object();
	json_object_set_new(d, "mediaType", json_string(mt));
	json_object_set_new(d, "digest", json_string(digest));
	json_object_set_new(d, "size", json_integer(size));
	return d;
}

char *registry_artifact_manifest(const char *artifact_type, const char *blob_digest, int64_t blob_size,
				 const char *title, const struct oci_descriptor *subject, size_t *len)
{
	json_t *m = json_object(), *cfg, *layers = json_array(), *l, *ann;
	char *s;
	json_object_set_new(m, "schemaVersion", json_integer(2));
	json_object_set_new(m, "mediaType", json_string(OCI_MT_MANIFEST));
	json_object_set_new(m, "artifactType", json_string(artifact_type));
	cfg = desc(OCI_MT_EMPTY, OCI_EMPTY_DIGEST, 2);
	json_object_set_new(cfg, "data", json_string("e30="));
	json_object_set_new(m, "config", cfg);
	l = desc(artifact_type, blob_digest, blob_size);
	if (title) {
		ann = json_object();
		json_object_set_new(ann, "org.opencontainers.image.title", json_string(title));
		json_object_set_new(l, "annotations", ann);
	}
	json_array_append_new(layers, l);
	json_object_set_new(m, "layers", layers);
	json_object_set_new(m, "subject",
			    desc(subject->media_type ? subject->media_type : OCI_MT_MANIFEST, subject->digest, subject->size));
	s = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	if (!s)
		abort(); /* out of memory */
	*len = strlen(s);
	return s;
}

/* GET or PUT one URL of the repository; the body of a GET in resp. */
static int call(struct reg *g, const char *method, const char *url, const char *accept, const char *ctype,
		const char *body, size_t len, struct http_resp *resp, const char *what, struct lm_err *err)
{
	struct http_req rq = { .method = method, .url = url, .accept = accept, .content_type = ctype };
	rq.body = body;
	rq.body_len = (int64_t)len;
	rq.body_max = REG_REFERRERS_MAX;
	return reg_send(g, g->conn, &rq, resp, what, err);
}

/* 1 when the index JSON in body lists digest among its manifests. */
static int index_lists(const char *body, size_t len, const char *digest)
{
	json_t *j = json_loadb(body, len, 0, NULL), *ms = j ? json_object_get(j, "manifests") : NULL, *e;
	size_t i;
	int found = 0;
	json_array_foreach(ms, i, e)
	{
		json_t *d = json_object_get(e, "digest");
		if (json_is_string(d) && strcmp(json_string_value(d), digest) == 0)
			found = 1;
	}
	json_decref(j);
	return found;
}

/* The referrers tag schema: add the artifact to the index at tag sha256-<hex>. */
static int tag_schema(struct reg *g, const struct oci_descriptor *subject, const char *artifact_type,
		      const char *adigest, int64_t asize, struct lm_err *err)
{
	struct http_resp resp = { 0 };
	char *url = lm_asprintf("%s/v2/%s/manifests/sha256-%s", g->base, g->ref.repo, digest_hex(subject->digest));
	json_t *ix = NULL, *ms, *d;
	char *body = NULL;
	int ret = -1;
	/* every manifest type: what the tag holds must be seen to be left alone when it is no index */
	if (call(g, "GET", url, REG_ACCEPT, NULL, NULL, 0, &resp, "referrers tag", err) < 0)
		goto out;
	if (resp.status == 200) {
		ix = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		if (!json_is_object(ix) || !json_is_array(json_object_get(ix, "manifests"))) {
			lm_err_set(err, LM_E_INPUT, "the tag sha256-%s holds no index: left alone",
				   digest_hex(subject->digest));
			goto out;
		}
		if (index_lists(resp.body.data, resp.body.len, adigest)) {
			ret = 0; /* there already */
			goto out;
		}
	} else if (resp.status == 404) {
		ix = json_object();
		json_object_set_new(ix, "schemaVersion", json_integer(2));
		json_object_set_new(ix, "mediaType", json_string(OCI_MT_INDEX));
		json_object_set_new(ix, "manifests", json_array());
	} else {
		reg_status_err(g, &resp, "referrers tag", err);
		goto out;
	}
	ms = json_object_get(ix, "manifests");
	d = desc(OCI_MT_MANIFEST, adigest, asize);
	json_object_set_new(d, "artifactType", json_string(artifact_type));
	json_array_append_new(ms, d);
	body = json_dumps(ix, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!body)
		abort();
	if (call(g, "PUT", url, NULL, OCI_MT_INDEX, body, strlen(body), &resp, "referrers tag upload", err) < 0)
		goto out;
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		reg_status_err(g, &resp, "referrers tag upload", err);
		goto out;
	}
	ret = 0;
out:
	json_decref(ix);
	free(body);
	free(url);
	http_resp_release(&resp);
	return ret;
}

const char *registry_attach_how_name(enum reg_attach_how how)
{
	return how == REG_ATTACH_REFERRERS ? "referrers API"
	       : how == REG_ATTACH_TAG	   ? "referrers tag schema: no referrers API"
					   : "artifact manifest with its subject";
}

void registry_subject(const struct lm_image *img, struct cache *c, const char *digest, struct oci_descriptor *d)
{
	char *raw = NULL;
	size_t len = 0;
	struct lm_err e2 = LM_ERR_INIT;
	memset(d, 0, sizeof(*d));
	snprintf(d->digest, sizeof(d->digest), "%s", digest);
	d->media_type = img->manifest.media_type ? img->manifest.media_type : (char *)OCI_MT_MANIFEST;
	if (cache_has(c, digest, -1) && cache_read_blob(c, digest, OCI_JSON_MAX, &raw, &len, &e2) == 0) {
		d->size = (int64_t)len;
	} else {
		char *s = oci_manifest_serialize(&img->manifest, &len);
		d->size = (int64_t)len;
		free(s);
	}
	free(raw);
	lm_err_release(&e2);
}

int registry_attach(const char *ref, struct cache *c, const struct reg_opts *ro, const struct oci_descriptor *subject,
		    const char *artifact_type, const char *path, enum reg_attach_how *how,
		    char digest_out[LM_DIGEST_LEN], struct lm_err *err)
{
	struct reg g;
	struct lm_image art;
	struct http_resp resp = { 0 };
	char bd[LM_DIGEST_LEN], md[LM_DIGEST_LEN], pushed[LM_DIGEST_LEN], *mbuf = NULL, *aref = NULL, *url = NULL;
	const char *title = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t mlen = 0;
	int64_t bsize;
	int ret = -1, inited = 0;

	image_init(&art);
	if (cache_put_file(c, path, bd, err) < 0 || cache_put_buf(c, "{}", 2, NULL, err) < 0)
		goto out;
	{
		/* the size of what was stored (the file may change under us; the blob does not) */
		char *p = cache_blob_path(c, bd);
		struct stat st;
		int r = stat(p, &st);
		if (r < 0)
			lm_err_sys(err, "stat '%s'", p);
		free(p);
		if (r < 0)
			goto out;
		bsize = (int64_t)st.st_size;
	}
	mbuf = registry_artifact_manifest(artifact_type, bd, bsize, title, subject, &mlen);
	if (cache_put_buf(c, mbuf, mlen, md, err) < 0 || image_from_manifest(&art, mbuf, mlen, c, err) < 0)
		goto out;
	if (reg_init(&g, ref, ro, c, "push", err) < 0)
		goto out;
	inited = 1;
	aref = lm_asprintf("%s/%s@%s", g.ref.host, g.ref.repo, md);
	if (registry_push(&art, c, aref, ro, pushed, err) < 0)
		goto out;
	/* the referrers API, else the tag schema */
	reg_add_scope(&g, g.ref.repo, "pull,push");
	if (reg_ping(&g, err) < 0)
		goto out;
	url = lm_asprintf("%s/v2/%s/referrers/%s", g.base, g.ref.repo, subject->digest);
	if (call(&g, "GET", url, OCI_MT_INDEX, NULL, NULL, 0, &resp, "referrers", err) < 0)
		goto out;
	if (resp.status == 200 && index_lists(resp.body.data, resp.body.len, md)) {
		*how = REG_ATTACH_REFERRERS;
	} else if (resp.status == 200) {
		/* an API that does not list it (yet): the manifest with its subject is there */
		*how = REG_ATTACH_MANIFEST;
	} else {
		if (tag_schema(&g, subject, artifact_type, md, (int64_t)mlen, err) < 0)
			goto out;
		*how = REG_ATTACH_TAG;
	}
	memcpy(digest_out, md, LM_DIGEST_LEN);
	ret = 0;
out:
	if (inited)
		reg_release(&g);
	http_resp_release(&resp);
	image_release(&art);
	free(mbuf);
	free(aref);
	free(url);
	return ret;
}
