/* child.c - fork/exec with an error pipe (see child.h). */
#include "common/child.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/cleanup.h"

int lm_child_spawn(struct lm_child *ch, void (*fn)(void *ctx, int efd), void *ctx, struct lm_err *err)
{
	int efd[2];
	ch->pid = -1;
	ch->efd = -1;
	if (pipe2(efd, O_CLOEXEC) < 0)
		return lm_err_sys(err, "pipe");
	fflush(NULL);
	ch->pid = fork();
	if (ch->pid < 0) {
		lm_err_sys(err, "fork");
		close(efd[0]);
		close(efd[1]);
		return -1;
	}
	if (ch->pid == 0) {
		close(efd[0]);
		lm_cleanup_child();
		fn(ctx, efd[1]);
		_exit(127);
	}
	lm_cleanup_add_pid(ch->pid);
	close(efd[1]);
	ch->efd = efd[0];
	return 0;
}

void lm_child_fail(int efd, const char *fmt, ...)
{
	char buf[512];
	int e = errno, n;
	va_list ap;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - (size_t)n, ": %s", strerror(e));
	(void)!write(efd, buf, strlen(buf));
	_exit(126);
}

int lm_child_wait(struct lm_child *ch, char *msg, size_t msgsz, int *wst, struct lm_err *err)
{
	size_t got = 0;
	for (;;) {
		ssize_t r = read(ch->efd, msg + got, msgsz - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		if (got == msgsz - 1)
			break;
	}
	msg[got] = '\0';
	close(ch->efd);
	ch->efd = -1;
	while (waitpid(ch->pid, wst, 0) < 0)
		if (errno != EINTR) {
			lm_cleanup_forget_pid(ch->pid);
			return lm_err_sys(err, "waitpid");
		}
	lm_cleanup_forget_pid(ch->pid);
	return (int)got;
}
