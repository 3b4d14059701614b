#include "image/tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/glob.h"
#include "common/alloc.h"
#include "common/fs.h"
#include "common/str.h"

void tree_init(struct lm_tree *t)
{
	memset(t, 0, sizeof(*t));
}

static void entry_release(struct lm_entry *e)
{
	free(e->path);
	free(e->src);
	free(e->link);
}

void tree_release(struct lm_tree *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		entry_release(&t->v[i]);
	free(t->v);
	tree_init(t);
}

unsigned tree_norm_mode(enum lm_ftype type, unsigned st_mode)
{
	switch (type) {
	case LM_F_DIR:
		return 0755;
	case LM_F_SYMLINK:
		return 0777;
	default:
		return (st_mode & 0111) ? 0755 : 0644;
	}
}

char *tree_norm_path(const char *p)
{
	char *out = lm_xmalloc(strlen(p) + 1);
	size_t o = 0;
	while (*p) {
		const char *s;
		size_t n;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		s = strchr(p, '/');
		n = s ? (size_t)(s - p) : strlen(p);
		if (n == 1 && p[0] == '.') {
			p += n;
			continue;
		}
		if (n == 2 && p[0] == '.' && p[1] == '.') {
			free(out);
			return NULL;
		}
		if (o)
			out[o++] = '/';
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
	if (!o) {
		free(out);
		return NULL;
	}
	return out;
}

struct lm_entry *tree_add(struct lm_tree *t, enum lm_ftype type, const char *path, const char *src,
			  const char *link, unsigned mode, uint64_t size)
{
	struct lm_entry *e;
	lm_grow((void **)&t->v, &t->cap, t->n + 1, sizeof(*t->v));
	e = &t->v[t->n++];
	memset(e, 0, sizeof(*e));
	t->sorted = 0;
	e->type = type;
	e->path = lm_xstrdup(path);
	e->src = src ? lm_xstrdup(src) : NULL;
	e->link = link ? lm_xstrdup(link) : NULL;
	e->mode = mode;
	e->size = size;
	return e;
}

struct lm_entry *tree_find(const struct lm_tree *t, const char *path)
{
	if (t->sorted) {
		size_t lo = 0, hi = t->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = strcmp(t->v[mid].path, path);
			if (!c)
				return &t->v[mid];
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		return NULL;
	}
	/* before tree_finish: search from the end so the latest wins */
	for (size_t i = t->n; i-- > 0;)
		if (strcmp(t->v[i].path, path) == 0)
			return &t->v[i];
	return NULL;
}

static int excluded(const struct tree_scan_opts *o, const char *rel, int is_dir)
{
	if (!o)
		return 0;
	for (size_t i = 0; i < o->nexclude; i++)
		if (glob_match(o->exclude[i], rel, is_dir))
			return 1;
	return 0;
}

static int scan_dir(struct lm_tree *t, const char *host, const char *rel, const char *img,
		    const struct tree_scan_opts *o, int root, struct lm_err *err)
{
	DIR *d = opendir(host);
	struct dirent *de;
	int ret = -1;
	if (!d)
		return lm_err_sys(err, "open directory '%s'", host);
	for (;;) {
		struct stat st;
		char *h = NULL, *r = NULL, *im = NULL, *lnk = NULL;
		enum lm_ftype type;
		errno = 0;
		de = readdir(d);
		if (!de) {
			if (errno) {
				lm_err_sys(err, "read directory '%s'", host);
				goto out;
			}
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		h = lm_path_join(host, de->d_name);
		r = *rel ? lm_path_join(rel, de->d_name) : lm_xstrdup(de->d_name);
		im = lm_path_join(img, de->d_name);
		/* relative to the open directory: no walk of the whole path per file */
		if (fstatat(dirfd(d), de->d_name, &st, (o && o->follow_symlinks) ? 0 : AT_SYMLINK_NOFOLLOW) < 0) {
			lm_err_sys(err, "stat '%s'", h);
			goto next_fail;
		}
		/* excludes first: an excluded fifo or socket is not an error */
		if (excluded(o, r, S_ISDIR(st.st_mode)))
			goto next;
		if (S_ISDIR(st.st_mode))
			type = LM_F_DIR;
		else if (S_ISREG(st.st_mode))
			type = LM_F_REG;
		else if (S_ISLNK(st.st_mode))
			type = LM_F_SYMLINK;
		else {
			lm_err_set(err, LM_E_INPUT, "'%s' is not a regular file, directory or symlink", h);
			goto next_fail;
		}
		/* unreadable files are named here, not halfway through writing the layer (root
		 * reads every file: no call needed) */
		if (type == LM_F_REG && !root && faccessat(dirfd(d), de->d_name, R_OK, AT_EACCESS) < 0) {
			lm_err_sys(err, "open '%s'", h);
			goto next_fail;
		}
		if (type == LM_F_SYMLINK) {
			size_t cap = (size_t)st.st_size + 1;
			ssize_t n;
			if (cap < 64)
				cap = 256;
			lnk = lm_xmalloc(cap + 1);
			n = readlinkat(dirfd(d), de->d_name, lnk, cap);
			if (n < 0) {
				lm_err_sys(err, "readlink '%s'", h);
				goto next_fail;
			}
			lnk[n] = '\0';
		}
		/* names go into tar and zip headers as UTF-8: other bytes are refused, not mangled */
		if (!lm_utf8_valid(de->d_name) || (lnk && !lm_utf8_valid(lnk))) {
			char *q = lm_str_quote(h, 1024);
			lm_err_set(err, LM_E_INPUT, "'%s': the %s is not valid UTF-8 (layer and zip headers carry UTF-8 "
						    "names); rename it or exclude it",
				   q, lm_utf8_valid(de->d_name) ? "symlink's target" : "name");
			free(q);
			goto next_fail;
		}
		{
			struct lm_entry *ne = tree_add(t, type, im, type == LM_F_REG ? h : NULL, lnk,
						       tree_norm_mode(type, st.st_mode),
						       type == LM_F_REG ? (uint64_t)st.st_size : 0);
			ne->dev = (uint64_t)st.st_dev;
			ne->ino = (uint64_t)st.st_ino;
			ne->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
			ne->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
			ne->st_mode = (unsigned)st.st_mode;
		}
		if (type == LM_F_DIR && scan_dir(t, h, r, im, o, root, err) < 0)
			goto next_fail;
next:
		free(h);
		free(r);
		free(im);
		free(lnk);
		continue;
next_fail:
		free(h);
		free(r);
		free(im);
		free(lnk);
		goto out;
	}
	ret = 0;
out:
	closedir(d);
	return ret;
}

int tree_scan(struct lm_tree *t, const char *srcdir, const char *dest, const struct tree_scan_opts *o,
	      struct lm_err *err)
{
	struct stat st;
	char *img = tree_norm_path(dest);
	int r;
	if (!img)
		return lm_err_set(err, LM_E_INPUT, "destination '%s' is not a directory below '/'", dest);
	if (stat(srcdir, &st) < 0) {
		free(img);
		return lm_err_sys(err, "source '%s'", srcdir);
	}
	if (!S_ISDIR(st.st_mode)) {
		free(img);
		return lm_err_set(err, LM_E_INPUT, "source '%s' is not a directory", srcdir);
	}
	if (!tree_find(t, img))
		tree_add(t, LM_F_DIR, img, NULL, NULL, 0755, 0);
	r = scan_dir(t, srcdir, "", img, o, geteuid() == 0, err);
	free(img);
	return r;
}

static int cmp_entry_order(const void *a, const void *b)
{
	const struct lm_entry *x = a, *y = b;
	int c = strcmp(x->path, y->path);
	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static void sort_dedup(struct lm_tree *t)
{
	size_t i, o;
	for (i = 0; i < t->n; i++)
		t->v[i].order = i;
	qsort(t->v, t->n, sizeof(*t->v), cmp_entry_order);
	for (i = 0, o = 0; i < t->n; i++) {
		if (i + 1 < t->n && strcmp(t->v[i].path, t->v[i + 1].path) == 0) {
			entry_release(&t->v[i]);
			continue;
		}
		t->v[o++] = t->v[i];
	}
	t->n = o;
	t->sorted = 1;
}

void tree_finish(struct lm_tree *t)
{
	struct lm_tree missing;
	tree_init(&missing);
	sort_dedup(t);
	for (size_t i = 0; i < t->n; i++) {
		char *p = lm_xstrdup(t->v[i].path);
		for (char *s = strrchr(p, '/'); s; s = strrchr(p, '/')) {
			*s = '\0';
			if (tree_find(t, p) || tree_find(&missing, p))
				break;
			tree_add(&missing, LM_F_DIR, p, NULL, NULL, 0755, 0);
		}
		free(p);
	}
	if (missing.n) {
		lm_grow((void **)&t->v, &t->cap, t->n + missing.n, sizeof(*t->v));
		memcpy(t->v + t->n, missing.v, missing.n * sizeof(*t->v));
		t->n += missing.n;
		free(missing.v); /* the strings now belong to t */
		sort_dedup(t);
	}
}

void tree_totals(const struct lm_tree *t, uint64_t *files, uint64_t *bytes)
{
	uint64_t f = 0, b = 0;
	for (size_t i = 0; i < t->n; i++) {
		if (t->v[i].removed || t->v[i].type == LM_F_DIR)
			continue;
		f++;
		b += t->v[i].size;
	}
	if (files)
		*files = f;
	if (bytes)
		*bytes = b;
}

int tree_copy_file(const char *src, const char *dst, unsigned mode, struct lm_err *err)
{
	char buf[1 << 16];
	int in = -1, out = -1, ret = -1;
	if ((in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		lm_err_sys(err, "open '%s'", src);
		goto out;
	}
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0777)) < 0) {
		lm_err_sys(err, "create '%s'", dst);
		goto out;
	}
	if (fchmod(out, mode & 0777) < 0) { /* whatever the umask */
		lm_err_sys(err, "chmod '%s'", dst);
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			lm_err_sys(err, "read '%s'", src);
			goto out;
		}
		if (n == 0)
			break;
		if (lm_write_all(out, buf, (size_t)n) < 0) {
			lm_err_sys(err, "write '%s'", dst);
			goto out;
		}
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) < 0 && ret == 0)
		ret = lm_err_sys(err, "write '%s'", dst);
	return ret;
}

/* Creates the parent directories of path (below dir, which exists). */
static int parents(char *path, size_t dirlen, struct lm_err *err)
{
	for (char *s = path + dirlen + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		int r = mkdir(path, 0755);
		int e = errno;
		*s = '/';
		if (r < 0 && e != EEXIST) {
			errno = e;
			return lm_err_sys(err, "mkdir '%.*s'", (int)(s - path), path);
		}
	}
	return 0;
}

int tree_materialize(const struct lm_tree *t, const char *dir, const struct tree_select *sel, struct lm_err *err)
{
	size_t dl = strlen(dir);
	if (lm_mkdir_p(dir, err) < 0)
		return -1;
	for (size_t i = 0; i < t->n; i++) {
		const struct lm_entry *e = &t->v[i];
		char *dst;
		int r = 0;
		if (sel && sel->mask ? !sel->mask[i] : e->removed)
			continue;
		if (sel && sel->filter && !sel->filter(e, sel->ctx))
			continue;
		dst = lm_path_join(dir, e->path);
		if (parents(dst, dl, err) < 0) {
			free(dst);
			return lm_err_wrap(err, "'/%s'", e->path);
		}
		if (e->type == LM_F_DIR) {
			if (mkdir(dst, 0755) < 0 && errno != EEXIST)
				r = lm_err_sys(err, "mkdir '%s'", dst);
		} else {
			if (unlink(dst) < 0 && errno != ENOENT && errno != EISDIR)
				r = lm_err_sys(err, "replace '%s'", dst);
			if (r == 0 && e->type == LM_F_SYMLINK && symlink(e->link ? e->link : "", dst) < 0)
				r = lm_err_sys(err, "symlink '%s'", dst);
			if (r == 0 && e->type == LM_F_REG && e->src &&
			    ((sel && sel->copy) || link(e->src, dst) < 0))
				r = tree_copy_file(e->src, dst, e->mode, err);
		}
		free(dst);
		if (r < 0)
			return lm_err_wrap(err, "'/%s'", e->path);
	}
	return 0;
}

int tree_open_src(const struct lm_entry *e, struct lm_err *err)
{
	struct stat st;
	int fd = open(e->src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ELOOP)
			return lm_err_set(err, LM_E_INPUT, "'%s' became a symlink after it was scanned: refused", e->src);
		return lm_err_sys(err, "open '%s'", e->src);
	}
	if (fstat(fd, &st) < 0) {
		lm_err_sys(err, "stat '%s'", e->src);
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || (e->ino && ((uint64_t)st.st_ino != e->ino || (uint64_t)st.st_dev != e->dev))) {
		close(fd);
		return lm_err_set(err, LM_E_INPUT, "'%s' was replaced after it was scanned (%s): refused", e->src,
				  S_ISREG(st.st_mode) ? "another file" : "not a regular file now");
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}
