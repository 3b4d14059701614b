#include "cli/options.h"

#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/str.h"
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
	{
		const char *near = arg ? lm_str_nearest(arg, (const char *const *)names, n) : NULL;
		if (near)
			lm_err_set(err, LM_E_USAGE, "%s '%.64s' must be %s (did you mean '%s'?)", name, arg, list, near);
		else
			lm_err_set(err, LM_E_USAGE, "%s '%.64s' must be %s", name, arg ? arg : "", list);
	}
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
	if (n + ng > CLI_GETOPT_MAX || strlen(shortopts) + sizeof(CLI_GLOBAL_SHORTOPTS) + 2 > sizeof(g->shortopts)) {
		fputs("lamina: internal error: too many options\n", stderr);
		abort();
	}
	memset(g, 0, sizeof(*g));
	memcpy(g->longopts, longopts, n * sizeof(*longopts));
	memcpy(g->longopts + n, global, ng * sizeof(*global));
	/* "-": operands come back in order as code 1, whatever POSIXLY_CORRECT says;
	 * ":": a missing value is ':', not '?', and getopt prints nothing */
	snprintf(g->shortopts, sizeof(g->shortopts), "-:%s%s", shortopts, CLI_GLOBAL_SHORTOPTS);
}

int cli_option_error(int c, int opt, const char *arg, const struct option *longopts, struct lm_err *err)
{
	const char *cands[CLI_GETOPT_MAX + 1], *near;
	size_t n = 0, len;
	char name[64];
	int is_long = arg && strncmp(arg, "--", 2) == 0 && arg[2];
	if (is_long && opt != 0) {
		/* optopt is a long option's value (missing or unwanted value), or a short
		 * option from a later cluster while argv[optind - 1] is still a long one */
		size_t l = strcspn(arg + 2, "=");
		is_long = 0;
		for (size_t i = 0; longopts[i].name; i++)
			if (longopts[i].val == opt && strlen(longopts[i].name) >= l &&
			    strncmp(longopts[i].name, arg + 2, l) == 0)
				is_long = 1;
	}
	if (!is_long) {
		if (c == ':')
			return lm_err_set(err, LM_E_USAGE, "option '-%c' needs a value", opt);
		if (opt > 32 && opt < 127)
			return lm_err_set(err, LM_E_USAGE, "unknown option '-%c'", opt);
		return lm_err_set(err, LM_E_USAGE, "unknown option '%.64s'", arg ? arg : "");
	}
	len = strcspn(arg + 2, "=");
	snprintf(name, sizeof(name), "%.*s", (int)(len < 60 ? len : 60), arg + 2);
	for (size_t i = 0; longopts[i].name && n < CLI_GETOPT_MAX; i++) {
		if (strcmp(longopts[i].name, name) == 0 || (opt && longopts[i].val == opt && strncmp(longopts[i].name, name, len) == 0)) {
			snprintf(name, sizeof(name), "%s", longopts[i].name);
			if (c == ':' || longopts[i].has_arg == required_argument)
				return lm_err_set(err, LM_E_USAGE, "option '--%s' needs a value", name);
			return lm_err_set(err, LM_E_USAGE, "option '--%s' takes no value", name);
		}
		cands[n++] = longopts[i].name;
	}
	/* a prefix of several (getopt takes an unambiguous prefix) */
	{
		size_t m = 0;
		for (size_t i = 0; i < n; i++)
			m += strncmp(cands[i], name, len) == 0;
		if (m > 1 && len > 0) {
			struct lm_buf b;
			size_t l;
			char *list;
			buf_init(&b, 0);
			for (size_t i = 0; i < n; i++)
				if (strncmp(cands[i], name, len) == 0) {
					buf_appends(&b, b.len ? ", --" : "--");
					buf_appends(&b, cands[i]);
				}
			list = buf_steal(&b, &l);
			lm_err_set(err, LM_E_USAGE, "option '--%s' is ambiguous: %s", name, list);
			free(list);
			return -1;
		}
	}
	near = lm_str_nearest(name, cands, n);
	if (near)
		return lm_err_set(err, LM_E_USAGE, "unknown option '--%s' (did you mean '--%s'?)", name, near);
	return lm_err_set(err, LM_E_USAGE, "unknown option '--%s'", name);
}

int cli_getopt_next(struct cli_getopt *g, int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	opterr = 0;
	for (;;) {
		int c = getopt_long(argc, argv, g->shortopts, g->longopts, NULL), r;
		if (c == 1) {
			if (g->noperands == CLI_GETOPT_OPERANDS) {
				lm_err_set(err, LM_E_USAGE, "too many arguments");
				return CLI_GETOPT_ERROR;
			}
			g->operands[g->noperands++] = optarg;
			continue;
		}
		if (c == -1) {
			/* the operands in order at the end: those taken so far, then what
			 * follows "--"; argv's slots before them are not read again */
			size_t rest = optind < argc ? (size_t)(argc - optind) : 0, n = g->noperands + rest;
			if (rest)
				memmove(argv + argc - rest, argv + optind, rest * sizeof(*argv));
			memcpy(argv + argc - n, g->operands, g->noperands * sizeof(*argv));
			optind = argc - (int)n;
			g->noperands = 0;
			return -1;
		}
		if (c == '?' || c == ':') {
			cli_option_error(c, optopt, optind > 0 && optind <= argc ? argv[optind - 1] : NULL, g->longopts,
					 err);
			return CLI_GETOPT_ERROR;
		}
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

static void help_v(const char *usage, va_list ap)
{
	char *ex = lm_exit_status_text();
	vprintf(usage, ap);
	fputs(ex, stdout);
	free(ex);
}

void cli_help(const char *usage, ...)
{
	va_list ap;
	va_start(ap, usage);
	help_v(usage, ap);
	va_end(ap);
}

int cli_help_option(int c, const char *cmd, struct lm_err *err, const char *usage, ...)
{
	va_list ap;
	if (c != 'h')
		return lm_err_set(err, LM_E_USAGE, "see 'lamina %s --help'", cmd);
	va_start(ap, usage);
	help_v(usage, ap);
	va_end(ap);
	return 0;
}

char *cli_source_spec(const char *arg)
{
	struct stat st;
	if (stat(arg, &st) == 0 && S_ISREG(st.st_mode))
		return lm_asprintf("oci-archive:%s", arg);
	return lm_xstrdup(arg);
}

int cli_operands(int argc, int n, const char *what, const char *cmd, struct lm_err *err)
{
	if (argc - optind != n)
		return lm_err_set(err, LM_E_USAGE, "expected %s; see 'lamina %s --help'", what, cmd);
	return 0;
}

int regcli_next(struct cli_getopt *g, struct regcli *rc, int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	int c;
	while ((c = cli_getopt_next(g, argc, argv, o, err)) != -1) {
		int h = c == CLI_GETOPT_ERROR ? -1 : regcli_handle(c, optarg, rc, err);
		if (h < 0)
			return CLI_GETOPT_ERROR;
		if (h == 0)
			return c;
	}
	return -1;
}
