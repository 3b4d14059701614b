/* scan.c - reading an image's layers and a build's trees into a report (see scan.h). */
#include "report/scan.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <libdeflate.h>

#include "common/alloc.h"
#include "common/str.h"
#include "image/oci.h"
#include "zip/sizereport.h"

#define PIECE ((size_t)1 << 20)
#define ZIP_LEVEL 6

void report_entries_release(struct report_entries *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].path);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static void entries_add(struct report_entries *e, const char *path, uint64_t size, char type, size_t layer)
{
	lm_grow((void **)&e->v, &e->cap, e->n + 1, sizeof(*e->v));
	e->v[e->n].path = lm_xstrdup(path);
	e->v[e->n].size = size;
	e->v[e->n].type = type;
	e->v[e->n].layer = layer;
	e->n++;
}

/* A deflater of pieces: the compressed bytes of what was fed. */
struct zmeter {
	struct libdeflate_compressor *c;
	char *in, *out;
	size_t nin, outcap;
	uint64_t total;
};

static void zmeter_init(struct zmeter *z)
{
	z->c = libdeflate_alloc_compressor(ZIP_LEVEL);
	if (!z->c)
		abort();
	z->in = lm_xmalloc(PIECE);
	z->outcap = libdeflate_deflate_compress_bound(z->c, PIECE);
	z->out = lm_xmalloc(z->outcap);
	z->nin = 0;
	z->total = 0;
}

static void zmeter_flush(struct zmeter *z)
{
	size_t n;
	if (!z->nin)
		return;
	n = libdeflate_deflate_compress(z->c, z->in, z->nin, z->out, z->outcap);
	/* a zip stores what deflate does not make smaller */
	z->total += n && n < z->nin ? n : z->nin;
	z->nin = 0;
}

static void zmeter_feed(struct zmeter *z, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		size_t k = PIECE - z->nin < len ? PIECE - z->nin : len;
		memcpy(z->in + z->nin, p, k);
		z->nin += k;
		p += k;
		len -= k;
		if (z->nin == PIECE)
			zmeter_flush(z);
	}
}

/* The compressed size of everything fed since the last call; starts anew. */
static uint64_t zmeter_take(struct zmeter *z)
{
	uint64_t t;
	zmeter_flush(z);
	t = z->total;
	z->total = 0;
	return t;
}

static void zmeter_release(struct zmeter *z)
{
	if (z->c)
		libdeflate_free_compressor(z->c);
	free(z->in);
	free(z->out);
	memset(z, 0, sizeof(*z));
}

static uint64_t zmeter_fd(struct zmeter *z, int fd, int *ok)
{
	char buf[1 << 16];
	ssize_t n;
	*ok = 1;
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			*ok = 0;
			break;
		}
		zmeter_feed(z, buf, (size_t)n);
	}
	return zmeter_take(z);
}

int report_deflated_file(const char *path, uint64_t *out, struct lm_err *err)
{
	struct zmeter z;
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok;
	if (fd < 0)
		return lm_err_sys(err, "open '%s'", path);
	zmeter_init(&z);
	*out = zmeter_fd(&z, fd, &ok);
	zmeter_release(&z);
	close(fd);
	if (!ok)
		return lm_err_sys(err, "read '%s'", path);
	return 0;
}

/* "./a/b/" -> "a/b" (in place) */
static char *norm(char *p)
{
	size_t n;
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	while (*p == '/')
		p++;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		p[--n] = '\0';
	return p;
}

static int scan_layer(struct report *r, struct cache *c, const struct oci_descriptor *d, size_t li,
		      struct report_layer *rl, struct zmeter *z, struct report_entries *ents, struct lm_err *err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char *blob = cache_blob_path(c, d->digest), *buf = lm_xmalloc(1u << 18);
	int ret = -1, rc;
	if (!a)
		abort();
	archive_read_support_filter_all(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, blob, 1u << 18) != ARCHIVE_OK) {
		lm_err_set(err, LM_E_INPUT, "layer %zu (%s): %s", li + 1, d->digest, archive_error_string(a));
		goto out;
	}
	while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
		const char *raw = archive_entry_pathname(e);
		char *dup = lm_xstrdup(raw ? raw : ""), *path = norm(dup);
		const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		mode_t t = archive_entry_filetype(e);
		char type = archive_entry_hardlink(e) ? 'h'
			    : t == AE_IFREG	      ? 'f'
			    : t == AE_IFDIR	      ? 'd'
			    : t == AE_IFLNK	      ? 'l'
						      : 'o';
		uint64_t size = type == 'f' ? (uint64_t)archive_entry_size(e) : 0;
		if (strncmp(base, ".wh.", 4) == 0)
			type = 'w';
		if (!*path) {
			free(dup);
			continue;
		}
		if (ents)
			entries_add(ents, path, size, type, li);
		if (type == 'f') {
			uint64_t zs = 0;
			char *pkg;
			const char *eco;
			rl->files++;
			rl->fbytes += size;
			if (z && size) {
				la_ssize_t n;
				while ((n = archive_read_data(a, buf, 1u << 18)) > 0)
					zmeter_feed(z, buf, (size_t)n);
				if (n < 0) {
					lm_err_set(err, LM_E_INPUT, "layer %zu (%s): '%s': %s", li + 1, d->digest, path,
						   archive_error_string(a));
					free(dup);
					goto out;
				}
				zs = zmeter_take(z);
				rl->zbytes += zs;
				lm_grow((void **)&r->zfiles, &r->capzfiles, r->nzfiles + 1, sizeof(*r->zfiles));
				r->zfiles[r->nzfiles].layer = lm_xstrdup(rl->name);
				r->zfiles[r->nzfiles].path = lm_xstrdup(path);
				r->zfiles[r->nzfiles++].zsize = zs;
			}
			report_add_file(r, rl->name, path, size);
			if (!rl->base && (pkg = report_pkg_of(path, &eco))) {
				report_add_pkg(r, rl->name, pkg, eco, size, zs);
				free(pkg);
			} else if (!rl->base) {
				report_add_pkg(r, rl->name, "(other files)", "", size, zs);
			}
		}
		free(dup);
	}
	if (rc != ARCHIVE_EOF) {
		lm_err_set(err, LM_E_INPUT, "layer %zu (%s): %s", li + 1, d->digest, archive_error_string(a));
		goto out;
	}
	/* the tar stream's whole length (libarchive stops reading at the end-of-archive
	 * blocks): what Lambda counts and inspect shows */
	if (size_blob_usize(c, d, &rl->usize, err) < 0)
		goto out;
	ret = 0;
out:
	archive_read_free(a);
	free(blob);
	free(buf);
	return ret;
}

int report_scan_image(struct report *r, const struct lm_image *img, struct cache *c, int zip_measure,
		      struct report_entries *ents, struct lm_err *err)
{
	struct oci_config *cfg = NULL;
	struct oci_config_view v = { 0 };
	struct zmeter z = { 0 };
	size_t nb = 0;
	int ret = -1;
	if (oci_config_parse(img->config_raw, img->config_len, &cfg, err) < 0)
		return lm_err_wrap(err, "config");
	oci_config_view_get(cfg, &v);
	if (zip_measure)
		zmeter_init(&z);
	if (!r->digest)
		r->digest = lm_xstrdup(img->manifest_digest);
	for (size_t i = 0; i < img->manifest.nlayers; i++) {
		const struct oci_descriptor *d = &img->manifest.layers[i];
		char *name = v.nlayer_history == img->manifest.nlayers ? report_layer_name(v.layer_history[i]) : NULL;
		int base = name == NULL;
		struct report_layer *rl;
		if (!name)
			name = lm_asprintf("base %zu", ++nb);
		rl = report_add_layer(r, name, d->digest, base, (uint64_t)d->size, 0);
		free(name);
		if (scan_layer(r, c, d, i, rl, zip_measure && !base ? &z : NULL, ents, err) < 0)
			goto out;
	}
	ret = 0;
out:
	zmeter_release(&z);
	oci_config_view_release(&v);
	oci_config_free(cfg);
	return ret;
}

/* --- the merged view and the tree ------------------------------------------------------ */

static int cmp_path_layer(const void *a, const void *b)
{
	const struct report_entry *x = a, *y = b;
	/* '/' sorts before every other byte, so a directory's entries follow it directly */
	const unsigned char *p = (const unsigned char *)x->path, *q = (const unsigned char *)y->path;
	while (*p && *p == *q)
		p++, q++;
	if (*p != *q) {
		int cp = *p == '/' ? 1 : *p ? *p + 1 : 0, cq = *q == '/' ? 1 : *q ? *q + 1 : 0;
		return cp - cq;
	}
	return x->layer < y->layer ? -1 : x->layer > y->layer;
}

static int under(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return n == 0 || (strncmp(path, dir, n) == 0 && path[n] == '/');
}

void report_entries_merge(const struct report_entries *ents, struct report_entries *out)
{
	struct report_entries all = { 0 };
	size_t nl = 0;
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < ents->n; i++)
		if (ents->v[i].layer + 1 > nl)
			nl = ents->v[i].layer + 1;
	/* layer by layer: a whiteout hides what earlier layers have at (or under) its name */
	for (size_t l = 0; l < nl; l++) {
		for (size_t i = 0; i < ents->n; i++) {
			const struct report_entry *e = &ents->v[i];
			const char *b;
			char *dir, *target;
			if (e->layer != l || e->type != 'w')
				continue;
			b = strrchr(e->path, '/');
			dir = b ? lm_xstrndup(e->path, (size_t)(b - e->path)) : lm_xstrdup("");
			b = b ? b + 1 : e->path;
			target = strcmp(b, ".wh..wh..opq") == 0 ? NULL
				 : *dir				? lm_asprintf("%s/%s", dir, b + 4)
								: lm_xstrdup(b + 4);
			for (size_t k = 0; k < all.n; k++) {
				int gone = target ? strcmp(all.v[k].path, target) == 0 || under(all.v[k].path, target)
						  : under(all.v[k].path, dir);
				if (gone)
					all.v[k].type = 'x';
			}
			free(dir);
			free(target);
		}
		for (size_t i = 0; i < ents->n; i++) {
			const struct report_entry *e = &ents->v[i];
			if (e->layer == l && e->type != 'w')
				entries_add(&all, e->path, e->size, e->type, e->layer);
		}
	}
	if (all.n)
		qsort(all.v, all.n, sizeof(*all.v), cmp_path_layer);
	for (size_t i = 0; i < all.n; i++) {
		const struct report_entry *e = &all.v[i];
		/* the last layer's entry of a path wins */
		if (e->type == 'x' || (i + 1 < all.n && strcmp(all.v[i + 1].path, e->path) == 0))
			continue;
		entries_add(out, e->path, e->size, e->type, e->layer);
	}
	report_entries_release(&all);
}

static unsigned depth_of(const char *p)
{
	unsigned d = 1;
	for (; *p; p++)
		d += *p == '/';
	return d;
}

/* Bytes of files at or under ents[i] (sorted): the entries that follow it under its path. */
static uint64_t subtree(const struct report_entries *ents, size_t i, size_t *end)
{
	uint64_t t = ents->v[i].size;
	size_t k = i + 1;
	while (k < ents->n && under(ents->v[k].path, ents->v[i].path)) {
		t += ents->v[k].size;
		k++;
	}
	*end = k;
	return t;
}

void report_tree_print(const struct report_entries *ents, unsigned depth, FILE *f)
{
	uint64_t total = 0;
	char h[32];
	for (size_t i = 0; i < ents->n; i++)
		total += ents->v[i].size;
	fprintf(f, "%10s  /\n", lm_human_bytes(total, h, sizeof(h)));
	for (size_t i = 0; i < ents->n; i++) {
		const struct report_entry *e = &ents->v[i];
		unsigned d = depth_of(e->path);
		const char *b = strrchr(e->path, '/');
		size_t end;
		uint64_t bytes;
		if (depth && d > depth)
			continue;
		bytes = e->type == 'd' ? subtree(ents, i, &end) : e->size;
		fprintf(f, "%10s  %*s%s%s%s\n", lm_human_bytes(bytes, h, sizeof(h)), (int)(2 * (d - 1)), "",
			b ? b + 1 : e->path, e->type == 'd' ? "/" : "", e->type == 'l' ? " (symlink)" : "");
	}
}

/* --- prune --------------------------------------------------------------------------- */

static struct report_delta *delta_get(struct report_delta **v, size_t *n, const char *layer, const char *name)
{
	for (size_t i = *n; i-- > 0;)
		if (strcmp((*v)[i].name, name) == 0 && strcmp((*v)[i].layer, layer) == 0)
			return &(*v)[i];
	return report_add_delta(v, n, layer, name);
}

static void add_before(struct report_delta *d, uint64_t u, uint64_t z, int removed)
{
	d->files_before++;
	d->before[REPORT_U] += u;
	d->before[REPORT_ZIP] += z;
	d->have[REPORT_U] = d->have[REPORT_ZIP] = 1;
	if (!removed) {
		d->files_after++;
		d->after[REPORT_U] += u;
		d->after[REPORT_ZIP] += z;
	}
}

static int cmp_zfile(const void *a, const void *b)
{
	const struct report_zfile *x = a, *y = b;
	int c = strcmp(x->layer, y->layer);
	return c ? c : strcmp(x->path, y->path);
}

/* The deflated size of layer's file at path as the image scan measured it, or -1. */
static int64_t zfile_get(const struct report *r, const char *layer, const char *path)
{
	struct report_zfile key = { (char *)layer, (char *)path, 0 }, *hit;
	if (!r->nzfiles)
		return -1;
	hit = bsearch(&key, r->zfiles, r->nzfiles, sizeof(*r->zfiles), cmp_zfile);
	return hit ? (int64_t)hit->zsize : -1;
}

int report_add_prune(struct report *r, const struct report_prune_layer *layers, size_t n,
		     const struct prune_report *rep, struct lm_err *err)
{
	struct zmeter z;
	int ret = -1;
	zmeter_init(&z);
	r->have_prune = 1;
	if (r->nzfiles)
		qsort(r->zfiles, r->nzfiles, sizeof(*r->zfiles), cmp_zfile);
	for (size_t li = 0; li < n; li++) {
		const struct report_prune_layer *pl = &layers[li];
		const struct lm_tree *t = pl->tree;
		struct report_delta *ld = report_add_delta(&r->players, &r->nplayers, pl->name, pl->name);
		uint64_t removed_z = 0;
		for (size_t i = 0; i < t->n; i++) {
			const struct lm_entry *e = &t->v[i];
			struct report_delta *pd;
			uint64_t zs = 0;
			int64_t known;
			char *pkg;
			const char *eco;
			if (e->type != LM_F_REG)
				continue;
			if (e->generated) {
				if (lm_str_endswith(e->path, ".pyc"))
					r->pyc_files++, r->pyc_bytes += e->size;
				else
					r->cache_files++, r->cache_bytes += e->size;
				continue;
			}
			if (!e->removed && e->size && (known = zfile_get(r, pl->name, e->path)) >= 0) {
				zs = (uint64_t)known; /* in the image: read and deflated already */
			} else if (e->src && e->size) {
				int fd = open(e->src, O_RDONLY | O_CLOEXEC), ok = 0;
				if (fd < 0) {
					lm_err_sys(err, "layer '%s': open '%s'", pl->name, e->src);
					goto out;
				}
				zs = zmeter_fd(&z, fd, &ok);
				close(fd);
				if (!ok) {
					lm_err_sys(err, "layer '%s': read '%s'", pl->name, e->src);
					goto out;
				}
			}
			add_before(ld, e->size, zs, e->removed);
			pkg = report_pkg_of(e->path, &eco);
			pd = delta_get(&r->ppkgs, &r->nppkgs, pl->name, pkg ? pkg : "(other files)");
			free(pkg);
			add_before(pd, e->size, zs, e->removed);
			if (e->removed) {
				/* the rule behind it, as prune recorded it when it removed it */
				const char *label = prune_report_rule_of(rep, pl->name, e->path);
				removed_z += zs;
				if (label)
					add_before(delta_get(&r->rules, &r->nrules, pl->name, label), e->size, zs, 1);
			}
		}
		ld->have[REPORT_GZ] = 1;
		ld->after[REPORT_GZ] = pl->gz_after;
		ld->before[REPORT_GZ] = pl->gz_after + removed_z;
		/* prune's own accounting knows the bytes before rewriting and stripping */
		for (size_t k = 0; k < prune_report_nlayers(rep); k++) {
			struct prune_layer_stat ls;
			prune_report_layer_stat(rep, k, &ls);
			if (strcmp(ls.name, pl->name) != 0)
				continue;
			ld->before[REPORT_U] = ls.bytes_before;
			ld->after[REPORT_U] = ls.bytes_after;
			ld->files_before = ls.files_before;
			ld->files_after = ls.files_after;
			for (size_t j = 0; j < ls.nrules; j++) {
				struct prune_rule_stat rs;
				struct report_delta *rd;
				char *label;
				prune_report_rule_stat(rep, k, j, &rs);
				if (!rs.rewrite || !rs.files)
					continue;
				label = strstr(rs.label, "minified") || strstr(rs.label, "slim")
						? lm_xstrdup(rs.label)
						: lm_asprintf("%s (rewritten)", rs.label);
				rd = delta_get(&r->rules, &r->nrules, pl->name, label);
				free(label);
				rd->files_before = rd->files_after = rs.files;
				rd->before[REPORT_U] = rs.bytes;
				rd->have[REPORT_U] = 1;
			}
			if (strcmp(ls.strip_mode, "none") != 0 && ls.strip_files) {
				char *label = lm_asprintf("strip %s (ELF files)", ls.strip_mode);
				struct report_delta *rd = delta_get(&r->rules, &r->nrules, pl->name, label);
				free(label);
				rd->files_before = rd->files_after = ls.strip_files;
				rd->before[REPORT_U] = ls.strip_saved;
				rd->have[REPORT_U] = 1;
			}
		}
	}
	ret = 0;
out:
	zmeter_release(&z);
	return ret;
}
