/* opts.h - options parsed once by main and passed down read-only. */
#ifndef LM_OPTS_H
#define LM_OPTS_H

#include <stdint.h>

#include "common/err.h"

struct lm_opts {
	const char *cache_dir; /* --cache, NULL = default location */
	int quiet;             /* -q: no progress */
	int verbose;           /* -v */
	int64_t epoch;         /* SOURCE_DATE_EPOCH, default LM_DEFAULT_EPOCH */
	int jobs;              /* worker threads, 0 = number of CPUs */
	int is_tty;            /* stderr is a terminal */
	uint64_t cache_max;    /* --cache-max / LAMINA_CACHE_MAX: the cache's bound in bytes; 0 = default */
};

/* 1980-01-01T00:00:00Z: the earliest time a zip file can record, so image layers and
 * zips built from one manifest carry the same file times. */
#define LM_DEFAULT_EPOCH 315532800

/* A command: parses its own argv (and the global options found there, into o, which it
 * then passes down read-only). */
typedef int (*lm_cmd_fn)(int argc, char **argv, struct lm_opts *o, struct lm_err *err);

#endif
