/* sandbox.h - run a program inside an image's root filesystem, locked in.
 *
 * What crun and bubblewrap give an untrusted process, also when lamina runs as root
 * (docs/security.md): new user, mount, PID, network, IPC and UTS namespaces (the user
 * namespace maps only lamina's own uid and gid, to 0 inside); the program runs as PID 1
 * of its PID namespace with a fresh /proc of that namespace (never the host's); the
 * root is a read-only overlay of [skeleton, app overlay, rootfs] made the root with
 * pivot_root, the host's tree detached; a tmpfs /tmp, a read-only /dev with null, zero,
 * random and urandom, and, when asked, one writable host directory at /.lamina-io;
 * stdin /dev/null, stdout/stderr to the given descriptors and no other descriptor of
 * lamina's; PR_SET_NO_NEW_PRIVS; no capability (bounding, permitted, effective,
 * inheritable, ambient; SECBIT_NOROOT so uid 0 does not get them back on exec); and a
 * seccomp filter against mount, ptrace, kexec, module loading, bpf, keyctl, setns,
 * unshare, clone with namespace flags and the like. The program gets exactly the given
 * environment. Where the kernel refuses the namespaces, the run fails with one line
 * saying what to change: a hostile binary never runs with more privilege. */
#ifndef LM_SANDBOX_H
#define LM_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

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

/* The uid_map (gid_map) text that maps the sandbox's root to id outside: "0 <id> 1". Caller frees. Pure. */
char *sandbox_id_map(unsigned id);

struct sock_filter;
/* The seccomp program (classic BPF) every run gets, for the audit architecture arch:
 * another architecture is killed, the calls of an escape or a kernel attack (mount,
 * ptrace, kexec, bpf, setns, unshare, clone with namespace flags ...) fail with EPERM,
 * clone3 with ENOSYS, the rest is allowed. Writes at most max instructions to f and
 * returns how many, or 0 when max is too small. Pure. */
size_t sandbox_seccomp_program(struct sock_filter *f, size_t max, uint32_t arch);

/* The audit architecture of this build (AUDIT_ARCH_X86_64, AUDIT_ARCH_AARCH64). */
#if defined(__x86_64__)
#define SANDBOX_AUDIT_ARCH 0xC000003EU
#elif defined(__aarch64__)
#define SANDBOX_AUDIT_ARCH 0xC00000B7U
#else
#error "lamina's sandbox knows the seccomp architecture of x86_64 and aarch64 only"
#endif

#endif
