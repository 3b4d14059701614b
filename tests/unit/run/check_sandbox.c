#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run/rootfs.h"
#include "run/sandbox.h"

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/syscall.h>
#include "unit.h"

START_TEST(test_env_merge)
{
	char *img[] = { "PATH=/var/lang/bin:/usr/bin", "LANG=en_US.UTF-8", "EMPTY=" };
	char *extra[] = { "LANG=C.UTF-8", "_HANDLER=app.handler" };
	char **env = sandbox_env(img, 3, extra, 2);
	size_t n = 0;
	while (env[n])
		n++;
	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(env[0], "PATH=/var/lang/bin:/usr/bin");
	ck_assert_str_eq(env[1], "LANG=C.UTF-8");
	ck_assert_str_eq(sandbox_env_get(env, "_HANDLER"), "app.handler");
	ck_assert_str_eq(sandbox_env_get(env, "EMPTY"), "");
	ck_assert(sandbox_env_get(env, "PAT") == NULL);
	ck_assert(sandbox_env_get(env, "LANGX") == NULL);
	sandbox_env_free(env);
}
END_TEST

/* Why namespaces could not be made: one line naming the setting and what to do. */
START_TEST(test_ns_message_table)
{
	static const struct {
		int errnum, root;
		struct sandbox_ns_sysctls s;
		const char *want;   /* a part of the message */
		const char *remedy; /* what to do */
	} t[] = {
		{ EPERM, 1, { NULL, "15000", NULL }, "cannot create the sandbox's namespaces (user, mount, PID, network: "
						     "Operation not permitted)", "allow unshare(2) and user namespaces" },
		{ EPERM, 1, { NULL, "0", NULL }, "(user.max_user_namespaces = 0)", "sysctl -w user.max_user_namespaces" },
		{ EPERM, 0, { "0", "15000", NULL }, "(kernel.unprivileged_userns_clone = 0)", "run lamina as root" },
		{ ENOSPC, 0, { NULL, "0", NULL }, "disabled on this machine (user.max_user_namespaces = 0)",
		  "sysctl -w user.max_user_namespaces" },
		{ ENOSPC, 0, { "1", "12", NULL }, "limit of user namespaces is reached (user.max_user_namespaces = 12)",
		  "raise it" },
		{ EINVAL, 0, { NULL, NULL, NULL }, "this kernel has no user namespaces", "CONFIG_USER_NS" },
		{ EACCES, 0, { "1", "15000", "1" }, "restricted by AppArmor (kernel.apparmor_restrict_unprivileged_userns = 1",
		  "run lamina as root" },
		{ EPERM, 0, { NULL, "15000", "0" }, "cannot create an unprivileged user namespace (Operation not permitted; ",
		  "run lamina as root" },
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *m = sandbox_ns_message(t[i].errnum, t[i].root, &t[i].s);
		ck_assert_msg(strstr(m, t[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, m, t[i].want);
		ck_assert_msg(!strchr(m, '\n'), "case %zu: more than one line", i);
		ck_assert_msg(strstr(m, t[i].remedy) != NULL, "case %zu: no remedy '%s' in '%s'", i, t[i].remedy, m);
		free(m);
	}
}
END_TEST

/* The seccomp program: the architecture check first, every denied call answered with
 * EPERM, clone with namespace flags refused, allow at the end, within BPF's limits. */
START_TEST(test_seccomp_program)
{
	struct sock_filter f[200];
	size_t n = sandbox_seccomp_program(f, 200, SANDBOX_AUDIT_ARCH), eperm = 0;
	ck_assert_uint_gt(n, 40);
	ck_assert_int_eq(f[0].code, BPF_LD | BPF_W | BPF_ABS);
	ck_assert_int_eq(f[0].k, offsetof(struct seccomp_data, arch));
	ck_assert_int_eq(f[1].k, SANDBOX_AUDIT_ARCH);
	ck_assert_int_eq(f[2].k, SECCOMP_RET_KILL_PROCESS);
	ck_assert_int_eq(f[n - 1].code, BPF_RET | BPF_K);
	ck_assert_int_eq(f[n - 1].k, SECCOMP_RET_ALLOW);
	for (size_t i = 0; i < n; i++) {
		if (f[i].code == (BPF_RET | BPF_K) && f[i].k == (SECCOMP_RET_ERRNO | EPERM))
			eperm++;
		/* every jump lands inside the program */
		if (BPF_CLASS(f[i].code) == BPF_JMP) {
			ck_assert_uint_lt(i + 1 + f[i].jt, n);
			ck_assert_uint_lt(i + 1 + f[i].jf, n);
		}
	}
	ck_assert_uint_ge(eperm, 30);
	{
		int found_mount = 0, found_unshare = 0;
		for (size_t i = 0; i + 1 < n; i++)
			if (f[i].code == (BPF_JMP | BPF_JEQ | BPF_K) && f[i + 1].k == (SECCOMP_RET_ERRNO | EPERM)) {
				found_mount |= f[i].k == SYS_mount;
				found_unshare |= f[i].k == SYS_unshare;
			}
		ck_assert(found_mount && found_unshare);
	}
	ck_assert_uint_eq(sandbox_seccomp_program(f, 10, SANDBOX_AUDIT_ARCH), 0); /* too small */
}
END_TEST

START_TEST(test_id_map_and_safe_mode)
{
	char *m = sandbox_id_map(65534);
	ck_assert_str_eq(m, "0 65534 1\n");
	free(m);
	ck_assert_uint_eq(rootfs_safe_mode(04755), 0755);
	ck_assert_uint_eq(rootfs_safe_mode(02755), 0755);
	ck_assert_uint_eq(rootfs_safe_mode(0666), 0644);
	ck_assert_uint_eq(rootfs_safe_mode(01777), 01755);
	ck_assert_uint_eq(rootfs_safe_mode(0600), 0600);
}
END_TEST

SUITE(sandbox)
{
	Suite *s = suite_create("sandbox");
	TCASE(s, test_env_merge);
	TCASE(s, test_seccomp_program);
	TCASE(s, test_id_map_and_safe_mode);
	TCASE(s, test_ns_message_table);
	return s;
}
