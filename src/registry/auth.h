/* auth.h - registry authentication: WWW-Authenticate challenges, token responses,
 * Docker's config.json and credential helpers.
 *
 * The parsers are pure (memory in, structs out). auth_helper_get and auth_resolve run
 * a credential helper or read files. Secrets live only in struct auth_cred and are
 * never put into error messages. */
#ifndef LM_AUTH_H
#define LM_AUTH_H

#include <stddef.h>

#include "common/err.h"

enum auth_scheme { AUTH_NONE, AUTH_BASIC, AUTH_BEARER };

struct auth_challenge {
	enum auth_scheme scheme;
	char *realm, *service, *scope, *error; /* NULL when absent */
};

/* Parses the first challenge of a WWW-Authenticate value, e.g.
 * `Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws",scope="aws"`.
 * Scheme names are case-insensitive; values may be quoted (with \-escapes) or bare.
 * LM_E_AUTH on an unknown scheme, a Bearer challenge without realm, or bad syntax. */
int auth_challenge_parse(const char *value, struct auth_challenge *out, struct lm_err *err);
void auth_challenge_release(struct auth_challenge *c);

/* Token endpoint answer: {"token": ...} or {"access_token": ...}; *token caller frees,
 * *expires_in (seconds, 0 if absent) may be NULL. */
int auth_token_parse(const char *json, size_t len, char **token, int *expires_in, struct lm_err *err);

struct auth_cred {
	char *username, *password; /* Basic */
	char *identity_token;      /* OAuth2 refresh token (docker login with an identity token) */
};
void auth_cred_release(struct auth_cred *c);
/* 1 when the credential holds anything usable. */
int auth_cred_present(const struct auth_cred *c);

/* What Docker's config.json says for a registry host. */
struct auth_lookup {
	struct auth_cred cred; /* from "auths" (auth = base64 user:pass, username/password, identitytoken) */
	char *helper;          /* credential helper name ("ecr-login") from credHelpers or credsStore */
	char *server;          /* the key to hand the helper ("https://index.docker.io/v1/" for docker.io) */
};
void auth_lookup_release(struct auth_lookup *l);

/* Looks host ("public.ecr.aws", "127.0.0.1:5000", "docker.io") up in a config.json held in
 * memory: credHelpers[host] first, then a usable "auths" entry (keys may be "host",
 * "https://host", "https://host/v1/"), then credsStore. Returns 1 when found, 0 when the
 * config says nothing for host, -1 on bad JSON. */
int auth_config_lookup(const char *json, size_t len, const char *host, struct auth_lookup *out,
		       struct lm_err *err);

/* Parses a credential helper's `get` answer {"Username": ..., "Secret": ...}; Username
 * "<token>" makes Secret an identity token. */
int auth_helper_parse(const char *json, size_t len, struct auth_cred *out, struct lm_err *err);

/* Runs `docker-credential-NAME get` (found on PATH) with server on stdin. Returns 1 with
 * out filled, 0 when the helper has no credentials for server, -1 on failure. */
int auth_helper_get(const char *name, const char *server, struct auth_cred *out, struct lm_err *err);

/* Credentials for host from $DOCKER_CONFIG/config.json, else ~/.docker/config.json
 * (through a helper when the config names one). Returns 1 found, 0 none, -1 error. */
int auth_resolve(const char *host, struct auth_cred *out, struct lm_err *err);

/* "Basic base64(user:password)". Caller frees. */
char *auth_basic_header(const char *user, const char *password);

#endif
