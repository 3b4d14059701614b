/* http.h - a small libcurl wrapper for the registry client.
 *
 * One http_client per run holds what connections share (a libcurl share handle for the
 * connection cache, DNS and TLS sessions; the CA file). Each thread uses its own
 * http_conn (one easy handle, kept alive across requests). Redirects are followed here,
 * by hand, so that the Authorization header goes only to the host it was meant for.
 * Retries are the caller's business (they depend on what is being sent); the pure
 * helpers below decide how long to wait. */
#ifndef LM_HTTP_H
#define LM_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "common/buf.h"
#include "common/err.h"

struct http_client;
struct http_conn;

/* How long a request may wait (docs/registry.md): the defaults when 0. */
#define HTTP_CONNECT_TIMEOUT_S 30
#define HTTP_LOW_SPEED_LIMIT 1024 /* bytes per second, averaged over ... */
#define HTTP_LOW_SPEED_TIME_S 30  /* ... this many seconds, or the transfer fails */
#define HTTP_TIMEOUT_S 1800       /* the whole request, a blob's body included */

struct http_client_opts {
	const char *ca_cert; /* PEM bundle instead of the system store, or NULL */
	FILE *log;           /* with verbose: one line per request (method, URL without query, status) */
	int verbose;
	long timeout_s;       /* whole request; 0 = HTTP_TIMEOUT_S, < 0 = none */
	long low_speed_limit; /* 0 = HTTP_LOW_SPEED_LIMIT */
	long low_speed_time;  /* 0 = HTTP_LOW_SPEED_TIME_S */
};

struct http_client *http_client_new(const struct http_client_opts *o, struct lm_err *err);
void http_client_free(struct http_client *c);
struct http_conn *http_conn_new(struct http_client *c);
void http_conn_free(struct http_conn *h);

struct http_resp;
/* Receives a 2xx response body as it arrives; returns 0, or -1 to abort the transfer. */
typedef int (*http_sink_fn)(void *ctx, const struct http_resp *resp, const void *data, size_t len);

struct http_req {
	const char *method; /* "GET" (default), "HEAD", "POST", "PUT", "PATCH" */
	const char *url;
	const char *authorization; /* header value; sent to url's host only, never after a redirect elsewhere */
	const char *accept;
	const char *content_type;
	const char *content_range; /* for PATCH chunks: "start-end" */
	const void *body;          /* memory body, or */
	int body_fd;               /* file body read with pread from body_off (when body == NULL and > 0 len) */
	int64_t body_off;
	int64_t body_len;
	int64_t range_from;   /* > 0: "Range: bytes=N-" */
	int tls_noverify;     /* insecure registry over https */
	http_sink_fn sink;    /* 2xx bodies go here when set; others into resp->body */
	void *sink_ctx;
	size_t body_max;      /* cap for resp->body (default 64 KiB) */
};

struct http_resp {
	long status;
	int curl_code; /* CURLcode of a failed transfer, 0 otherwise */
	char *content_type, *location, *www_authenticate, *docker_digest, *content_range, *range, *retry_after;
	int64_t content_length; /* -1 when absent */
	struct lm_buf body;
	uint64_t sent, received; /* body bytes over the wire in this request (all hops) */
};

void http_resp_release(struct http_resp *r);

/* Sends r and fills resp (released and re-initialised first). Returns 0 when a final
 * (non-redirect) HTTP answer arrived, whatever its status; -1 when the transfer failed
 * (resp->curl_code set, err says why; a sink's -1 also lands here with curl_code
 * CURLE_WRITE_ERROR). */
int http_do(struct http_conn *h, const struct http_req *r, struct http_resp *resp, struct lm_err *err);

/* 1 when a transfer error is worth retrying (connection refused/reset, timeouts, a
 * truncated body), 0 for errors a retry will not fix (TLS verification, bad URL). */
int http_transient(int curl_code);
/* 1 for 408, 429, 500, 502, 503, 504. */
int http_status_retryable(long status);
/* Retry-After: delta-seconds or an HTTP-date, relative to now. Seconds to wait (>= 0),
 * or -1 when value is NULL or unparsable. */
long http_retry_after(const char *value, time_t now);
/* Milliseconds to wait before try number attempt (1-based): the server's Retry-After
 * when >= 0 (capped at 60 s), else 250 ms doubling up to 8 s. */
long http_backoff_ms(int attempt, long retry_after_s);
/* Parses a Content-Range value "bytes START-END/TOTAL" (TOTAL may be "*": -1). */
int http_content_range_parse(const char *v, int64_t *start, int64_t *end, int64_t *total);
/* Resolves location (absolute, or relative to base). Caller frees; NULL if malformed. */
char *http_url_resolve(const char *base, const char *location);
/* 1 when a and b have the same scheme, host and port. */
int http_same_origin(const char *a, const char *b);
/* 1 for 127.0.0.0/8, ::1 and localhost (with or without a port). */
int http_host_is_loopback(const char *hostport);
/* Percent-encodes s for a query string. Caller frees. */
char *http_escape(const char *s);
/* Sleeps ms milliseconds. */
void http_sleep_ms(long ms);

#endif
