/* str.h - small string helpers (pure). */
#ifndef LM_STR_H
#define LM_STR_H

#include <stddef.h>
#include <stdint.h>

int lm_str_startswith(const char *s, const char *prefix);
int lm_str_endswith(const char *s, const char *suffix);

/* Formats a byte count for people: "1.5 MiB". buf of at least 32 bytes; returns buf. */
const char *lm_human_bytes(uint64_t n, char *buf, size_t bufsz);

#endif
