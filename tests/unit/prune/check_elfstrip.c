#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "prune/elfstrip.h"
#include "unit.h"
#include "common/alloc.h"
#include "common/fs.h"

/* Builds a shared object with debug info at test time (cc -g -shared). */
static char *build_so(const char *dir)
{
	char *c = lm_asprintf("%s/t.c", dir), *so = lm_asprintf("%s/t.so", dir), *cmd;
	struct lm_err err = LM_ERR_INIT;
	const char *src = "static int sq(int x) { return x * x; }\n"
			  "int lm_add(int a, int b) { return sq(a) + b; }\n";
	ck_assert_int_eq(lm_write_file_atomic(c, src, strlen(src), &err), 0);
	cmd = lm_asprintf("cc -g -O0 -shared -fPIC -o '%s' '%s' 2>/dev/null", so, c);
	if (system(cmd) != 0) {
		free(so);
		so = NULL;
	}
	free(cmd);
	free(c);
	return so;
}

START_TEST(test_strip_debug_keeps_load)
{
	struct lm_err err = LM_ERR_INIT;
	char *dir = lm_mkdtemp(NULL, "check-elfstrip", &err), *so, *out, *out2, *a = NULL, *b = NULL;
	size_t alen, blen;
	uint64_t saved = 0, saved2 = 0;
	void *h;
	int (*fn)(int, int);
	ck_assert_ptr_nonnull(dir);
	so = build_so(dir);
	if (!so) {
		lm_rm_rf(dir, &err);
		free(dir);
		return; /* no compiler: nothing to test */
	}
	out = lm_asprintf("%s/out.so", dir);
	out2 = lm_asprintf("%s/out2.so", dir);
	ck_assert_int_eq(elfstrip_file(so, out, ELFSTRIP_DEBUG, &saved, &err), 1);
	ck_assert(saved > 0);
	ck_assert_int_eq(lm_read_file(so, 1 << 24, &a, &alen, &err), 0);
	ck_assert_int_eq(lm_read_file(out, 1 << 24, &b, &blen, &err), 0);
	ck_assert_uint_eq(alen - blen, saved);
	ck_assert(elfstrip_same_load((unsigned char *)a, alen, (unsigned char *)b, blen));
	/* it still loads and works */
	h = dlopen(out, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "%s", dlerror());
	*(void **)&fn = dlsym(h, "lm_add");
	ck_assert_ptr_nonnull((void *)fn);
	ck_assert_int_eq(fn(3, 4), 13);
	dlclose(h);
	/* nothing left to strip in the stripped copy: skipped, not rewritten */
	ck_assert_int_eq(elfstrip_file(out, out2, ELFSTRIP_DEBUG, &saved2, &err), 0);
	/* "unneeded" also drops .symtab, and saves more */
	ck_assert_int_eq(elfstrip_file(so, out2, ELFSTRIP_UNNEEDED, &saved2, &err), 1);
	ck_assert(saved2 > saved);
	h = dlopen(out2, RTLD_NOW | RTLD_LOCAL);
	ck_assert_msg(h != NULL, "%s", dlerror());
	dlclose(h);
	free(a);
	free(b);
	free(out);
	free(out2);
	free(so);
	lm_rm_rf(dir, &err);
	free(dir);
}
END_TEST

START_TEST(test_not_elf_and_damaged)
{
	unsigned char junk[128] = "#!/bin/sh\necho hi\n";
	unsigned char *o = NULL;
	size_t ol = 0;
	const char *why = NULL;
	ck_assert_int_eq(elfstrip_buf(junk, sizeof(junk), ELFSTRIP_DEBUG, &o, &ol, &why), 0);
	ck_assert_ptr_nonnull(why);
	memcpy(junk, "\177ELF\2\1\1", 7); /* header claims ELF64 but nothing else is valid */
	ck_assert_int_eq(elfstrip_buf(junk, sizeof(junk), ELFSTRIP_DEBUG, &o, &ol, &why), 0);
	ck_assert_int_eq(elfstrip_buf(junk, 10, ELFSTRIP_DEBUG, &o, &ol, &why), 0);
	ck_assert(elfstrip_is_elf(junk, 4));
}
END_TEST

SUITE(elfstrip)
{
	Suite *s = suite_create("elfstrip");
	TCASE(s, test_strip_debug_keeps_load);
	TCASE(s, test_not_elf_and_damaged);
	return s;
}
