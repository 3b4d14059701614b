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
#include <sys/wait.h>
#include <unistd.h>

#include "run/rootfs.h"
#include "common/alloc.h"
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

	if (root)
		return lm_asprintf("cannot create a mount namespace (%s): lamina runs the image's interpreter in the "
				   "image's root filesystem and needs CAP_SYS_ADMIN for it; in a container, give it "
				   "that capability (--privileged or --cap-add SYS_ADMIN)",
				   strerror(errnum));
	if (clone && strcmp(clone, "0") == 0)
		return lm_xstrdup("unprivileged user namespaces are disabled on this machine "
				  "(kernel.unprivileged_userns_clone = 0): run lamina as root, or enable them with "
				  "'sysctl -w kernel.unprivileged_userns_clone=1'");
	if (max && strcmp(max, "0") == 0)
		return lm_xstrdup("user namespaces are disabled on this machine (user.max_user_namespaces = 0): run "
				  "lamina as root, or enable them with 'sysctl -w user.max_user_namespaces=15000'");
	if (errnum == ENOSPC)
		return lm_asprintf("the limit of user namespaces is reached (user.max_user_namespaces = %s): run lamina "
				   "as root, or raise the limit",
				   max ? max : "?");
	if (errnum == EINVAL || errnum == ENOSYS)
		return lm_asprintf("this kernel has no user namespaces (%s): run lamina as root", strerror(errnum));
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

/* In the child: report a setup failure through the pipe and exit. */
static void child_fail(int fd, const char *fmt, ...) LM_PRINTF(2, 3);
static void child_fail(int fd, const char *fmt, ...)
{
	char buf[512];
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(e));
	(void)!write(fd, buf, strlen(buf));
	_exit(126);
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

struct child_paths {
	char *mnt, *opts, *proc, *tmp, *dev, *io;
	char *devs[sizeof(dev_nodes) / sizeof(dev_nodes[0])];
	char *hostdevs[sizeof(dev_nodes) / sizeof(dev_nodes[0])];
};

static void child(const struct sandbox_spec *s, const struct child_paths *p, int efd)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	int flags = CLONE_NEWNS | (uid != 0 ? CLONE_NEWUSER : 0);

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (unshare(flags) < 0) {
		/* the parent explains it (sandbox_ns_message) */
		dprintf(efd, "%s%d", UNSHARE_FAILED, errno);
		_exit(126);
	}
	if (uid != 0) {
		char map[64];
		if (write_proc("/proc/self/setgroups", "deny") < 0 && errno != ENOENT)
			child_fail(efd, "write /proc/self/setgroups");
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)uid);
		if (write_proc("/proc/self/uid_map", map) < 0)
			child_fail(efd, "write /proc/self/uid_map");
		snprintf(map, sizeof(map), "0 %u 1\n", (unsigned)gid);
		if (write_proc("/proc/self/gid_map", map) < 0)
			child_fail(efd, "write /proc/self/gid_map");
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		child_fail(efd, "make mounts private");
	if (mount("overlay", p->mnt, "overlay", MS_RDONLY, p->opts) < 0)
		child_fail(efd, "mount a read-only overlay of the image's root filesystem on '%s' (is overlayfs "
				"available?)", p->mnt);
	if (mount("proc", p->proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0 &&
	    mount("/proc", p->proc, NULL, MS_BIND | MS_REC, NULL) < 0)
		child_fail(efd, "mount /proc");
	if (mount("tmpfs", p->tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
		child_fail(efd, "mount /tmp");
	if (mount("tmpfs", p->dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755") < 0)
		child_fail(efd, "mount /dev");
	for (size_t i = 0; i < sizeof(dev_nodes) / sizeof(dev_nodes[0]); i++) {
		int fd = open(p->devs[i], O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
		if (fd < 0)
			child_fail(efd, "create %s", p->devs[i]);
		close(fd);
		if (mount(p->hostdevs[i], p->devs[i], NULL, MS_BIND, NULL) < 0)
			child_fail(efd, "bind %s", p->hostdevs[i]);
	}
	if (s->io && mount(s->io, p->io, NULL, MS_BIND, NULL) < 0)
		child_fail(efd, "bind '%s' at %s", s->io, SANDBOX_IO);
	if (chdir(p->mnt) < 0 || chroot(".") < 0 || chdir("/") < 0)
		child_fail(efd, "chroot '%s'", p->mnt);
	if (s->workdir && chdir(s->workdir) < 0)
		(void)!chdir("/");
	if (s->stdout_fd >= 0 && dup2(s->stdout_fd, 1) < 0)
		child_fail(efd, "dup2");
	if (s->stderr_fd >= 0 && dup2(s->stderr_fd, 2) < 0)
		child_fail(efd, "dup2");
	close(efd);
	execve(s->argv[0], s->argv, s->env);
	dprintf(2, "lamina sandbox: exec '%s' in the image: %s\n", s->argv[0], strerror(errno));
	_exit(127);
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
	int efd[2] = { -1, -1 };
	int ret = -1, wst;
	pid_t pid;

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
	if (pipe2(efd, O_CLOEXEC) < 0) {
		lm_err_sys(err, "pipe");
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		lm_err_sys(err, "fork");
		goto out;
	}
	if (pid == 0)
		child(s, &p, efd[1]);
	close(efd[1]);
	efd[1] = -1;

	char msg[600];
	size_t got = 0;
	for (;;) {
		ssize_t r = read(efd[0], msg + got, sizeof(msg) - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == sizeof(msg) - 1)
			break;
	}
	msg[got] = '\0';
	while (waitpid(pid, &wst, 0) < 0) {
		if (errno != EINTR) {
			lm_err_sys(err, "waitpid");
			goto out;
		}
	}
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
	if (efd[0] >= 0)
		close(efd[0]);
	if (efd[1] >= 0)
		close(efd[1]);
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

char *sandbox_find_python(const char *root, char *const *env)
{
	const char *path = sandbox_env_get(env, "PATH");
	char *dirs, *save = NULL, *found = NULL;

	if (rootfs_is_executable(root, "/var/lang/bin/python3"))
		return lm_xstrdup("/var/lang/bin/python3");
	dirs = lm_xstrdup(path ? path : "/usr/local/bin:/usr/bin:/bin");
	for (char *d = strtok_r(dirs, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
		if (d[0] != '/')
			continue;
		char *cand = lm_path_join(d, "python3");
		if (rootfs_is_executable(root, cand))
			found = cand;
		else
			free(cand);
	}
	free(dirs);
	return found;
}
