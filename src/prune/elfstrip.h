/* elfstrip.h - remove debug information from ELF shared objects and executables without
 * moving anything the loader reads.
 *
 * `strip` and `objcopy` rewrite the whole file layout; on objects patched by auditwheel
 * (manylinux wheels) that can give "ELF load command address/offset not properly
 * aligned". This module only drops non-allocated sections (.debug_*, and for "unneeded"
 * also .symtab/.strtab) that lie after the end of every segment, then writes the kept
 * non-allocated sections and a new section header table after the untouched prefix:
 * the bytes [0, end of the last segment) are copied verbatim, so program headers,
 * segment offsets, alignment and loadable bytes are identical. Files whose layout does
 * not allow that (debug sections before a segment, data after the sections that no
 * section describes, extended section numbering, big-endian on a little-endian host)
 * are left alone. */
#ifndef LM_ELFSTRIP_H
#define LM_ELFSTRIP_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

enum elfstrip_mode {
	ELFSTRIP_DEBUG,    /* .debug_*, .zdebug_*, .stab*, .line, .gnu.debuglto_* */
	ELFSTRIP_UNNEEDED, /* also .symtab and its .strtab (not used by the dynamic loader) */
};

/* 1 when buf starts with the ELF magic. */
int elfstrip_is_elf(const unsigned char *buf, size_t len);

/* Strips an ELF image in memory. Returns 1 and sets *out (caller frees) and *outlen when
 * something was removed; 0 when there is nothing to strip or the file is not an ELF
 * shared object/executable this module can rewrite safely (*why, when not NULL, gets a
 * static reason); never fails otherwise. */
int elfstrip_buf(const unsigned char *in, size_t len, enum elfstrip_mode mode, unsigned char **out, size_t *outlen,
		 const char **why);

/* 1 when b loads exactly like a: same ELF header fields the loader reads, same program
 * headers, and the same bytes in every segment's file range. */
int elfstrip_same_load(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen);

/* Strips the file src into dst (created 0644/0755 like src). Returns 1 when dst was
 * written (*saved = bytes saved), 0 when there was nothing to strip (dst not written),
 * -1 on I/O errors. Checks elfstrip_same_load before writing. */
int elfstrip_file(const char *src, const char *dst, enum elfstrip_mode mode, uint64_t *saved, struct lm_err *err);

#endif
