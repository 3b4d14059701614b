/* acache.c - action cache records (see acache.h). */
#include "image/acache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/fs.h"
#include "common/version.h"
#include "buildid.h" /* generated: LM_BUILD_ID, the digest of the sources */

/* The first line of a record: this tag, a space, the body's digest, a newline. */
#define AC_TAG "lamina-ac"
/* A record larger than this is not one of ours. */
#define AC_MAX ((size_t)64 << 20)

void ac_key_init(struct ac_key *k, const char *kind)
{
	digest_init(&k->d);
	ac_key_str(k, "lamina action cache");
	ac_key_u64(k, AC_FORMAT);
	ac_key_str(k, LM_VERSION);
	ac_key_str(k, LM_BUILD_ID);
	ac_key_str(k, kind);
}

void ac_key_bytes(struct ac_key *k, const void *data, size_t len)
{
	unsigned char n[8];
	for (int i = 0; i < 8; i++)
		n[i] = (unsigned char)((uint64_t)len >> (8 * i));
	digest_update(&k->d, n, sizeof(n));
	digest_update(&k->d, data, len);
}

void ac_key_str(struct ac_key *k, const char *s)
{
	if (!s) {
		/* NULL and "" differ: a length no string has */
		unsigned char none[8];
		memset(none, 0xff, sizeof(none));
		digest_update(&k->d, none, sizeof(none));
		return;
	}
	ac_key_bytes(k, s, strlen(s));
}

void ac_key_u64(struct ac_key *k, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	ac_key_bytes(k, b, sizeof(b));
}

void ac_key_final(struct ac_key *k, char out[LM_DIGEST_LEN])
{
	digest_final(&k->d, out);
}

char *ac_path(const struct cache *c, const char *key)
{
	const char *hex = digest_valid(key) ? digest_hex(key) : "invalid";
	return lm_asprintf("%s/ac/%.2s/%s", cache_dir(c), hex, hex);
}

void ac_del(struct cache *c, const char *key)
{
	char *p = ac_path(c, key);
	unlink(p);
	free(p);
}

static int get_local(struct cache *c, const char *key, char **data, size_t *len, int *corrupt);

int ac_get(struct cache *c, const char *key, char **data, size_t *len, int *corrupt)
{
	int bad = 0, r = get_local(c, key, data, len, &bad);
	if (r == 0 && cache_fallback(c, key) == 1)
		r = get_local(c, key, data, len, &bad);
	if (bad && corrupt)
		*corrupt = 1;
	if (r == 1)
		cache_note_key(c, key);
	return r;
}

static int get_local(struct cache *c, const char *key, char **data, size_t *len, int *corrupt)
{
	char *p = ac_path(c, key), *text = NULL, *nl, got[LM_DIGEST_LEN];
	struct lm_err e = LM_ERR_INIT;
	size_t n = 0, hl;
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > AC_MAX) {
		int bad = fd >= 0 || errno != ENOENT; /* there, but not a record (a symlink: ELOOP) */
		if (fd >= 0)
			close(fd);
		if (bad) {
			unlink(p);
			if (corrupt)
				*corrupt = 1;
		}
		free(p);
		return 0;
	}
	close(fd);
	if (lm_read_file(p, AC_MAX, &text, &n, &e) < 0) {
		lm_err_release(&e);
		free(p);
		return 0;
	}
	hl = strlen(AC_TAG " ") + LM_DIGEST_LEN - 1;
	nl = n > hl ? text + hl : NULL;
	if (!nl || *nl != '\n' || strncmp(text, AC_TAG " ", strlen(AC_TAG " ")) != 0)
		goto bad;
	digest_buf(nl + 1, n - hl - 1, got);
	if (strncmp(text + strlen(AC_TAG " "), got, LM_DIGEST_LEN - 1) != 0)
		goto bad;
	/* used now: the bound keeps the most recently used records */
	utimensat(AT_FDCWD, p, NULL, 0);
	memmove(text, nl + 1, n - hl);
	*data = text;
	if (len)
		*len = n - hl - 1;
	free(p);
	return 1;
bad:
	unlink(p);
	if (corrupt)
		*corrupt = 1;
	free(text);
	free(p);
	return 0;
}

int ac_put(struct cache *c, const char *key, const void *data, size_t len, struct lm_err *err)
{
	char *p = ac_path(c, key), *dir = lm_path_dirname(p), *rec = NULL;
	char dg[LM_DIGEST_LEN];
	int ret = -1;

	if (!digest_valid(key)) {
		lm_err_set(err, LM_E_INTERNAL, "action cache: bad key '%s'", key);
		goto out;
	}
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		char *parent = lm_path_dirname(dir);
		int r = mkdir(parent, 0700) < 0 && errno != EEXIST ? -1 : mkdir(dir, 0700);
		free(parent);
		if (r < 0 && errno != EEXIST) {
			lm_err_sys(err, "create '%s'", dir);
			goto out;
		}
	}
	digest_buf(data, len, dg);
	rec = lm_xmalloc(strlen(AC_TAG " ") + LM_DIGEST_LEN + len);
	memcpy(rec, AC_TAG " ", strlen(AC_TAG " "));
	memcpy(rec + strlen(AC_TAG " "), dg, LM_DIGEST_LEN - 1);
	rec[strlen(AC_TAG " ") + LM_DIGEST_LEN - 1] = '\n';
	memcpy(rec + strlen(AC_TAG " ") + LM_DIGEST_LEN, data, len);
	{
		/* no fsync: a record cut short by a crash fails its digest and is redone */
		char *tmp = NULL;
		int fd = lm_tmpfile_beside(p, &tmp, err);
		size_t rl = strlen(AC_TAG " ") + LM_DIGEST_LEN + len;
		if (fd < 0)
			goto out;
		if (lm_write_all(fd, rec, rl) < 0) {
			lm_err_sys(err, "write '%s'", tmp);
			close(fd);
			lm_tmpfile_discard(tmp);
			free(tmp);
			goto out;
		}
		int r = lm_tmpfile_commit(fd, tmp, p, 0, err);
		free(tmp);
		if (r < 0)
			goto out;
	}
	cache_note_key(c, key);
	ret = 0;
out:
	free(rec);
	free(dir);
	free(p);
	return ret;
}
