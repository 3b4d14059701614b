/* pull.c - registry_pull: the manifest (through an index for the platform), then every
 * blob not yet cached, verified into the cache, resuming interrupted downloads. */
#include "registry/registry_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

enum reg_resume reg_resume_check(int64_t from, long status, const char *content_range)
{
	int64_t s, e, t;
	if (from <= 0)
		return REG_RESUME_APPEND;
	if (status == 200)
		return REG_RESUME_RESTART;
	if (status != 206 || http_content_range_parse(content_range, &s, &e, &t) < 0 || s != from)
		return REG_RESUME_BAD;
	return REG_RESUME_APPEND;
}

struct dl {
	struct reg *g;
	struct cache_writer *w;
	int64_t from; /* Range start of this request */
	int checked;  /* first body bytes of this answer seen */
	int slot;
	struct lm_err err;
	int io_failed;
};

static int blob_sink(void *ctx, const struct http_resp *resp, const void *data, size_t len)
{
	struct dl *d = ctx;
	if (!d->checked) {
		d->checked = 1;
		switch (reg_resume_check(d->from, resp->status, resp->content_range)) {
		case REG_RESUME_RESTART:
			cache_writer_abort(d->w);
			d->w = cache_writer_new(d->g->cache, &d->err);
			if (!d->w) {
				d->io_failed = 1;
				return -1;
			}
			break;
		case REG_RESUME_BAD:
			lm_err_set(&d->err, LM_E_NET, "resumed download answered with range '%s'",
				   resp->content_range ? resp->content_range : "(none)");
			return -1;
		case REG_RESUME_APPEND:
			break;
		}
	}
	if (cache_writer_write(d->w, data, len, &d->err) < 0) {
		d->io_failed = 1;
		return -1;
	}
	progress_update(d->g->prog, d->slot, cache_writer_size(d->w));
	return 0;
}

static int pull_blob(struct reg *g, struct http_conn *h, const struct job *j, struct lm_err *err)
{
	const struct oci_descriptor *desc = j->d;
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	struct dl d = { .g = g, .err = LM_ERR_INIT };
	char *url = lm_asprintf("%s/v2/%s/blobs/%s", g->base, g->ref.repo, desc->digest);
	char *problem = NULL;
	int ret = -1, renewed = 0, problem_code = LM_E_NET;

	d.slot = progress_start(g->prog, desc->digest, desc->size);
	rq.url = url;
	rq.sink = blob_sink;
	rq.sink_ctx = &d;
	for (int attempt = 1; attempt <= REG_TRIES; attempt++) {
		unsigned gen;
		int r;
		long wait_s = -1;

		if (!d.w && !(d.w = cache_writer_new(g->cache, err)))
			goto out;
		d.from = (int64_t)cache_writer_size(d.w);
		d.checked = 0;
		rq.range_from = d.from;
		r = reg_do(g, h, &rq, &resp, &gen, err);
		free(problem);
		problem = NULL;
		problem_code = LM_E_NET;
		if (d.io_failed) {
			lm_err_set(err, d.err.code, "%s", d.err.msg);
			lm_err_wrap(err, "blob %s of '%s'", desc->digest, g->name);
			goto out;
		}
		if (r < 0) {
			if (d.err.msg) { /* bad 206: restart from zero */
				problem = lm_xstrdup(d.err.msg);
				lm_err_release(&d.err);
				cache_writer_abort(d.w);
				d.w = NULL;
			} else if (!http_transient(resp.curl_code)) {
				lm_err_wrap(err, "blob %s of '%s'", desc->digest, g->name);
				goto out;
			} else {
				problem = lm_xstrdup(err->msg);
			}
			lm_err_release(err);
		} else if (resp.status == 401 && renewed < 2) {
			renewed++;
			if (reg_reauth(g, h, resp.www_authenticate, gen, err) < 0) {
				lm_err_wrap(err, "blob %s of '%s'", desc->digest, g->name);
				goto out;
			}
			attempt--;
			continue;
		} else if (http_status_retryable(resp.status)) {
			problem = lm_asprintf("registry answered %ld", resp.status);
			wait_s = http_retry_after(resp.retry_after, time(NULL));
		} else if (resp.status != 200 && resp.status != 206) {
			char *what = lm_asprintf("blob %s", desc->digest);
			reg_status_err(g, &resp, what, err);
			free(what);
			goto out;
		} else {
			uint64_t n = cache_writer_size(d.w);
			if (desc->size >= 0 && n < (uint64_t)desc->size) {
				problem = lm_asprintf("body ended after %llu of %lld bytes", (unsigned long long)n,
						      (long long)desc->size);
			} else {
				struct lm_err cerr = LM_ERR_INIT;
				int cr = cache_writer_commit(d.w, desc->digest, desc->size, NULL, &cerr);
				d.w = NULL;
				if (cr == 0) {
					ret = 0;
					break;
				}
				if (cerr.code != LM_E_VERIFY) {
					*err = cerr;
					lm_err_wrap(err, "blob %s of '%s'", desc->digest, g->name);
					goto out;
				}
				problem = lm_xstrdup(cerr.msg);
				problem_code = LM_E_VERIFY;
				lm_err_release(&cerr);
			}
		}
		if (attempt < REG_TRIES) {
			if (g->ro->verbose)
				progress_note(g->prog, "%s: %s, retrying", desc->digest, problem);
			http_sleep_ms(http_backoff_ms(attempt, wait_s));
		}
	}
	if (ret < 0)
		lm_err_set(err, problem_code, "blob %s of '%s': %s (after %d tries)", desc->digest, g->name,
			   problem ? problem : "failed", REG_TRIES);
	else {
		reg_tally(g, &g->ndownloaded);
		progress_end(g->prog, d.slot, "done");
		d.slot = -1;
	}
out:
	if (d.slot >= 0)
		progress_end(g->prog, d.slot, "failed");
	cache_writer_abort(d.w);
	lm_err_release(&d.err);
	free(problem);
	free(url);
	http_resp_release(&resp);
	return ret;
}

/* Fetches a manifest (by tag or digest) into *out; checks it against want_digest when
 * given and against the Docker-Content-Digest header when the registry sends one. */
static int get_manifest(struct reg *g, const char *reference, const char *want_digest, char **out, size_t *len,
			char **ctype, struct lm_err *err)
{
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	char *url = lm_asprintf("%s/v2/%s/manifests/%s", g->base, g->ref.repo, reference);
	char d[LM_DIGEST_LEN];
	int ret = -1;

	rq.url = url;
	rq.accept = REG_ACCEPT;
	rq.body_max = OCI_JSON_MAX;
	if (reg_send(g, g->conn, &rq, &resp, "manifest", err) < 0)
		goto out;
	if (resp.status == 404) {
		lm_err_set(err, LM_E_NET, "manifest '%s' not found in '%s/%s' (404)", reference, g->ref.host,
			   g->ref.repo);
		goto out;
	}
	if (resp.status != 200) {
		reg_status_err(g, &resp, "manifest", err);
		goto out;
	}
	digest_buf(resp.body.data ? resp.body.data : "", resp.body.len, d);
	if (want_digest && strcmp(d, want_digest) != 0) {
		lm_err_set(err, LM_E_VERIFY, "manifest of '%s' has digest %s, expected %s", g->name, d, want_digest);
		goto out;
	}
	if (!want_digest && resp.docker_digest && digest_valid(resp.docker_digest) &&
	    strcmp(resp.docker_digest, d) != 0) {
		lm_err_set(err, LM_E_VERIFY, "manifest of '%s' has digest %s, registry says %s", g->name, d,
			   resp.docker_digest);
		goto out;
	}
	*ctype = resp.content_type ? lm_xstrdup(resp.content_type) : NULL;
	*out = buf_steal(&resp.body, len);
	ret = 0;
out:
	free(url);
	http_resp_release(&resp);
	return ret;
}

/* A manifest by digest: from the cache when present, else from the registry. */
static int manifest_by_digest(struct reg *g, const char *digest, char **out, size_t *len, char **ctype,
			      struct lm_err *err)
{
	if (cache_has(g->cache, digest, -1) && cache_read_blob(g->cache, digest, OCI_JSON_MAX, out, len, err) == 0) {
		*ctype = NULL;
		return 0;
	}
	lm_err_release(err);
	return get_manifest(g, digest, digest, out, len, ctype, err);
}

char *reg_platforms_list(const struct oci_index *ix)
{
	struct lm_buf b;
	size_t l;
	buf_init(&b, 0);
	for (size_t i = 0; i < ix->n; i++) {
		const struct oci_platform *p = &ix->manifests[i].platform;
		if (!p->os)
			continue;
		if (b.len)
			buf_appends(&b, ", ");
		buf_appends(&b, p->os);
		buf_appends(&b, "/");
		buf_appends(&b, p->arch ? p->arch : "?");
		if (p->variant) {
			buf_appends(&b, "/");
			buf_appends(&b, p->variant);
		}
	}
	return buf_steal(&b, &l);
}

int reg_select_platform(const struct oci_index *ix, const struct oci_platform *want, const char *want_str,
			const char *name, struct lm_err *err)
{
	int i = oci_index_select(ix, want);
	if (i < 0) {
		char *pl = reg_platforms_list(ix);
		lm_err_set(err, LM_E_INPUT, "'%s' has no image for platform '%s' (it has: %s)", name, want_str,
			   *pl ? pl : "none");
		free(pl);
	}
	return i;
}

int registry_pull(const char *refstr, const struct reg_opts *ro, struct cache *c, struct lm_image *out,
		  struct lm_err *err)
{
	struct reg g;
	const char *platform = ro->platform ? ro->platform : "linux/amd64";
	struct oci_platform want = { 0 };
	struct oci_index ix = { 0 };
	struct oci_manifest m = { 0 };
	struct job *jobs = NULL;
	char *body = NULL, *ctype = NULL;
	size_t len = 0, njobs = 0, nall = 0;
	char d[LM_DIGEST_LEN];
	int ret = -1, pinged = 0;
	enum oci_doc_kind kind;

	if (reg_init(&g, refstr, ro, c, "pull", err) < 0)
		goto out;
	if (oci_platform_parse(platform, &want, err) < 0)
		goto out;
	reg_add_scope(&g, g.ref.repo, "pull");

	/* a pinned digest already in the cache needs no request at all */
	if (g.ref.digest[0] && cache_has(c, g.ref.digest, -1) &&
	    cache_read_blob(c, g.ref.digest, OCI_JSON_MAX, &body, &len, err) == 0) {
		ctype = NULL;
	} else {
		lm_err_release(err);
		if (reg_ping(&g, err) < 0)
			goto out;
		pinged = 1;
		if (get_manifest(&g, ref_manifest_ref(&g.ref), g.ref.digest[0] ? g.ref.digest : NULL, &body, &len,
				 &ctype, err) < 0)
			goto out;
	}
	kind = oci_doc_kind(body, len, ctype);
	if (kind == OCI_DOC_INDEX) {
		const struct oci_descriptor *sel;
		int i;
		if (cache_put_buf(c, body, len, d, err) < 0)
			goto out;
		if (oci_index_parse(body, len, &ix, err) < 0) {
			lm_err_wrap(err, "index of '%s'", g.name);
			goto out;
		}
		i = reg_select_platform(&ix, &want, platform, g.name, err);
		if (i < 0)
			goto out;
		sel = &ix.manifests[i];
		free(body);
		free(ctype);
		body = ctype = NULL;
		if (!pinged && !cache_has(c, sel->digest, -1)) {
			if (reg_ping(&g, err) < 0)
				goto out;
			pinged = 1;
		}
		if (manifest_by_digest(&g, sel->digest, &body, &len, &ctype, err) < 0)
			goto out;
		if (sel->size >= 0 && (size_t)sel->size != len) {
			lm_err_set(err, LM_E_VERIFY, "manifest %s of '%s' has %zu bytes, index says %lld", sel->digest,
				   g.name, len, (long long)sel->size);
			goto out;
		}
		kind = oci_doc_kind(body, len, ctype);
	}
	if (kind == OCI_DOC_DOCKER_V1) {
		lm_err_set(err, LM_E_INPUT, "'%s' is a Docker schema 1 image, which lamina does not read", g.name);
		goto out;
	}
	if (kind != OCI_DOC_MANIFEST) {
		lm_err_set(err, LM_E_INPUT, "'%s': the registry sent something that is not an image manifest", g.name);
		goto out;
	}
	if (cache_put_buf(c, body, len, d, err) < 0)
		goto out;
	if (oci_manifest_parse(body, len, &m, err) < 0) {
		lm_err_wrap(err, "manifest of '%s'", g.name);
		goto out;
	}
	/* only what the cache lacks */
	jobs = reg_manifest_jobs(&m, &nall);
	for (size_t i = 0; i < nall; i++)
		if (!cache_has(c, jobs[i].d->digest, jobs[i].d->size))
			jobs[njobs++] = jobs[i];
	if (njobs > 0) {
		if (!pinged && reg_ping(&g, err) < 0)
			goto out;
		if (reg_run_jobs(&g, jobs, njobs, pull_blob, err) < 0)
			goto out;
	}
	if (image_from_manifest(out, body, len, c, err) < 0) {
		lm_err_wrap(err, "'%s'", g.name);
		goto out;
	}
	free(out->name);
	out->name = lm_xstrdup(g.name);
	if (ro->verbose)
		progress_note(g.prog, "%s: %d blobs downloaded, %zu cached", g.name, g.ndownloaded,
			      m.nlayers + 1 - (size_t)g.ndownloaded);
	ret = 0;
out:
	free(jobs);
	oci_manifest_release(&m);
	oci_index_release(&ix);
	oci_platform_release(&want);
	free(body);
	free(ctype);
	reg_release(&g);
	return ret;
}

/* ---- sessions: a manifest and chosen blobs of one reference ---- */

struct reg_session {
	struct reg g;
};

struct reg_session *registry_session_new(const char *refstr, const struct reg_opts *ro, struct cache *c,
					 struct lm_err *err)
{
	struct reg_session *s = lm_xcalloc(1, sizeof(*s));
	if (reg_init(&s->g, refstr, ro, c, "pull", err) < 0) {
		reg_release(&s->g);
		free(s);
		return NULL;
	}
	reg_add_scope(&s->g, s->g.ref.repo, "pull");
	if (reg_ping(&s->g, err) < 0) {
		registry_session_free(s);
		return NULL;
	}
	return s;
}

void registry_session_free(struct reg_session *s)
{
	if (!s)
		return;
	reg_release(&s->g);
	free(s);
}

int registry_session_manifest(struct reg_session *s, char **body, size_t *len, char **media_type,
			      struct lm_err *err)
{
	struct reg *g = &s->g;
	return get_manifest(g, ref_manifest_ref(&g->ref), g->ref.digest[0] ? g->ref.digest : NULL, body, len,
			    media_type, err);
}

int registry_session_blobs(struct reg_session *s, const struct oci_descriptor *d, size_t n, struct lm_err *err)
{
	struct job *jobs = lm_xcalloc(n + 1, sizeof(*jobs));
	size_t njobs = 0;
	int r = 0;
	for (size_t i = 0; i < n; i++)
		if (!cache_has(s->g.cache, d[i].digest, d[i].size))
			jobs[njobs++].d = &d[i];
	if (njobs)
		r = reg_run_jobs(&s->g, jobs, njobs, pull_blob, err);
	free(jobs);
	return r;
}
