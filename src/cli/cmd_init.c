/* cmd_init.c - lamina init [--runtime python|node] [DIR]: a starter lamina.json */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build/starter.h"
#include "cli/cmds.h"
#include "cli/options.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "registry/ref.h"

static const char usage[] = "usage: lamina init [--runtime python|node] [--base SOURCE] [--force] [DIR]\n"
			    "\n"
			    "Writes DIR/lamina.json (DIR: the current directory), a starter manifest made from\n"
			    "what DIR holds: requirements.txt or pyproject.toml (Python), package.json and\n"
			    "node_modules (Node.js), and a handler file (lambda_function.py, app.py, handler.py,\n"
			    "main.py, index.mjs, index.js, app.js ... at the top or under src/; the function\n"
			    "named lambda_handler or handler, or exported as handler). It has a \"deps\" layer\n"
			    "(build/deps for Python, node_modules for Node.js) and an \"app\" layer, the\n"
			    "runtime's safe prune preset, Python precompilation, \"verify\" with the handler,\n"
			    "config.cmd and a tag named after the directory (or package.json's name). Nothing is\n"
			    "run and nothing is installed: the notes on standard error say what to do next.\n"
			    "\n"
			    "Options:\n"
			    "      --runtime RT        python or node (default: decided from the files; needed\n"
			    "                          when DIR has both)\n"
			    "      --base SOURCE       base image (default public.ecr.aws/lambda/python:3.12 or\n"
			    "                          public.ecr.aws/lambda/nodejs:22)\n"
			    "  -f, --force             replace an existing lamina.json\n"
			    "  -h, --help              this help\n"
			    "\n"
			    "The file is written under a temporary name and moved into place whole; without\n"
			    "--force an existing lamina.json is never replaced (exit status 4).\n"
			    "Prints the manifest's path on standard output.\n";

enum { OPT_RUNTIME = 0x100, OPT_BASE };

/* Writes text to path: whole or not at all; without force an existing path stays (link(2)
 * fails with EEXIST, so a file made meanwhile is not replaced either). */
static int write_new(const char *path, const char *text, struct lm_err *err)
{
	char *tmp = NULL;
	int fd, ret = -1;
	if (access(path, F_OK) == 0)
		return lm_err_set(err, LM_E_IO, "'%s' exists: pass --force to replace it", path);
	fd = lm_tmpfile_beside(path, &tmp, err);
	if (fd < 0)
		return -1;
	if (lm_write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		close(fd);
		goto out;
	}
	if (close(fd) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		goto out;
	}
	if (link(tmp, path) < 0) {
		if (errno == EEXIST)
			lm_err_set(err, LM_E_IO, "'%s' exists: pass --force to replace it", path);
		else
			lm_err_sys(err, "create '%s'", path);
		goto out;
	}
	ret = 0;
out:
	lm_tmpfile_discard(tmp);
	free(tmp);
	return ret;
}

static int write_forced(const char *path, const char *text, struct lm_err *err)
{
	char *tmp = NULL;
	int fd = lm_tmpfile_beside(path, &tmp, err), ret;
	if (fd < 0)
		return -1;
	if (lm_write_all(fd, text, strlen(text)) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		close(fd);
		lm_tmpfile_discard(tmp);
		free(tmp);
		return -1;
	}
	ret = lm_tmpfile_commit(fd, tmp, path, 1, err);
	free(tmp);
	return ret;
}

int cmd_init(int argc, char **argv, struct lm_opts *o, struct lm_err *err)
{
	static const char *const runtimes[] = { "python", "node", NULL };
	static const struct option longopts[] = {
		{ "runtime", required_argument, NULL, OPT_RUNTIME },
		{ "base", required_argument, NULL, OPT_BASE },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	enum starter_runtime want = STARTER_AUTO;
	struct cli_getopt gopt;
	struct starter s;
	const char *dir = ".", *base = NULL;
	char *path = NULL, *text = NULL;
	int c, rt, force = 0, ret = -1, scanned = 0;

	cli_getopt_init(&gopt, "fh", longopts);
	while ((c = cli_getopt_next(&gopt, argc, argv, o, err)) != -1) {
		switch (c) {
		case CLI_GETOPT_ERROR:
			return -1;
		case OPT_RUNTIME:
			if (cli_enum("--runtime", optarg, runtimes, &rt, err) < 0)
				return -1;
			want = rt == 0 ? STARTER_PYTHON : STARTER_NODE;
			break;
		case OPT_BASE:
			if (!*optarg)
				return lm_err_set(err, LM_E_USAGE, "--base: empty source");
			base = optarg;
			break;
		case 'f':
			force = 1;
			break;
		case 'h':
			cli_help(usage);
			return 0;
		default:
			return lm_err_set(err, LM_E_USAGE, "see 'lamina init --help'");
		}
	}
	if (argc - optind > 1)
		return lm_err_set(err, LM_E_USAGE, "expected at most one DIR; see 'lamina init --help'");
	if (optind < argc)
		dir = argv[optind];
	if (starter_scan(dir, want, &s, err) < 0)
		goto out;
	scanned = 1;
	if (base)
		starter_set_base(&s, base);
	text = starter_manifest(&s);
	path = lm_path_join(dir, "lamina.json");
	if ((force ? write_forced(path, text, err) : write_new(path, text, err)) < 0)
		goto out;
	if (!o->quiet) {
		fprintf(stderr, "%s runtime", s.runtime == STARTER_PYTHON ? "Python" : "Node.js");
		for (size_t i = 0; s.found[i]; i++)
			fprintf(stderr, "%s %s", i ? "," : "; found", s.found[i]);
		if (s.handler)
			fprintf(stderr, "; handler %s (%s)\n", s.handler, s.handler_file);
		else
			fprintf(stderr, "; no handler found: set \"config.cmd\" (MODULE.FUNCTION) and \"verify\"\n");
		if (s.deps_from && s.deps_missing) {
			if (s.runtime == STARTER_PYTHON)
				fprintf(stderr,
					"next: install the dependencies into %s/build/deps for Lambda's platform:\n"
					"  pip install -r requirements.txt --target build/deps --platform "
					"manylinux2014_x86_64 "
					"--python-version 3.12 --only-binary=:all:\n",
					dir);
			else
				fprintf(stderr, "next: install the dependencies: (cd %s && npm ci --omit=dev)\n", dir);
		}
		fprintf(stderr, "then: lamina build %s -o image.tar\n", path);
	}
	printf("%s\n", path);
	ret = 0;
out:
	if (scanned)
		starter_release(&s);
	free(text);
	free(path);
	return ret;
}
