#include "common/cleanup.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/err.h"
#include "common/fs.h"

struct item {
	char *path;
	int dir;
};

static struct {
	pthread_mutex_t lock;
	int started;
	sigset_t orig; /* the mask before lm_cleanup_start */
	struct item *v;
	size_t n, cap;
	pid_t *pids;
	size_t npids, cappids;
} reg = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void held(sigset_t *s)
{
	sigemptyset(s);
	sigaddset(s, SIGINT);
	sigaddset(s, SIGTERM);
	sigaddset(s, SIGHUP);
}

static void *waiter(void *arg)
{
	sigset_t s;
	int sig = 0;
	(void)arg;
	held(&s);
	while (sigwait(&s, &sig) != 0)
		;
	/* keep the lock to the end: nothing is created or registered from here on */
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.npids; i++)
		kill(reg.pids[i], SIGKILL);
	for (size_t i = reg.n; i-- > 0;) {
		if (reg.v[i].dir)
			lm_rm_rf_unregistered(reg.v[i].path);
		else
			unlink(reg.v[i].path);
	}
	/* die of the signal itself, as a shell expects */
	signal(sig, SIG_DFL);
	{
		sigset_t one;
		sigemptyset(&one);
		sigaddset(&one, sig);
		pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	}
	pthread_kill(pthread_self(), sig);
	_exit(128 + sig);
}

int lm_cleanup_start(void)
{
	sigset_t s;
	pthread_t t;
	held(&s);
	if (pthread_sigmask(SIG_BLOCK, &s, &reg.orig) != 0)
		return -1;
	if (pthread_create(&t, NULL, waiter, NULL) != 0) {
		pthread_sigmask(SIG_SETMASK, &reg.orig, NULL);
		return -1;
	}
	pthread_detach(t);
	reg.started = 1;
	return 0;
}

void lm_cleanup_child(void)
{
	if (reg.started)
		pthread_sigmask(SIG_SETMASK, &reg.orig, NULL);
}

void lm_cleanup_lock(void)
{
	pthread_mutex_lock(&reg.lock);
}

void lm_cleanup_unlock(void)
{
	pthread_mutex_unlock(&reg.lock);
}

void lm_cleanup_add_locked(const char *path, int dir)
{
	if (!reg.started)
		return;
	if (reg.n == reg.cap) {
		reg.cap = reg.cap ? reg.cap * 2 : 16;
		reg.v = lm_xrealloc(reg.v, reg.cap * sizeof(*reg.v));
	}
	reg.v[reg.n].path = lm_xstrdup(path);
	reg.v[reg.n].dir = dir;
	reg.n++;
}

void lm_cleanup_forget(const char *path)
{
	if (!reg.started || !path)
		return;
	pthread_mutex_lock(&reg.lock);
	for (size_t i = reg.n; i-- > 0;) {
		if (strcmp(reg.v[i].path, path) == 0) {
			free(reg.v[i].path);
			reg.v[i] = reg.v[--reg.n];
			break;
		}
	}
	pthread_mutex_unlock(&reg.lock);
}

void lm_cleanup_add_pid(pid_t pid)
{
	if (!reg.started)
		return;
	pthread_mutex_lock(&reg.lock);
	if (reg.npids == reg.cappids) {
		reg.cappids = reg.cappids ? reg.cappids * 2 : 8;
		reg.pids = lm_xrealloc(reg.pids, reg.cappids * sizeof(*reg.pids));
	}
	reg.pids[reg.npids++] = pid;
	pthread_mutex_unlock(&reg.lock);
}

void lm_cleanup_forget_pid(pid_t pid)
{
	if (!reg.started)
		return;
	pthread_mutex_lock(&reg.lock);
	for (size_t i = 0; i < reg.npids; i++) {
		if (reg.pids[i] == pid) {
			reg.pids[i] = reg.pids[--reg.npids];
			break;
		}
	}
	pthread_mutex_unlock(&reg.lock);
}
