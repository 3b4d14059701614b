/* str.h - small string helpers (pure). */
#ifndef LM_STR_H
#define LM_STR_H

#include <stddef.h>
#include <stdint.h>

int lm_str_startswith(const char *s, const char *prefix);
int lm_str_endswith(const char *s, const char *suffix);

/* 1 when s is valid UTF-8 (no overlong forms, no surrogates, at most U+10FFFF), else 0. Pure. */
int lm_utf8_valid(const char *s);
/* s for an error message: control characters and bytes that are not UTF-8 as \xNN, and
 * at most max bytes of s, then "..." (a 900 KB tag does not fill the terminal).
 * Caller frees. Pure. */
char *lm_str_quote(const char *s, size_t max);
/* s for a terminal: like lm_str_quote without a bound, keeping newlines and tabs (an
 * image's traceback cannot send escape sequences to the user's terminal). Caller frees.
 * Pure. */
char *lm_str_printable(const char *s);

/* 1 when s has a byte above 0x7f. Pure. */
int lm_str_nonascii(const char *s);

/* Formats a byte count for people: "1.5 MiB". buf of at least 32 bytes; returns buf. */
const char *lm_human_bytes(uint64_t n, char *buf, size_t bufsz);

/* Levenshtein distance between a and b (for "did you mean"). Pure. */
size_t lm_edit_distance(const char *a, const char *b);
/* The candidate nearest to word (at most 2 edits, fewer than word's length), for a
 * "did you mean"; NULL when none is near or word is one of them. NULL entries are
 * skipped. Borrowed from cands. Pure. */
const char *lm_str_nearest(const char *word, const char *const *cands, size_t n);

#endif
