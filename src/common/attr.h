/* attr.h - compiler attributes, kept in one place. */
#ifndef LM_ATTR_H
#define LM_ATTR_H

#if defined(__GNUC__)
#define LM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define LM_NORETURN __attribute__((noreturn))
#else
#define LM_PRINTF(a, b)
#define LM_NORETURN
#endif

#endif
