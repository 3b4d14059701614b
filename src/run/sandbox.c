/* sandbox.c - mount namespace + read-only overlay + chroot + exec. */
#include "run/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <stddef.h>

#include "common/alloc.h"
#include "common/child.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/str.h"

static const char *const dev_nodes[] = { "null", "zero", "random", "urandom" };

/* What the child writes when unshare(2) failed, followed by the errno. */
#define UNSHARE_FAILED "\001unshare "

char *sandbox_ns_message(int errnum, int root, const struct sandbox_ns_sysctls *s)
{
	const char *clone = s ? s->unprivileged_userns_clone : NULL;
	const char *max = s ? s->max_user_namespaces : NULL;
	const char *aa = s ? s->apparmor_restrict : NULL;

	/* what stops root too: lamina runs the image's programs only in a user namespace */
	if (max && strcmp(max, "0") == 0)
		return lm_xstrdup("user namespaces are disabled on this machine (user.max_user_namespaces = 0), and lamina "
				  "runs an image's programs only inside one (as root too): enable them with "
				  "'sysctl -w user.max_user_namespaces=15000'");
	if (errnum == ENOSPC)
		return lm_asprintf("the limit of user namespaces is reached (user.max_user_namespaces = %s): raise it "
				   "with 'sysctl -w user.max_user_namespaces=15000'",
				   max ? max : "?");
	if (errnum == EINVAL || errnum == ENOSYS)
		return lm_asprintf("this kernel has no user namespaces (%s), and lamina runs an image's programs only "
				   "inside one: use a kernel built with CONFIG_USER_NS",
				   strerror(errnum));
	if (root)
		return lm_asprintf("cannot create the sandbox's namespaces (user, mount, PID, network: %s): lamina runs "
				   "the image's programs only inside them, as root too; in a container, allow "
				   "unshare(2) and user namespaces (e.g. --privileged, or a seccomp profile that permits "
				   "them)",
				   strerror(errnum));
	/* restrictions on unprivileged users only */
	if (clone && strcmp(clone, "0") == 0)
		return lm_xstrdup("unprivileged user namespaces are disabled on this machine "
				  "(kernel.unprivileged_userns_clone = 0): run lamina as root, or enable them with "
				  "'sysctl -w kernel.unprivileged_userns_clone=1'");
	if (aa && strcmp(aa, "1") == 0)
		return lm_asprintf("unprivileged user namespaces are restricted by AppArmor "
				   "(kernel.apparmor_restrict_unprivileged_userns = 1; %s): run lamina as root, or "
				   "allow them with 'sysctl -w kernel.apparmor_restrict_unprivileged_userns=0'",
				   strerror(errnum));
	return lm_asprintf("cannot create an unprivileged user namespace (%s; a container's seccomp profile or a "
			   "security module may forbid it): run lamina as root, or allow unprivileged user "
			   "namespaces",
			   strerror(errnum));
}

/* The text of a small /proc file without trailing white space, or NULL. */
static char *read_sysctl(const char *path)
{
	char *text = NULL;
	size_t len;
	struct lm_err e = LM_ERR_INIT;
	if (lm_read_file(path, 64, &text, &len, &e) < 0) {
		lm_err_release(&e);
		return NULL;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == ' '))
		text[--len] = '\0';
	return text;
}

static int ns_error(struct lm_err *err, int errnum)
{
	char *clone = read_sysctl("/proc/sys/kernel/unprivileged_userns_clone");
	char *max = read_sysctl("/proc/sys/user/max_user_namespaces");
	char *aa = read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
	struct sandbox_ns_sysctls s = { clone, max, aa };
	char *m = sandbox_ns_message(errnum, geteuid() == 0, &s);
	lm_err_set(err, LM_E_IO, "sandbox: %s", m);
	free(m);
	free(clone);
	free(max);
	free(aa);
	return -1;
}

static int write_proc(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int r = lm_write_all(fd, s, strlen(s));
	close(fd);
	return r;
}

char *sandbox_id_map(unsigned id)
{
	return lm_asprintf("0 %u 1\n", id);
}

/* --- seccomp ------------------------------------------------------------------------- */

/* Calls a process in the sandbox never needs and that are the usual steps of an escape
 * or of an attack on the kernel: they fail with EPERM (as in Docker's default profile). */
static const int denied_calls[] = {
	SYS_mount,	    SYS_umount2,	   SYS_pivot_root,	 SYS_ptrace,	     SYS_process_vm_readv,
	SYS_process_vm_writev, SYS_kexec_load,	   SYS_init_module,	 SYS_finit_module,   SYS_delete_module,
	SYS_bpf,	    SYS_perf_event_open,   SYS_keyctl,		 SYS_add_key,	     SYS_request_key,
	SYS_setns,	    SYS_unshare,	   SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_userfaultfd,
	SYS_reboot,	    SYS_swapon,		   SYS_swapoff,		 SYS_chroot,	     SYS_acct,
	SYS_quotactl,	    SYS_syslog,		   SYS_settimeofday,	 SYS_clock_settime,  SYS_adjtimex,
	SYS_iopl,	    SYS_ioperm,		   SYS_fsopen,		 SYS_fsmount,	     SYS_fsconfig,
	SYS_move_mount,	    SYS_open_tree,	   SYS_mount_setattr,	 SYS_kexec_file_load,
};

#define NS_FLAGS (CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)

#define STMT(code, k) ((struct sock_filter){ (unsigned short)(code), 0, 0, (unsigned)(k) })
#define JUMP(code, k, jt, jf) ((struct sock_filter){ (unsigned short)(code), (unsigned char)(jt), (unsigned char)(jf), (unsigned)(k) })

size_t sandbox_seccomp_program(struct sock_filter *f, size_t max, uint32_t arch)
{
	size_t n = 0, ndeny = sizeof(denied_calls) / sizeof(denied_calls[0]);
	if (max < ndeny + 16)
		return 0;
	/* another architecture (the x32 or i386 ABI of an amd64 kernel) is killed */
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#ifdef __X32_SYSCALL_BIT
	f[n++] = JUMP(BPF_JMP | BPF_JGE | BPF_K, __X32_SYSCALL_BIT, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
#endif
	for (size_t i = 0; i < ndeny; i++) {
		f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)denied_calls[i], 0, 1);
		f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	}
	/* clone3 passes its flags in memory the filter cannot read: ENOSYS makes the C
	 * library fall back to clone, whose flags it can */
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone3, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
	/* clone with a namespace flag (the low 32 bits of the first argument) */
	f[n++] = JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_clone, 0, 3);
	f[n++] = STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0]));
	f[n++] = JUMP(BPF_JMP | BPF_JSET | BPF_K, NS_FLAGS, 0, 1);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
	f[n++] = STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	return n;
}

static int load_seccomp(void)
{
	struct sock_filter f[160];
	struct sock_fprog prog;
	size_t n = sandbox_seccomp_program(f, sizeof(f) / sizeof(f[0]), SANDBOX_AUDIT_ARCH);
	if (!n) {
		errno = EINVAL;
		return -1;
	}
	prog.len = (unsigned short)n;
	prog.filter = f;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* No capability left, and none to come back on exec (uid 0 in its namespace would get
 * them all again without SECBIT_NOROOT). */
static int drop_caps(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];
	if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
					     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
					     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED) < 0)
		return -1;
	for (int c = 0; c <= CAP_LAST_CAP; c++)
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	memset(d, 0, sizeof(d));
	return (int)syscall(SYS_capset, &h, d);
}

struct child_paths {
	char *mnt, *opts, *proc, *tmp, *dev, *io;
	char *devs[sizeof(dev_nodes) / sizeof(dev_nodes[0])];
	char *hostdevs[sizeof(dev_nodes) / sizeof(dev_nodes[0])];
};

/* PID 1 of the sandbox's PID namespace: builds the root, locks itself in, runs the program. */
static void sandbox_init(const struct sandbox_spec *s, const struct child_paths *p, int efd)
{
	int nullfd;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		lm_child_fail(efd, "make mounts private");
	if (mount("overlay", p->mnt, "overlay", MS_RDONLY | MS_NODEV, p->opts) < 0)
		lm_child_fail(efd, "mount a read-only overlay of the image's root filesystem on '%s' (is overlayfs "
				"available?)", p->mnt);
	/* this PID namespace's own /proc, never the host's */
	if (mount("proc", p->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
		lm_child_fail(efd, "mount a /proc of the sandbox's own");
	if (mount("tmpfs", p->tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		lm_child_fail(efd, "mount /tmp");
	if (mount("tmpfs", p->dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		lm_child_fail(efd, "mount /dev");
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		int fd = open(p->devs[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			lm_child_fail(efd, "create %s", p->devs[i]);
		close(fd);
		if (mount(p->hostdevs[i], p->devs[i], NULL, MS_BIND, NULL) < 0)
			lm_child_fail(efd, "bind %s", p->hostdevs[i]);
	}
	if (mount(NULL, p->dev, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NOEXEC, NULL) < 0)
		lm_child_fail(efd, "make /dev read-only");
	if (s->io && mount(s->io, p->io, NULL, MS_BIND, NULL) < 0)
		lm_child_fail(efd, "bind '%s' at %s", s->io, SANDBOX_IO);
	if (s->io && mount(NULL, p->io, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV, NULL) < 0)
		lm_child_fail(efd, "remount %s", SANDBOX_IO);
	/* the overlay becomes / and the host's tree is detached: nothing of it stays reachable */
	if (chdir(p->mnt) < 0 || syscall(SYS_pivot_root, ".", ".") < 0 || umount2(".", MNT_DETACH) < 0 ||
	    chdir("/") < 0)
		lm_child_fail(efd, "pivot_root into '%s'", p->mnt);
	if (s->workdir && chdir(s->workdir) < 0)
		(void)!chdir("/");
	nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (nullfd < 0 || dup2(nullfd, 0) < 0)
		lm_child_fail(efd, "stdin");
	if (s->stdout_fd >= 0 && dup2(s->stdout_fd, 1) < 0)
		lm_child_fail(efd, "dup2");
	if (s->stderr_fd >= 0 && dup2(s->stderr_fd, 2) < 0)
		lm_child_fail(efd, "dup2");
	/* no descriptor of lamina's but 0, 1 and 2 survives the exec (efd reports until then) */
	if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 65536; fd++)
			if (fd != efd)
				close(fd);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		lm_child_fail(efd, "no_new_privs");
	if (drop_caps() < 0)
		lm_child_fail(efd, "drop capabilities");
	if (load_seccomp() < 0)
		lm_child_fail(efd, "seccomp filter");
	execve(s->argv[0], s->argv, s->env);
	dprintf(2, "lamina sandbox: exec '%s' in the image: %s\n", s->argv[0], strerror(errno));
	_exit(127);
}

/* The first child: enters the new namespaces (as root too: a user namespace that maps
 * only its own uid, as bubblewrap does), then forks PID 1 of the new PID namespace and
 * hands on its exit status. */
struct child_args {
	const struct sandbox_spec *s;
	const struct child_paths *p;
};

static void child(void *ctx, int efd)
{
	const struct child_args *a = ctx;
	const struct sandbox_spec *s = a->s;
	const struct child_paths *p = a->p;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char *map;
	int st;
	pid_t pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(NS_FLAGS) < 0) {
		/* the parent explains it (sandbox_ns_message) */
		dprintf(efd, "%s%d", UNSHARE_FAILED, errno);
		_exit(126);
	}
	if (write_proc("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
		lm_child_fail(efd, "write /proc/self/setgroups");
	map = sandbox_id_map((unsigned)uid);
	if (write_proc("/proc/self/uid_map", map) < 0)
		lm_child_fail(efd, "write /proc/self/uid_map");
	free(map);
	map = sandbox_id_map((unsigned)gid);
	if (write_proc("/proc/self/gid_map", map) < 0)
		lm_child_fail(efd, "write /proc/self/gid_map");
	free(map);
	pid = fork();
	if (pid < 0)
		lm_child_fail(efd, "fork");
	if (pid == 0)
		sandbox_init(s, p, efd);
	close(efd);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			_exit(126);
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}
static int check_opt_path(const char *p, struct lm_err *err)
{
	if (strpbrk(p, ":,\\"))
		return lm_err_set(err, LM_E_IO, "path '%s' cannot be used in an overlay mount (holds ':', ',' or '\\')", p);
	return 0;
}

int sandbox_run(const struct sandbox_spec *s, int *status, struct lm_err *err)
{
	struct child_paths p = { 0 };
	char *skel = lm_path_join(s->scratch, "skel");
	static const char *const skel_dirs[] = { "proc", "dev", "tmp", SANDBOX_IO + 1 };
	struct lm_child ch;
	char msg[600];
	int ret = -1, wst = 0, got;

	for (size_t i = 0; i < sizeof(skel_dirs) / sizeof(skel_dirs[0]); i++) {
		char *d = lm_path_join(skel, skel_dirs[i]);
		int r = lm_mkdir_p(d, err);
		free(d);
		if (r < 0)
			goto out;
	}
	p.mnt = lm_path_join(s->scratch, "root");
	if (lm_mkdir_p(p.mnt, err) < 0)
		goto out;
	if (check_opt_path(skel, err) < 0 || check_opt_path(s->rootfs, err) < 0 ||
	    (s->overlay && check_opt_path(s->overlay, err) < 0))
		goto out;
	p.opts = s->overlay ? lm_asprintf("lowerdir=%s:%s:%s", skel, s->overlay, s->rootfs)
			    : lm_asprintf("lowerdir=%s:%s", skel, s->rootfs);
	p.proc = lm_path_join(p.mnt, "proc");
	p.tmp = lm_path_join(p.mnt, "tmp");
	p.dev = lm_path_join(p.mnt, "dev");
	p.io = lm_path_join(p.mnt, SANDBOX_IO);
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		p.devs[i] = lm_asprintf("%s/%s", p.dev, dev_nodes[i]);
		p.hostdevs[i] = lm_asprintf("/dev/%s", dev_nodes[i]);
	}
	{
		struct child_args ca = { s, &p };
		if (lm_child_spawn(&ch, child, &ca, err) < 0)
			goto out;
	}
	if ((got = lm_child_wait(&ch, msg, sizeof(msg), &wst, err)) < 0)
		goto out;
	if (got && lm_str_startswith(msg, UNSHARE_FAILED)) {
		ns_error(err, atoi(msg + strlen(UNSHARE_FAILED)));
		goto out;
	}
	if (got) {
		/* Ubuntu's AppArmor gives unprivileged user namespaces no capabilities: unshare
		 * works, mounting does not */
		char *aa = geteuid() != 0 ? read_sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") : NULL;
		lm_err_set(err, LM_E_IO, "sandbox: %s%s", msg,
			   aa && strcmp(aa, "1") == 0 ? " (kernel.apparmor_restrict_unprivileged_userns = 1 takes "
							"capabilities from unprivileged user namespaces: run lamina "
							"as root, or set it to 0)"
						      : "");
		free(aa);
		goto out;
	}
	*status = WIFEXITED(wst) ? WEXITSTATUS(wst) : 128 + WTERMSIG(wst);
	ret = 0;
out:
	if (p.mnt)
		rmdir(p.mnt);
	free(p.mnt);
	free(p.opts);
	free(p.proc);
	free(p.tmp);
	free(p.dev);
	free(p.io);
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		free(p.devs[i]);
		free(p.hostdevs[i]);
	}
	free(skel);
	return ret;
}

static size_t env_keylen(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq ? (size_t)(eq - kv) : strlen(kv);
}

char **sandbox_env(char *const *img_env, size_t nimg, char *const *extra, size_t nextra)
{
	char **v = lm_xcalloc(nimg + nextra + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < nimg + nextra; i++) {
		const char *kv = i < nimg ? img_env[i] : extra[i - nimg];
		size_t kl = env_keylen(kv);
		size_t j;
		for (j = 0; j < n; j++)
			if (env_keylen(v[j]) == kl && strncmp(v[j], kv, kl) == 0)
				break;
		if (j < n) {
			free(v[j]);
			v[j] = lm_xstrdup(kv);
		} else {
			v[n++] = lm_xstrdup(kv);
		}
	}
	v[n] = NULL;
	return v;
}

void sandbox_env_free(char **env)
{
	if (!env)
		return;
	for (char **p = env; *p; p++)
		free(*p);
	free(env);
}

const char *sandbox_env_get(char *const *env, const char *key)
{
	size_t kl = strlen(key);
	for (; env && *env; env++)
		if (strncmp(*env, key, kl) == 0 && (*env)[kl] == '=')
			return *env + kl + 1;
	return NULL;
}
