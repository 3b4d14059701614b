/* strset.c - the string set of strset.h. */
#include "common/strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL; /* FNV-1a, 64 bits */
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

int lm_strset_has(const struct lm_strset *s, const char *k)
{
	if (!s->cap)
		return 0;
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (!s->v[i])
			return 0;
		if (strcmp(s->v[i], k) == 0)
			return 1;
	}
}

void lm_strset_add(struct lm_strset *s, const char *k)
{
	if (lm_strset_has(s, k))
		return;
	if ((s->n + 1) * 2 > s->cap) {
		struct lm_strset t = { NULL, s->cap ? s->cap * 2 : 256, 0 };
		if (t.cap < s->cap)
			abort(); /* the table's size overflowed */
		t.v = lm_xcalloc(t.cap, sizeof(char *));
		for (size_t i = 0; i < s->cap; i++)
			if (s->v[i]) {
				size_t j = hash_str(s->v[i]) & (t.cap - 1);
				while (t.v[j])
					j = (j + 1) & (t.cap - 1);
				t.v[j] = s->v[i];
				t.n++;
			}
		free(s->v);
		*s = t;
	}
	for (size_t i = hash_str(k) & (s->cap - 1);; i = (i + 1) & (s->cap - 1))
		if (!s->v[i]) {
			s->v[i] = lm_xstrdup(k);
			s->n++;
			return;
		}
}

void lm_strset_release(struct lm_strset *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
