/* What a registry or the user's machine says about credentials: WWW-Authenticate
 * challenges, token answers, ~/.docker/config.json, credential helper output. The first
 * byte picks the reader. */
#include "registry/auth.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lm_err err = LM_ERR_INIT;
	char *s;
	if (size < 1)
		return 0;
	s = fuzz_cstr(data + 1, size - 1);
	switch (data[0] % 4) {
	case 0: {
		struct auth_challenge c;
		memset(&c, 0, sizeof(c));
		if (auth_challenge_parse(s, &c, &err) == 0)
			auth_challenge_release(&c);
		break;
	}
	case 1: {
		char *token = NULL;
		int expires = 0;
		if (auth_token_parse(s, size - 1, &token, &expires, &err) == 0)
			free(token);
		break;
	}
	case 2: {
		struct auth_lookup l;
		memset(&l, 0, sizeof(l));
		/* 1 found, 0 not, -1 bad JSON: released in every case */
		(void)auth_config_lookup(s, size - 1, "public.ecr.aws", &l, &err);
		auth_lookup_release(&l);
		lm_err_release(&err);
		(void)auth_config_lookup(s, size - 1, "docker.io", &l, &err);
		auth_lookup_release(&l);
		break;
	}
	default: {
		struct auth_cred c;
		memset(&c, 0, sizeof(c));
		if (auth_helper_parse(s, size - 1, &c, &err) == 0)
			auth_cred_release(&c);
		break;
	}
	}
	lm_err_release(&err);
	free(s);
	return 0;
}
