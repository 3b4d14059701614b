/* registry.c - OCI distribution client: pull into the cache, push from the cache.
 *
 * One struct reg per run and repository: the base URL (https, or http for loopback and
 * --insecure-registry hosts that do not speak TLS), the current Authorization value and
 * what is needed to renew it (the challenge and the credentials). Blob transfers run on
 * up to ro->jobs threads, each with its own keep-alive connection. */
#include "registry/registry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "registry/auth.h"
#include "registry/http.h"
#include "registry/progress.h"
#include "registry/ref.h"
#include "common/alloc.h"
#include "common/str.h"

#define REG_TRIES 5
#define REG_JOBS_DEFAULT 4
#define REG_MONOLITHIC_MAX (16 * 1024 * 1024)
#define REG_CHUNK (16 * 1024 * 1024)
#define REG_UPLOAD_RESUMES 4 /* status queries + resumes of one chunked upload session */
#define REG_ACCEPT                                                                                           \
	OCI_MT_MANIFEST ", " OCI_MT_INDEX ", " DOCKER_MT_MANIFEST ", " DOCKER_MT_LIST

struct reg {
	const struct reg_opts *ro;
	struct cache *cache;
	struct http_client *http;
	struct http_conn *conn; /* the calling thread's */
	struct ref ref;
	char *name;  /* normalised reference, for messages */
	char *base;  /* "https://host" */
	int tls_noverify;
	char **scopes;
	size_t nscopes;
	struct progress *prog;

	pthread_mutex_t mu; /* guards what follows */
	char *authz;        /* current Authorization value, or NULL */
	unsigned auth_gen;  /* bumped on every renewal */
	struct auth_challenge ch;
	struct auth_cred cred;
	int cred_state; /* 0 not looked up, 1 found, -1 none */
	uint64_t sent, received;
	int nuploaded, nexisted, nmounted, ndownloaded;
};

static int reg_is_insecure(const struct reg_opts *ro, const char *host)
{
	if (http_host_is_loopback(host))
		return 1;
	for (size_t i = 0; i < ro->ninsecure; i++) {
		const char *h = ro->insecure[i];
		size_t n = strlen(h);
		/* "HOST" matches any port of HOST; "HOST:PORT" only that port */
		if (strcmp(h, host) == 0 || (strncmp(h, host, n) == 0 && host[n] == ':' && !strchr(h, ':')))
			return 1;
	}
	return 0;
}

static char *auth_copy(struct reg *g, unsigned *gen)
{
	char *a;
	pthread_mutex_lock(&g->mu);
	a = g->authz ? lm_xstrdup(g->authz) : NULL;
	if (gen)
		*gen = g->auth_gen;
	pthread_mutex_unlock(&g->mu);
	return a;
}

static void free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

/* Credentials: --username/--password-stdin, else docker config. Called with mu held. */
static int load_cred(struct reg *g, struct lm_err *err)
{
	int r;
	if (g->cred_state)
		return 0;
	if (g->ro->username) {
		if (!g->ro->password)
			return lm_err_set(err, LM_E_USAGE, "--username needs a password (--password-stdin)");
		g->cred.username = lm_xstrdup(g->ro->username);
		g->cred.password = lm_xstrdup(g->ro->password);
		g->cred_state = 1;
		return 0;
	}
	r = auth_resolve(g->ref.host, &g->cred, err);
	if (r < 0)
		return lm_err_wrap(err, "credentials for '%s'", g->ref.host);
	g->cred_state = r ? 1 : -1;
	return 0;
}

static void count_io(struct reg *g, const struct http_resp *resp)
{
	pthread_mutex_lock(&g->mu);
	g->sent += resp->sent;
	g->received += resp->received;
	pthread_mutex_unlock(&g->mu);
}

/* Appends "<sep>key=<escaped val>" to b; sep ('?', '&' or '\0' for none) becomes '&'.
 * The escaped copy is scrubbed before it is freed: val may be a secret. */
static void add_param(struct lm_buf *b, char *sep, const char *key, const char *val)
{
	char *e = http_escape(val);
	if (*sep)
		buf_append(b, sep, 1);
	*sep = '&';
	buf_appends(b, key);
	buf_appends(b, "=");
	buf_appends(b, e);
	free_secret(e);
}

int registry_realm_allowed(const char *realm, const struct reg_opts *ro)
{
	const char *rest, *end;
	char *host;
	int ok;
	if (strncmp(realm, "https://", 8) == 0)
		return 1;
	if (strncmp(realm, "http://", 7) != 0)
		return 0;
	rest = realm + 7;
	end = rest + strcspn(rest, "/?#");
	host = lm_xstrndup(rest, (size_t)(end - rest));
	if (strchr(host, '@')) { /* user:pass@host: no credentials in a URL either */
		free(host);
		return 0;
	}
	ok = *host && reg_is_insecure(ro, host);
	free(host);
	return ok;
}

/* GET (or POST, for an identity token) the realm for a bearer token. Called with mu held. */
static int fetch_token(struct reg *g, struct http_conn *h, struct lm_err *err)
{
	struct lm_buf url, form;
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	char *tok = NULL, *basic = NULL;
	int ret = -1;

	buf_init(&url, 0);
	buf_init(&form, 0);
	/* the same rule as for the registry: no credentials, no token in clear */
	if (!registry_realm_allowed(g->ch.realm, g->ro)) {
		lm_err_set(err, LM_E_AUTH,
			   "'%s' sends lamina for a token to '%.200s', which is not HTTPS: lamina sends no credentials "
			   "in clear (for a test registry on another host: --insecure-registry HOST)",
			   g->name, g->ch.realm);
		goto out;
	}
	buf_appends(&url, g->ch.realm);
	if (g->cred_state > 0 && g->cred.identity_token) {
		/* OAuth2 refresh-token grant, as docker does with an identity token */
		char sep = '\0';
		add_param(&form, &sep, "grant_type", "refresh_token");
		add_param(&form, &sep, "client_id", "lamina");
		add_param(&form, &sep, "service", g->ch.service ? g->ch.service : "");
		for (size_t i = 0; i < g->nscopes; i++)
			add_param(&form, &sep, "scope", g->scopes[i]);
		add_param(&form, &sep, "refresh_token", g->cred.identity_token);
		rq.method = "POST";
		rq.content_type = "application/x-www-form-urlencoded";
		rq.body = form.data;
		rq.body_len = (int64_t)form.len;
	} else {
		char sep = strchr(g->ch.realm, '?') ? '&' : '?';
		if (g->ch.service)
			add_param(&url, &sep, "service", g->ch.service);
		for (size_t i = 0; i < g->nscopes; i++)
			add_param(&url, &sep, "scope", g->scopes[i]);
		if (g->cred_state > 0 && g->cred.username)
			rq.authorization = basic = auth_basic_header(g->cred.username, g->cred.password);
	}
	rq.url = url.data;
	rq.tls_noverify = g->tls_noverify && http_same_origin(url.data, g->base);
	for (int attempt = 1;; attempt++) {
		if (http_do(h, &rq, &resp, err) == 0 && !http_status_retryable(resp.status))
			break;
		if (attempt >= REG_TRIES || (resp.curl_code && !http_transient(resp.curl_code))) {
			if (!resp.curl_code)
				lm_err_set(err, LM_E_NET, "token server answered %ld", resp.status);
			lm_err_wrap(err, "token for '%s' from '%s'", g->name, g->ch.realm);
			goto out;
		}
		http_sleep_ms(http_backoff_ms(attempt, http_retry_after(resp.retry_after, time(NULL))));
	}
	if (resp.status == 401 || resp.status == 403) {
		lm_err_set(err, LM_E_AUTH, "token server '%s' refused the %s (%ld)", g->ch.realm,
			   g->cred_state > 0 ? "credentials" : "anonymous request", resp.status);
		goto out;
	}
	if (resp.status != 200) {
		lm_err_set(err, LM_E_NET, "token server '%s' answered %ld", g->ch.realm, resp.status);
		goto out;
	}
	if (auth_token_parse(resp.body.data ? resp.body.data : "", resp.body.len, &tok, NULL, err) < 0) {
		lm_err_wrap(err, "token server '%s'", g->ch.realm);
		goto out;
	}
	free_secret(g->authz);
	g->authz = lm_asprintf("Bearer %s", tok);
	g->auth_gen++;
	ret = 0;
out:
	free_secret(tok);
	free_secret(basic);
	if (form.data)
		memset(form.data, 0, form.len);
	buf_release(&form);
	buf_release(&url);
	http_resp_release(&resp);
	return ret;
}

/* Answers a 401: parse the challenge and get a new Authorization. gen is the
 * generation the failed request used: when another thread renewed meanwhile, reuse. */
static int reauth(struct reg *g, struct http_conn *h, const char *challenge, unsigned gen, struct lm_err *err)
{
	struct auth_challenge ch;
	int ret = -1;
	pthread_mutex_lock(&g->mu);
	if (gen != g->auth_gen) {
		pthread_mutex_unlock(&g->mu);
		return 0;
	}
	if (!challenge) {
		lm_err_set(err, LM_E_AUTH, "registry answered 401 without a WWW-Authenticate challenge");
		goto out;
	}
	if (auth_challenge_parse(challenge, &ch, err) < 0)
		goto out;
	auth_challenge_release(&g->ch);
	g->ch = ch;
	if (load_cred(g, err) < 0)
		goto out;
	if (g->ch.scheme == AUTH_BASIC) {
		if (g->cred_state <= 0 || !g->cred.username) {
			lm_err_set(err, LM_E_AUTH,
				   "'%s' needs a login: use 'docker login %s' or --username with --password-stdin",
				   g->ref.host, g->ref.host);
			goto out;
		}
		if (g->authz && lm_str_startswith(g->authz, "Basic ")) {
			lm_err_set(err, LM_E_AUTH, "'%s' refused the credentials for user '%s'", g->ref.host,
				   g->cred.username);
			goto out;
		}
		free_secret(g->authz);
		g->authz = auth_basic_header(g->cred.username, g->cred.password);
		g->auth_gen++;
		ret = 0;
		goto out;
	}
	ret = fetch_token(g, h, err);
out:
	pthread_mutex_unlock(&g->mu);
	return ret;
}

/* Sends a request with retries (transport errors, 408/429/5xx with Retry-After) and one
 * renewal of the Authorization on 401. A 0 return means an HTTP answer in resp. */
static int reg_send(struct reg *g, struct http_conn *h, struct http_req *rq, struct http_resp *resp,
		    const char *what, struct lm_err *err)
{
	int renewed = 0;
	for (int attempt = 1;; attempt++) {
		unsigned gen;
		char *a = auth_copy(g, &gen);
		int r;
		rq->authorization = a;
		rq->tls_noverify = g->tls_noverify;
		r = http_do(h, rq, resp, err);
		rq->authorization = NULL;
		free_secret(a);
		count_io(g, resp);
		if (r == 0 && resp->status == 401 && renewed < 2) {
			renewed++;
			if (reauth(g, h, resp->www_authenticate, gen, err) < 0)
				return lm_err_wrap(err, "%s", what);
			attempt--;
			continue;
		}
		if (r == 0 && !http_status_retryable(resp->status))
			return 0;
		if (attempt >= REG_TRIES || (r < 0 && !http_transient(resp->curl_code))) {
			if (r == 0)
				return 0; /* the caller reports the status */
			return lm_err_wrap(err, "%s of '%s' (after %d %s)", what, g->name, attempt,
					   attempt == 1 ? "try" : "tries");
		}
		if (g->ro->verbose)
			progress_note(g->prog, "%s: %s, retrying", what,
				      r < 0 ? err->msg : (resp->status == 429 ? "429 too many requests" : "server error"));
		lm_err_release(err);
		http_sleep_ms(http_backoff_ms(attempt, http_retry_after(resp->retry_after, time(NULL))));
	}
}

/* Error for an unexpected status, with the registry's error message when it sent one. */
static int status_err(struct reg *g, const struct http_resp *resp, const char *what, struct lm_err *err)
{
	const char *m = NULL;
	char *msg = NULL;
	int code = resp->status == 401 || resp->status == 403 ? LM_E_AUTH : LM_E_NET;
	if (resp->body.data && resp->body.len) {
		/* {"errors":[{"code":"...","message":"..."}]}: pick the message without a JSON parser
		 * dependency here; registry errors are short */
		m = strstr(resp->body.data, "\"message\":\"");
		if (m) {
			const char *e;
			m += 11;
			e = strchr(m, '"');
			msg = e ? lm_xstrndup(m, (size_t)(e - m)) : NULL;
		}
	}
	lm_err_set(err, code, "%s of '%s': registry answered %ld%s%s", what, g->name, resp->status,
		   msg ? ": " : "", msg ? msg : "");
	free(msg);
	return -1;
}

static void reg_release(struct reg *g)
{
	http_conn_free(g->conn);
	http_client_free(g->http);
	ref_release(&g->ref);
	free(g->name);
	free(g->base);
	for (size_t i = 0; i < g->nscopes; i++)
		free(g->scopes[i]);
	free(g->scopes);
	progress_free(g->prog);
	free_secret(g->authz);
	auth_challenge_release(&g->ch);
	auth_cred_release(&g->cred);
	pthread_mutex_destroy(&g->mu);
}

static int reg_init(struct reg *g, const char *refstr, const struct reg_opts *ro, struct cache *c,
		    const char *verb, struct lm_err *err)
{
	struct http_client_opts ho = { .ca_cert = ro->ca_cert, .log = stderr, .verbose = ro->verbose,
				       .timeout_s = ro->timeout_s, .low_speed_limit = ro->low_speed_limit,
				       .low_speed_time = ro->low_speed_time };
	memset(g, 0, sizeof(*g));
	pthread_mutex_init(&g->mu, NULL);
	g->ro = ro;
	g->cache = c;
	if (ref_parse(refstr, &g->ref, err) < 0)
		return -1;
	g->name = ref_string(&g->ref);
	g->http = http_client_new(&ho, err);
	if (!g->http)
		return -1;
	g->conn = http_conn_new(g->http);
	g->prog = progress_new(stderr, ro->quiet ? PROGRESS_QUIET : ro->is_tty ? PROGRESS_TTY : PROGRESS_LINES,
			       verb);
	return 0;
}

static void reg_add_scope(struct reg *g, const char *repo, const char *actions)
{
	g->scopes = lm_xrealloc(g->scopes, (g->nscopes + 1) * sizeof(*g->scopes));
	g->scopes[g->nscopes++] = lm_asprintf("repository:%s:%s", repo, actions);
}

/* GET /v2/: picks the scheme and learns how the registry wants to be authenticated. */
static int reg_ping(struct reg *g, struct lm_err *err)
{
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	const char *host = ref_api_host(&g->ref);
	char *url = NULL;
	int ret = -1;

	if (reg_is_insecure(g->ro, g->ref.host)) {
		/* as docker does: TLS without verification first, then plain HTTP */
		g->base = lm_asprintf("https://%s", host);
		url = lm_asprintf("%s/v2/", g->base);
		rq.url = url;
		rq.tls_noverify = 1;
		g->tls_noverify = 1;
		if (http_do(g->conn, &rq, &resp, err) < 0) {
			lm_err_release(err);
			free(g->base);
			free(url);
			g->base = lm_asprintf("http://%s", host);
			g->tls_noverify = 0;
			url = lm_asprintf("%s/v2/", g->base);
		} else {
			goto got;
		}
	} else {
		g->base = lm_asprintf("https://%s", host);
		url = lm_asprintf("%s/v2/", g->base);
	}
	rq.url = url;
	if (reg_send(g, g->conn, &rq, &resp, "registry API check", err) < 0)
		goto out;
	/* reg_send already answered a 401 by getting a token; anything but 2xx/404 now is fatal */
got:
	if (resp.status == 401) {
		if (reauth(g, g->conn, resp.www_authenticate, g->auth_gen, err) < 0) {
			lm_err_wrap(err, "'%s'", g->name);
			goto out;
		}
	} else if (resp.status >= 300 && resp.status != 404) {
		status_err(g, &resp, "registry API check", err);
		goto out;
	}
	ret = 0;
out:
	free(url);
	http_resp_release(&resp);
	return ret;
}

/* ---- parallel blob jobs ---- */

struct job {
	const struct oci_descriptor *d;
	const char *mount_from; /* push: a repository of the same registry that may hold the blob */
};

struct pool {
	struct reg *g;
	struct job *jobs;
	size_t n, next;
	int failed;
	struct lm_err err;
	int (*fn)(struct reg *g, struct http_conn *h, const struct job *j, struct lm_err *err);
	pthread_mutex_t mu;
};

static void *pool_worker(void *arg)
{
	struct pool *p = arg;
	struct http_conn *h = http_conn_new(p->g->http);
	for (;;) {
		struct lm_err err = LM_ERR_INIT;
		size_t i;
		pthread_mutex_lock(&p->mu);
		if (p->failed || p->next >= p->n) {
			pthread_mutex_unlock(&p->mu);
			break;
		}
		i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (p->fn(p->g, h, &p->jobs[i], &err) < 0) {
			pthread_mutex_lock(&p->mu);
			if (!p->failed) {
				p->failed = 1;
				p->err = err;
				err.msg = NULL;
			}
			pthread_mutex_unlock(&p->mu);
			lm_err_release(&err);
			break;
		}
	}
	http_conn_free(h);
	return NULL;
}

static int pool_run(struct reg *g, struct job *jobs, size_t n,
		    int (*fn)(struct reg *, struct http_conn *, const struct job *, struct lm_err *),
		    struct lm_err *err)
{
	struct pool p = { .g = g, .jobs = jobs, .n = n, .fn = fn, .err = LM_ERR_INIT };
	pthread_t tids[32];
	size_t nt = (size_t)(g->ro->jobs > 0 ? g->ro->jobs : REG_JOBS_DEFAULT), started = 0;
	if (nt > 32)
		nt = 32;
	if (nt > n)
		nt = n;
	pthread_mutex_init(&p.mu, NULL);
	for (size_t i = 0; i < nt; i++)
		if (pthread_create(&tids[i], NULL, pool_worker, &p) == 0)
			started++;
	if (started == 0 && n > 0)
		pool_worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	pthread_mutex_destroy(&p.mu);
	if (p.failed) {
		lm_err_set(err, p.err.code, "%s", p.err.msg);
		lm_err_release(&p.err);
		return -1;
	}
	return 0;
}

/* ---- pull ---- */

struct dl {
	struct reg *g;
	struct cache_writer *w;
	int64_t from;     /* Range start of this request */
	int checked;      /* first body bytes of this answer seen */
	int slot;
	struct lm_err err;
	int io_failed;
};

static int blob_sink(void *ctx, const struct http_resp *resp, const void *data, size_t len)
{
	struct dl *d = ctx;
	if (!d->checked) {
		d->checked = 1;
		if (d->from > 0 && resp->status == 200) {
			/* the server ignored Range: start over */
			cache_writer_abort(d->w);
			d->w = cache_writer_new(d->g->cache, &d->err);
			if (!d->w) {
				d->io_failed = 1;
				return -1;
			}
		} else if (d->from > 0) {
			int64_t s, e, t;
			if (resp->status != 206 || http_content_range_parse(resp->content_range, &s, &e, &t) < 0 ||
			    s != d->from) {
				lm_err_set(&d->err, LM_E_NET, "resumed download answered with range '%s'",
					   resp->content_range ? resp->content_range : "(none)");
				return -1;
			}
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
		char *a;
		int r;
		long wait_s = -1;

		if (!d.w && !(d.w = cache_writer_new(g->cache, err)))
			goto out;
		d.from = (int64_t)cache_writer_size(d.w);
		d.checked = 0;
		rq.range_from = d.from;
		a = auth_copy(g, &gen);
		rq.authorization = a;
		rq.tls_noverify = g->tls_noverify;
		r = http_do(h, &rq, &resp, err);
		free_secret(a);
		rq.authorization = NULL;
		count_io(g, &resp);
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
			if (reauth(g, h, resp.www_authenticate, gen, err) < 0) {
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
			status_err(g, &resp, what, err);
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
		pthread_mutex_lock(&g->mu);
		g->ndownloaded++;
		pthread_mutex_unlock(&g->mu);
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
		status_err(g, &resp, "manifest", err);
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
	if (cache_has(g->cache, digest, -1) &&
	    cache_read_blob(g->cache, digest, OCI_JSON_MAX, out, len, err) == 0) {
		*ctype = NULL;
		return 0;
	}
	lm_err_release(err);
	return get_manifest(g, digest, digest, out, len, ctype, err);
}

static char *platforms_list(const struct oci_index *ix)
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

int registry_pull(const char *refstr, const struct reg_opts *ro, struct cache *c, struct lm_image *out,
		  struct lm_err *err)
{
	struct reg g;
	struct oci_platform want = { 0 };
	struct oci_index ix = { 0 };
	struct oci_manifest m = { 0 };
	struct job *jobs = NULL;
	char *body = NULL, *ctype = NULL;
	size_t len = 0, njobs = 0;
	char d[LM_DIGEST_LEN];
	int ret = -1, pinged = 0;
	enum oci_doc_kind kind;

	if (reg_init(&g, refstr, ro, c, "pull", err) < 0)
		goto out;
	if (oci_platform_parse(ro->platform ? ro->platform : "linux/amd64", &want, err) < 0)
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
		i = oci_index_select(&ix, &want);
		if (i < 0) {
			char *pl = platforms_list(&ix);
			lm_err_set(err, LM_E_INPUT, "'%s' has no image for platform '%s' (it has: %s)", g.name,
				   ro->platform ? ro->platform : "linux/amd64", *pl ? pl : "none");
			free(pl);
			goto out;
		}
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
		lm_err_set(err, LM_E_INPUT, "'%s': the registry sent something that is not an image manifest",
			   g.name);
		goto out;
	}
	if (cache_put_buf(c, body, len, d, err) < 0)
		goto out;
	if (oci_manifest_parse(body, len, &m, err) < 0) {
		lm_err_wrap(err, "manifest of '%s'", g.name);
		goto out;
	}
	jobs = lm_xcalloc(m.nlayers + 1, sizeof(*jobs));
	for (size_t i = 0; i <= m.nlayers; i++) {
		const struct oci_descriptor *bd = i == 0 ? &m.config : &m.layers[i - 1];
		int dup = 0;
		if (cache_has(c, bd->digest, bd->size))
			continue;
		for (size_t k = 0; k < njobs; k++)
			dup |= strcmp(jobs[k].d->digest, bd->digest) == 0;
		if (!dup)
			jobs[njobs++].d = bd;
	}
	if (njobs > 0) {
		if (!pinged && reg_ping(&g, err) < 0)
			goto out;
		if (pool_run(&g, jobs, njobs, pull_blob, err) < 0)
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

/* ---- push ---- */

static int upload_start(struct reg *g, struct http_conn *h, const struct job *j, char **location, int *mounted,
			struct lm_err *err)
{
	struct http_req rq = { .method = "POST" };
	struct http_resp resp = { 0 };
	char *url, *what = lm_asprintf("upload of blob %s", j->d->digest);
	int ret = -1;

	if (j->mount_from) {
		char *from = http_escape(j->mount_from);
		url = lm_asprintf("%s/v2/%s/blobs/uploads/?mount=%s&from=%s", g->base, g->ref.repo, j->d->digest,
				  from);
		free(from);
	} else {
		url = lm_asprintf("%s/v2/%s/blobs/uploads/", g->base, g->ref.repo);
	}
	rq.url = url;
	if (reg_send(g, h, &rq, &resp, what, err) < 0)
		goto out;
	if (resp.status == 201 && j->mount_from) {
		*mounted = 1;
		ret = 0;
		goto out;
	}
	if (resp.status != 202 || !resp.location) {
		status_err(g, &resp, what, err);
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

/* Asks an upload session how many bytes it holds (GET LOCATION: 204 with "Range: 0-END"),
 * after a chunk whose answer was lost or refused. Sets *off to END + 1 ("0-0" reads as
 * nothing yet, as distribution sends it for an empty session) and follows a new Location. */
static int upload_offset(struct reg *g, struct http_conn *h, char **location, int64_t *off, struct lm_err *err)
{
	struct http_req rq = { .method = "GET" };
	struct http_resp resp = { 0 };
	long long a, b;
	char *next;
	int ret = -1;
	rq.url = *location;
	if (reg_send(g, h, &rq, &resp, "upload status", err) < 0)
		goto out;
	if (resp.status != 204 || !resp.range || sscanf(resp.range, "%lld-%lld", &a, &b) != 2 || a != 0 || b < 0) {
		lm_err_set(err, LM_E_NET, "upload status of '%s': no usable Range (status %ld)", g->name, resp.status);
		goto out;
	}
	*off = b == 0 ? 0 : b + 1;
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
			int64_t n = size - off < REG_CHUNK ? size - off : REG_CHUNK, at = -1;
			struct lm_err qerr = LM_ERR_INIT;
			int sent;
			memset(&rq, 0, sizeof(rq));
			rq.method = "PATCH";
			rq.url = location;
			rq.content_type = "application/octet-stream";
			snprintf(cr, sizeof(cr), "%lld-%lld", (long long)off, (long long)(off + n - 1));
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
				status_err(g, &resp, what, err);
			if (err->code == LM_E_AUTH || resumes++ >= REG_UPLOAD_RESUMES ||
			    upload_offset(g, h, &location, &at, &qerr) < 0 || at > size) {
				lm_err_release(&qerr);
				goto out;
			}
			if (g->ro->verbose)
				progress_note(g->prog, "%s: %s; the registry holds %lld bytes, resuming there", what, err->msg,
					      (long long)at);
			lm_err_release(err);
			off = at;
			progress_update(g->prog, slot, (uint64_t)off);
		}
	}
	url = lm_asprintf("%s%sdigest=%s", location, strchr(location, '?') ? "&" : "?", j->d->digest);
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
		status_err(g, &resp, what, err);
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
		pthread_mutex_lock(&g->mu);
		g->nexisted++;
		pthread_mutex_unlock(&g->mu);
		result = "exists";
		ret = 0;
		goto out;
	}
	if (resp.status != 404) {
		status_err(g, &resp, what, err);
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
				pthread_mutex_lock(&g->mu);
				g->nmounted++;
				pthread_mutex_unlock(&g->mu);
				result = "mounted";
				ret = 0;
				break;
			}
			if (upload_body(g, h, j, location, fd, slot, err) == 0) {
				pthread_mutex_lock(&g->mu);
				g->nuploaded++;
				pthread_mutex_unlock(&g->mu);
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
static int push_manifest_bytes(const struct lm_image *img, struct cache *c, char **out, size_t *len,
			       char **media_type, struct lm_err *err)
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
	struct ref src = { 0 };
	struct job *jobs = NULL;
	struct http_req rq = { .method = "PUT" };
	struct http_resp resp = { 0 };
	char *mbytes = NULL, *mt = NULL, *url = NULL;
	size_t mlen = 0, njobs = 0;
	char d[LM_DIGEST_LEN];
	const char *mount_from = NULL;
	struct lm_err ignore = LM_ERR_INIT;
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
		lm_err_set(err, LM_E_INPUT, "'%s' names digest %s but the image's manifest is %s", g.name,
			   g.ref.digest, d);
		goto out;
	}
	/* an image pulled from another repository of this registry, or built on one (the
	 * manifest's base.name annotation): mount its blobs from there */
	for (int k = 0; k < 2 && !mount_from; k++) {
		const char *from = k == 0 ? img->name : img->manifest.base_name;
		ref_release(&src);
		if (from && ref_parse(from, &src, &ignore) == 0 && strcmp(src.host, g.ref.host) == 0 &&
		    strcmp(src.repo, g.ref.repo) != 0)
			mount_from = src.repo;
		lm_err_release(&ignore);
	}
	reg_add_scope(&g, g.ref.repo, "pull,push");
	if (mount_from)
		reg_add_scope(&g, mount_from, "pull");
	if (reg_ping(&g, err) < 0)
		goto out;

	jobs = lm_xcalloc(img->manifest.nlayers + 1, sizeof(*jobs));
	for (size_t i = 0; i <= img->manifest.nlayers; i++) {
		const struct oci_descriptor *bd = i == 0 ? &img->manifest.config : &img->manifest.layers[i - 1];
		int dup = 0;
		for (size_t k = 0; k < njobs; k++)
			dup |= strcmp(jobs[k].d->digest, bd->digest) == 0;
		if (dup)
			continue;
		if (!cache_has(c, bd->digest, bd->size)) {
			lm_err_set(err, LM_E_IO, "blob %s of the image is not in the cache", bd->digest);
			goto out;
		}
		jobs[njobs].d = bd;
		jobs[njobs].mount_from = mount_from;
		njobs++;
	}
	if (pool_run(&g, jobs, njobs, push_blob, err) < 0)
		goto out;

	url = lm_asprintf("%s/v2/%s/manifests/%s", g.base, g.ref.repo, g.ref.tag ? g.ref.tag : d);
	rq.url = url;
	rq.content_type = mt;
	rq.body = mbytes;
	rq.body_len = (int64_t)mlen;
	if (reg_send(&g, g.conn, &rq, &resp, "manifest upload", err) < 0)
		goto out;
	if (resp.status != 201 && resp.status != 200 && resp.status != 202) {
		status_err(&g, &resp, "manifest upload", err);
		goto out;
	}
	if (resp.docker_digest && digest_valid(resp.docker_digest) && strcmp(resp.docker_digest, d) != 0) {
		lm_err_set(err, LM_E_VERIFY, "registry stored manifest %s for '%s', lamina sent %s",
			   resp.docker_digest, g.name, d);
		goto out;
	}
	progress_note(g.prog, "%s: %d blobs uploaded, %d mounted, %d already there (%s sent)", g.name,
		      g.nuploaded, g.nmounted, g.nexisted, lm_human_bytes(g.sent, h1, sizeof(h1)));
	memcpy(digest_out, d, LM_DIGEST_LEN);
	ret = 0;
out:
	free(url);
	free(mbytes);
	free(mt);
	free(jobs);
	http_resp_release(&resp);
	ref_release(&src);
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
		r = pool_run(&s->g, jobs, njobs, pull_blob, err);
	free(jobs);
	return r;
}
