/* actions.c - what is done to entries that stay: data files rewritten smaller (slim.h)
 * and ELF files stripped (elfstrip.h), into copies under the work directory; a dry run
 * (no work directory) only counts. */
#include "prune/prune_internal.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "prune/elfstrip.h"
#include "prune/slim.h"

/* The directory a step writes its copies to: workdir/name, made; NULL in a dry run. */
static int step_dir(const char *workdir, const char *name, char **dir, struct lm_err *err)
{
	*dir = NULL;
	if (!workdir)
		return 0;
	*dir = lm_path_join(workdir, name);
	return lm_mkdir_p(*dir, err);
}

/* The copy of entry i under dir: "DIR/I-BASENAME" (the index keeps equal names apart). */
static char *copy_path(const char *dir, size_t i, const struct lm_entry *e)
{
	return lm_asprintf("%s/%zu-%s", dir, i, prune_base_name(e->path));
}

/* Points e at its rewritten copy dst (taken) of size bytes: new content, so its digest
 * and file identity are found again where needed. */
static void use_copy(struct lm_entry *e, char *dst, uint64_t size)
{
	free(e->src);
	e->src = dst;
	e->digest[0] = '\0';
	e->dev = e->ino = 0;
	e->size = size;
}

static int maybe_elf(const struct lm_entry *e)
{
	unsigned char magic[4];
	int fd, n;
	if (e->type != LM_F_REG || !e->src || e->size < 64)
		return 0;
	if (!(prune_is_native_name(prune_base_name(e->path)) || (e->mode & 0111)))
		return 0;
	fd = open(e->src, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = (int)read(fd, magic, sizeof(magic));
	close(fd);
	return n == 4 && elfstrip_is_elf(magic, 4);
}

int prune_strip_all(struct run *r, enum prune_strip mode, const char *workdir, struct layer_rep *l, struct lm_err *err)
{
	enum elfstrip_mode em = mode == PRUNE_STRIP_UNNEEDED ? ELFSTRIP_UNNEEDED : ELFSTRIP_DEBUG;
	char *dir = NULL;
	int ret = -1;
	if (step_dir(workdir, "strip", &dir, err) < 0)
		goto out;
	for (size_t i = 0; i < r->t->n; i++) {
		struct lm_entry *e = &r->t->v[i];
		if (!r->in_root[i] || r->removed[i] || e->generated || !maybe_elf(e))
			continue;
		if (dir) {
			char *dst = copy_path(dir, i, e);
			uint64_t saved = 0;
			int s = elfstrip_file(e->src, dst, em, &saved, err);
			if (s < 0) {
				free(dst);
				lm_err_wrap(err, "strip '%s'", e->path);
				goto out;
			}
			if (s == 1) {
				use_copy(e, dst, e->size - saved);
				l->strip_files++;
				l->strip_saved += saved;
			} else {
				free(dst);
			}
		} else {
			char *buf = NULL;
			unsigned char *o = NULL;
			size_t len = 0, olen = 0;
			struct lm_err e2 = LM_ERR_INIT;
			if (lm_read_file(e->src, (size_t)2 << 30, &buf, &len, &e2) == 0 &&
			    elfstrip_buf((const unsigned char *)buf, len, em, &o, &olen, NULL) == 1) {
				l->strip_files++;
				l->strip_saved += len - olen;
				e->size -= len - olen; /* dry run: accounting only, src unchanged */
			}
			lm_err_release(&e2);
			free(buf);
			free(o);
		}
	}
	ret = 0;
out:
	free(dir);
	return ret;
}

static int slim_buf(unsigned flags, const char *in, size_t len, char **out, size_t *outlen)
{
	if (flags & PRUNE_R_SLIM_METADATA)
		return slim_metadata(in, len, out, outlen);
	return slim_json(in, len, flags & PRUNE_R_SLIM_BOTO_DOCS ? SLIM_JSON_BOTO_DOCS : 0, out, outlen);
}

int prune_slim_all(struct run *r, const char *workdir, struct layer_rep *l, struct lm_err *err)
{
	char *dir = NULL;
	int ret = -1, any = 0;
	for (size_t k = 0; k < r->nrules; k++)
		any |= (r->rules[k].flags & PRUNE_R_REWRITE) != 0;
	if (!any)
		return 0;
	if (step_dir(workdir, "slim", &dir, err) < 0)
		goto out;
	for (size_t i = 0; i < r->t->n; i++) {
		struct lm_entry *e = &r->t->v[i];
		size_t k, len = 0, olen = 0;
		char *buf = NULL, *o = NULL;
		struct lm_err e2 = LM_ERR_INIT;
		if (!r->in_root[i] || r->removed[i] || r->keepm[i] || e->generated || e->type != LM_F_REG || !e->src ||
		    e->size > PRUNE_SLIM_MAX)
			continue;
		for (k = 0; k < r->nrules; k++)
			if ((r->rules[k].flags & PRUNE_R_REWRITE) && prune_rule_matches(r, &r->rules[k], i))
				break;
		if (k == r->nrules)
			continue;
		if (lm_read_file(e->src, PRUNE_SLIM_MAX, &buf, &len, &e2) < 0) {
			lm_err_release(&e2); /* unreadable files fail later, in the layer writer, with a name */
			continue;
		}
		if (slim_buf(r->rules[k].flags, buf, len, &o, &olen) == 1) {
			if (dir) {
				char *dst = copy_path(dir, i, e);
				if (lm_write_file_atomic(dst, o, olen, err) < 0) {
					free(dst);
					free(buf);
					free(o);
					lm_err_wrap(err, "rewrite '%s'", e->path);
					goto out;
				}
				use_copy(e, dst, olen);
			} else {
				e->size = olen; /* dry run: accounting only, src unchanged */
			}
			l->rules[k].files++;
			l->rules[k].bytes += len - olen;
		}
		free(buf);
		free(o);
	}
	ret = 0;
out:
	free(dir);
	return ret;
}
