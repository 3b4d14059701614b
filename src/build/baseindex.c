/* baseindex.c - the base's packages for dedupe-base (see baseindex.h). */
#include "build/baseindex.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/str.h"
#include "image/acache.h"
#include "image/oci.h"

/* Below an import root or a node_modules directory: what dedupe-base compares. */
static int interesting(const char *p)
{
	/* (the record is tab- and line-separated: such names are not for us anyway) */
	return (strstr(p, "site-packages/") || strstr(p, "dist-packages/") || strstr(p, "node_modules/")) &&
	       !strpbrk(p, "\t\n");
}

/* Metadata dedupe-base reads, not just hashes. */
static int wants_text(const char *p)
{
	const char *b = strrchr(p, '/');
	b = b ? b + 1 : p;
	return strcmp(b, "package.json") == 0 || strcmp(b, "RECORD") == 0 || strcmp(b, "top_level.txt") == 0;
}

static char *norm(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	char *s = lm_xstrdup(p);
	size_t n = strlen(s);
	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

static int read_layer(const char *path, struct prune_base *b, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *ae;
	char *buf = lm_xmalloc(1 << 16);
	int ret = -1, r;
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, path, 1 << 16) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_IO, "open '%s': %s", path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &ae)) == ARCHIVE_OK) {
		char *p = norm(archive_entry_pathname(ae));
		const char *base = strrchr(p, '/');
		const char *hl = archive_entry_hardlink(ae);
		base = base ? base + 1 : p;
		if (strncmp(base, ".wh.", 4) == 0) {
			char *dir = lm_xstrndup(p, (size_t)(base - p));
			size_t dl = strlen(dir);
			if (dl)
				dir[dl - 1] = '\0';
			if (strcmp(base, ".wh..wh..opq") == 0) {
				prune_base_remove_under(b, dir, 1);
			} else {
				char *victim = lm_asprintf("%s%s%s", dir, *dir ? "/" : "", base + 4);
				prune_base_remove_under(b, victim, 0);
				free(victim);
			}
			free(dir);
			free(p);
			continue;
		}
		if (hl && interesting(p)) {
			char *t = norm(hl);
			const struct prune_base_file *tf = NULL;
			/* the target was added earlier in this layer: search from the end */
			for (size_t i = b->n; i-- > 0 && !tf;)
				if (strcmp(b->v[i].path, t) == 0)
					tf = &b->v[i];
			if (tf) {
				char d[LM_DIGEST_LEN];
				char *text = tf->text ? lm_xstrdup(tf->text) : NULL;
				uint64_t sz = tf->size;
				snprintf(d, sizeof(d), "%s", tf->digest);
				prune_base_add(b, p, d, sz, text);
				free(text);
			}
			free(t);
		} else if (archive_entry_filetype(ae) == AE_IFREG && interesting(p)) {
			struct digest_ctx dc;
			char d[LM_DIGEST_LEN];
			uint64_t size = 0;
			int keep = wants_text(p) && archive_entry_size(ae) >= 0 &&
				   (uint64_t)archive_entry_size(ae) <= PRUNE_BASE_TEXT_MAX;
			char *text = keep ? lm_xcalloc((size_t)archive_entry_size(ae) + 1, 1) : NULL;
			la_ssize_t n;
			digest_init(&dc);
			while ((n = archive_read_data(a, buf, 1 << 16)) > 0) {
				if (text && size + (uint64_t)n <= (uint64_t)archive_entry_size(ae))
					memcpy(text + size, buf, (size_t)n);
				digest_update(&dc, buf, (size_t)n);
				size += (uint64_t)n;
			}
			if (n < 0) {
				digest_abort(&dc);
				lm_err_set(err, LM_E_INPUT, "read '%s' in '%s': %s", p, path, archive_error_string(a));
				free(text);
				free(p);
				goto out;
			}
			digest_final(&dc, d);
			prune_base_add(b, p, d, size, text);
			free(text);
		} else if (interesting(p)) {
			/* a directory or link replaces a file of an earlier layer */
			prune_base_remove_under(b, p, 0);
		}
		free(p);
	}
	if (r != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "read '%s': %s", path, archive_error_string(a));
		goto out;
	}
	ret = 0;
out:
	archive_read_free(a);
	free(buf);
	return ret;
}

void base_index_node_path(char *const *env, size_t nenv, struct prune_base *out)
{
	for (size_t i = 0; i < nenv; i++) {
		char *s, *save = NULL;
		if (!lm_str_startswith(env[i], "NODE_PATH="))
			continue;
		s = lm_xstrdup(env[i] + strlen("NODE_PATH="));
		for (char *t = strtok_r(s, ":", &save); t; t = strtok_r(NULL, ":", &save)) {
			char *n = norm(t);
			if (!*n) {
				free(n);
				continue;
			}
			out->node_path = lm_xrealloc(out->node_path, (out->nnode_path + 1) * sizeof(char *));
			out->node_path[out->nnode_path++] = n;
		}
		free(s);
	}
}

char *base_index_to_record(const struct prune_base *b, size_t *len)
{
	char *s = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&s, &n);
	if (!f)
		abort(); /* out of memory, as lm_x* do */
	fprintf(f, "%zu\n", b->nnode_path);
	for (size_t i = 0; i < b->nnode_path; i++)
		fprintf(f, "%s\n", b->node_path[i]);
	fprintf(f, "%zu\n", b->n);
	for (size_t i = 0; i < b->n; i++) {
		size_t tl = b->v[i].text ? strlen(b->v[i].text) : 0;
		fprintf(f, "%s\t%s\t%llu\t%zu\t%d\n", b->v[i].path, b->v[i].digest, (unsigned long long)b->v[i].size, tl,
			b->v[i].text != NULL);
		if (tl)
			fwrite(b->v[i].text, 1, tl, f);
	}
	fclose(f);
	*len = n;
	return s;
}

/* The next line of [*p, end) cut in place (the record is a private copy). */
static char *next_line(char **p, char *end)
{
	char *s = *p, *nl;
	if (s >= end)
		return NULL;
	nl = memchr(s, '\n', (size_t)(end - s));
	if (!nl)
		return NULL;
	*nl = '\0';
	*p = nl + 1;
	return s;
}

int base_index_from_record(const char *rec, size_t len, struct prune_base *out)
{
	char *copy = lm_xmalloc(len + 1), *p = copy, *end = copy + len, *line;
	unsigned long long nn, nf;
	prune_base_init(out);
	memcpy(copy, rec, len);
	copy[len] = '\0';
	if (!(line = next_line(&p, end)) || sscanf(line, "%llu", &nn) != 1 || nn > len)
		goto bad;
	for (unsigned long long i = 0; i < nn; i++) {
		if (!(line = next_line(&p, end)))
			goto bad;
		out->node_path = lm_xrealloc(out->node_path, (out->nnode_path + 1) * sizeof(char *));
		out->node_path[out->nnode_path++] = lm_xstrdup(line);
	}
	if (!(line = next_line(&p, end)) || sscanf(line, "%llu", &nf) != 1 || nf > len)
		goto bad;
	for (unsigned long long i = 0; i < nf; i++) {
		char *t1, *t2, *t3, *t4, *text = NULL;
		unsigned long long size, tl;
		int has;
		if (!(line = next_line(&p, end)) || !(t1 = strchr(line, '\t')) || !(t2 = strchr(t1 + 1, '\t')) ||
		    !(t3 = strchr(t2 + 1, '\t')) || !(t4 = strchr(t3 + 1, '\t')))
			goto bad;
		*t1 = *t2 = '\0';
		if (sscanf(t2 + 1, "%llu\t%llu\t%d", &size, &tl, &has) != 3 || tl > (unsigned long long)(end - p) ||
		    !digest_valid(t1 + 1))
			goto bad;
		if (has) {
			text = lm_xstrndup(p, (size_t)tl);
			p += tl;
		}
		prune_base_add(out, line, t1 + 1, size, text);
		free(text);
	}
	free(copy);
	prune_base_finish(out);
	return 0;
bad:
	free(copy);
	prune_base_release(out);
	return -1;
}

int base_index(const struct lm_image *base, struct cache *c, int use_cache, struct prune_base *out,
	       struct lm_err *err)
{
	struct ac_key k;
	char key[LM_DIGEST_LEN];
	char *rec = NULL;
	size_t len = 0;
	prune_base_init(out);
	ac_key_init(&k, "baseindex");
	ac_key_str(&k, base->manifest.config.digest);
	for (size_t i = 0; i < base->manifest.nlayers; i++)
		ac_key_str(&k, base->manifest.layers[i].digest);
	ac_key_final(&k, key);
	if (use_cache && ac_get(c, key, &rec, &len, NULL) == 1) {
		int r = base_index_from_record(rec, len, out);
		free(rec);
		if (r == 0)
			return 0;
		ac_del(c, key);
	}
	for (size_t i = 0; i < base->manifest.nlayers; i++) {
		char *path = cache_blob_path(c, base->manifest.layers[i].digest);
		int r = read_layer(path, out, err);
		free(path);
		if (r < 0) {
			prune_base_release(out);
			return lm_err_wrap(err, "base layer %zu (%s)", i + 1, base->manifest.layers[i].digest);
		}
	}
	{
		struct oci_config *cfg = NULL;
		struct oci_config_view v = { 0 };
		struct lm_err e2 = LM_ERR_INIT;
		if (oci_config_parse(base->config_raw, base->config_len, &cfg, &e2) == 0) {
			oci_config_view_get(cfg, &v);
			base_index_node_path(v.env, v.nenv, out);
			oci_config_view_release(&v);
			oci_config_free(cfg);
		}
		lm_err_release(&e2);
	}
	prune_base_finish(out);
	if (!use_cache)
		return 0;
	rec = base_index_to_record(out, &len);
	{
		struct lm_err e2 = LM_ERR_INIT;
		ac_put(c, key, rec, len, &e2); /* without it the next build reads the base again */
		lm_err_release(&e2);
	}
	free(rec);
	return 0;
}
