/* The registry client's decisions that need no network. */
#include <stdlib.h>
#include <string.h>

#include "registry/registry.h"
#include "unit.h"

/* A token realm gets credentials only over HTTPS, or plain HTTP to loopback or a host
 * named with --insecure-registry. */
START_TEST(test_realm_allowed)
{
	const char *insecure[] = { "registry.test", "other.test:5000" };
	struct reg_opts ro = { 0 };
	static const struct {
		const char *realm;
		int plain, with_insecure;
	} t[] = {
		{ "https://public.ecr.aws/token/", 1, 1 },
		{ "https://auth.example.com:8443/t?x=1", 1, 1 },
		{ "http://127.0.0.1:5001/token", 1, 1 },
		{ "http://localhost/token", 1, 1 },
		{ "http://[::1]:5001/token", 1, 1 },
		{ "http://auth.evil.example/token", 0, 0 },
		{ "http://192.0.2.1/token", 0, 0 },
		{ "http://registry.test/token", 0, 1 },
		{ "http://registry.test:9999/token", 0, 1 },
		{ "http://other.test:5000/token", 0, 1 },
		{ "http://other.test:5001/token", 0, 0 },
		{ "http://user:pw@127.0.0.1/token", 0, 0 },
		{ "ftp://127.0.0.1/token", 0, 0 },
		{ "/token", 0, 0 },
		{ "http://", 0, 0 },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ro.insecure = NULL;
		ro.ninsecure = 0;
		ck_assert_msg(registry_realm_allowed(t[i].realm, &ro) == t[i].plain, "%s", t[i].realm);
		ro.insecure = insecure;
		ro.ninsecure = 2;
		ck_assert_msg(registry_realm_allowed(t[i].realm, &ro) == t[i].with_insecure, "%s (insecure)", t[i].realm);
	}
}
END_TEST

SUITE(registry)
{
	Suite *s = suite_create("registry");
	TCASE(s, test_realm_allowed);
	return s;
}
