#include "prune/elfstrip.h"

#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

/* Largest file considered (native addons and static ffmpeg builds are well below). */
#define ELFSTRIP_MAX ((size_t)2 << 30)
/* Bytes after the last segment that no section covers and we would drop: above this the
 * file carries a payload we do not understand (appended archives, signatures). */
#define ELFSTRIP_MAX_GAP 4096

/* One class-independent view of the headers. */
struct sec {
	uint32_t name, type, link, info;
	uint64_t flags, addr, offset, size, align, entsize;
	int drop;
	size_t newidx;
	uint64_t newoff;
};

struct elf {
	const unsigned char *b;
	size_t len;
	int is64;
	uint16_t type, phnum, shnum, shstrndx, phentsize, shentsize;
	uint64_t phoff, shoff;
	struct sec *s;
};

static int host_le(void)
{
	const uint16_t one = 1;
	return *(const unsigned char *)&one == 1;
}

int elfstrip_is_elf(const unsigned char *buf, size_t len)
{
	return len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

static int in_bounds(uint64_t off, uint64_t size, size_t len)
{
	return off <= len && size <= len - off;
}

static void read_shdr(const struct elf *e, size_t i, struct sec *s)
{
	const unsigned char *p = e->b + e->shoff + i * e->shentsize;
	memset(s, 0, sizeof(*s));
	if (e->is64) {
		Elf64_Shdr h;
		memcpy(&h, p, sizeof(h));
		s->name = h.sh_name, s->type = h.sh_type, s->flags = h.sh_flags, s->addr = h.sh_addr;
		s->offset = h.sh_offset, s->size = h.sh_size, s->link = h.sh_link, s->info = h.sh_info;
		s->align = h.sh_addralign, s->entsize = h.sh_entsize;
	} else {
		Elf32_Shdr h;
		memcpy(&h, p, sizeof(h));
		s->name = h.sh_name, s->type = h.sh_type, s->flags = h.sh_flags, s->addr = h.sh_addr;
		s->offset = h.sh_offset, s->size = h.sh_size, s->link = h.sh_link, s->info = h.sh_info;
		s->align = h.sh_addralign, s->entsize = h.sh_entsize;
	}
}

static void write_shdr(int is64, unsigned char *p, const struct sec *s, uint32_t link, uint32_t info)
{
	if (is64) {
		Elf64_Shdr h = { s->name, s->type, s->flags, s->addr, s->newoff, s->size, link, info, s->align, s->entsize };
		memcpy(p, &h, sizeof(h));
	} else {
		Elf32_Shdr h = { s->name,	  s->type,	   (Elf32_Word)s->flags, (Elf32_Addr)s->addr,
				 (Elf32_Off)s->newoff, (Elf32_Word)s->size, link,		     info,
				 (Elf32_Word)s->align, (Elf32_Word)s->entsize };
		memcpy(p, &h, sizeof(h));
	}
}

/* Parses the ELF header and section headers; 0 with *why on anything unusual. */
static int parse(struct elf *e, const unsigned char *b, size_t len, const char **why)
{
	memset(e, 0, sizeof(*e));
	e->b = b;
	e->len = len;
	if (len < EI_NIDENT || !elfstrip_is_elf(b, len))
		return *why = "not an ELF file", 0;
	if (b[EI_DATA] != ELFDATA2LSB || !host_le())
		return *why = "not little-endian", 0;
	if (b[EI_CLASS] == ELFCLASS64 && len >= sizeof(Elf64_Ehdr)) {
		Elf64_Ehdr h;
		memcpy(&h, b, sizeof(h));
		e->is64 = 1;
		e->type = h.e_type, e->phoff = h.e_phoff, e->shoff = h.e_shoff, e->phnum = h.e_phnum;
		e->shnum = h.e_shnum, e->shstrndx = h.e_shstrndx, e->phentsize = h.e_phentsize;
		e->shentsize = h.e_shentsize;
		if (e->shentsize != sizeof(Elf64_Shdr) || (e->phnum && e->phentsize != sizeof(Elf64_Phdr)))
			return *why = "unexpected header sizes", 0;
	} else if (b[EI_CLASS] == ELFCLASS32 && len >= sizeof(Elf32_Ehdr)) {
		Elf32_Ehdr h;
		memcpy(&h, b, sizeof(h));
		e->type = h.e_type, e->phoff = h.e_phoff, e->shoff = h.e_shoff, e->phnum = h.e_phnum;
		e->shnum = h.e_shnum, e->shstrndx = h.e_shstrndx, e->phentsize = h.e_phentsize;
		e->shentsize = h.e_shentsize;
		if (e->shentsize != sizeof(Elf32_Shdr) || (e->phnum && e->phentsize != sizeof(Elf32_Phdr)))
			return *why = "unexpected header sizes", 0;
	} else {
		return *why = "unknown ELF class", 0;
	}
	if (e->type != ET_DYN && e->type != ET_EXEC)
		return *why = "not a shared object or executable", 0;
	if (!e->shoff || !e->shnum || e->shstrndx == SHN_UNDEF || e->shstrndx >= e->shnum)
		return *why = "no section headers", 0; /* also extended numbering (shnum 0) */
	if (!in_bounds(e->phoff, (uint64_t)e->phnum * e->phentsize, len) ||
	    !in_bounds(e->shoff, (uint64_t)e->shnum * e->shentsize, len))
		return *why = "headers outside the file", 0;
	e->s = lm_xcalloc(e->shnum, sizeof(*e->s));
	for (size_t i = 0; i < e->shnum; i++) {
		read_shdr(e, i, &e->s[i]);
		if (e->s[i].type != SHT_NOBITS && i && !in_bounds(e->s[i].offset, e->s[i].size, len)) {
			free(e->s);
			e->s = NULL;
			return *why = "section outside the file", 0;
		}
	}
	return 1;
}

static void read_phdr(const struct elf *e, size_t i, uint32_t *type, uint64_t *off, uint64_t *filesz)
{
	const unsigned char *p = e->b + e->phoff + i * e->phentsize;
	if (e->is64) {
		Elf64_Phdr h;
		memcpy(&h, p, sizeof(h));
		*type = h.p_type, *off = h.p_offset, *filesz = h.p_filesz;
	} else {
		Elf32_Phdr h;
		memcpy(&h, p, sizeof(h));
		*type = h.p_type, *off = h.p_offset, *filesz = h.p_filesz;
	}
}

/* End of everything the loader may read: headers and every segment's file bytes. */
static uint64_t load_end(const struct elf *e)
{
	uint64_t end = e->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	uint64_t ph = e->phoff + (uint64_t)e->phnum * e->phentsize;
	if (e->phnum && ph > end)
		end = ph;
	for (size_t i = 0; i < e->phnum; i++) {
		uint32_t type;
		uint64_t off, sz;
		read_phdr(e, i, &type, &off, &sz);
		if (type == PT_NULL)
			continue;
		if (off + sz > end)
			end = off + sz;
	}
	return end;
}

static const char *sec_name(const struct elf *e, const struct sec *s)
{
	const struct sec *st = &e->s[e->shstrndx];
	if (st->type == SHT_NOBITS || s->name >= st->size)
		return "";
	/* names are NUL-terminated inside the string table */
	if (!memchr(e->b + st->offset + s->name, '\0', st->size - s->name))
		return "";
	return (const char *)e->b + st->offset + s->name;
}

static int is_debug_name(const char *n)
{
	return lm_str_startswith(n, ".debug") || lm_str_startswith(n, ".zdebug") ||
	       lm_str_startswith(n, ".gnu.debuglto_") || strcmp(n, ".stab") == 0 || strcmp(n, ".stabstr") == 0 ||
	       strcmp(n, ".line") == 0;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	if (a <= 1)
		return v;
	return (v + a - 1) / a * a;
}

static int cmp_off(const void *a, const void *b)
{
	const struct sec *x = *(const struct sec *const *)a, *y = *(const struct sec *const *)b;
	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Renumbers st_shndx in a kept symbol table (its bytes already copied to out). */
static void fix_symbols(const struct elf *e, const struct sec *st, unsigned char *out)
{
	size_t esz = e->is64 ? sizeof(Elf64_Sym) : sizeof(Elf32_Sym);
	size_t n = st->size / esz;
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = out + st->newoff + i * esz;
		uint16_t shndx;
		size_t at = e->is64 ? offsetof(Elf64_Sym, st_shndx) : offsetof(Elf32_Sym, st_shndx);
		memcpy(&shndx, p + at, 2);
		if (shndx == SHN_UNDEF || shndx >= SHN_LORESERVE || shndx >= e->shnum)
			continue;
		if (e->s[shndx].drop) {
			/* a symbol of a removed section (debug section symbols): make it absolute 0 */
			uint16_t abs = SHN_ABS;
			memcpy(p + at, &abs, 2);
			if (e->is64) {
				uint64_t z = 0;
				memcpy(p + offsetof(Elf64_Sym, st_value), &z, 8);
			} else {
				uint32_t z = 0;
				memcpy(p + offsetof(Elf32_Sym, st_value), &z, 4);
			}
		} else {
			uint16_t ni = (uint16_t)e->s[shndx].newidx;
			memcpy(p + at, &ni, 2);
		}
	}
}

int elfstrip_buf(const unsigned char *in, size_t len, enum elfstrip_mode mode, unsigned char **out, size_t *outlen,
		 const char **why)
{
	struct elf e;
	const char *dummy;
	uint64_t lend, cur, covered = 0, total;
	size_t max_alloc = 0, ndrop = 0, nkeep = 0, k = 0;
	struct sec **order = NULL;
	unsigned char *o = NULL;
	int changed, ret = 0;
	if (!why)
		why = &dummy;
	*why = NULL;
	if (!parse(&e, in, len, why))
		return 0;
	lend = load_end(&e);
	for (size_t i = 1; i < e.shnum; i++) {
		if (e.s[i].flags & SHF_ALLOC)
			max_alloc = i;
		if (e.s[i].type == SHT_SYMTAB_SHNDX || e.s[i].type == SHT_GROUP) {
			*why = "extended symbol indices or section groups";
			goto out;
		}
	}
	for (size_t i = max_alloc + 1; i < e.shnum; i++) {
		struct sec *s = &e.s[i];
		const char *n = sec_name(&e, s);
		int want = is_debug_name(n);
		if (mode == ELFSTRIP_UNNEEDED && (s->type == SHT_SYMTAB || strcmp(n, ".strtab") == 0))
			want = 1;
		if (!want || (s->flags & SHF_ALLOC) || i == e.shstrndx)
			continue;
		if (s->type != SHT_NOBITS && s->offset < lend)
			continue; /* inside or before a segment: never move loaded bytes */
		s->drop = 1;
	}
	/* a kept section linking to a dropped one keeps it (.symtab -> .strtab) */
	do {
		changed = 0;
		for (size_t i = 1; i < e.shnum; i++) {
			struct sec *s = &e.s[i];
			if (s->drop)
				continue;
			if (s->link && s->link < e.shnum && e.s[s->link].drop) {
				e.s[s->link].drop = 0;
				changed = 1;
			}
			if ((s->flags & SHF_INFO_LINK) && s->info && s->info < e.shnum && e.s[s->info].drop) {
				e.s[s->info].drop = 0;
				changed = 1;
			}
		}
	} while (changed);
	for (size_t i = 0; i < e.shnum; i++) {
		if (e.s[i].drop) {
			ndrop++;
			continue;
		}
		e.s[i].newidx = nkeep++;
	}
	if (!ndrop) {
		*why = "nothing to strip";
		goto out;
	}
	/* Everything after the segments must be described by sections or the header table:
	 * otherwise the file carries data we would lose. */
	for (size_t i = 1; i < e.shnum; i++) {
		const struct sec *s = &e.s[i];
		if (s->type == SHT_NOBITS || s->offset < lend)
			continue;
		covered += s->size;
	}
	if (e.shoff >= lend)
		covered += (uint64_t)e.shnum * e.shentsize;
	if (len > lend && (uint64_t)len - lend > covered + ELFSTRIP_MAX_GAP) {
		*why = "data after the sections that no section describes";
		goto out;
	}

	/* Layout: [0, lend) verbatim; kept sections after lend in file order; header table. */
	order = lm_xcalloc(e.shnum, sizeof(*order));
	for (size_t i = 1; i < e.shnum; i++)
		if (!e.s[i].drop && e.s[i].type != SHT_NOBITS && e.s[i].offset >= lend)
			order[k++] = &e.s[i];
	qsort(order, k, sizeof(*order), cmp_off);
	cur = lend;
	for (size_t i = 0; i < k; i++) {
		cur = align_up(cur, order[i]->align);
		order[i]->newoff = cur;
		cur += order[i]->size;
	}
	for (size_t i = 0; i < e.shnum; i++) {
		struct sec *s = &e.s[i];
		if (s->type == SHT_NOBITS || s->offset < lend || i == 0)
			s->newoff = s->offset;
	}
	cur = align_up(cur, e.is64 ? 8 : 4);
	total = cur + (uint64_t)nkeep * e.shentsize;
	if (total >= len) {
		*why = "nothing to gain";
		goto out;
	}
	o = lm_xcalloc(1, (size_t)total);
	memcpy(o, in, (size_t)lend);
	for (size_t i = 0; i < k; i++)
		memcpy(o + order[i]->newoff, in + order[i]->offset, (size_t)order[i]->size);
	for (size_t i = 0; i < e.shnum; i++) {
		struct sec *s = &e.s[i];
		uint32_t link = s->link, info = s->info;
		if (s->drop)
			continue;
		if (link && link < e.shnum)
			link = (uint32_t)e.s[link].newidx;
		if (info && info < e.shnum && ((s->flags & SHF_INFO_LINK) || s->type == SHT_REL || s->type == SHT_RELA))
			info = (uint32_t)e.s[info].newidx;
		write_shdr(e.is64, o + cur + s->newidx * e.shentsize, s, link, info);
		if (s->type == SHT_SYMTAB && s->offset >= lend)
			fix_symbols(&e, s, o);
	}
	if (e.is64) {
		Elf64_Ehdr h;
		memcpy(&h, o, sizeof(h));
		h.e_shoff = cur, h.e_shnum = (uint16_t)nkeep, h.e_shstrndx = (uint16_t)e.s[e.shstrndx].newidx;
		memcpy(o, &h, sizeof(h));
	} else {
		Elf32_Ehdr h;
		memcpy(&h, o, sizeof(h));
		h.e_shoff = (Elf32_Off)cur, h.e_shnum = (uint16_t)nkeep, h.e_shstrndx = (uint16_t)e.s[e.shstrndx].newidx;
		memcpy(o, &h, sizeof(h));
	}
	if (!elfstrip_same_load(in, len, o, (size_t)total)) {
		*why = "internal check failed: layout would change";
		free(o);
		goto out;
	}
	*out = o;
	*outlen = (size_t)total;
	ret = 1;
out:
	free(order);
	free(e.s);
	return ret;
}

/* Compares [off, off+sz) of a and b, except the section-header fields of the ELF header
 * (e_shoff, e_shnum, e_shstrndx), which the first segment often covers and the loader
 * never reads. */
static int same_bytes(const struct elf *x, const unsigned char *a, const unsigned char *b, uint64_t off, uint64_t sz)
{
	size_t shoff_at = x->is64 ? offsetof(Elf64_Ehdr, e_shoff) : offsetof(Elf32_Ehdr, e_shoff);
	size_t shoff_sz = x->is64 ? 8 : 4;
	size_t shnum_at = x->is64 ? offsetof(Elf64_Ehdr, e_shnum) : offsetof(Elf32_Ehdr, e_shnum);
	for (uint64_t i = off; i < off + sz;) {
		if (i >= shoff_at && i < shoff_at + shoff_sz) {
			i = shoff_at + shoff_sz;
			continue;
		}
		if (i >= shnum_at && i < shnum_at + 4) {
			i = shnum_at + 4;
			continue;
		}
		if (i >= shnum_at + 4) { /* past the masked fields: compare the rest at once */
			return memcmp(a + i, b + i, (size_t)(off + sz - i)) == 0;
		}
		if (a[i] != b[i])
			return 0;
		i++;
	}
	return 1;
}

int elfstrip_same_load(const unsigned char *a, size_t alen, const unsigned char *b, size_t blen)
{
	struct elf x, y;
	const char *why;
	int ok = 0;
	if (!parse(&x, a, alen, &why))
		return 0;
	if (!parse(&y, b, blen, &why)) {
		free(x.s);
		return 0;
	}
	/* e_ident, type, machine, version, entry, phoff: the first bytes up to e_shoff */
	if (x.is64 != y.is64 || memcmp(a, b, x.is64 ? offsetof(Elf64_Ehdr, e_shoff) : offsetof(Elf32_Ehdr, e_shoff)) ||
	    x.phnum != y.phnum || x.phoff != y.phoff || x.phentsize != y.phentsize)
		goto out;
	if (memcmp(a + x.phoff, b + y.phoff, (size_t)x.phnum * x.phentsize))
		goto out;
	for (size_t i = 0; i < x.phnum; i++) {
		uint32_t type;
		uint64_t off, sz;
		read_phdr(&x, i, &type, &off, &sz);
		if (type == PT_NULL || !sz)
			continue;
		if (!in_bounds(off, sz, alen) || !in_bounds(off, sz, blen) || !same_bytes(&x, a, b, off, sz))
			goto out;
	}
	ok = 1;
out:
	free(x.s);
	free(y.s);
	return ok;
}

int elfstrip_file(const char *src, const char *dst, enum elfstrip_mode mode, uint64_t *saved, struct lm_err *err)
{
	char *buf = NULL, *tmp = NULL;
	unsigned char *out = NULL;
	size_t len = 0, outlen = 0;
	struct stat st;
	int fd = -1, ret = -1, r;
	if (stat(src, &st) < 0)
		return lm_err_sys(err, "stat '%s'", src);
	if ((uint64_t)st.st_size > ELFSTRIP_MAX)
		return 0;
	if (lm_read_file(src, ELFSTRIP_MAX, &buf, &len, err) < 0)
		return -1;
	r = elfstrip_buf((const unsigned char *)buf, len, mode, &out, &outlen, NULL);
	if (r == 0) {
		ret = 0;
		goto out;
	}
	fd = lm_tmpfile_beside(dst, &tmp, err);
	if (fd < 0)
		goto out;
	if (lm_write_all(fd, out, outlen) < 0 || fchmod(fd, (st.st_mode & 0111) ? 0755 : 0644) < 0) {
		lm_err_sys(err, "write '%s'", tmp);
		goto out;
	}
	r = lm_tmpfile_commit(fd, tmp, dst, 0, err); /* a work copy: no fsync */
	fd = -1;
	if (r < 0)
		goto out;
	free(tmp);
	tmp = NULL;
	*saved = len - outlen;
	ret = 1;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		lm_tmpfile_discard(tmp);
		free(tmp);
	}
	free(buf);
	free(out);
	return ret;
}
