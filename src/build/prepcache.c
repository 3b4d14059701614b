/* prepcache.c - finished layer trees from the action cache (see prepcache.h).
 *
 * A record is text, one line per difference, in the finished tree's order:
 *   "r\t<path>"                            removed
 *   "f\t<digest>\t<size>\t<mode>\t<gen>\t<path>"  a file's content replaced or added (blob)
 *   "l\t<path>\t<target>"                  a symlink added
 *   "d\t<mode>\t<path>"                    a directory added */
#include "build/prepcache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/buf.h"
#include "image/acache.h"

/* Raise when what prune or precompile make from the same inputs changes meaning. */
#define PREP_FORMAT 1

static void key_strv(struct ac_key *k, char *const *v, size_t n)
{
	ac_key_u64(k, n);
	for (size_t i = 0; i < n; i++)
		ac_key_str(k, v[i]);
}

static void key_prune(struct ac_key *k, const struct prune_spec *s)
{
	ac_key_u64(k, (uint64_t)s->set);
	key_strv(k, s->presets, s->npresets);
	key_strv(k, s->remove, s->nremove);
	key_strv(k, s->keep, s->nkeep);
	ac_key_u64(k, (uint64_t)s->strip);
	ac_key_u64(k, (uint64_t)s->strip_set);
}

void prep_key(const struct lm_manifest *m, size_t i, const struct lm_tree *t, const char *platform,
	      const struct lm_image *base, int dedupe, int64_t epoch, char key[LM_DIGEST_LEN])
{
	const struct precompile_spec *p = &m->precompile;
	struct ac_key k;
	ac_key_init(&k, "prep");
	ac_key_u64(&k, PREP_FORMAT);
	ac_key_str(&k, platform);
	ac_key_str(&k, m->layers[i].to);
	key_prune(&k, &m->prune);
	key_prune(&k, &m->layers[i].prune);
	ac_key_u64(&k, (uint64_t)(dedupe != 0)); /* the base's files are in the key below */
	ac_key_u64(&k, (uint64_t)p->set);
	ac_key_u64(&k, (uint64_t)p->enabled);
	ac_key_u64(&k, (uint64_t)p->invalidation);
	ac_key_u64(&k, (uint64_t)p->optimize);
	ac_key_u64(&k, (uint64_t)p->sourceless);
	ac_key_u64(&k, (uint64_t)epoch);
	/* the interpreter that compiles: the base's layers */
	ac_key_u64(&k, base->manifest.nlayers);
	for (size_t l = 0; l < base->manifest.nlayers; l++)
		ac_key_str(&k, base->manifest.layers[l].digest);
	ac_key_u64(&k, t->n);
	for (size_t e = 0; e < t->n; e++) {
		const struct lm_entry *x = &t->v[e];
		ac_key_str(&k, x->path);
		ac_key_u64(&k, (uint64_t)x->type);
		ac_key_u64(&k, x->mode);
		ac_key_u64(&k, x->size);
		ac_key_str(&k, x->type == LM_F_REG ? x->digest : x->type == LM_F_SYMLINK ? x->link : "");
	}
	ac_key_final(&k, key);
}

/* Splits a record line at tabs into at most max fields (the last keeps the rest). */
static size_t fields(char *line, char **f, size_t max)
{
	size_t n = 0;
	while (n < max) {
		f[n++] = line;
		char *t = n < max ? strchr(line, '\t') : NULL;
		if (!t)
			break;
		*t = '\0';
		line = t + 1;
	}
	return n;
}

int prep_apply(struct cache *c, const char *key, struct lm_tree *t, int *corrupt, struct lm_err *err)
{
	char *rec = NULL, *line, *save = NULL;
	size_t len = 0;
	struct lm_tree add;
	struct {
		struct lm_entry *e;
		char digest[LM_DIGEST_LEN];
		uint64_t size;
		int gen;
	} *chg = NULL;
	size_t nchg = 0, capchg = 0;
	unsigned char *rm = NULL;
	int ok = 0;

	(void)err;
	tree_init(&add);
	if (ac_get(c, key, &rec, &len, corrupt) != 1)
		return 0;
	tree_finish(t);
	rm = lm_xcalloc(t->n + 1, 1);
	/* first check everything, then change t: a bad record leaves t as it was */
	for (line = strtok_r(rec, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[6];
		size_t nf = fields(line, f, 6);
		if (nf == 2 && strcmp(f[0], "r") == 0) {
			struct lm_entry *e = tree_find(t, f[1]);
			if (!e)
				goto bad;
			rm[e - t->v] = 1;
		} else if (nf == 6 && strcmp(f[0], "f") == 0) {
			uint64_t size = strtoull(f[2], NULL, 10);
			/* present now; its content is checked where it is read (prep_check) */
			if (!digest_valid(f[1]) || !cache_has(c, f[1], (int64_t)size))
				goto bad;
			struct lm_entry *e = tree_find(t, f[5]);
			if (!e) {
				char *src = cache_blob_path(c, f[1]);
				struct lm_entry *n = tree_add(&add, LM_F_REG, f[5], src, NULL, (unsigned)strtoul(f[3], NULL, 8),
							      size);
				snprintf(n->digest, sizeof(n->digest), "%s", f[1]);
				n->generated = atoi(f[4]);
				n->from_cache = 1;
				free(src);
				continue;
			}
			if (e->type != LM_F_REG)
				goto bad;
			lm_grow((void **)&chg, &capchg, nchg + 1, sizeof(*chg));
			chg[nchg].e = e;
			snprintf(chg[nchg].digest, sizeof(chg[nchg].digest), "%s", f[1]);
			chg[nchg].size = size;
			chg[nchg].gen = atoi(f[4]);
			nchg++;
		} else if (nf == 3 && strcmp(f[0], "l") == 0) {
			struct lm_entry *n = tree_add(&add, LM_F_SYMLINK, f[1], NULL, f[2], 0777, 0);
			n->generated = 1;
		} else if (nf == 3 && strcmp(f[0], "d") == 0) {
			struct lm_entry *n = tree_add(&add, LM_F_DIR, f[2], NULL, NULL, (unsigned)strtoul(f[1], NULL, 8), 0);
			n->generated = 1;
		} else {
			goto bad;
		}
	}
	for (size_t i = 0; i < t->n; i++)
		if (rm[i])
			t->v[i].removed = 1;
	for (size_t i = 0; i < nchg; i++) {
		struct lm_entry *e = chg[i].e;
		free(e->src);
		e->src = cache_blob_path(c, chg[i].digest);
		e->size = chg[i].size;
		e->generated = chg[i].gen;
		e->from_cache = 1;
		e->dev = e->ino = 0; /* no longer the scanned file */
		memcpy(e->digest, chg[i].digest, LM_DIGEST_LEN);
	}
	for (size_t i = 0; i < add.n; i++) {
		const struct lm_entry *a = &add.v[i];
		struct lm_entry *n = tree_add(t, a->type, a->path, a->src, a->link, a->mode, a->size);
		memcpy(n->digest, a->digest, LM_DIGEST_LEN);
		n->generated = a->generated;
		n->from_cache = a->from_cache;
	}
	tree_finish(t);
	ok = 1;
	goto out;
bad:
	ac_del(c, key);
	if (corrupt)
		*corrupt = 1;
out:
	tree_release(&add);
	free(chg);
	free(rm);
	free(rec);
	return ok;
}

int prep_record(struct cache *c, const char *key, struct lm_tree *t, struct lm_err *err)
{
	struct lm_buf b;
	char line[256];
	int ret = -1;

	buf_init(&b, 0);
	tree_finish(t);
	for (size_t i = 0; i < t->n; i++) {
		struct lm_entry *e = &t->v[i];
		if (strpbrk(e->path, "\t\n") || (e->link && strpbrk(e->link, "\t\n"))) {
			ret = 0; /* not recordable: the next build does the work again */
			goto out;
		}
		if (e->removed) {
			buf_appends(&b, "r\t");
			buf_appends(&b, e->path);
			buf_appends(&b, "\n");
			continue;
		}
		if (e->type == LM_F_REG && (e->generated || !e->digest[0])) {
			/* content lamina made: keep it */
			if (cache_put_file(c, e->src, e->digest, err) < 0)
				goto out;
			snprintf(line, sizeof(line), "f\t%s\t%llu\t%o\t%d\t", e->digest, (unsigned long long)e->size, e->mode,
				 e->generated);
			buf_appends(&b, line);
			buf_appends(&b, e->path);
			buf_appends(&b, "\n");
		} else if (e->generated && e->type == LM_F_SYMLINK) {
			buf_appends(&b, "l\t");
			buf_appends(&b, e->path);
			buf_appends(&b, "\t");
			buf_appends(&b, e->link);
			buf_appends(&b, "\n");
		} else if (e->generated && e->type == LM_F_DIR) {
			snprintf(line, sizeof(line), "d\t%o\t", e->mode);
			buf_appends(&b, line);
			buf_appends(&b, e->path);
			buf_appends(&b, "\n");
		}
	}
	ret = ac_put(c, key, b.data ? b.data : "", b.len, err);
out:
	buf_release(&b);
	return ret;
}

int prep_check(struct cache *c, const struct lm_tree *t, struct lm_err *err)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct lm_entry *e = &t->v[i];
		if (!e->from_cache || e->removed || cache_is_verified(c, e->digest))
			continue;
		if (cache_blob_check(c, e->digest, (int64_t)e->size) != 1)
			return lm_err_set(err, LM_E_VERIFY,
					  "cached content of '/%s' (%s) is corrupt or gone: it was removed; build again", e->path,
					  e->digest);
	}
	return 0;
}
