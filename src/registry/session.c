/* session.c - the registry session shared by pull and push: set-up, the API check,
 * credentials and tokens, requests with retries and renewal, and parallel blob jobs. */
#include "registry/registry_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/pool.h"
#include "common/str.h"

int reg_is_insecure(const char *const *insecure, size_t ninsecure, const char *host)
{
	if (http_host_is_loopback(host))
		return 1;
	for (size_t i = 0; i < ninsecure; i++) {
		const char *h = insecure[i];
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

void reg_free_secret(char *s)
{
	if (s) {
		memset(s, 0, strlen(s));
		free(s);
	}
}

void reg_tally(struct reg *g, int *counter)
{
	pthread_mutex_lock(&g->mu);
	(*counter)++;
	pthread_mutex_unlock(&g->mu);
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
	reg_free_secret(e);
}

int reg_token_request(const struct auth_challenge *ch, const struct auth_cred *cred, char *const *scopes,
		      size_t nscopes, struct lm_buf *url, struct lm_buf *form)
{
	buf_appends(url, ch->realm);
	if (cred && cred->identity_token) {
		/* OAuth2 refresh-token grant, as docker does with an identity token */
		char sep = '\0';
		add_param(form, &sep, "grant_type", "refresh_token");
		add_param(form, &sep, "client_id", "lamina");
		add_param(form, &sep, "service", ch->service ? ch->service : "");
		for (size_t i = 0; i < nscopes; i++)
			add_param(form, &sep, "scope", scopes[i]);
		add_param(form, &sep, "refresh_token", cred->identity_token);
		return 1;
	} else {
		char sep = strchr(ch->realm, '?') ? '&' : '?';
		if (ch->service)
			add_param(url, &sep, "service", ch->service);
		for (size_t i = 0; i < nscopes; i++)
			add_param(url, &sep, "scope", scopes[i]);
		return 0;
	}
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
	ok = *host && reg_is_insecure(ro->insecure, ro->ninsecure, host);
	free(host);
	return ok;
}

/* GET (or POST, for an identity token) the realm for a bearer token. Called with mu held. */
static int fetch_token(struct reg *g, struct http_conn *h, struct lm_err *err)
{
	struct lm_buf url, form;
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	const struct auth_cred *cred = g->cred_state > 0 ? &g->cred : NULL;
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
	if (reg_token_request(&g->ch, cred, g->scopes, g->nscopes, &url, &form)) {
		rq.method = "POST";
		rq.content_type = "application/x-www-form-urlencoded";
		rq.body = form.data;
		rq.body_len = (int64_t)form.len;
	} else if (cred && cred->username) {
		rq.authorization = basic = auth_basic_header(cred->username, cred->password);
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
	reg_free_secret(g->authz);
	g->authz = lm_asprintf("Bearer %s", tok);
	g->auth_gen++;
	ret = 0;
out:
	reg_free_secret(tok);
	reg_free_secret(basic);
	if (form.data)
		memset(form.data, 0, form.len);
	buf_release(&form);
	buf_release(&url);
	http_resp_release(&resp);
	return ret;
}

int reg_reauth(struct reg *g, struct http_conn *h, const char *challenge, unsigned gen, struct lm_err *err)
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
		reg_free_secret(g->authz);
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

int reg_do(struct reg *g, struct http_conn *h, struct http_req *rq, struct http_resp *resp, unsigned *gen,
	   struct lm_err *err)
{
	char *a = auth_copy(g, gen);
	int r;
	rq->authorization = a;
	rq->tls_noverify = g->tls_noverify;
	r = http_do(h, rq, resp, err);
	rq->authorization = NULL;
	reg_free_secret(a);
	count_io(g, resp);
	return r;
}

int reg_send(struct reg *g, struct http_conn *h, struct http_req *rq, struct http_resp *resp, const char *what,
	     struct lm_err *err)
{
	int renewed = 0;
	for (int attempt = 1;; attempt++) {
		unsigned gen;
		int r = reg_do(g, h, rq, resp, &gen, err);
		if (r == 0 && resp->status == 401 && renewed < 2) {
			renewed++;
			if (reg_reauth(g, h, resp->www_authenticate, gen, err) < 0)
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
				      r < 0 ? err->msg
					    : (resp->status == 429 ? "429 too many requests" : "server error"));
		lm_err_release(err);
		http_sleep_ms(http_backoff_ms(attempt, http_retry_after(resp->retry_after, time(NULL))));
	}
}

char *reg_error_message(const char *body)
{
	/* {"errors":[{"code":"...","message":"..."}]}: pick the message without a JSON parser
	 * dependency here; registry errors are short */
	const char *m = body ? strstr(body, "\"message\":\"") : NULL;
	const char *e;
	if (!m)
		return NULL;
	m += 11;
	e = strchr(m, '"');
	return e ? lm_xstrndup(m, (size_t)(e - m)) : NULL;
}

int reg_status_err(struct reg *g, const struct http_resp *resp, const char *what, struct lm_err *err)
{
	char *msg = resp->body.data && resp->body.len ? reg_error_message(resp->body.data) : NULL;
	int code = resp->status == 401 || resp->status == 403 ? LM_E_AUTH : LM_E_NET;
	lm_err_set(err, code, "%s of '%s': registry answered %ld%s%s", what, g->name, resp->status, msg ? ": " : "",
		   msg ? msg : "");
	free(msg);
	return -1;
}

void reg_release(struct reg *g)
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
	reg_free_secret(g->authz);
	auth_challenge_release(&g->ch);
	auth_cred_release(&g->cred);
	pthread_mutex_destroy(&g->mu);
}

int reg_init(struct reg *g, const char *refstr, const struct reg_opts *ro, struct cache *c, const char *verb,
	     struct lm_err *err)
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
	g->prog = progress_new(stderr, ro->quiet ? PROGRESS_QUIET : ro->is_tty ? PROGRESS_TTY : PROGRESS_LINES, verb);
	return 0;
}

void reg_add_scope(struct reg *g, const char *repo, const char *actions)
{
	g->scopes = lm_xrealloc(g->scopes, (g->nscopes + 1) * sizeof(*g->scopes));
	g->scopes[g->nscopes++] = lm_asprintf("repository:%s:%s", repo, actions);
}

int reg_ping(struct reg *g, struct lm_err *err)
{
	struct http_req rq = { 0 };
	struct http_resp resp = { 0 };
	const char *host = ref_api_host(&g->ref);
	char *url = NULL;
	int ret = -1;

	if (reg_is_insecure(g->ro->insecure, g->ro->ninsecure, g->ref.host)) {
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
		if (reg_reauth(g, g->conn, resp.www_authenticate, g->auth_gen, err) < 0) {
			lm_err_wrap(err, "'%s'", g->name);
			goto out;
		}
	} else if (resp.status >= 300 && resp.status != 404) {
		reg_status_err(g, &resp, "registry API check", err);
		goto out;
	}
	ret = 0;
out:
	free(url);
	http_resp_release(&resp);
	return ret;
}

/* --- parallel blob jobs ------------------------------------------------------------ */

struct jobs_run {
	struct reg *g;
	const struct job *jobs;
	int (*fn)(struct reg *g, struct http_conn *h, const struct job *j, struct lm_err *err);
};

/* A worker's context: its own keep-alive connection. */
static void *conn_new(void *arg)
{
	const struct jobs_run *r = arg;
	return http_conn_new(r->g->http);
}

static void conn_free(void *h)
{
	http_conn_free(h);
}

static int job_run(size_t i, void *h, void *arg, struct lm_err *err)
{
	const struct jobs_run *r = arg;
	return r->fn(r->g, h, &r->jobs[i], err);
}

int reg_run_jobs(struct reg *g, const struct job *jobs, size_t n,
		 int (*fn)(struct reg *g, struct http_conn *h, const struct job *j, struct lm_err *err),
		 struct lm_err *err)
{
	struct jobs_run r = { g, jobs, fn };
	int nt = g->ro->jobs > 0 ? g->ro->jobs : REG_JOBS_DEFAULT;
	if (nt > REG_JOBS_MAX)
		nt = REG_JOBS_MAX;
	return lm_pool_for(nt, n, job_run, conn_new, conn_free, &r, err);
}

struct job *reg_manifest_jobs(const struct oci_manifest *m, size_t *n)
{
	struct job *jobs = lm_xcalloc(m->nlayers + 1, sizeof(*jobs));
	size_t nj = 0;
	for (size_t i = 0; i <= m->nlayers; i++) {
		const struct oci_descriptor *bd = i == 0 ? &m->config : &m->layers[i - 1];
		int dup = 0;
		for (size_t k = 0; k < nj; k++)
			dup |= strcmp(jobs[k].d->digest, bd->digest) == 0;
		if (!dup)
			jobs[nj++].d = bd;
	}
	*n = nj;
	return jobs;
}
