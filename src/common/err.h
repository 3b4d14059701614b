/* err.h - error object: set at the root, wrapped with context, printed once in main. */
#ifndef LM_ERR_H
#define LM_ERR_H

/* Error codes double as the process exit status (see docs/architecture.md). */
enum lm_errcode {
	LM_E_OK = 0,
	LM_E_GENERIC = 1,
	LM_E_USAGE = 2,    /* bad command line */
	LM_E_INPUT = 3,    /* bad manifest, bad archive, bad reference */
	LM_E_IO = 4,       /* file system */
	LM_E_NET = 5,      /* network / registry */
	LM_E_AUTH = 6,     /* authentication refused */
	LM_E_VERIFY = 7,   /* digest mismatch, verification failed */
	LM_E_CHECK = 8,    /* lamina check: the image or zip breaks a Lambda rule */
	LM_E_INTERNAL = 70,
};

/* The exit statuses: the one table. Help texts print it (lm_exit_status_text) and
 * tests/lint/exit-status.sh checks that docs/architecture.md says the same. Ended by a
 * NULL name. */
struct lm_exit_status {
	int code;
	const char *name;   /* "usage" */
	const char *detail; /* "bad command line", or NULL */
};
extern const struct lm_exit_status lm_exit_statuses[];
/* "Exit status: 0 success, 1 other error, 2 usage (bad command line), ..." wrapped under
 * 80 columns, ending in a newline. Caller frees. */
char *lm_exit_status_text(void);

struct lm_err {
	int code;
	char *msg;
};

#define LM_ERR_INIT { 0, NULL }

#if defined(__GNUC__)
#define LM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LM_PRINTF(a, b)
#endif

/* Sets the error (replacing any previous one). Always returns -1. */
int lm_err_set(struct lm_err *e, int code, const char *fmt, ...) LM_PRINTF(3, 4);
/* Like lm_err_set with LM_E_IO, appending ": strerror(errno)". Returns -1. */
int lm_err_sys(struct lm_err *e, const char *fmt, ...) LM_PRINTF(2, 3);
/* Prefixes the current message with "ctx: ". Keeps the code. Returns -1. */
int lm_err_wrap(struct lm_err *e, const char *fmt, ...) LM_PRINTF(2, 3);
/* lm_err_wrap with "what 'value': ", value quoted and cut (lm_str_quote, 160 bytes): for
 * values that may be long or hold odd bytes. Returns -1. */
int lm_err_wrap_quoted(struct lm_err *e, const char *what, const char *value);
/* Frees the message and resets to LM_E_OK. NULL-safe. */
void lm_err_release(struct lm_err *e);

#endif
