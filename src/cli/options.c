#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "image/oci.h"
#include "common/alloc.h"
#include "image/cachegc.h"

#define REGCLI_PASSWORD_MAX (64u << 10)

const char regcli_help[] =
	"Registry options:\n"
	"      --platform OS/ARCH[/VARIANT]  image to pick from a multi-platform index\n"
	"                          (linux/amd64 default, linux/arm64)\n"
	"      --username USER     log in as USER (with --password-stdin); otherwise\n"
	"                          credentials come from $DOCKER_CONFIG/config.json or\n"
	"                          ~/.docker/config.json (auths, credHelpers, credsStore)\n"
	"      --password-stdin    read the password from standard input, e.g.\n"
	"                          aws ecr get-login-password | lamina push ... --username AWS --password-stdin\n"
	"      --ca-cert FILE      trust the CA certificates in FILE (PEM) instead of the system store\n"
	"      --insecure-registry HOST[:PORT]  allow plain HTTP (and unverified TLS) for HOST;\n"
	"                          repeatable; 127.0.0.0/8, ::1 and localhost are always allowed\n"
	"      --timeout SECS      one request's whole time, a blob's body included (default\n"
	"                          1800; 0: none)\n"
	"      --low-speed-limit BYTES  --low-speed-time SECS\n"
	"                          a transfer slower than BYTES/s (default 1024) for SECS\n"
	"                          (default 30) fails, and is tried again (5 tries)\n";

void regcli_init(struct regcli *rc)
{
	memset(rc, 0, sizeof(*rc));
}

static int read_password(struct regcli *rc, struct lm_err *err)
{
	struct lm_buf b;
	char chunk[1024];
	size_t len;
	buf_init(&b, REGCLI_PASSWORD_MAX);
	if (isatty(0))
		return lm_err_set(err, LM_E_USAGE, "--password-stdin: standard input is a terminal; pipe the password in");
	for (;;) {
		ssize_t r = read(0, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			buf_release(&b);
			return lm_err_sys(err, "--password-stdin: read");
		}
		if (r == 0)
			break;
		if (buf_append(&b, chunk, (size_t)r) < 0) {
			memset(b.data, 0, b.len);
			buf_release(&b);
			return lm_err_set(err, LM_E_USAGE, "--password-stdin: input too long");
		}
	}
	memset(chunk, 0, sizeof(chunk));
	while (b.len > 0 && (b.data[b.len - 1] == '\n' || b.data[b.len - 1] == '\r'))
		b.data[--b.len] = '\0';
	if (b.len == 0 || !b.data) {
		buf_release(&b);
		return lm_err_set(err, LM_E_USAGE, "--password-stdin: empty password");
	}
	if (memchr(b.data, '\n', b.len)) {
		memset(b.data, 0, b.len);
		buf_release(&b);
		return lm_err_set(err, LM_E_USAGE, "--password-stdin: expected one line");
	}
	rc->password = buf_steal(&b, &len);
	return 0;
}

static int hostport_valid(const char *s)
{
	if (!*s || strchr(s, '/') || strchr(s, ' '))
		return 0;
	return 1;
}

int regcli_handle(int opt, const char *arg, struct regcli *rc, struct lm_err *err)
{
	switch (opt) {
	case REGCLI_OPT_CA_CERT:
		if (access(arg, R_OK) != 0)
			return lm_err_sys(err, "--ca-cert '%s'", arg);
		rc->ca_cert = arg;
		return 1;
	case REGCLI_OPT_INSECURE:
		if (!hostport_valid(arg))
			return lm_err_set(err, LM_E_USAGE, "--insecure-registry '%s': expected HOST or HOST:PORT", arg);
		rc->insecure = lm_xrealloc(rc->insecure, (rc->ninsecure + 1) * sizeof(*rc->insecure));
		rc->insecure[rc->ninsecure++] = arg;
		return 1;
	case REGCLI_OPT_USERNAME:
		if (!*arg)
			return lm_err_set(err, LM_E_USAGE, "--username: empty user name");
		rc->username = arg;
		return 1;
	case REGCLI_OPT_PASSWORD_STDIN:
		if (rc->password)
			return 1;
		return read_password(rc, err) < 0 ? -1 : 1;
	case REGCLI_OPT_TIMEOUT:
		if (cli_int("--timeout", arg, 0, 86400 * 7, &rc->timeout_s, err) < 0)
			return -1;
		if (rc->timeout_s == 0)
			rc->timeout_s = -1; /* 0 on the command line: no limit */
		return 1;
	case REGCLI_OPT_LOW_SPEED_LIMIT:
		return cli_int("--low-speed-limit", arg, 1, 1L << 40, &rc->low_speed_limit, err) < 0 ? -1 : 1;
	case REGCLI_OPT_LOW_SPEED_TIME:
		return cli_int("--low-speed-time", arg, 1, 86400, &rc->low_speed_time, err) < 0 ? -1 : 1;
	case REGCLI_OPT_PLATFORM: {
		struct oci_platform p;
		if (oci_platform_parse(arg, &p, err) < 0)
			return lm_err_wrap(err, "--platform");
		oci_platform_release(&p);
		rc->platform = arg;
		return 1;
	}
	default:
		return 0;
	}
}

int regcli_check(const struct regcli *rc, struct lm_err *err)
{
	if (rc->username && !rc->password)
		return lm_err_set(err, LM_E_USAGE, "--username needs --password-stdin");
	if (rc->password && !rc->username)
		return lm_err_set(err, LM_E_USAGE, "--password-stdin needs --username");
	return 0;
}

void regcli_fill(const struct regcli *rc, struct reg_opts *ro)
{
	if (rc->platform)
		ro->platform = rc->platform;
	ro->ca_cert = rc->ca_cert;
	ro->insecure = rc->insecure;
	ro->ninsecure = rc->ninsecure;
	ro->username = rc->username;
	ro->password = rc->password;
	ro->timeout_s = rc->timeout_s;
	ro->low_speed_limit = rc->low_speed_limit;
	ro->low_speed_time = rc->low_speed_time;
}

int regcli_parse(int argc, char **argv, const char *cmd, int nargs, const char *nargs_what, struct regcli *rc,
		 struct lm_opts *o, struct lm_err *err)
{
	static const struct option longopts[] = {
		REGCLI_LONGOPTS,
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_getopt g;
	int opt, ret = 0;
	cli_getopt_init(&g, "h", longopts);
	while ((opt = cli_getopt_next(&g, argc, argv, o, err)) != -1) {
		int r = opt == CLI_GETOPT_ERROR ? -1 : regcli_handle(opt, optarg, rc, err);
		if (r < 0) {
			ret = -1;
			break;
		}
		if (r > 0)
			continue;
		if (opt == 'h') {
			ret = 1;
			break;
		}
		ret = lm_err_set(err, LM_E_USAGE, "see 'lamina %s --help'", cmd);
		break;
	}
	if (ret != 0)
		return ret;
	if (argc - optind != nargs)
		return lm_err_set(err, LM_E_USAGE, "expected %s; see 'lamina %s --help'", nargs_what, cmd);
	return regcli_check(rc, err);
}

/* --- global options, integers, enums ---------------------------------------------------- */

int cli_int(const char *name, const char *arg, long min, long max, long *out, struct lm_err *err)
{
	char *end;
	long v;
	errno = 0;
	if (!arg || *arg < '0' || *arg > '9')
		goto bad;
	v = strtol(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		goto bad;
	*out = v;
	return 0;
bad:
	return lm_err_set(err, LM_E_USAGE, "%s '%.64s' must be an integer from %ld to %ld", name, arg ? arg : "", min,
			  max);
}

int cli_enum(const char *name, const char *arg, const char *const *names, int *out, struct lm_err *err)
{
	struct lm_buf b;
	size_t n = 0, l;
	char *list;
	for (int i = 0; names[i]; i++, n++)
		if (arg && strcmp(arg, names[i]) == 0) {
			*out = i;
			return 0;
		}
	buf_init(&b, 0);
	for (size_t i = 0; i < n; i++) {
		buf_appends(&b, names[i]);
		buf_appends(&b, i + 2 < n ? ", " : i + 1 < n ? " or " : "");
	}
	list = buf_steal(&b, &l);
	lm_err_set(err, LM_E_USAGE, "%s '%.64s' must be %s", name, arg ? arg : "", list);
	free(list);
	return -1;
}

int cli_global_handle(int opt, const char *arg, struct lm_opts *o, struct lm_err *err)
{
	long v;
	switch (opt) {
	case CLI_OPT_CACHE:
		if (!*arg)
			return lm_err_set(err, LM_E_USAGE, "--cache: empty directory name");
		o->cache_dir = arg;
		return 1;
	case CLI_OPT_CACHE_MAX:
		if (cache_size_parse(arg, &o->cache_max) < 0 || o->cache_max == 0)
			return lm_err_set(err, LM_E_USAGE, "--cache-max '%.64s' must be a size such as 500M or 10G", arg);
		return 1;
	case 'j':
		if (cli_int("--jobs", arg, 0, 256, &v, err) < 0)
			return -1;
		o->jobs = (int)v;
		return 1;
	case 'q':
		o->quiet = 1;
		return 1;
	case 'v':
		o->verbose++;
		return 1;
	default:
		return 0;
	}
}

void cli_getopt_init(struct cli_getopt *g, const char *shortopts, const struct option *longopts)
{
	static const struct option global[] = { CLI_GLOBAL_LONGOPTS };
	size_t n = 0, ng = sizeof(global) / sizeof(global[0]);
	while (longopts && longopts[n].name)
		n++;
	if (n + ng > CLI_GETOPT_MAX || strlen(shortopts) + sizeof(CLI_GLOBAL_SHORTOPTS) > sizeof(g->shortopts)) {
		fputs("lamina: internal error: too many options\n", stderr);
		abort();
	}
	memset(g, 0, sizeof(*g));
	memcpy(g->longopts, longopts, n * sizeof(*longopts));
	memcpy(g->longopts + n, global, ng * sizeof(*global));
	snprintf(g->shortopts, sizeof(g->shortopts), "%s%s", shortopts, CLI_GLOBAL_SHORTOPTS);
}

int cli_getopt_next(struct cli_getopt *g, int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	for (;;) {
		int c = getopt_long(argc, argv, g->shortopts, g->longopts, NULL), r;
		if (c == -1)
			return -1;
		r = cli_global_handle(c, optarg, o, err);
		if (r < 0)
			return CLI_GETOPT_ERROR;
		if (r == 0)
			return c;
	}
}


void regcli_global(struct reg_opts *ro, const struct lm_opts *o)
{
	ro->quiet = o->quiet;
	ro->is_tty = o->is_tty;
	ro->verbose = o->verbose;
	ro->jobs = o->jobs;
}

void regcli_release(struct regcli *rc)
{
	if (!rc)
		return;
	if (rc->password) {
		memset(rc->password, 0, strlen(rc->password));
		free(rc->password);
	}
	free(rc->insecure);
	memset(rc, 0, sizeof(*rc));
}
