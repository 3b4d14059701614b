/* push.c - registry_push: every blob the registry lacks (mounted from another repository
 * of the same registry when the image came from one, else uploaded, in chunks with
 * resume for large ones), then the manifest. */
#include "registry/registry_internal.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/str.h"

char *reg_upload_start_url(const char *base, const char *repo, const char *digest, const char *mount_from)
{
	char *from, *url;
	if (!mount_from)
		return lm_asprintf("%s/v2/%s/blobs/uploads/", base, repo);
	from = http_escape(mount_from);
	url = lm_asprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", base, repo, digest, from);
	free(from);
	return url;
}

char *reg_upload_put_url(const char *location, const char *digest)
{
	return lm_asprintf("%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", digest);
}

int64_t reg_upload_offset(long status, const char *range)
{
	long long a, b;
	if (status != 204 || !range || sscanf(range, "%lld-%lld", &a, &b) != 2 || a != 0 || b < 0)
		return -1;
	return b == 0 ? 0 : b + 1;
}

int64_t reg_upload_chunk(int64_t off, int64_t size, char cr[64])
{
	int64_t n = size - off < REG_CHUNK ? size - off : REG_CHUNK;
	snprintf(cr, 64, "%lld-%lld", (long long)off, (long long)(off + n - 1));
	return n;
}

char *reg_mount_source(const char *from_name, const char *from_base, const char *host, const char *repo)
{
	char *out = NULL;
	for (int k = 0; k < 2 && !out; k++) {
		const char *from = k == 0 ? from_name : from_base;
		struct ref src = { 0 };
		struct lm_err ignore = LM_ERR_INIT;
		if (from && ref_parse(from, &src, &ignore) == 0 && strcmp(src.host, host) == 0 &&
		    strcmp(src.repo, repo) != 0)
			out = lm_xstrdup(src.repo);
		lm_err_release(&ignore);
		ref_release(&src);
	}
	return out;
}

static int upload_start(struct reg *g, struct http_conn *h, const struct job *j, char **location, int *mounted,
			struct lm_err *err)
{
	struct http_req rq = { .method = "POST" };
	struct http_resp resp = { 0 };
	char *url = reg_upload_start_url(g->base, g->ref.repo, j->d->digest, j->mount_from);
	char *what = lm_asprintf("upload of blob %s", j->d->digest);
	int ret = -1;

	rq.url = url;
	if (reg_send(g, h, &rq, &resp, what, err) < 0)
		goto out;
	if (resp.status == 201 && j->mount_from) {
		*mounted = 1;
		ret = 0;
		goto out;
	}
	if (resp.status != 202 || !resp.location) {
		reg_status_err(g, &resp, what, err);
		goto out;
	}
	*location = http_url_resolve(url, resp.location);
	if (!*location) {
		lm_err_set(err, LM_E_NET, "%s of '%s': bad upload location", what, g->name);
		goto out;
	}
	ret = 0;
out:
	free(what);
	free(url);
	http_resp_release(&resp);
	return ret;
}

/* Asks an upload session how many bytes it holds (GET LOCATION), after a chunk whose
 * answer was lost or refused; sets *off (reg_upload_offset) and follows a new Location. */
static int upload_offset(struct reg *g, struct http_conn *h, char **location, int64_t *off, struct lm_err *err)
{
	struct http_req rq = { .method = "GET" };
	struct http_resp resp = { 0 };
	char *next;
	int ret = -1;
	rq.url = *location;
	if (reg_send(g, h, &rq, &resp, "upload status", err) < 0)
		goto out;
	*off = reg_upload_offset(resp.status, resp.range);
	if (*off < 0) {
		lm_err_set(err, LM_E_NET, "upload status of '%s': no usable Range (status %ld)", g->name, resp.status);
		goto out;
	}
	if (resp.location && (next = http_url_resolve(*location, resp.location))) {
		free(*location);
		*location = next;
	}
	ret = 0;
out:
	http_resp_release(&resp);
	return ret;
}

/* One try at uploading a blob from an open upload session. A chunk that fails (its
 * answer lost, or refused because the session already holds part of it) is resumed from
 * the offset the session reports, up to REG_UPLOAD_RESUMES times. */
static int upload_body(struct reg *g, struct http_conn *h, const struct job *j, char *location, int fd, int slot,
		       struct lm_err *err)
{
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	char *url = NULL, *what = lm_asprintf("upload of blob %s", j->d->digest), *next;
	int64_t size = j->d->size, off = 0;
	int ret = -1, resumes = 0;
	char cr[64];

	if (size > REG_MONOLITHIC_MAX) {
		/* chunked: PATCH with Content-Range, following the Location of each answer */
		while (off < size) {
			int64_t n = reg_upload_chunk(off, size, cr), at = -1;
			struct lm_err qerr = LM_ERR_INIT;
			int sent;
			memset(&rq, 0, sizeof(rq));
			rq.method = "PATCH";
			rq.url = location;
			rq.content_type = "application/octet-stream";
			rq.content_range = cr;
			rq.body_fd = fd;
			rq.body_off = off;
			rq.body_len = n;
			sent = reg_send(g, h, &rq, &resp, what, err);
			if (sent == 0 && resp.status == 202 && resp.location) {
				next = http_url_resolve(location, resp.location);
				if (!next) {
					lm_err_set(err, LM_E_NET, "%s of '%s': bad upload location", what, g->name);
					goto out;
				}
				free(location);
				location = next;
				off += n;
				progress_update(g->prog, slot, (uint64_t)off);
				continue;
			}
			if (sent == 0)
				reg_status_err(g, &resp, what, err);
			if (err->code == LM_E_AUTH || resumes++ >= REG_UPLOAD_RESUMES ||
			    upload_offset(g, h, &location, &at, &qerr) < 0 || at > size) {
				lm_err_release(&qerr);
				goto out;
			}
			if (g->ro->verbose)
				progress_note(g->prog, "%s: %s; the registry holds %lld bytes, resuming there", what,
					      err->msg, (long long)at);
			lm_err_release(err);
			off = at;
			progress_update(g->prog, slot, (uint64_t)off);
		}
	}
	url = reg_upload_put_url(location, j->d->digest);
	memset(&rq, 0, sizeof(rq));
	rq.method = "PUT";
	rq.url = url;
	rq.content_type = "application/octet-stream";
	if (off < size) {
		rq.body_fd = fd;
		rq.body_off = off;
		rq.body_len = size - off;
	}
	if (reg_send(g, h, &rq, &resp, what, err) < 0)
		goto out;
	if (resp.status != 201 && resp.status != 204) {
		reg_status_err(g, &resp, what, err);
		goto out;
	}
	progress_update(g->prog, slot, (uint64_t)size);
	ret = 0;
out:
	free(location);
	free(url);
	free(what);
	http_resp_release(&resp);
	return ret;
}

static int push_blob(struct reg *g, struct http_conn *h, const struct job *j, struct lm_err *err)
{
	struct http_req rq = { .method = "HEAD" };
	struct http_resp resp = { 0 };
	char *url = lm_asprintf("%s/v2/%s/blobs/%s", g->base, g->ref.repo, j->d->digest);
	char *path = NULL, *what = lm_asprintf("blob %s", j->d->digest);
	int fd = -1, ret = -1, slot = progress_start(g->prog, j->d->digest, j->d->size);
	const char *result = "failed";

	rq.url = url;
	if (reg_send(g, h, &rq, &resp, what, err) < 0)
		goto out;
	if (resp.status == 200) {
		reg_tally(g, &g->nexisted);
		result = "exists";
		ret = 0;
		goto out;
	}
	if (resp.status != 404) {
		reg_status_err(g, &resp, what, err);
		goto out;
	}
	path = cache_blob_path(g->cache, j->d->digest);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		lm_err_sys(err, "%s: open '%s'", what, path);
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		char *location = NULL;
		int mounted = 0;
		if (upload_start(g, h, j, &location, &mounted, err) == 0) {
			if (mounted) {
				reg_tally(g, &g->nmounted);
				result = "mounted";
				ret = 0;
				break;
			}
			if (upload_body(g, h, j, location, fd, slot, err) == 0) {
				reg_tally(g, &g->nuploaded);
				result = "done";
				ret = 0;
				break;
			}
		}
		/* reg_send retried each request; a failed session restarts from POST once more */
		if (attempt >= 2 || err->code == LM_E_AUTH || err->code == LM_E_IO)
			break;
		lm_err_release(err);
	}
out:
	progress_end(g->prog, slot, result);
	if (fd >= 0)
		close(fd);
	free(path);
	free(what);
	free(url);
	http_resp_release(&resp);
	return ret;
}

/* The bytes to PUT: the stored manifest when it has a top-level mediaType, else a
 * serialisation of the parsed one (which always carries it). */
static int push_manifest_bytes(const struct lm_image *img, struct cache *c, char **out, size_t *len, char **media_type,
			       struct lm_err *err)
{
	char *raw = NULL;
	size_t rlen = 0;
	struct oci_manifest m = { 0 };
	if (img->manifest_digest[0] && cache_has(c, img->manifest_digest, -1) &&
	    cache_read_blob(c, img->manifest_digest, OCI_JSON_MAX, &raw, &rlen, err) == 0) {
		if (oci_doc_kind(raw, rlen, NULL) != OCI_DOC_MANIFEST) {
			free(raw);
			return lm_err_set(err, LM_E_INPUT,
					  "the image is not a single-platform manifest (Lambda takes no index)");
		}
		if (oci_manifest_parse(raw, rlen, &m, err) < 0) {
			free(raw);
			return -1;
		}
		if (m.media_type && strstr(raw, "\"mediaType\"")) {
			*media_type = lm_xstrdup(m.media_type);
			*out = raw;
			*len = rlen;
			oci_manifest_release(&m);
			return 0;
		}
		oci_manifest_release(&m);
		free(raw);
	}
	lm_err_release(err);
	*out = oci_manifest_serialize(&img->manifest, len);
	*media_type = lm_xstrdup(img->manifest.media_type ? img->manifest.media_type : OCI_MT_MANIFEST);
	return 0;
}

int registry_push(const struct lm_image *img, struct cache *c, const char *refstr, const struct reg_opts *ro,
		  char digest_out[LM_DIGEST_LEN], struct lm_err *err)
{
	struct reg g;
	struct job *jobs = NULL;
	struct http_req rq = { .method = "PUT" };
	struct http_resp resp = { 0 };
	char *mbytes = NULL, *mt = NULL, *url = NULL, *mount_from = NULL;
	size_t mlen = 0, njobs = 0;
	char d[LM_DIGEST_LEN];
	int ret = -1;
	char h1[32];

	if (reg_init(&g, refstr, ro, c, "push", err) < 0)
		goto out;
	if (push_manifest_bytes(img, c, &mbytes, &mlen, &mt, err) < 0) {
		lm_err_wrap(err, "push to '%s'", g.name);
		goto out;
	}
	digest_buf(mbytes, mlen, d);
	if (g.ref.digest[0] && strcmp(g.ref.digest, d) != 0) {
		lm_err_set(err, LM_E_INPUT, "'%s' names digest %s but the image's manifest is %s", g.name, g.ref.digest,
			   d);
		goto out;
	}
	/* an image pulled from another repository of this registry, or built on one (the
	 * manifest's base.name annotation): mount its blobs from there */
	mount_from = reg_mount_source(img->name, img->manifest.base_name, g.ref.host, g.ref.repo);
	reg_add_scope(&g, g.ref.repo, "pull,push");
	if (mount_from)
		reg_add_scope(&g, mount_from, "pull");
	if (reg_ping(&g, err) < 0)
		goto out;

	jobs = reg_manifest_jobs(&img->manifest, &njobs);
	for (size_t i = 0; i < njobs; i++) {
		if (!cache_has(c, jobs[i].d->digest, jobs[i].d->size)) {
			lm_err_set(err, LM_E_IO, "blob %s of the image is not in the cache", jobs[i].d->digest);
			goto out;
		}
		jobs[i].mount_from = mount_from;
	}
	if (reg_run_jobs(&g, jobs, njobs, push_blob, err) < 0)
		goto out;

	url = lm_asprintf("%s/v2/%s/manifests/%s", g.base, g.ref.repo, g.ref.tag ? g.ref.tag : d);
	rq.url = url;
	rq.content_type = mt;
	rq.body = mbytes;
	rq.body_len = (int64_t)mlen;
	if (reg_send(&g, g.conn, &rq, &resp, "manifest upload", err) < 0)
		goto out;
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		reg_status_err(&g, &resp, "manifest upload", err);
		goto out;
	}
	if (resp.docker_digest && digest_valid(resp.docker_digest) && strcmp(resp.docker_digest, d) != 0) {
		lm_err_set(err, LM_E_VERIFY, "registry stored manifest %s for '%s', lamina sent %s", resp.docker_digest,
			   g.name, d);
		goto out;
	}
	progress_note(g.prog, "%s: %d blobs uploaded, %d mounted, %d already there (%s sent)", g.name, g.nuploaded,
		      g.nmounted, g.nexisted, lm_human_bytes(g.sent, h1, sizeof(h1)));
	memcpy(digest_out, d, LM_DIGEST_LEN);
	ret = 0;
out:
	free(url);
	free(mbytes);
	free(mt);
	free(jobs);
	free(mount_from);
	http_resp_release(&resp);
	reg_release(&g);
	return ret;
}
