#include "registry/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/alloc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/str.h"

#define AUTH_CONFIG_MAX (1u << 20)
#define AUTH_HELPER_OUT_MAX (256u << 10)

void auth_challenge_release(struct auth_challenge *c)
{
	if (!c)
		return;
	free(c->realm);
	free(c->service);
	free(c->scope);
	free(c->error);
	memset(c, 0, sizeof(*c));
}

static int is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~/:", c));
}

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

int auth_challenge_parse(const char *value, struct auth_challenge *out, struct lm_err *err)
{
	struct auth_challenge c = { 0 };
	const char *p = skip_ws(value ? value : "");
	const char *s = p;
	size_t n;

	while (*p && *p != ' ' && *p != '\t')
		p++;
	n = (size_t)(p - s);
	if (n == 5 && strncasecmp(s, "basic", 5) == 0)
		c.scheme = AUTH_BASIC;
	else if (n == 6 && strncasecmp(s, "bearer", 6) == 0)
		c.scheme = AUTH_BEARER;
	else
		return lm_err_set(err, LM_E_AUTH, "unsupported authentication scheme '%.*s'", (int)n, s);

	for (;;) {
		const char *k;
		size_t kn;
		struct lm_buf v;
		char **slot = NULL;

		p = skip_ws(p);
		while (*p == ',')
			p = skip_ws(p + 1);
		if (!*p)
			break;
		k = p;
		while (is_tchar(*p) && *p != '/' && *p != ':')
			p++;
		kn = (size_t)(p - k);
		p = skip_ws(p);
		if (kn == 0 || *p != '=') {
			if (kn > 0 && (*p == ' ' || *p == '\0' || is_tchar(*p)))
				break; /* the next challenge begins: keep the first */
			auth_challenge_release(&c);
			return lm_err_set(err, LM_E_AUTH, "malformed WWW-Authenticate header");
		}
		p = skip_ws(p + 1);
		buf_init(&v, 8192);
		if (*p == '"') {
			p++;
			while (*p && *p != '"') {
				if (*p == '\\' && p[1])
					p++;
				if (buf_append(&v, p, 1) < 0)
					break;
				p++;
			}
			if (*p != '"') {
				buf_release(&v);
				auth_challenge_release(&c);
				return lm_err_set(err, LM_E_AUTH, "malformed WWW-Authenticate header (unterminated quote)");
			}
			p++;
		} else {
			const char *vs = p;
			while (*p && *p != ',' && *p != ' ' && *p != '\t')
				p++;
			buf_append(&v, vs, (size_t)(p - vs));
		}
		if (kn == 5 && strncasecmp(k, "realm", 5) == 0)
			slot = &c.realm;
		else if (kn == 7 && strncasecmp(k, "service", 7) == 0)
			slot = &c.service;
		else if (kn == 5 && strncasecmp(k, "scope", 5) == 0)
			slot = &c.scope;
		else if (kn == 5 && strncasecmp(k, "error", 5) == 0)
			slot = &c.error;
		if (slot && !*slot) {
			size_t l;
			*slot = buf_steal(&v, &l);
		}
		buf_release(&v);
	}
	if (c.scheme == AUTH_BEARER && (!c.realm || !*c.realm)) {
		auth_challenge_release(&c);
		return lm_err_set(err, LM_E_AUTH, "Bearer challenge without a realm");
	}
	*out = c;
	return 0;
}

int auth_token_parse(const char *json, size_t len, char **token, int *expires_in, struct lm_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je), *t;
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return lm_err_set(err, LM_E_AUTH, "token endpoint answer is not a JSON object");
	}
	t = json_object_get(root, "token");
	if (!json_is_string(t) || !*json_string_value(t))
		t = json_object_get(root, "access_token");
	if (!json_is_string(t) || !*json_string_value(t)) {
		json_decref(root);
		return lm_err_set(err, LM_E_AUTH, "token endpoint answer has no 'token' or 'access_token'");
	}
	*token = lm_xstrdup(json_string_value(t));
	if (expires_in) {
		json_t *e = json_object_get(root, "expires_in");
		*expires_in = json_is_integer(e) ? (int)json_integer_value(e) : 0;
	}
	json_decref(root);
	return 0;
}

void auth_cred_release(struct auth_cred *c)
{
	if (!c)
		return;
	/* scrub secrets before freeing */
	if (c->password)
		memset(c->password, 0, strlen(c->password));
	if (c->identity_token)
		memset(c->identity_token, 0, strlen(c->identity_token));
	free(c->username);
	free(c->password);
	free(c->identity_token);
	memset(c, 0, sizeof(*c));
}

int auth_cred_present(const struct auth_cred *c)
{
	return (c->username && c->password) || c->identity_token;
}

void auth_lookup_release(struct auth_lookup *l)
{
	if (!l)
		return;
	auth_cred_release(&l->cred);
	free(l->helper);
	free(l->server);
	memset(l, 0, sizeof(*l));
}

static char *b64_decode(const char *s, size_t *outlen)
{
	size_t n = strlen(s), pad = 0;
	unsigned char *o;
	int r;
	if (n == 0 || n % 4)
		return NULL;
	o = lm_xmalloc(n / 4 * 3 + 1);
	r = EVP_DecodeBlock(o, (const unsigned char *)s, (int)n);
	if (r < 0) {
		free(o);
		return NULL;
	}
	if (s[n - 1] == '=')
		pad++;
	if (s[n - 2] == '=')
		pad++;
	*outlen = (size_t)r - pad;
	o[*outlen] = '\0';
	return (char *)o;
}

char *auth_basic_header(const char *user, const char *password)
{
	char *raw = lm_asprintf("%s:%s", user, password);
	size_t n = strlen(raw);
	char *enc = lm_xmalloc(4 * ((n + 2) / 3) + 1);
	char *h;
	EVP_EncodeBlock((unsigned char *)enc, (const unsigned char *)raw, (int)n);
	h = lm_asprintf("Basic %s", enc);
	memset(raw, 0, n);
	memset(enc, 0, strlen(enc));
	free(raw);
	free(enc);
	return h;
}

/* The host part of a config key: "https://host/v1/" -> "host". */
static int key_matches(const char *key, const char *host)
{
	const char *k = key;
	size_t hn = strlen(host);
	if (lm_str_startswith(k, "https://"))
		k += 8;
	else if (lm_str_startswith(k, "http://"))
		k += 7;
	return strncmp(k, host, hn) == 0 && (k[hn] == '\0' || k[hn] == '/');
}

static int is_hub(const char *host)
{
	return strcmp(host, "docker.io") == 0 || strcmp(host, "index.docker.io") == 0 ||
	       strcmp(host, "registry-1.docker.io") == 0;
}

static int cred_from_auths_entry(json_t *e, struct auth_cred *out)
{
	json_t *a = json_object_get(e, "auth"), *u = json_object_get(e, "username"),
	       *pw = json_object_get(e, "password"), *it = json_object_get(e, "identitytoken");
	struct auth_cred c = { 0 };
	if (json_is_string(a) && *json_string_value(a)) {
		size_t n;
		char *dec = b64_decode(json_string_value(a), &n), *colon;
		if (dec && (colon = memchr(dec, ':', n)) != NULL) {
			c.username = lm_xstrndup(dec, (size_t)(colon - dec));
			c.password = lm_xstrdup(colon + 1);
		}
		if (dec) {
			memset(dec, 0, n);
			free(dec);
		}
	} else if (json_is_string(u) && json_is_string(pw)) {
		c.username = lm_xstrdup(json_string_value(u));
		c.password = lm_xstrdup(json_string_value(pw));
	}
	if (json_is_string(it) && *json_string_value(it))
		c.identity_token = lm_xstrdup(json_string_value(it));
	if (!auth_cred_present(&c)) {
		auth_cred_release(&c);
		return 0;
	}
	*out = c;
	return 1;
}

int auth_config_lookup(const char *json, size_t len, const char *host, struct auth_lookup *out,
		       struct lm_err *err)
{
	static const char *const hub_keys[] = { "https://index.docker.io/v1/", "index.docker.io", "docker.io",
						"registry-1.docker.io" };
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je), *helpers, *auths, *store;
	struct auth_lookup l = { 0 };
	const char *server = is_hub(host) ? "https://index.docker.io/v1/" : host;
	int found = 0;

	if (!root || !json_is_object(root)) {
		json_decref(root);
		return lm_err_set(err, LM_E_INPUT, "not a JSON object (line %d)", je.line);
	}
	helpers = json_object_get(root, "credHelpers");
	auths = json_object_get(root, "auths");
	store = json_object_get(root, "credsStore");
	if (json_is_object(helpers)) {
		const char *k;
		json_t *v;
		json_object_foreach (helpers, k, v) {
			if (!json_is_string(v) || !*json_string_value(v))
				continue;
			if (key_matches(k, host) || (is_hub(host) && is_hub(k))) {
				l.helper = lm_xstrdup(json_string_value(v));
				found = 1;
				break;
			}
		}
	}
	if (!found && json_is_object(auths)) {
		const char *k;
		json_t *v;
		/* exact key first, then any key naming the same host */
		if (is_hub(host)) {
			for (size_t i = 0; !found && i < sizeof(hub_keys) / sizeof(hub_keys[0]); i++) {
				json_t *e = json_object_get(auths, hub_keys[i]);
				if (json_is_object(e))
					found = cred_from_auths_entry(e, &l.cred);
			}
		} else {
			json_t *e = json_object_get(auths, host);
			if (json_is_object(e))
				found = cred_from_auths_entry(e, &l.cred);
			json_object_foreach (auths, k, v) {
				if (found)
					break;
				if (json_is_object(v) && key_matches(k, host))
					found = cred_from_auths_entry(v, &l.cred);
			}
		}
	}
	if (!found && json_is_string(store) && *json_string_value(store)) {
		l.helper = lm_xstrdup(json_string_value(store));
		found = 1;
	}
	json_decref(root);
	if (!found)
		return 0;
	l.server = lm_xstrdup(server);
	*out = l;
	return 1;
}

int auth_helper_parse(const char *json, size_t len, struct auth_cred *out, struct lm_err *err)
{
	json_error_t je;
	json_t *root = json_loadb(json, len, 0, &je), *u, *s;
	if (!root || !json_is_object(root)) {
		json_decref(root);
		return lm_err_set(err, LM_E_AUTH, "credential helper answer is not a JSON object");
	}
	u = json_object_get(root, "Username");
	s = json_object_get(root, "Secret");
	if (!json_is_string(s) || !*json_string_value(s)) {
		json_decref(root);
		return lm_err_set(err, LM_E_AUTH, "credential helper answer has no 'Secret'");
	}
	memset(out, 0, sizeof(*out));
	if (json_is_string(u) && strcmp(json_string_value(u), "<token>") == 0) {
		out->identity_token = lm_xstrdup(json_string_value(s));
	} else {
		out->username = lm_xstrdup(json_is_string(u) ? json_string_value(u) : "");
		out->password = lm_xstrdup(json_string_value(s));
	}
	json_decref(root);
	return 0;
}

int auth_helper_get(const char *name, const char *server, struct auth_cred *out, struct lm_err *err)
{
	char *prog = NULL;
	int in[2] = { -1, -1 }, outp[2] = { -1, -1 }, status = 0, ret = -1;
	pid_t pid = -1;
	struct lm_buf b;
	char chunk[4096];
	void (*old)(int);

	buf_init(&b, AUTH_HELPER_OUT_MAX);
	for (const char *c = name; *c; c++)
		if (*c == '/' || *c == ' ') {
			lm_err_set(err, LM_E_AUTH, "bad credential helper name '%s'", name);
			goto out;
		}
	prog = lm_asprintf("docker-credential-%s", name);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(outp, O_CLOEXEC) < 0) {
		lm_err_sys(err, "pipe");
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		lm_err_sys(err, "fork");
		goto out;
	}
	if (pid == 0) {
		lm_cleanup_child();
		dup2(in[0], 0);
		dup2(outp[1], 1);
		execlp(prog, prog, "get", (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	in[0] = outp[1] = -1;
	old = signal(SIGPIPE, SIG_IGN);
	(void)!lm_write_all(in[1], server, strlen(server));
	signal(SIGPIPE, old);
	close(in[1]);
	in[1] = -1;
	for (;;) {
		ssize_t r = read(outp[0], chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) < 0)
			break;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
		lm_err_set(err, LM_E_AUTH, "credential helper '%s' not found on PATH", prog);
		goto out;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		/* helpers answer "credentials not found in native keychain" with a failure */
		if (b.data && strstr(b.data, "credentials not found")) {
			ret = 0;
			goto out;
		}
		lm_err_set(err, LM_E_AUTH, "credential helper '%s' failed (exit %d)", prog,
			   WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		goto out;
	}
	if (auth_helper_parse(b.data ? b.data : "", b.len, out, err) < 0) {
		lm_err_wrap(err, "%s", prog);
		goto out;
	}
	ret = 1;
out:
	if (b.data)
		memset(b.data, 0, b.len);
	buf_release(&b);
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0)
			close(in[i]);
		if (outp[i] >= 0)
			close(outp[i]);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	free(prog);
	return ret;
}

int auth_resolve(const char *host, struct auth_cred *out, struct lm_err *err)
{
	const char *dc = getenv("DOCKER_CONFIG"), *home = getenv("HOME");
	char *path = NULL, *json = NULL;
	size_t len = 0;
	struct auth_lookup l = { 0 };
	int ret = 0, r;

	if (dc && *dc)
		path = lm_path_join(dc, "config.json");
	else if (home && *home)
		path = lm_asprintf("%s/.docker/config.json", home);
	else
		return 0;
	if (access(path, F_OK) != 0)
		goto out;
	if (lm_read_file(path, AUTH_CONFIG_MAX, &json, &len, err) < 0) {
		ret = -1;
		goto out;
	}
	r = auth_config_lookup(json, len, host, &l, err);
	if (r < 0) {
		lm_err_wrap(err, "docker config '%s'", path);
		ret = -1;
		goto out;
	}
	if (r == 0)
		goto out;
	if (l.helper) {
		ret = auth_helper_get(l.helper, l.server, out, err);
		goto out;
	}
	*out = l.cred;
	memset(&l.cred, 0, sizeof(l.cred));
	ret = 1;
out:
	auth_lookup_release(&l);
	if (json)
		memset(json, 0, len);
	free(json);
	free(path);
	return ret;
}
