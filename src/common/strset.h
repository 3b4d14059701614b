/* strset.h - a set of strings: open addressing over FNV-1a, for membership tests over
 * many names (prune: every module name imported by code that stays). Pure memory. */
#ifndef LM_STRSET_H
#define LM_STRSET_H

#include <stddef.h>

struct lm_strset {
	char **v;   /* cap slots (a power of two, or 0), NULL when empty */
	size_t cap; /* kept at least twice n */
	size_t n;   /* strings held */
};

#define LM_STRSET_INIT { NULL, 0, 0 }

/* Adds a copy of k (nothing when k is there already). Aborts when out of memory. */
void lm_strset_add(struct lm_strset *s, const char *k);
/* 1 when k is in s, else 0. */
int lm_strset_has(const struct lm_strset *s, const char *k);
/* Frees every string and the table; s is empty again. NULL-safe. */
void lm_strset_release(struct lm_strset *s);

#endif
