/* sandbox.h - run a program inside an image's root filesystem.
 *
 * The child enters a new mount namespace (and a user namespace when not root), mounts
 * a read-only overlay of [skeleton, overlay dir, rootfs] (the skeleton only adds the
 * mount points), a fresh /proc, a tmpfs on /tmp, a minimal /dev (null, zero, random,
 * urandom bound from the host) and, when asked, one writable host directory at
 * /.lamina-io; then chroots into it and execs the program with exactly the given
 * environment. The whole root is read-only, /var/task included, as on Lambda. */
#ifndef LM_SANDBOX_H
#define LM_SANDBOX_H

#include <stddef.h>

#include "common/err.h"

/* Where the writable io directory appears inside the sandbox. */
#define SANDBOX_IO "/.lamina-io"

struct sandbox_spec {
	const char *rootfs;      /* the image's root directory (from rootfs_get) */
	const char *overlay;     /* a directory laid over it (app files at image paths), or NULL */
	const char *io;          /* host directory bound read-write at SANDBOX_IO, or NULL */
	const char *scratch;     /* host directory for the mount point and skeleton (must exist) */
	char *const *argv;       /* argv[0]: absolute path inside the image; NULL-terminated */
	char *const *env;        /* NULL-terminated KEY=VALUE list (the whole environment) */
	const char *workdir;     /* chdir inside; "/" when NULL or missing */
	int stdout_fd, stderr_fd; /* -1: inherit */
};

/* Runs the program and waits for it. On success *status is its exit status (128 + N
 * when killed by signal N; 127 when it could not be executed, with the reason in
 * stderr_fd). Fails (LM_E_IO) when the sandbox cannot be set up, saying why in one
 * line, e.g. when unprivileged user namespaces are disabled (sandbox_ns_message). */
int sandbox_run(const struct sandbox_spec *s, int *status, struct lm_err *err);

/* The host settings that decide whether an unprivileged user may create a user
 * namespace: each file's text, or NULL where the file does not exist. */
struct sandbox_ns_sysctls {
	const char *unprivileged_userns_clone; /* /proc/sys/kernel/unprivileged_userns_clone (Debian) */
	const char *max_user_namespaces;       /* /proc/sys/user/max_user_namespaces */
	const char *apparmor_restrict;         /* /proc/sys/kernel/apparmor_restrict_unprivileged_userns */
};

/* One line saying why the namespaces for a run could not be created and what to do:
 * errnum is unshare(2)'s errno, root whether lamina runs as root. Caller frees. Pure. */
char *sandbox_ns_message(int errnum, int root, const struct sandbox_ns_sysctls *s);

/* The environment for a run: the image's ENV (KEY=VALUE strings), then extra entries
 * replacing or adding keys. NULL-terminated; free with sandbox_env_free. */
char **sandbox_env(char *const *img_env, size_t nimg, char *const *extra, size_t nextra);
void sandbox_env_free(char **env);
/* Value of key in a NULL-terminated environment (borrowed), or NULL. Pure. */
const char *sandbox_env_get(char *const *env, const char *key);

/* The image's Python: /var/lang/bin/python3 when it is there, else the first python3 on
 * the PATH of env (default /usr/local/bin:/usr/bin:/bin), looked up in root with the
 * image's symlinks. Caller frees; NULL when there is none. */
char *sandbox_find_python(const char *root, char *const *env);

#endif
