#include "registry/http.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/version.h"

#define HTTP_ERRBODY_MAX (64u << 10)
#define HTTP_MAX_REDIRECTS 5

struct http_client {
	CURLSH *share;
	pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
	char *ca_cert;
	FILE *log;
	int verbose;
	long timeout_s, low_speed_limit, low_speed_time;
	pthread_mutex_t log_mu;
};

struct http_conn {
	struct http_client *c;
	CURL *easy;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void share_lock(CURL *h, curl_lock_data data, curl_lock_access a, void *u)
{
	struct http_client *c = u;
	(void)h;
	(void)a;
	pthread_mutex_lock(&c->locks[data]);
}

static void share_unlock(CURL *h, curl_lock_data data, void *u)
{
	struct http_client *c = u;
	(void)h;
	pthread_mutex_unlock(&c->locks[data]);
}

struct http_client *http_client_new(const struct http_client_opts *o, struct lm_err *err)
{
	struct http_client *c;
	pthread_once(&global_once, global_init);
	if (o->ca_cert && access(o->ca_cert, R_OK) != 0) {
		lm_err_sys(err, "--ca-cert '%s'", o->ca_cert);
		return NULL;
	}
	c = lm_xcalloc(1, sizeof(*c));
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	pthread_mutex_init(&c->log_mu, NULL);
	c->share = curl_share_init();
	if (!c->share) {
		free(c);
		lm_err_set(err, LM_E_INTERNAL, "curl_share_init failed");
		return NULL;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	c->ca_cert = o->ca_cert ? lm_xstrdup(o->ca_cert) : NULL;
	c->log = o->log;
	c->timeout_s = o->timeout_s ? o->timeout_s : HTTP_TIMEOUT_S;
	c->low_speed_limit = o->low_speed_limit > 0 ? o->low_speed_limit : HTTP_LOW_SPEED_LIMIT;
	c->low_speed_time = o->low_speed_time > 0 ? o->low_speed_time : HTTP_LOW_SPEED_TIME_S;
	c->verbose = o->verbose;
	return c;
}

void http_client_free(struct http_client *c)
{
	if (!c)
		return;
	curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->locks[i]);
	pthread_mutex_destroy(&c->log_mu);
	free(c->ca_cert);
	free(c);
}

struct http_conn *http_conn_new(struct http_client *c)
{
	struct http_conn *h = lm_xcalloc(1, sizeof(*h));
	h->c = c;
	h->easy = curl_easy_init();
	if (!h->easy) {
		fprintf(stderr, "lamina: curl_easy_init failed\n");
		abort();
	}
	return h;
}

void http_conn_free(struct http_conn *h)
{
	if (!h)
		return;
	curl_easy_cleanup(h->easy);
	free(h);
}

void http_resp_release(struct http_resp *r)
{
	if (!r)
		return;
	free(r->content_type);
	free(r->location);
	free(r->www_authenticate);
	free(r->docker_digest);
	free(r->content_range);
	free(r->range);
	free(r->retry_after);
	buf_release(&r->body);
	memset(r, 0, sizeof(*r));
	r->content_length = -1;
}

/* State of one hop. */
struct xfer {
	CURL *easy;
	const struct http_req *r;
	struct http_resp *resp;
	int64_t up_start, up_pos, up_end; /* upload body: first byte, next byte, end */
	int sink_failed;
	int body_too_big;
	size_t header_bytes; /* of this response */
	int headers_too_big;
};

/* A registry's headers are small; a hostile one sends a megabyte of WWW-Authenticate.
 * curl itself refuses one header over 100 KiB (as "Out of memory"): lamina's bound
 * comes first and is named. */
#define HTTP_HEADERS_MAX (64u << 10)

static void set_hdr(char **slot, const char *v, size_t n)
{
	free(*slot);
	*slot = lm_xstrndup(v, n);
}

static size_t header_cb(char *data, size_t size, size_t nmemb, void *u)
{
	struct xfer *x = u;
	struct http_resp *resp = x->resp;
	size_t n = size * nmemb, kn, vn;
	const char *colon, *v;
	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		/* a new response (after 100 Continue or on a new hop): forget earlier headers */
		uint64_t keep_sent = resp->sent;
		uint64_t keep_recv = resp->received;
		struct lm_buf body = resp->body;
		memset(&resp->body, 0, sizeof(resp->body));
		http_resp_release(resp);
		resp->body = body;
		resp->sent = keep_sent;
		resp->received = keep_recv;
		x->header_bytes = n;
		return n;
	}
	x->header_bytes += n;
	if (x->header_bytes > HTTP_HEADERS_MAX) {
		x->headers_too_big = 1;
		return 0; /* stops the transfer */
	}
	colon = memchr(data, ':', n);
	if (!colon)
		return n;
	kn = (size_t)(colon - data);
	v = colon + 1;
	while (v < data + n && (*v == ' ' || *v == '\t'))
		v++;
	vn = (size_t)(data + n - v);
	while (vn > 0 && (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
		vn--;
#define H(name, field)                                                   \
	if (kn == sizeof(name) - 1 && strncasecmp(data, name, kn) == 0) { \
		set_hdr(&resp->field, v, vn);                                 \
		return n;                                                     \
	}
	H("content-type", content_type)
	H("location", location)
	H("www-authenticate", www_authenticate)
	H("docker-content-digest", docker_digest)
	H("content-range", content_range)
	H("range", range)
	H("retry-after", retry_after)
#undef H
	if (kn == 14 && strncasecmp(data, "content-length", kn) == 0) {
		char tmp[32];
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(vn < 31 ? vn : 31), v);
		resp->content_length = strtoll(tmp, NULL, 10);
	}
	return n;
}

static size_t write_cb(char *data, size_t size, size_t nmemb, void *u)
{
	struct xfer *x = u;
	size_t n = size * nmemb;
	long status = 0;
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	x->resp->status = status;
	x->resp->received += n;
	if (x->r->sink && status >= 200 && status < 300) {
		if (x->r->sink(x->r->sink_ctx, x->resp, data, n) < 0) {
			x->sink_failed = 1;
			return 0;
		}
		return n;
	}
	if (buf_append(&x->resp->body, data, n) < 0) {
		x->body_too_big = 1;
		return 0;
	}
	return n;
}

/* curl rewinds the body when it must send it again (a reused connection the server had
 * closed, an auth or redirect round): back to up_start + offset. */
static int seek_cb(void *u, curl_off_t offset, int origin)
{
	struct xfer *x = u;
	if (origin != SEEK_SET || offset < 0 || x->up_start + (int64_t)offset > x->up_end)
		return CURL_SEEKFUNC_CANTSEEK;
	x->up_pos = x->up_start + (int64_t)offset;
	return CURL_SEEKFUNC_OK;
}

static size_t read_cb(char *dst, size_t size, size_t nmemb, void *u)
{
	struct xfer *x = u;
	size_t want = size * nmemb;
	int64_t left = x->up_end - x->up_pos;
	if (left <= 0)
		return 0;
	if ((int64_t)want > left)
		want = (size_t)left;
	if (x->r->body) {
		memcpy(dst, (const char *)x->r->body + x->up_pos, want);
	} else {
		ssize_t got;
		do
			got = pread(x->r->body_fd, dst, want, (off_t)x->up_pos);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
		want = (size_t)got;
	}
	x->up_pos += (int64_t)want;
	x->resp->sent += want;
	return want;
}

static void log_req(struct http_client *c, const char *method, const char *url, long status, int code)
{
	const char *q;
	if (!c->verbose || !c->log)
		return;
	q = strchr(url, '?'); /* query strings can carry signatures (S3 presigned URLs) */
	pthread_mutex_lock(&c->log_mu);
	if (code)
		fprintf(c->log, "lamina: http: %s %.*s: %s\n", method, (int)(q ? q - url : (long)strlen(url)), url,
			curl_easy_strerror((CURLcode)code));
	else
		fprintf(c->log, "lamina: http: %s %.*s%s -> %ld\n", method, (int)(q ? q - url : (long)strlen(url)),
			url, q ? "?..." : "", status);
	pthread_mutex_unlock(&c->log_mu);
}

static int is_redirect(long s)
{
	return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

int http_do(struct http_conn *h, const struct http_req *r, struct http_resp *resp, struct lm_err *err)
{
	char errbuf[CURL_ERROR_SIZE];
	char *url = lm_xstrdup(r->url), *hdr = NULL;
	const char *method = r->method ? r->method : "GET";
	int ret = -1;

	http_resp_release(resp);
	buf_init(&resp->body, r->body_max ? r->body_max : HTTP_ERRBODY_MAX);
	for (int hop = 0;; hop++) {
		struct curl_slist *hdrs = NULL;
		struct xfer x = { .easy = h->easy, .r = r, .resp = resp };
		int send_auth = r->authorization && http_same_origin(url, r->url);
		int64_t blen = r->body_len;
		CURLcode rc;
		long status = 0;
		char *next = NULL;

		curl_easy_reset(h->easy);
		errbuf[0] = '\0';
		curl_easy_setopt(h->easy, CURLOPT_SHARE, h->c->share);
		curl_easy_setopt(h->easy, CURLOPT_URL, url);
		curl_easy_setopt(h->easy, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h->easy, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h->easy, CURLOPT_USERAGENT, "lamina/" LM_VERSION);
		curl_easy_setopt(h->easy, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h->easy, CURLOPT_CONNECTTIMEOUT, (long)HTTP_CONNECT_TIMEOUT_S);
		/* every wait has an end: a body that drips, and a request that never finishes */
		curl_easy_setopt(h->easy, CURLOPT_LOW_SPEED_LIMIT, h->c->low_speed_limit);
		curl_easy_setopt(h->easy, CURLOPT_LOW_SPEED_TIME, h->c->low_speed_time);
		curl_easy_setopt(h->easy, CURLOPT_TIMEOUT, h->c->timeout_s > 0 ? h->c->timeout_s : 0L);
		curl_easy_setopt(h->easy, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(h->easy, CURLOPT_HEADERFUNCTION, header_cb);
		curl_easy_setopt(h->easy, CURLOPT_HEADERDATA, &x);
		curl_easy_setopt(h->easy, CURLOPT_WRITEFUNCTION, write_cb);
		curl_easy_setopt(h->easy, CURLOPT_WRITEDATA, &x);
		if (h->c->ca_cert)
			curl_easy_setopt(h->easy, CURLOPT_CAINFO, h->c->ca_cert);
		if (r->tls_noverify) {
			curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(h->easy, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		hdrs = curl_slist_append(hdrs, "Expect:");
		if (send_auth) {
			hdr = lm_asprintf("Authorization: %s", r->authorization);
			hdrs = curl_slist_append(hdrs, hdr);
			memset(hdr, 0, strlen(hdr));
			free(hdr);
			hdr = NULL;
		}
		if (r->accept) {
			hdr = lm_asprintf("Accept: %s", r->accept);
			hdrs = curl_slist_append(hdrs, hdr);
			free(hdr);
			hdr = NULL;
		}
		if (r->content_type) {
			hdr = lm_asprintf("Content-Type: %s", r->content_type);
			hdrs = curl_slist_append(hdrs, hdr);
			free(hdr);
			hdr = NULL;
		}
		if (r->content_range) {
			hdr = lm_asprintf("Content-Range: %s", r->content_range);
			hdrs = curl_slist_append(hdrs, hdr);
			free(hdr);
			hdr = NULL;
		}
		if (r->range_from > 0) {
			hdr = lm_asprintf("Range: bytes=%lld-", (long long)r->range_from);
			hdrs = curl_slist_append(hdrs, hdr);
			free(hdr);
			hdr = NULL;
		}
		curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, hdrs);
		if (strcmp(method, "HEAD") == 0) {
			curl_easy_setopt(h->easy, CURLOPT_NOBODY, 1L);
		} else if (strcmp(method, "GET") != 0) {
			if (!r->body && r->body_fd <= 0)
				blen = 0;
			x.up_pos = r->body_off;
			x.up_end = r->body_off + blen;
			if (r->body)
				x.up_pos = 0, x.up_end = blen;
			x.up_start = x.up_pos;
			curl_easy_setopt(h->easy, CURLOPT_UPLOAD, 1L);
			curl_easy_setopt(h->easy, CURLOPT_READFUNCTION, read_cb);
			curl_easy_setopt(h->easy, CURLOPT_READDATA, &x);
			curl_easy_setopt(h->easy, CURLOPT_SEEKFUNCTION, seek_cb);
			curl_easy_setopt(h->easy, CURLOPT_SEEKDATA, &x);
			curl_easy_setopt(h->easy, CURLOPT_INFILESIZE_LARGE, (curl_off_t)blen);
			curl_easy_setopt(h->easy, CURLOPT_CUSTOMREQUEST, method);
		}
		rc = curl_easy_perform(h->easy);
		curl_slist_free_all(hdrs);
		curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
		if (rc != CURLE_OK) {
			resp->curl_code = (int)rc;
			resp->status = status;
			log_req(h->c, method, url, status, (int)rc);
			if (x.body_too_big)
				lm_err_set(err, LM_E_NET, "%s %s: answer larger than %zu bytes", method, url,
					   resp->body.max);
			else if (x.headers_too_big || rc == CURLE_OUT_OF_MEMORY)
				/* curl says "Out of memory" for a header over its own 100 KiB limit */
				lm_err_set(err, LM_E_NET, "%s %s: the response's headers are larger than %u KiB: refused",
					   method, url, HTTP_HEADERS_MAX >> 10);
			else
				lm_err_set(err, LM_E_NET, "%s", errbuf[0] ? errbuf : curl_easy_strerror(rc));
			goto out;
		}
		resp->status = status;
		log_req(h->c, method, url, status, 0);
		if (!is_redirect(status) || !resp->location)
			break;
		if (hop >= HTTP_MAX_REDIRECTS) {
			lm_err_set(err, LM_E_NET, "too many redirects");
			resp->curl_code = CURLE_TOO_MANY_REDIRECTS;
			goto out;
		}
		next = http_url_resolve(url, resp->location);
		if (!next) {
			lm_err_set(err, LM_E_NET, "bad redirect location");
			resp->curl_code = CURLE_URL_MALFORMAT;
			goto out;
		}
		free(url);
		url = next;
		if (status == 303)
			method = "GET";
		buf_reset(&resp->body);
	}
	ret = 0;
out:
	free(url);
	return ret;
}

int http_transient(int c)
{
	switch ((CURLcode)c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

int http_status_retryable(long s)
{
	return s == 408 || s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
}

long http_retry_after(const char *v, time_t now)
{
	struct tm tm;
	const char *e;
	if (!v)
		return -1;
	while (*v == ' ')
		v++;
	if (*v >= '0' && *v <= '9') {
		char *end;
		long s;
		errno = 0;
		s = strtol(v, &end, 10);
		while (*end == ' ')
			end++;
		if (errno || *end || s < 0)
			return -1;
		return s;
	}
	memset(&tm, 0, sizeof(tm));
	e = strptime(v, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!e || *e) {
		return -1;
	} else {
		time_t t = timegm(&tm);
		return t > now ? (long)(t - now) : 0;
	}
}

long http_backoff_ms(int attempt, long retry_after_s)
{
	long ms = 250;
	if (retry_after_s >= 0)
		return (retry_after_s > 60 ? 60 : retry_after_s) * 1000;
	for (int i = 1; i < attempt && ms < 8000; i++)
		ms *= 2;
	return ms > 8000 ? 8000 : ms;
}

int http_content_range_parse(const char *v, int64_t *start, int64_t *end, int64_t *total)
{
	long long s, e, t = -1;
	int n = 0;
	char star = 0;
	if (!v)
		return -1;
	if (sscanf(v, "bytes %lld-%lld/%lld%n", &s, &e, &t, &n) == 3 && v[n] == '\0') {
		/* ok */
	} else if (sscanf(v, "bytes %lld-%lld/%c%n", &s, &e, &star, &n) == 3 && star == '*' && v[n] == '\0') {
		t = -1;
	} else {
		return -1;
	}
	if (s < 0 || e < s || (t >= 0 && e >= t))
		return -1;
	*start = s;
	*end = e;
	*total = t;
	return 0;
}

char *http_url_resolve(const char *base, const char *location)
{
	CURLU *u = curl_url();
	char *s = NULL, *out = NULL;
	if (!u)
		return NULL;
	if (curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
		out = lm_xstrdup(s);
		curl_free(s);
	}
	curl_url_cleanup(u);
	return out;
}

static int origin_of(const char *url, char **scheme, char **host, char **port)
{
	CURLU *u = curl_url();
	int ok;
	*scheme = *host = *port = NULL;
	ok = u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, host, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_PORT, port, CURLU_DEFAULT_PORT) == CURLUE_OK;
	curl_url_cleanup(u);
	return ok ? 0 : -1;
}

int http_same_origin(const char *a, const char *b)
{
	char *s1, *h1, *p1, *s2, *h2, *p2;
	int same;
	int r1 = origin_of(a, &s1, &h1, &p1), r2 = origin_of(b, &s2, &h2, &p2);
	same = r1 == 0 && r2 == 0 && strcasecmp(s1, s2) == 0 && strcasecmp(h1, h2) == 0 && strcmp(p1, p2) == 0;
	curl_free(s1);
	curl_free(h1);
	curl_free(p1);
	curl_free(s2);
	curl_free(h2);
	curl_free(p2);
	return same;
}

int http_host_is_loopback(const char *hp)
{
	size_t n;
	const char *colon;
	if (strncmp(hp, "[::1]", 5) == 0 && (hp[5] == '\0' || hp[5] == ':'))
		return 1;
	if (strcmp(hp, "::1") == 0)
		return 1;
	colon = strchr(hp, ':');
	n = colon ? (size_t)(colon - hp) : strlen(hp);
	if (n == 9 && strncasecmp(hp, "localhost", 9) == 0)
		return 1;
	if (n > 4 && strncmp(hp, "127.", 4) == 0) {
		int dots = 0;
		for (size_t i = 0; i < n; i++) {
			if (hp[i] == '.')
				dots++;
			else if (hp[i] < '0' || hp[i] > '9')
				return 0;
		}
		return dots == 3;
	}
	return 0;
}

char *http_escape(const char *s)
{
	char *e = curl_easy_escape(NULL, s, 0), *out;
	out = lm_xstrdup(e ? e : "");
	curl_free(e);
	return out;
}

void http_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}
